"""Group commit, the queue both SQL stores put their hot writes through.

Callers queue a unit of work and await a future. One task takes every unit that waits (up
to `max_group` units and `max_group_rows` rows) and commits them together, then answers
each caller. Under load, the units that arrive while one group commits form the next group,
so the per-commit cost is shared; at one call in flight a group is one unit and nothing
waits for a timer. How a group commits, and what one failure means for the others of its
group, is the backend's (`_commit`).
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from eudi_connect.store.checks import closed_error

W = TypeVar("W")
R = TypeVar("R")


@dataclass(slots=True)
class Pending(Generic[W, R]):
    """One caller's unit of work, its future, and roughly how many rows it writes."""

    work: W
    future: asyncio.Future[R]
    rows: int

    def answer(self, result: R) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


def fail_all(group: Iterable[Pending[Any, Any]], error: BaseException) -> None:
    for pending in group:
        pending.fail(error)


class GroupCommitQueue(abc.ABC, Generic[W, R]):
    """Serialises the writes of one store in one task and commits them in groups."""

    def __init__(self, *, name: str, max_group: int | None, max_group_rows: int) -> None:
        if (max_group is not None and max_group < 1) or max_group_rows < 1:
            raise ValueError("max_group and max_group_rows must be at least 1")
        self._name = name
        self._max_group = max_group
        # Bounds a group's transaction time (and so every caller's wait in it) when calls
        # carry many rows, as streamed batch issuance does.
        self._max_group_rows = max_group_rows
        self._pending: deque[Pending[W, R]] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"the {self._name} task is already started")
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def _enqueue(self, work: W, rows: int) -> R:
        """Queues `work`; its result once the group holding it has committed."""
        if self._closing or self._task is None:
            raise closed_error()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append(Pending(work, future, max(rows, 1)))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Stops accepting work, commits everything already queued, then ends the task."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    @abc.abstractmethod
    async def _commit(self, group: list[Pending[W, R]]) -> None:
        """Commits the group and answers (or fails) every unit of it."""

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
                if not group:
                    continue
                try:
                    await self._commit(group)
                except asyncio.CancelledError:
                    fail_all(group, closed_error())
                    raise
        finally:
            # Only reached with units left when the task itself is cancelled.
            fail_all(self._pending, closed_error())
            self._pending.clear()

    def _take_group(self) -> list[Pending[W, R]]:
        group: list[Pending[W, R]] = []
        rows = 0
        while self._pending and (self._max_group is None or len(group) < self._max_group):
            pending = self._pending[0]
            if group and rows + pending.rows > self._max_group_rows:
                break  # the next group takes it; a group always takes at least one unit
            self._pending.popleft()
            # A caller that gave up (a cancelled RPC) needs no write on its behalf.
            if not pending.future.cancelled():
                group.append(pending)
                rows += pending.rows
        return group
