"""Group commit for SQLite: one writer task, one transaction and one thread hand-off per group.

Every write of the SQLite store is a *work item*: a plain function run against the writer's
`sqlite3.Connection`. Callers queue items and await a future. The writer task takes all
queued items (up to `max_group` items or `max_group_rows` rows), runs them in one
`BEGIN IMMEDIATE ... COMMIT` inside aiosqlite's thread, and only then answers each caller.
Under load, the items that arrive while one group commits form the next group, so the
per-commit cost (the thread hand-off, ~120 µs, and the WAL write) is shared; at one call
in flight a group is one item and nothing waits for a timer.

Each item runs inside its own SAVEPOINT, so an item that fails (a constraint, a domain
error it raises) is rolled back alone and the rest of its group still commits. An error
that means the database itself is in trouble (busy, disk full, I/O) fails the whole group:
it is rolled back and every caller of the group gets `UnavailableError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from eudi_connect.errors import UnavailableError
from eudi_connect.store.rows import closed_error

T = TypeVar("T")
log = logging.getLogger(__name__)
Work = Callable[[sqlite3.Connection], Any]

# Primary SQLite result codes (the low byte of the extended code) that mean "try later".
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_FULL_CODE = 13  # SQLITE_FULL
# BUSY LOCKED NOMEM READONLY IOERR FULL CANTOPEN PROTOCOL
_TRANSIENT_CODES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


async def run_in_connection(
    connection: aiosqlite.Connection, work: Callable[[sqlite3.Connection], T]
) -> T:
    """Runs `work(sqlite3_connection)` in the connection's thread with ONE hand-off.

    aiosqlite's public `execute` / `commit` each cost a separate hand-off to its thread
    (~120 µs each, a write's main cost: docs/performance.md, "Ceilings"); a group commit needs its
    BEGIN, every item's statements and the COMMIT in a single one. aiosqlite exposes no
    public way to do that, so this is the one place that uses its private `_execute` (queue
    a callable on the thread) and `_conn` (the underlying `sqlite3.Connection`). aiosqlite
    is pinned to 0.22.x in pyproject.toml; `check_private_api` fails fast if they move.
    """

    def call() -> T:
        return work(connection._conn)

    # aiosqlite's private `_execute` is unannotated.
    result = await connection._execute(call)  # type: ignore[no-untyped-call]
    return cast(T, result)


async def connect(database: str | Path, **options: Any) -> aiosqlite.Connection:
    """`aiosqlite.connect`, plus waiting for its thread to end when connecting fails.

    On a failed connect aiosqlite stops its worker thread without waiting for it; the
    thread then answers a stop future on the event loop, and raises "Event loop is closed"
    if the loop has gone meanwhile (tests close a loop per test). Waiting for the thread
    (private `_thread`) while the loop still runs avoids that.
    """
    connection = aiosqlite.connect(database, **options)
    try:
        return await connection
    except BaseException:
        thread = getattr(connection, "_thread", None)
        # The thread has only the stop message left: a few ms at most; give up after 5 s.
        for _ in range(5000):
            if not isinstance(thread, threading.Thread) or not thread.is_alive():
                break
            await asyncio.sleep(0.001)
        raise


def check_private_api() -> None:
    """Raises at start if the aiosqlite internals that `run_in_connection` uses are gone."""
    if not callable(getattr(aiosqlite.Connection, "_execute", None)) or not isinstance(
        getattr(aiosqlite.Connection, "_conn", None), property
    ):
        raise RuntimeError(
            "this aiosqlite version lacks Connection._execute/_conn; pin aiosqlite 0.22.x"
        )


def primary_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code of `error` (SQLITE_BUSY is 5...), None if unknown."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_transient(error: sqlite3.Error) -> bool:
    """True when the same statement may succeed later (busy, locked, full, I/O)."""
    return primary_code(error) in _TRANSIENT_CODES


def unavailable(error: BaseException) -> UnavailableError:
    """The caller-facing error for a database that cannot serve now: short, no SQL, no path."""
    code = primary_code(error) if isinstance(error, sqlite3.Error) else None
    if code in _BUSY_CODES:
        message = "the store is busy; retry later"
    elif code == _FULL_CODE:
        message = "the store is out of disk space"
    else:
        message = "the store is unavailable; retry later"
    mapped = UnavailableError(message, reason="STORE_UNAVAILABLE")
    mapped.__cause__ = error
    return mapped


def is_database_failure(error: BaseException) -> bool:
    """The database itself failed (busy, full, I/O, corrupt), not one statement's input.

    After such an error a group's transaction cannot be trusted (SQLite may have rolled
    it back already), so the whole group fails; constraint and programming errors do not.
    """
    return isinstance(error, sqlite3.OperationalError | sqlite3.InternalError) or (
        type(error) is sqlite3.DatabaseError
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    value: Any


def _run_item(connection: sqlite3.Connection, work: Work) -> _Outcome:
    connection.execute("SAVEPOINT item")
    try:
        result = work(connection)
    except Exception as error:
        if is_database_failure(error):
            raise
        # Undo this item only; ROLLBACK TO keeps the savepoint open, RELEASE ends it.
        connection.execute("ROLLBACK TO item")
        connection.execute("RELEASE item")
        return _Outcome(ok=False, value=error)
    connection.execute("RELEASE item")
    return _Outcome(ok=True, value=result)


def _commit_group(works: Sequence[Work], connection: sqlite3.Connection) -> list[_Outcome]:
    """Runs in aiosqlite's thread: the whole group in one transaction, all or nothing."""
    if connection.in_transaction:
        # A previous group's rollback failed; never build on a transaction left open.
        connection.execute("ROLLBACK")
    connection.execute("BEGIN IMMEDIATE")
    try:
        outcomes = [_run_item(connection, work) for work in works]
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            # If even this fails, the next group rolls back first; the original error is
            # the one to report.
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise
    return outcomes


