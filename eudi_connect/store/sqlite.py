"""The embedded SQLite backend of `Store` (aiosqlite, WAL).

SQLite has one write lock per database, so the store has ONE writer connection, driven by
a group-commit task (`sqlite_writer`), and a few reader connections used round robin; in
WAL mode readers never wait for the writer. Every write runs as a plain function inside
the writer's transaction; every read is one query on one reader (one thread hand-off).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import aiosqlite

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    ConfigurationError,
    EudiConnectError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)
from eudi_connect.store.base import (
    ApiKeyRecord,
    CredentialRecord,
    InsertOutcome,
    IssuerKeyRecord,
    NewCredential,
    PositionLease,
    StatusChange,
    StatusListRecord,
    Store,
    TemplateKind,
    TemplateRecord,
    TenantRecord,
    TrustEntryKind,
    TrustEntryRecord,
)
from eudi_connect.store.migrations import (
    Migration,
    backend_folder,
    load_migrations,
    pending_migrations,
)
from eudi_connect.store.private_files import create_private_file, warn_if_open_to_others
from eudi_connect.store.rows import (
    api_key_record,
    api_key_values,
    check_lease,
    check_new_api_key,
    check_new_issuer_key,
    check_new_tenant,
    closed_error,
    credential_record,
    credential_values,
    etag_mismatch,
    issuer_key_record,
    issuer_key_values,
    new_credential_record,
    status_list_record,
    template_definition_json,
    template_record,
    tenant_record,
    trust_document_json,
    trust_entries_limit,
    trust_entry_record,
)
from eudi_connect.store.sqlite_wallet import SqliteWalletSessions
from eudi_connect.store.sqlite_writer import (
    GroupCommitWriter,
    WriterStats,
    check_private_api,
    connect,
    is_database_failure,
    is_transient,
    primary_code,
    run_in_connection,
    unavailable,
)

T = TypeVar("T")
Row = tuple[Any, ...]

# STRICT tables (3.37); RETURNING, partial-index upserts and the rest are older.
MIN_SQLITE_VERSION: Final = (3, 37, 0)

# --- SQL ---------------------------------------------------------------------------------
# Spelled out in full (no string building); column order matches the row mappers and
# value tuples of `store.rows`.

_SELECT_API_KEY = (
    "SELECT key_id, tenant_id, secret_hash, created_at, label, expires_at, revoked_at, "
    "last_used_at FROM api_keys "
)
_INSERT_API_KEY = (
    "INSERT INTO api_keys (key_id, tenant_id, secret_hash, created_at, label, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_API_KEY_BY_ID = _SELECT_API_KEY + "WHERE key_id = ?"
_TENANT_API_KEY = _SELECT_API_KEY + "WHERE tenant_id = ? AND key_id = ?"
_TENANT_API_KEYS = _SELECT_API_KEY + "WHERE tenant_id = ? ORDER BY created_at, key_id"
_LIVE_API_KEYS = (
    "SELECT count(*) FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > ?)"
)
_REVOKE_API_KEY = (
    "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL"
)
_TOUCH_API_KEY = (
    "UPDATE api_keys SET last_used_at = ?1 WHERE key_id = ?2 "
    "AND (last_used_at IS NULL OR last_used_at < ?1)"
)
_SELECT_TENANT = "SELECT tenant_id, name, created_at, public_url FROM tenants WHERE tenant_id = ?"
_FIX_PUBLIC_URL = "UPDATE tenants SET public_url = ? WHERE tenant_id = ? AND public_url IS NULL"

_SELECT_CREDENTIAL = (
    "SELECT credential_id, tenant_id, request_id, template_id, format, credential, "
    "status_list_id, status_index, issued_at, expires_at, status, status_updated_at "
    "FROM credentials "
)
_CREDENTIAL_BY_ID = _SELECT_CREDENTIAL + "WHERE tenant_id = ? AND credential_id = ?"
_CREDENTIAL_BY_REQUEST = _SELECT_CREDENTIAL + "WHERE tenant_id = ? AND request_id = ?"
_INSERT_CREDENTIAL = (
    "INSERT INTO credentials (credential_id, tenant_id, request_id, template_id, format, "
    "credential, status_list_id, status_index, issued_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, request_id) DO NOTHING"
)
_SET_STATUS = (
    "UPDATE credentials SET status = ?, status_updated_at = ? "
    "WHERE credential_id = ? AND status = ?"
)
_INSERT_STATUS_EVENT = (
    "INSERT INTO status_events (credential_id, from_status, to_status, reason, at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_BUMP_LIST_VERSION = "UPDATE status_lists SET version = version + 1 WHERE status_list_id = ?"

_SELECT_STATUS_LIST = (
    "SELECT status_list_id, tenant_id, size, bits, permutation_key, next_position, version, "
    "created_at FROM status_lists WHERE status_list_id = ?"
)
# Served by the partial index status_lists_open.
_OPEN_LIST = (
    "SELECT status_list_id, size, permutation_key, next_position FROM status_lists "
    "WHERE tenant_id = ? AND next_position < size ORDER BY created_at, rowid LIMIT 1"
)
_INSERT_STATUS_LIST = (
    "INSERT INTO status_lists (status_list_id, tenant_id, size, bits, permutation_key, "
    "next_position, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CLAIM_POSITIONS = "UPDATE status_lists SET next_position = ? WHERE status_list_id = ?"

_SELECT_ISSUER_KEY = (
    "SELECT kid, tenant_id, private_key_encrypted, public_jwk, created_at, retired_at, "
    "certificate FROM issuer_keys "
)
_ACTIVE_ISSUER_KEY = _SELECT_ISSUER_KEY + "WHERE tenant_id = ? AND retired_at IS NULL"
_ISSUER_KEYS_NEWEST_FIRST = (
    _SELECT_ISSUER_KEY + "WHERE tenant_id = ? ORDER BY created_at DESC, rowid DESC"
)
_INSERT_ISSUER_KEY = (
    "INSERT INTO issuer_keys (kid, tenant_id, private_key_encrypted, public_jwk, created_at, "
    "retired_at, certificate) VALUES (?, ?, ?, ?, ?, NULL, ?)"
)
_SET_KEY_CERTIFICATE = (
    "UPDATE issuer_keys SET certificate = ? WHERE kid = ? AND certificate IS NULL"
)
_RETIRE_ACTIVE_KEY = (
    "UPDATE issuer_keys SET retired_at = ? WHERE tenant_id = ? AND retired_at IS NULL"
)

_SELECT_TEMPLATE = (
    "SELECT tenant_id, template_id, kind, definition, description, version, created_at, "
    "updated_at FROM templates "
)
_LIVE_TEMPLATE = _SELECT_TEMPLATE + "WHERE tenant_id = ? AND template_id = ? AND deleted_at IS NULL"
# One primary-key lookup; the definition is neither decoded nor returned.
_LIVE_TEMPLATE_VERSION = (
    "SELECT version FROM templates WHERE tenant_id = ? AND template_id = ? AND deleted_at IS NULL"
)
# Numbered parameters: ?1 tenant, ?2 after, ?3 kind or NULL, ?4 limit.
_TEMPLATES_PAGE = (
    _SELECT_TEMPLATE + "WHERE tenant_id = ?1 AND deleted_at IS NULL AND (?3 IS NULL OR kind = ?3) "
    "ORDER BY template_id LIMIT ?4"
)
_TEMPLATES_PAGE_AFTER = (
    _SELECT_TEMPLATE + "WHERE tenant_id = ?1 AND deleted_at IS NULL AND template_id > ?2 "
    "AND (?3 IS NULL OR kind = ?3) ORDER BY template_id LIMIT ?4"
)
_TEMPLATE_STATE = (
    "SELECT version, deleted_at, kind, created_at FROM templates "
    "WHERE tenant_id = ? AND template_id = ?"
)
_INSERT_TEMPLATE = (
    "INSERT INTO templates (tenant_id, template_id, version, deleted_at, kind, created_at, "
    "updated_at, description, definition) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)"
)
_REVIVE_TEMPLATE = (
    "UPDATE templates SET version = ?, deleted_at = NULL, kind = ?, created_at = ?, "
    "updated_at = ?, description = ?, definition = ? "
    "WHERE tenant_id = ? AND template_id = ? AND deleted_at IS NOT NULL"
)
_UPDATE_TEMPLATE = (
    "UPDATE templates SET version = version + 1, updated_at = ?, description = ?, "
    "definition = ? WHERE tenant_id = ? AND template_id = ? AND version = ? "
    "AND deleted_at IS NULL"
)
# The tombstone keeps id, kind and version; the content goes.
_DELETE_TEMPLATE = (
    "UPDATE templates SET version = version + 1, deleted_at = ?, updated_at = ?, "
    "description = '', definition = '{}' "
    "WHERE tenant_id = ? AND template_id = ? AND version = ? AND deleted_at IS NULL"
)

_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
    "applied_at INTEGER NOT NULL) STRICT"
)


class SqliteStore(SqliteWalletSessions, Store):
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
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
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
        self._synchronous = synchronous
        self._max_group = max_group
        self._max_group_rows = max_group_rows
        self._state: Literal["new", "open", "closing", "closed"] = "new"
        self._writer_connection: aiosqlite.Connection | None = None
        self._writer: GroupCommitWriter | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = itertools.count()
        # Used on the event loop itself, for the hot one-row reads (see `_fetch_point`).
        self._point_reader: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def writer_stats(self) -> WriterStats:
        """Group-commit counters (groups, items, largest group, failed groups)."""
        return self._writer.stats if self._writer is not None else WriterStats()

    # --- lifecycle ---------------------------------------------------------------------
    async def open(self) -> None:
        if self._state != "new":
            raise RuntimeError("a SqliteStore is opened once")
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise ConfigurationError(
                f"SQLite {sqlite3.sqlite_version} is too old; the store needs 3.37 or newer",
                reason="SQLITE_TOO_OLD",
            )
        check_private_api()
        migrations = load_migrations(backend_folder("sqlite"))
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._state = "closed"
            raise ConfigurationError(
                "the database folder cannot be created", reason="DATABASE_PATH"
            ) from error
        # SQLite would create the file 0644 less the umask; it holds encrypted issuer keys
        # and API key hashes. The -wal and -shm files take the database file's mode, so a
        # 0600 database file makes all three private.
        try:
            created = create_private_file(self._path)
        except OSError as error:
            self._state = "closed"
            raise ConfigurationError(
                "the database file cannot be created", reason="DATABASE_PATH"
            ) from error
        if not created:
            warn_if_open_to_others(self._path, what="database file")
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await self._connect(opened, read_only=False)
            await run_in_connection(writer, lambda conn: _apply_migrations(conn, migrations))
            readers = [
                await self._connect(opened, read_only=True) for _ in range(self._reader_count)
            ]
        except BaseException as error:
            for connection in opened:
                await _close_quietly(connection)
            self._state = "closed"
            if isinstance(error, sqlite3.Error) and not is_transient(error):
                # Not a database (SQLITE_NOTADB), corrupt, read-only...: waiting will not help.
                raise ConfigurationError(
                    "the database file cannot be used "
                    f"({getattr(error, 'sqlite_errorname', 'error')})",
                    reason="DATABASE_UNUSABLE",
                ) from error
            if isinstance(error, sqlite3.Error):
                raise unavailable(error) from error
            raise
        self._writer_connection = writer
        self._readers = readers
        self._point_reader = self._open_point_reader()
        self._writer = GroupCommitWriter(
            writer, max_group=self._max_group, max_group_rows=self._max_group_rows
        )
        self._writer.start()
        self._state = "open"

    async def close(self) -> None:
        if self._state in ("closing", "closed"):
            return
        if self._state == "new":
            self._state = "closed"
            return
        self._state = "closing"
        try:
            if self._writer is not None:
                await self._writer.close()
            if self._writer_connection is not None:
                # Keeps the query planner's statistics fresh, as SQLite recommends; an
                # optimisation only, so a failure must not stop the close.
                with contextlib.suppress(sqlite3.Error):
                    await run_in_connection(
                        self._writer_connection, lambda conn: conn.execute("PRAGMA optimize")
                    )
        finally:
            if self._point_reader is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._point_reader.close()
                self._point_reader = None
            connections = [*self._readers]
            if self._writer_connection is not None:
                connections.append(self._writer_connection)
            for connection in connections:
                await _close_quietly(connection)
            self._readers = []
            self._writer_connection = None
            self._state = "closed"

    async def _connect(
        self, opened: list[aiosqlite.Connection], *, read_only: bool
    ) -> aiosqlite.Connection:
        # isolation_level=None: no implicit transactions; the writer issues BEGIN itself.
        connection = await connect(self._path, isolation_level=None)
        opened.append(connection)
        busy_timeout_ms = self._busy_timeout_ms
        synchronous = self._synchronous
        await run_in_connection(
            connection,
            lambda conn: _configure(
                conn,
                busy_timeout_ms=busy_timeout_ms,
                synchronous=synchronous,
                read_only=read_only,
            ),
        )
        return connection

    # --- plumbing ----------------------------------------------------------------------
    async def _write(self, work: Callable[[sqlite3.Connection], T], *, rows: int = 1) -> T:
        if self._state != "open" or self._writer is None:
            raise closed_error()
        return await self._writer.submit(work, rows=rows)

    async def _fetch(self, sql: str, parameters: Sequence[Any]) -> list[Row]:
        if self._state != "open":
            raise closed_error()
        reader = self._readers[next(self._next_reader) % len(self._readers)]
        try:
            rows = await reader.execute_fetchall(sql, parameters)
        except sqlite3.DatabaseError as error:
            if is_database_failure(error):
                raise unavailable(error) from error
            raise
        return [tuple(row) for row in rows]

    async def _fetch_one(self, sql: str, parameters: Sequence[Any]) -> Row | None:
        rows = await self._fetch(sql, parameters)
        return rows[0] if rows else None

    def _open_point_reader(self) -> sqlite3.Connection | None:
        """The event loop's own read-only connection; None if it cannot be had (then every
        read goes to a reader thread, as before)."""
        try:
            connection = sqlite3.connect(self._path, isolation_level=None)
        except sqlite3.Error:
            return None
        try:
            # busy_timeout 0: never wait on the event loop; a busy file goes to a thread.
            _configure(connection, busy_timeout_ms=0, synchronous=self._synchronous, read_only=True)
        except sqlite3.Error:
            connection.close()
            return None
        return connection

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
        if self._state != "open":
            raise closed_error()
        reader = self._point_reader
        if reader is not None:
            try:
                # fetchall steps the statement to its end, so no read transaction stays open.
                rows = reader.execute(sql, parameters).fetchall()
            except sqlite3.Error:
                pass
            else:
                return [tuple(row) for row in rows]
        return await self._fetch(sql, parameters)

    async def _fetch_point(self, sql: str, parameters: Sequence[Any]) -> Row | None:
        """One row by a unique index, read on the event loop (see `_fetch_few`)."""
        rows = await self._fetch_few(sql, parameters)
        return rows[0] if rows else None

    # --- meta --------------------------------------------------------------------------
    async def get_or_set_meta(self, key: str, value: bytes) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            (stored,) = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return bytes(stored)

        return await self._write(work)

    # --- tenants and API keys ----------------------------------------------------------
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
        check_new_tenant(tenant, api_key)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tenants (tenant_id, name, created_at, public_url) "
                    "VALUES (?, ?, ?, ?)",
                    (tenant.tenant_id, tenant.name, tenant.created_at, tenant.public_url),
                )
            except sqlite3.IntegrityError as error:
                raise _record_error(error, exists=("the tenant exists", "TENANT_EXISTS")) from error
            _insert_api_key(conn, api_key)

        await self._write(work)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._fetch_point(_API_KEY_BY_ID, (key_id,))
        return None if row is None else api_key_record(row)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self._fetch_one(_SELECT_TENANT, (tenant_id,))
        return None if row is None else tenant_record(row)

    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        check_new_api_key(api_key)

        def work(conn: sqlite3.Connection) -> None:
            # The single writer makes the count and the insert one atomic step.
            if conn.execute(_SELECT_TENANT, (api_key.tenant_id,)).fetchone() is None:
                raise NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
            (live,) = conn.execute(_LIVE_API_KEYS, (api_key.tenant_id, now)).fetchone()
            if live >= max_live:
                raise ResourceExhaustedError(
                    f"the tenant has {live} live API keys, the most it may have; revoke one first",
                    reason="API_KEY_LIMIT",
                )
            _insert_api_key(conn, api_key)

        await self._write(work)

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        rows = await self._fetch(_TENANT_API_KEYS, (tenant_id,))
        return [api_key_record(row) for row in rows]

    async def revoke_api_key(
        self, tenant_id: str, key_id: str, revoked_at: int
    ) -> ApiKeyRecord | None:
        def work(conn: sqlite3.Connection) -> ApiKeyRecord | None:
            conn.execute(_REVOKE_API_KEY, (revoked_at, tenant_id, key_id))
            row = conn.execute(_TENANT_API_KEY, (tenant_id, key_id)).fetchone()
            return None if row is None else api_key_record(row)

        return await self._write(work)

    async def touch_api_key(self, key_id: str, used_at: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_TOUCH_API_KEY, (used_at, key_id))

        await self._write(work)

    async def fix_tenant_public_url(self, tenant_id: str, public_url: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            conn.execute(_FIX_PUBLIC_URL, (public_url, tenant_id))
            row = conn.execute(
                "SELECT public_url FROM tenants WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._write(work)

    async def list_tenant_public_urls(self) -> list[str]:
        rows = await self._fetch(
            "SELECT DISTINCT public_url FROM tenants WHERE public_url IS NOT NULL "
            "ORDER BY public_url",
            (),
        )
        return [str(row[0]) for row in rows]

    # --- issuer keys -------------------------------------------------------------------
    async def ensure_active_issuer_key(self, candidate: IssuerKeyRecord) -> IssuerKeyRecord:
        check_new_issuer_key(candidate)

        def work(conn: sqlite3.Connection) -> IssuerKeyRecord:
            row = conn.execute(_ACTIVE_ISSUER_KEY, (candidate.tenant_id,)).fetchone()
            if row is not None:
                return issuer_key_record(row)
            _insert_issuer_key(conn, candidate)
            return candidate

        return await self._write(work)

    async def rotate_issuer_key(self, new_key: IssuerKeyRecord, retired_at: int) -> None:
        check_new_issuer_key(new_key)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_RETIRE_ACTIVE_KEY, (retired_at, new_key.tenant_id))
            _insert_issuer_key(conn, new_key)

        await self._write(work)

    async def list_issuer_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        rows = await self._fetch_few(_ISSUER_KEYS_NEWEST_FIRST, (tenant_id,))
        return [issuer_key_record(row) for row in rows]

    async def set_issuer_key_certificate(self, kid: str, certificate: bytes) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            conn.execute(_SET_KEY_CERTIFICATE, (certificate, kid))
            row = conn.execute(
                "SELECT certificate FROM issuer_keys WHERE kid = ?", (kid,)
            ).fetchone()
            if row is None:
                raise NotFoundError("the issuer key does not exist", reason="ISSUER_KEY_NOT_FOUND")
            return bytes(row[0])

        return await self._write(work)

    # --- status lists ------------------------------------------------------------------
    async def lease_positions(
        self, tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord
    ) -> PositionLease:
        check_lease(tenant_id, count=count, list_size=list_size, new_list=new_list)

        def work(conn: sqlite3.Connection) -> PositionLease:
            row = conn.execute(_OPEN_LIST, (tenant_id,)).fetchone()
            if row is not None:
                list_id, size, permutation_key, start = row
                claimed = min(count, size - start)
                conn.execute(_CLAIM_POSITIONS, (start + claimed, list_id))
                return PositionLease(list_id, size, bytes(permutation_key), start, claimed)
            start = new_list.next_position
            claimed = min(count, new_list.size - start)
            try:
                conn.execute(
                    _INSERT_STATUS_LIST,
                    (
                        new_list.status_list_id,
                        new_list.tenant_id,
                        new_list.size,
                        new_list.bits,
                        new_list.permutation_key,
                        start + claimed,
                        new_list.version,
                        new_list.created_at,
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise _record_error(
                    error, exists=("the status list id exists", "STATUS_LIST_EXISTS")
                ) from error
            return PositionLease(
                new_list.status_list_id, new_list.size, new_list.permutation_key, start, claimed
            )

        return await self._write(work)

    async def get_status_list(self, status_list_id: str) -> StatusListRecord | None:
        row = await self._fetch_point(_SELECT_STATUS_LIST, (status_list_id,))
        return None if row is None else status_list_record(row)

    async def list_status_entries(self, status_list_id: str) -> list[tuple[int, int]]:
        # Served by the partial index credentials_not_valid alone (a covering index).
        rows = await self._fetch(
            "SELECT status_index, status FROM credentials "
            "WHERE status_list_id = ? AND status <> 0 ORDER BY status_index",
            (status_list_id,),
        )
        return [(int(index), int(status)) for index, status in rows]

    # --- credentials -------------------------------------------------------------------
    async def insert_credentials(self, rows: Sequence[NewCredential]) -> list[InsertOutcome]:
        if not rows:
            return []
        batch = tuple(rows)
        return await self._write(lambda conn: _insert_credentials(conn, batch), rows=len(batch))

    async def get_credential(self, tenant_id: str, credential_id: str) -> CredentialRecord | None:
        row = await self._fetch_point(_CREDENTIAL_BY_ID, (tenant_id, credential_id))
        return None if row is None else credential_record(row)

    async def get_credential_by_request_id(
        self, tenant_id: str, request_id: str
    ) -> CredentialRecord | None:
        row = await self._fetch_point(_CREDENTIAL_BY_REQUEST, (tenant_id, request_id))
        return None if row is None else credential_record(row)

    async def get_status_at(self, status_list_id: str, index: int) -> int | None:
        row = await self._fetch_point(
            "SELECT status FROM credentials WHERE status_list_id = ? AND status_index = ?",
            (status_list_id, index),
        )
        return None if row is None else int(row[0])

    async def change_status(
        self,
        tenant_id: str,
        credential_id: str,
        *,
        to_status: int,
        from_statuses: frozenset[int],
        reason: str,
        at: int,
    ) -> StatusChange | None:
        def work(conn: sqlite3.Connection) -> StatusChange | None:
            # The writer holds the write lock (BEGIN IMMEDIATE), so nothing can change the
            # row between this read and the conditional UPDATE below.
            row = conn.execute(_CREDENTIAL_BY_ID, (tenant_id, credential_id)).fetchone()
            if row is None:
                return None
            current = credential_record(row)
            if current.status not in from_statuses:
                return StatusChange(changed=False, record=current)
            updated = conn.execute(
                _SET_STATUS, (to_status, at, credential_id, current.status)
            ).rowcount
            if updated != 1:
                raise AbortedError("the credential changed concurrently", reason="STATUS_RACE")
            conn.execute(
                _INSERT_STATUS_EVENT, (credential_id, current.status, to_status, reason, at)
            )
            conn.execute(_BUMP_LIST_VERSION, (current.status_list_id,))
            return StatusChange(
                changed=True, record=replace(current, status=to_status, status_updated_at=at)
            )

        return await self._write(work)

    # --- templates ---------------------------------------------------------------------
    async def create_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        kind: TemplateKind,
        definition: Mapping[str, Any],
        description: str,
        created_at: int,
    ) -> TemplateRecord:
        definition_json = template_definition_json(definition)

        def work(conn: sqlite3.Connection) -> TemplateRecord:
            state = conn.execute(_TEMPLATE_STATE, (tenant_id, template_id)).fetchone()
            if state is not None and state[1] is None:
                raise AlreadyExistsError("the template exists", reason="TEMPLATE_EXISTS")
            version = 1 if state is None else int(state[0]) + 1
            try:
                if state is None:
                    conn.execute(
                        _INSERT_TEMPLATE,
                        (
                            tenant_id,
                            template_id,
                            version,
                            kind,
                            created_at,
                            created_at,
                            description,
                            definition_json,
                        ),
                    )
                else:
                    conn.execute(
                        _REVIVE_TEMPLATE,
                        (
                            version,
                            kind,
                            created_at,
                            created_at,
                            description,
                            definition_json,
                            tenant_id,
                            template_id,
                        ),
                    )
            except sqlite3.IntegrityError as error:
                raise _record_error(
                    error, exists=("the template exists", "TEMPLATE_EXISTS")
                ) from error
            return TemplateRecord(
                tenant_id=tenant_id,
                template_id=template_id,
                kind=kind,
                definition=json.loads(definition_json),
                description=description,
                version=version,
                created_at=created_at,
                updated_at=created_at,
            )

        return await self._write(work)

    async def get_template(self, tenant_id: str, template_id: str) -> TemplateRecord | None:
        row = await self._fetch_one(_LIVE_TEMPLATE, (tenant_id, template_id))
        return None if row is None else template_record(row)

    async def get_template_version(self, tenant_id: str, template_id: str) -> int | None:
        row = await self._fetch_point(_LIVE_TEMPLATE_VERSION, (tenant_id, template_id))
        return None if row is None else int(row[0])

    async def list_templates(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        kind: TemplateKind | None = None,
    ) -> list[TemplateRecord]:
        if limit < 1:
            return []
        # SQLite compares TEXT bytewise as UTF-8, which orders like Python's str.
        sql = _TEMPLATES_PAGE if after is None else _TEMPLATES_PAGE_AFTER
        rows = await self._fetch(sql, (tenant_id, after, kind, limit))
        return [template_record(row) for row in rows]

    async def update_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        definition: Mapping[str, Any],
        description: str,
        expected_version: int,
        updated_at: int,
    ) -> TemplateRecord | None:
        definition_json = template_definition_json(definition)

        def work(conn: sqlite3.Connection) -> TemplateRecord | None:
            state = conn.execute(_TEMPLATE_STATE, (tenant_id, template_id)).fetchone()
            if state is None or state[1] is not None:
                return None
            version, _, kind, created_at = state
            if version != expected_version:
                raise etag_mismatch()
            conn.execute(
                _UPDATE_TEMPLATE,
                (updated_at, description, definition_json, tenant_id, template_id, version),
            )
            return TemplateRecord(
                tenant_id=tenant_id,
                template_id=template_id,
                kind=kind,
                definition=json.loads(definition_json),
                description=description,
                version=version + 1,
                created_at=created_at,
                updated_at=updated_at,
            )

        return await self._write(work)

    async def delete_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        expected_version: int | None,
        deleted_at: int,
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            state = conn.execute(_TEMPLATE_STATE, (tenant_id, template_id)).fetchone()
            if state is None or state[1] is not None:
                return False
            version = state[0]
            if expected_version is not None and version != expected_version:
                raise etag_mismatch()
            conn.execute(
                _DELETE_TEMPLATE, (deleted_at, deleted_at, tenant_id, template_id, version)
            )
            return True

        return await self._write(work)

    # --- trust configuration -------------------------------------------------------------
    async def add_trust_entry(
        self, entry: TrustEntryRecord, *, max_entries: int | None = None
    ) -> None:
        document = trust_document_json(entry)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO trust_entries (tenant_id, kind, entry_id, created_at, document) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (entry.tenant_id, entry.kind, entry.entry_id, entry.created_at, document),
                )
            except sqlite3.IntegrityError as error:
                raise _record_error(
                    error, exists=("the trust entry exists", "TRUST_ENTRY_EXISTS")
                ) from error
            if max_entries is not None:
                # The one writer runs this with the insert: the count includes the new row.
                (count,) = conn.execute(
                    "SELECT count(*) FROM trust_entries WHERE tenant_id = ?", (entry.tenant_id,)
                ).fetchone()
                if count > max_entries:
                    raise trust_entries_limit(max_entries)

        await self._write(work)

    async def delete_trust_entry(self, tenant_id: str, kind: TrustEntryKind, entry_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM trust_entries WHERE tenant_id = ? AND kind = ? AND entry_id = ?",
                (tenant_id, kind, entry_id),
            )
            return cursor.rowcount > 0

        return await self._write(work)

    async def list_trust_entries(self, tenant_id: str) -> list[TrustEntryRecord]:
        rows = await self._fetch(
            "SELECT kind, entry_id, created_at, document FROM trust_entries "
            "WHERE tenant_id = ? ORDER BY kind, entry_id",
            (tenant_id,),
        )
        return [trust_entry_record(tenant_id, row) for row in rows]


def _insert_credentials(
    conn: sqlite3.Connection, rows: Sequence[NewCredential]
) -> list[InsertOutcome]:
    outcomes: list[InsertOutcome] = []
    for row in rows:
        try:
            inserted = conn.execute(_INSERT_CREDENTIAL, credential_values(row)).rowcount
        except sqlite3.IntegrityError as error:
            raise _credential_conflict(conn, error, row) from error
        if inserted:
            outcomes.append(InsertOutcome(inserted=True, record=new_credential_record(row)))
            continue
        # The tenant already used this request_id: answer with what is stored.
        stored = conn.execute(_CREDENTIAL_BY_REQUEST, (row.tenant_id, row.request_id)).fetchone()
        if stored is None:  # pragma: no cover - DO NOTHING fires only on that conflict
            raise AbortedError("the idempotent insert found no row", reason="STORE_RACE")
        outcomes.append(InsertOutcome(inserted=False, record=credential_record(stored)))
    return outcomes


def _credential_conflict(
    conn: sqlite3.Connection, error: sqlite3.IntegrityError, row: NewCredential
) -> EudiConnectError:
    """Names the constraint a credential row broke; reads only on this error path."""
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        if conn.execute("SELECT 1 FROM tenants WHERE tenant_id = ?", (row.tenant_id,)).fetchone():
            return NotFoundError(
                "the status list does not exist for this tenant", reason="STATUS_LIST_NOT_FOUND"
            )
        return NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
    if name == "SQLITE_CONSTRAINT_PRIMARYKEY":
        return AlreadyExistsError("the credential id exists", reason="CREDENTIAL_EXISTS")
    if name == "SQLITE_CONSTRAINT_UNIQUE":
        # The only unique constraint left is (status_list_id, status_index): an index
        # handed out twice is a bug in allocation, never the caller's fault.
        return EudiConnectError("the status index is already in use", reason="STATUS_INDEX_TAKEN")
    return _record_error(error, exists=("the credential exists", "CREDENTIAL_EXISTS"))


def _insert_issuer_key(conn: sqlite3.Connection, key: IssuerKeyRecord) -> None:
    try:
        conn.execute(_INSERT_ISSUER_KEY, issuer_key_values(key))
    except sqlite3.IntegrityError as error:
        raise _record_error(
            error, exists=("the issuer key id exists", "ISSUER_KEY_EXISTS")
        ) from error


def _insert_api_key(conn: sqlite3.Connection, key: ApiKeyRecord) -> None:
    try:
        conn.execute(_INSERT_API_KEY, api_key_values(key))
    except sqlite3.IntegrityError as error:
        raise _record_error(error, exists=("the API key id exists", "API_KEY_EXISTS")) from error


def _record_error(error: sqlite3.IntegrityError, *, exists: tuple[str, str]) -> EudiConnectError:
    """Maps a constraint error to a domain error; `exists` is (message, reason) for a
    duplicate key. Callers raise it `from` the original, which keeps the detail for logs."""
    name = getattr(error, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
        return AlreadyExistsError(exists[0], reason=exists[1])
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
    # CHECK, NOT NULL, a value of the wrong type in a STRICT table
    return InvalidArgumentError("a value is out of range", reason="INVALID_RECORD")


# --- connections and migrations ----------------------------------------------------------


def _configure(
    conn: sqlite3.Connection,
    *,
    busy_timeout_ms: int,
    synchronous: Literal["NORMAL", "FULL"],
    read_only: bool,
) -> None:
    """Per-connection settings; PRAGMA takes no parameters, so values are checked ints/literals."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if not read_only:
        # WAL is a property of the file; the writer sets it before any reader connects.
        _enable_wal(conn, timeout_s=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA synchronous = {'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")


def _enable_wal(conn: sqlite3.Connection, *, timeout_s: float) -> None:
    """Switches the file to WAL, retrying while another connection holds it.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when two processes open a new file together; so the wait
    is done here. A file already in WAL needs no switch (and no lock).
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as error:
            if primary_code(error) not in (5, 6) or time.monotonic() >= deadline:  # BUSY, LOCKED
                raise
            time.sleep(pause)  # in aiosqlite's thread, not on the event loop
            pause = min(pause * 2, 0.05)
            continue
        if str(mode).lower() != "wal":
            raise ConfigurationError(
                "the database cannot use WAL journaling", reason="SQLITE_NO_WAL"
            )
        return


def split_statements(script: str) -> list[str]:
    """Splits an SQL script into statements, as `sqlite3.execute` runs one at a time.

    `executescript` would do it, but it commits first, so a migration could not run in
    one transaction. Semicolons inside strings, comments and trigger bodies do not end a
    statement: `sqlite3.complete_statement` decides.
    """
    statements: list[str] = []
    buffer = ""
    *pieces, tail = script.split(";")
    for piece in pieces:
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    rest = (buffer + tail).strip()
    if any(line.strip() and not line.strip().startswith("--") for line in rest.splitlines()):
        statements.append(rest)  # a last statement without ";" (a syntax error if cut short)
    return [statement for statement in statements if statement != ";"]


def _apply_migrations(conn: sqlite3.Connection, available: Sequence[Migration]) -> list[int]:
    """Applies pending migrations, each in its own BEGIN IMMEDIATE transaction.

    A second process opening the same file waits at BEGIN IMMEDIATE (busy_timeout), then
    finds the migration recorded and skips it. Returns the versions applied here.
    """
    applied_here: list[int] = []
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_MIGRATIONS_TABLE)
            applied = {
                int(version): str(digest)
                for version, digest in conn.execute(
                    "SELECT version, checksum FROM schema_migrations"
                )
            }
            todo = pending_migrations(available, applied)
            if not todo:
                conn.execute("COMMIT")
                return applied_here
            migration = todo[0]
            for statement in split_statements(migration.sql):
                try:
                    conn.execute(statement)
                except sqlite3.Error as error:
                    if isinstance(error, sqlite3.OperationalError) and is_transient(error):
                        raise
                    raise ConfigurationError(
                        f"migration {migration.version:04d}_{migration.name}.sql failed "
                        f"({getattr(error, 'sqlite_errorname', 'error')})",
                        reason="MIGRATION_FAILED",
                    ) from error
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (?, ?, ?, ?)",
                (migration.version, migration.name, migration.checksum, int(time.time())),
            )
            conn.execute("COMMIT")
            applied_here.append(migration.version)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


async def _close_quietly(connection: aiosqlite.Connection) -> None:
    # Closing a broken connection may raise; aiosqlite still stops its thread.
    with contextlib.suppress(sqlite3.Error, ValueError):
        await connection.close()
