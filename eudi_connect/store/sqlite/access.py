"""How the SQLite store's aggregates reach the database.

Every write is a plain function of the writer's connection, queued to the group-commit
writer (`_write`); it runs inside the writer's transaction, so what it reads is what it
updates. Every read is one query: on a reader thread (`_fetch`), or, for the small indexed
reads on hot paths, on the event loop itself (`_fetch_few`, `_fetch_point`).
`SqliteStore` opens and closes what these use.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from eudi_connect.store.checks import closed_error
from eudi_connect.store.lifecycle import Lifecycle
from eudi_connect.store.sqlite.error_map import database_unavailable, is_database_failure
from eudi_connect.store.sqlite.thread import ConnectionThread
from eudi_connect.store.sqlite.writer import GroupCommitWriter

T = TypeVar("T")
Row = tuple[Any, ...]


class SqliteAccess(Lifecycle):
    """The writer, the readers and the point reader, and the calls that use them."""

    _writer: GroupCommitWriter | None
    _readers: list[ConnectionThread]
    _next_reader: Iterator[int]
    # Used on the event loop itself, for the hot one-row reads (see `_fetch_few`).
    _point_reader: sqlite3.Connection | None

    async def _write(self, work: Callable[[sqlite3.Connection], T], *, rows: int = 1) -> T:
        if self._state != "open" or self._writer is None:
            raise closed_error()
        return await self._writer.submit(work, rows=rows)

    async def _fetch(self, sql: str, parameters: Sequence[Any]) -> list[Row]:
        self._check_open()
        reader = self._readers[next(self._next_reader) % len(self._readers)]
        try:
            return await reader.run(lambda conn: conn.execute(sql, parameters).fetchall())
        except sqlite3.DatabaseError as error:
            if is_database_failure(error):
                raise database_unavailable(error) from error
            raise

    async def _fetch_one(self, sql: str, parameters: Sequence[Any]) -> Row | None:
        rows = await self._fetch(sql, parameters)
        return rows[0] if rows else None

    async def _fetch_few(self, sql: str, parameters: Sequence[Any]) -> list[Row]:
        """A few rows by an index, read on the event loop: no thread hand-off.

        For the small reads on hot paths (a credential by id, its status in every
        verification, a status list's version, a tenant's keys or template version): the
        lookup itself takes a few µs in SQLite, the hand-off to a reader thread ~100 µs of
        CPU and two context switches. In WAL mode a read never waits for the writer and
        sees every committed change (a revocation shows at once). Should the file be locked
        all the same (another process recovering it) or the read fail at all, it is retried
        on a reader thread, which waits for locks and maps errors as every other read does.
        Scans and reads of unbounded size stay on the reader threads.
        """
        self._check_open()
        reader = self._point_reader
        if reader is not None:
            try:
                # fetchall steps the statement to its end, so no read transaction stays open.
                rows: list[Row] = reader.execute(sql, parameters).fetchall()
            except sqlite3.Error:
                pass
            else:
                return rows
        return await self._fetch(sql, parameters)

    async def _fetch_point(self, sql: str, parameters: Sequence[Any]) -> Row | None:
        """One row by a unique index, read on the event loop (see `_fetch_few`)."""
        rows = await self._fetch_few(sql, parameters)
        return rows[0] if rows else None


def insert_or_existing(
    conn: sqlite3.Connection,
    insert: str,
    values: Sequence[Any],
    existing: str,
    keys: Sequence[Any],
) -> Row | None:
    """Runs `insert` (ON CONFLICT ... DO NOTHING) in the writer's transaction: None when
    it inserted its row, else the row already there, which `existing` reads by `keys` (a
    repeated request id answers with what the first request stored)."""
    if conn.execute(insert, values).rowcount == 1:
        return None
    row: Row | None = conn.execute(existing, keys).fetchone()
    return row
