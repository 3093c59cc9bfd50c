"""One sqlite3 connection and the one thread that uses it.

The SQLite store's writer and each of its readers is a plain `sqlite3` connection opened,
used and closed by a thread of its own, so the event loop never waits on SQLite. `run`
hands a function of the connection to the thread and awaits its result: one hand-off (a
queue put, the thread's wake-up, a callback on the loop) however many statements the
function runs. A group commit needs exactly that: BEGIN, every item and COMMIT in one
hand-off (docs/performance.md, "Ceilings": the hand-off, ~120 µs, is a write's main cost).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from eudi_connect.monitoring.thread_names import name_os_thread

T = TypeVar("T")
_Call = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]

# A thread ends within microseconds of answering its last call; this only bounds the wait.
_JOIN_POLLS = 5000
_JOIN_POLL_SECONDS = 0.001


class ConnectionThread:
    """A sqlite3 connection that only its own thread touches; see the module docstring."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        # A daemon: a store left open never keeps the process from exiting (SQLite
        # commits are atomic, so an exit mid-write loses that write only).
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._connection: sqlite3.Connection | None = None  # used in the thread only
        self._accepting = False
        self._closing = False

    @classmethod
    async def open(
        cls, connect: Callable[[], sqlite3.Connection], *, name: str
    ) -> ConnectionThread:
        """Starts a thread and runs `connect` in it; raises what `connect` raised (the
        thread has ended by then)."""
        opened = cls(name)
        opened._thread.start()
        opened._accepting = True
        try:
            await opened._call(lambda: opened._adopt(connect()))
        except BaseException:
            await opened.close()
            raise
        return opened

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)`, run in the thread; sqlite3.ProgrammingError once closed.

        A caller cancelled meanwhile does not stop `work`: it runs to its end in the thread.
        """
        return await self._call(lambda: work(self._live_connection()))

    async def close(self) -> None:
        """Runs the calls queued before, closes the connection, then ends the thread.

        Raises what closing the connection raised; the thread ends all the same.
        """
        if self._closing or not self._thread.is_alive():
            await self._ended()
            return
        self._closing = True
        self._accepting = False
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()
        self._calls.put((self._close_connection, closed, loop))
        self._calls.put(None)
        try:
            await closed
        finally:
            await self._ended()

    async def _ended(self) -> None:
        for _ in range(_JOIN_POLLS):
            if not self._thread.is_alive():
                return
            await asyncio.sleep(_JOIN_POLL_SECONDS)

    async def _call(self, function: Callable[[], T]) -> T:
        if not self._accepting:
            raise sqlite3.ProgrammingError("the connection is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((function, future, loop))
        return await future

    # --- in the thread ---------------------------------------------------------------------
    def _serve(self) -> None:
        name_os_thread(self._thread.name)
        while (call := self._calls.get()) is not None:
            function, future, loop = call
            try:
                result = function()
            except BaseException as error:
                _reply(loop, _fail, future, error)
            else:
                _reply(loop, _succeed, future, result)
        self._close_connection()  # nothing left to call: a close that never came

    def _adopt(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def _live_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("the connection is closed")
        return self._connection

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _reply(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    # RuntimeError: the loop is closed, nobody waits for the answer any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # a caller that was cancelled meanwhile
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
