"""Group commit for SQLite: one writer task, one transaction and one thread hand-off per group.

Every write of the SQLite store is a *work item*: a plain function run against the writer's
`sqlite3.Connection`. The writer owns that connection and its thread (`ConnectionThread`);
it takes all queued items (up to `max_group` items or `max_group_rows` rows, see
`store.group_commit`), runs them in one `BEGIN IMMEDIATE ... COMMIT` in its thread, and only
then answers each caller.

Each item runs inside its own SAVEPOINT (an item alone in its group, in the transaction
itself), so an item that fails (a constraint, a domain error it raises) is rolled back
alone and the rest of its group still commits. An error
that means the database itself is in trouble (busy, disk full, I/O) fails the whole group:
it is rolled back and every caller of the group gets `UnavailableError`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from eudi_connect.store.group_commit import GroupCommitQueue, Pending
from eudi_connect.store.sqlite.error_map import database_unavailable, is_database_failure
from eudi_connect.store.sqlite.thread import ConnectionThread

T = TypeVar("T")
log = logging.getLogger(__name__)
Work = Callable[[sqlite3.Connection], Any]


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


def _run_alone(connection: sqlite3.Connection, work: Work) -> _Outcome:
    """`_run_item` for a group of one, without its SAVEPOINT and RELEASE (about a tenth of
    a one-row commit's cost; unary calls under gRPC load mostly commit alone): the caller
    rolls the whole transaction back when the item failed, which undoes the same."""
    try:
        return _Outcome(ok=True, value=work(connection))
    except Exception as error:
        if is_database_failure(error):
            raise
        return _Outcome(ok=False, value=error)


def _commit_group(works: Sequence[Work], connection: sqlite3.Connection) -> list[_Outcome]:
    """Runs in the writer's thread: the whole group in one transaction, all or nothing."""
    if connection.in_transaction:
        # A previous group's rollback failed; never build on a transaction left open.
        connection.execute("ROLLBACK")
    connection.execute("BEGIN IMMEDIATE")
    try:
        if len(works) == 1:
            # The transaction is the item's savepoint: a failed item rolls it back whole.
            outcome = _run_alone(connection, works[0])
            connection.execute("COMMIT" if outcome.ok else "ROLLBACK")
            return [outcome]
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


class GroupCommitWriter(GroupCommitQueue[Work, Any]):
    """Serialises every write of one SQLite connection and commits them in groups; owns
    the connection's thread and closes it last."""

    def __init__(
        self,
        connection: ConnectionThread,
        *,
        max_group: int = 512,
        max_group_rows: int = 2048,
    ) -> None:
        super().__init__(name="sqlite-writer", max_group=max_group, max_group_rows=max_group_rows)
        self._connection = connection
        self._stats = WriterStats()

    @property
    def stats(self) -> WriterStats:
        return self._stats

    async def submit(self, work: Callable[[sqlite3.Connection], T], *, rows: int = 1) -> T:
        """Queues `work` and returns its result once the group holding it has committed.

        `rows` is roughly how many rows `work` writes; it only shapes the groups.
        """
        return cast(T, await self._enqueue(work, rows))

    async def close(self) -> None:
        """Commits everything already queued, then closes the connection and its thread."""
        started = self._task is not None
        try:
            await super().close()
            if started:
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
                # Keeps the query planner's statistics fresh, as SQLite recommends; an
                # optimisation only, so a failure must not stop the close.
                with contextlib.suppress(sqlite3.Error):
                    await self._connection.run(lambda conn: conn.execute("PRAGMA optimize"))
        finally:
            # Closing a broken connection may raise; the thread ends all the same.
            with contextlib.suppress(sqlite3.Error):
                await self._connection.close()

    async def _commit(self, group: list[Pending[Work, Any]]) -> None:
        works = [pending.work for pending in group]
        try:
            outcomes = await self._connection.run(lambda conn: _commit_group(works, conn))
        except Exception as error:
            self._count(len(group), failed=True)
            for pending in group:
                if isinstance(error, sqlite3.Error):
                    pending.fail(database_unavailable(error))
                else:
                    pending.fail(error)
            return
        self._count(len(group), failed=False)
        for pending, outcome in zip(group, outcomes, strict=True):
            if outcome.ok:
                pending.answer(outcome.value)
            else:
                pending.fail(outcome.value)

    def _count(self, size: int, *, failed: bool) -> None:
        stats = self._stats
        self._stats = replace(
            stats,
            groups=stats.groups + 1,
            items=stats.items + size,
            largest_group=max(stats.largest_group, size),
            failed_groups=stats.failed_groups + int(failed),
        )
