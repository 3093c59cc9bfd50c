"""`SqliteStore`: the embedded SQLite backend of `Store`, one file in WAL mode.

SQLite has one write lock per database, so the store has ONE writer connection, driven by
a group-commit task (`writer`), and a few reader connections used round robin; in WAL mode
readers never wait for the writer. Each connection has a thread of its own (`thread`).
What each aggregate reads and writes is in its own module (`tenants`, `issuer_keys`,
`status_lists`, `credentials`, `templates`, `trust_entries`, `wallet_sessions`); this one
opens and closes the connections they use.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from pathlib import Path
from typing import Final

from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason
from eudi_connect.store.base import Store
from eudi_connect.store.migrations import apply_migrations, backend_folder, load_migrations
from eudi_connect.store.private_files import create_private_file, warn_if_open_to_others
from eudi_connect.store.sqlite.connections import Synchronous, connect
from eudi_connect.store.sqlite.credentials import SqliteCredentials
from eudi_connect.store.sqlite.error_map import database_unavailable, error_name, is_transient
from eudi_connect.store.sqlite.issuer_keys import SqliteIssuerKeys
from eudi_connect.store.sqlite.migrations import SqliteMigrations
from eudi_connect.store.sqlite.presentations import SqlitePresentations
from eudi_connect.store.sqlite.status_lists import SqliteStatusLists
from eudi_connect.store.sqlite.templates import SqliteTemplates
from eudi_connect.store.sqlite.tenants import SqliteTenants
from eudi_connect.store.sqlite.thread import ConnectionThread
from eudi_connect.store.sqlite.trust_entries import SqliteTrustEntries
from eudi_connect.store.sqlite.wallet_sessions import SqliteWalletSessions
from eudi_connect.store.sqlite.writer import GroupCommitWriter, WriterStats

# STRICT tables (3.37); RETURNING, partial-index upserts and the rest are older.
MIN_SQLITE_VERSION: Final = (3, 37, 0)

_INSERT_META: Final = "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)"
_META: Final = "SELECT value FROM meta WHERE key = ?"


class SqliteStore(
    SqliteTenants,
    SqliteIssuerKeys,
    SqliteStatusLists,
    SqliteCredentials,
    SqliteTemplates,
    SqliteTrustEntries,
    SqliteWalletSessions,
    SqlitePresentations,
    Store,
):
    """`Store` on one SQLite file: one group-commit writer, `readers` reader connections.

    `busy_timeout_ms` is how long a write waits for another process's write lock before
    failing with UnavailableError. `synchronous="NORMAL"` (WAL) survives a crash of the
    process but a power loss may undo the last commits; `"FULL"` syncs the WAL on every
    commit, which group commit makes affordable (one sync per group, not per row).
    `max_group` / `max_group_rows` cap one group commit in calls and in rows.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readers: int = 3,
        busy_timeout_ms: int = 5000,
        synchronous: Synchronous = "NORMAL",
        max_group: int = 512,
        max_group_rows: int = 2048,
    ) -> None:
        if readers < 1:
            raise ValueError("readers must be at least 1")
        if busy_timeout_ms < 0:
            raise ValueError("busy_timeout_ms must not be negative")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        if max_group < 1 or max_group_rows < 1:
            raise ValueError("max_group and max_group_rows must be at least 1")
        self._path = Path(path)
        self._reader_count = readers
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous: Synchronous = synchronous
        self._max_group = max_group
        self._max_group_rows = max_group_rows
        self._state = "new"
        self._writer = None
        self._readers = []
        self._next_reader = itertools.count()
        self._point_reader = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def writer_stats(self) -> WriterStats:
        """Group-commit counters (groups, items, largest group, failed groups)."""
        return self._writer.stats if self._writer is not None else WriterStats()

    # --- lifecycle ---------------------------------------------------------------------
    async def open(self) -> None:
        self._begin_open()
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise ConfigurationError(
                f"SQLite {sqlite3.sqlite_version} is too old; the store needs 3.37 or newer",
                reason=Reason.SQLITE_TOO_OLD,
            )
        migrations = load_migrations(backend_folder("sqlite"))
        self._create_file()
        opened: list[ConnectionThread] = []
        try:
            writer = await self._connect(opened, "sqlite-writer", read_only=False)
            await apply_migrations(SqliteMigrations(writer), migrations)
            readers = [
                await self._connect(opened, f"sqlite-reader-{n}", read_only=True)
                for n in range(self._reader_count)
            ]
        except BaseException as error:
            for connection in opened:
                await _close_quietly(connection)
            self._state = "closed"
            if isinstance(error, sqlite3.Error) and not is_transient(error):
                # Not a database (SQLITE_NOTADB), corrupt, read-only...: waiting will not help.
                raise ConfigurationError(
                    f"the database file cannot be used ({error_name(error)})",
                    reason=Reason.DATABASE_UNUSABLE,
                ) from error
            if isinstance(error, sqlite3.Error):
                raise database_unavailable(error) from error
            raise
        self._readers = readers
        self._point_reader = self._open_point_reader()
        self._writer = GroupCommitWriter(
            writer, max_group=self._max_group, max_group_rows=self._max_group_rows
        )
        self._writer.start()
        self._state = "open"

    async def close(self) -> None:
        if not self._begin_close():
            return
        try:
            if self._writer is not None:
                await self._writer.close()  # commits what is queued, then closes
        finally:
            if self._point_reader is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._point_reader.close()
                self._point_reader = None
            for reader in self._readers:
                await _close_quietly(reader)
            self._readers = []
            self._state = "closed"

    def _create_file(self) -> None:
        """The database file and its folder. SQLite would create the file 0644 less the
        umask; it holds encrypted issuer keys and API key hashes. The -wal and -shm files
        take the database file's mode, so a 0600 database file makes all three private."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._state = "closed"
            raise ConfigurationError(
                "the database folder cannot be created", reason=Reason.DATABASE_PATH
            ) from error
        try:
            created = create_private_file(self._path)
        except OSError as error:
            self._state = "closed"
            raise ConfigurationError(
                "the database file cannot be created", reason=Reason.DATABASE_PATH
            ) from error
        if not created:
            warn_if_open_to_others(self._path, what="database file")

    async def _connect(
        self, opened: list[ConnectionThread], name: str, *, read_only: bool
    ) -> ConnectionThread:
        path, busy_timeout_ms, synchronous = self._path, self._busy_timeout_ms, self._synchronous
        connection = await ConnectionThread.open(
            lambda: connect(
                path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous, read_only=read_only
            ),
            name=name,
        )
        opened.append(connection)
        return connection

    def _open_point_reader(self) -> sqlite3.Connection | None:
        """The event loop's own read-only connection; None if it cannot be had (then every
        read goes to a reader thread, as before)."""
        try:
            # busy_timeout 0: never wait on the event loop; a busy file goes to a thread.
            return connect(
                self._path, busy_timeout_ms=0, synchronous=self._synchronous, read_only=True
            )
        except sqlite3.Error:
            return None

    # --- meta --------------------------------------------------------------------------
    async def get_or_set_meta(self, key: str, value: bytes) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            conn.execute(_INSERT_META, (key, value))
            (stored,) = conn.execute(_META, (key,)).fetchone()
            return bytes(stored)

        return await self._write(work)


async def _close_quietly(connection: ConnectionThread) -> None:
    # Closing a broken connection may raise; its thread ends all the same.
    with contextlib.suppress(sqlite3.Error):
        await connection.close()
