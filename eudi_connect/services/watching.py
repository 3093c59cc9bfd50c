"""Following one stored record while it changes, for the Watch calls: the store is read
every poll interval, so a change made by any instance sharing the store is seen.

`Changes` is a plain async iterator, not an async generator: it holds no frame and has
nothing to close, so however its call ends (a client that goes away cancels the call's
task in the middle of a write) nothing of it is left to be finalised later, outside the
call. The gRPC handler that iterates it stays the only generator, driven and closed in its
call's task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


class Watched(Protocol):
    """A view of a record: its stored version, its effective state, whether it is final."""

    @property
    def record(self) -> _Versioned: ...

    @property
    def state(self) -> str: ...

    @property
    def final(self) -> bool: ...


V = TypeVar("V", bound=Watched)


class Changes(Generic[V]):
    """The view now, then each later one whose version or effective state differs (an
    expiry changes the state without a write), until one is final. Changes within one
    poll interval arrive as one view of the latest state."""

    def __init__(self, read: Callable[[], Awaitable[V]], *, poll_seconds: float) -> None:
        self._read = read
        self._poll_seconds = poll_seconds
        self._last: V | None = None

    def __aiter__(self) -> Changes[V]:
        return self

    async def __anext__(self) -> V:
        last = self._last
        if last is None:
            self._last = await self._read()
            return self._last
        while not last.final:
            await asyncio.sleep(self._poll_seconds)
            current = await self._read()
            if current.record.version != last.record.version or current.state != last.state:
                self._last = current
                return current
        raise StopAsyncIteration