@dataclass(frozen=True)
class WriterStats:
    """Counters of the group-commit writer, for metrics and tests."""

    groups: int = 0
    items: int = 0
    largest_group: int = 0
    failed_groups: int = 0


@dataclass(slots=True)
class _Item:
    work: Work
    future: asyncio.Future[Any]
    rows: int


class GroupCommitWriter:
    """Serialises every write of one SQLite connection and commits them in groups."""

    def __init__(
        self,
        connection: aiosqlite.Connection,
        *,
        max_group: int = 512,
        max_group_rows: int = 2048,
    ) -> None:
        if max_group < 1 or max_group_rows < 1:
            raise ValueError("max_group and max_group_rows must be at least 1")
        self._connection = connection
        self._max_group = max_group
        # Bounds a group's transaction time (and so every caller's wait in it) when calls
        # carry many rows, as streamed batch issuance does.
        self._max_group_rows = max_group_rows
        self._pending: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._stats = WriterStats()

    @property
    def stats(self) -> WriterStats:
        return self._stats

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the writer is already started")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sqlite-writer")

    async def submit(self, work: Callable[[sqlite3.Connection], T], *, rows: int = 1) -> T:
        """Queues `work` and returns its result once the group holding it has committed.

        `rows` is roughly how many rows `work` writes; it only shapes the groups.
        """
        if self._closing or self._task is None:
            raise closed_error()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Item(work, future, max(rows, 1)))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Stops accepting work, commits everything already queued, then ends the task."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            stats = self._stats
            # One line per store: whether writes were grouped (benchmarks read it).
            log.info(
                "group commit: %d items in %d groups (mean %.2f, largest %d, failed %d)",
                stats.items,
                stats.groups,
                stats.items / stats.groups if stats.groups else 0.0,
                stats.largest_group,
                stats.failed_groups,
            )

    async def _run(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                group = self._take_group()
                if group:
                    await self._commit(group)
        finally:
            # Only reached with items left when the task itself is cancelled.
            while self._pending:
                item = self._pending.popleft()
                if not item.future.done():
                    item.future.set_exception(closed_error())

    def _take_group(self) -> list[_Item]:
        group: list[_Item] = []
        rows = 0
        while self._pending and len(group) < self._max_group:
            item = self._pending[0]
            if group and rows + item.rows > self._max_group_rows:
                break  # the next group takes it; a group always takes at least one item
            self._pending.popleft()
            # A caller that gave up (cancelled RPC) needs no write on its behalf.
            if not item.future.cancelled():
                group.append(item)
                rows += item.rows
        return group

    async def _commit(self, group: list[_Item]) -> None:
        works = [item.work for item in group]
        try:
            outcomes = await run_in_connection(
                self._connection, lambda connection: _commit_group(works, connection)
            )
        except asyncio.CancelledError:
            for item in group:
                if not item.future.done():
                    item.future.set_exception(closed_error())
            raise
        except Exception as error:
            self._count(len(group), failed=True)
            for item in group:
                if item.future.done():
                    continue
                if isinstance(error, sqlite3.Error | ValueError):
                    # ValueError: aiosqlite's "Connection closed".
                    item.future.set_exception(unavailable(error))
                else:
                    item.future.set_exception(error)
            return
        self._count(len(group), failed=False)
        for item, outcome in zip(group, outcomes, strict=True):
            if item.future.done():
                continue
            if outcome.ok:
                item.future.set_result(outcome.value)
            else:
                item.future.set_exception(outcome.value)

    def _count(self, size: int, *, failed: bool) -> None:
        stats = self._stats
        self._stats = replace(
            stats,
            groups=stats.groups + 1,
            items=stats.items + size,
            largest_group=max(stats.largest_group, size),
            failed_groups=stats.failed_groups + int(failed),
        )
