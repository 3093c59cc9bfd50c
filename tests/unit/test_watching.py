"""The Watch calls' polling loop (`services.watching.Changes`), over a scripted sequence of
reads."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from eudi_connect.services.watching import Changes


@dataclass(frozen=True)
class _Record:
    version: int


@dataclass(frozen=True)
class _View:
    record: _Record
    state: str

    @property
    def final(self) -> bool:
        return self.state == "DONE"


def _reads(*views: tuple[int, str]) -> tuple[list[int], Changes[_View]]:
    script = [_View(_Record(version), state) for version, state in views]
    count = [0]

    async def read() -> _View:
        count[0] += 1
        return script[min(count[0], len(script)) - 1]

    return count, Changes(read, poll_seconds=0.0)


async def test_changes_are_reported_once_each_until_final() -> None:
    """Unchanged reads are skipped, a state change alone counts, and a final view ends it."""
    count, changes = _reads((1, "OPEN"), (1, "OPEN"), (2, "OPEN"), (2, "LATE"), (3, "DONE"))
    seen = [(view.record.version, view.state) async for view in changes]
    assert seen == [(1, "OPEN"), (2, "OPEN"), (2, "LATE"), (3, "DONE")]
    assert count[0] == 5
    assert [view async for view in changes] == []


async def test_a_final_first_view_is_the_only_one() -> None:
    """A record final at the first read gives that view and no further read."""
    count, changes = _reads((4, "DONE"), (5, "OPEN"))
    assert [view.state async for view in changes] == ["DONE"]
    assert count[0] == 1


def test_changes_is_no_generator_that_would_need_closing() -> None:
    """Dropping the iterator mid-way leaves no generator frame to finalise later."""
    _, changes = _reads((1, "OPEN"))
    assert not inspect.isasyncgen(changes)
    assert not hasattr(changes, "aclose")
