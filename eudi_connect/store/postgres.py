"""The PostgreSQL backend of `Store` (asyncpg), for several server processes and instances.

One connection pool per process. Every query text is a module constant, so asyncpg
prepares it once per connection and reuses it (its per-connection statement cache).
Most calls run as ONE statement in its own implicit transaction on a pooled connection
(one round trip). Credential inserts, the hot write, are grouped: the rows of concurrent
calls go into one statement (`postgres_writer`), which measured 5-7x faster than a
statement per call under load. What must hold across instances is left to the database:
unique constraints (one credential per tenant and request_id, one per list and index, one
active issuer key per tenant), row locks (a tenant's leases and key rotations run one at
a time), and an advisory lock around migrations.

URL: `postgresql://user:password@host:port/database?min_size=2&max_size=10`. Options
taken from the query: `min_size`, `max_size`, `acquire_timeout` (seconds a call waits for
a free connection before UnavailableError), `command_timeout` (seconds per statement),
`statement_cache_size` (0 behind a transaction-pooling PgBouncer), `max_group_rows`
(credential rows per grouped insert, see `postgres_writer`). Every other query
parameter goes to asyncpg (`sslmode`, ...) or, if asyncpg does not know it, to the
server as a setting (`application_name`, `search_path`, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, NoReturn, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    ConfigurationError,
    EudiConnectError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
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
from eudi_connect.store.postgres_wallet import PostgresWalletSessions
from eudi_connect.store.postgres_writer import GrouperStats, InsertGrouper
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

# asyncpg ships no type information: its connections and rows are `Any` to mypy.
Connection = Any
Row = Any

# Key of the transaction-level advisory lock that migrations hold: instances starting
# together apply each migration once, one after the other. Any fixed 64-bit number.
MIGRATION_LOCK_KEY: Final = 0x6575_6469_6D69_6772  # "eudimigr"

# Statement timeout for migrations (an index build on a large table may take long).
_NO_LIMIT: Final = 24 * 3600.0

_DEFAULT_SERVER_SETTINGS: Final = {
    "application_name": "eudi-connect",
    # Every query here is a short indexed lookup; JIT compilation would only add latency.
    "jit": "off",
}

# --- SQL ---------------------------------------------------------------------------------
# Spelled out in full (no string building at run time); column order matches the row
# mappers and value tuples of `store.rows`.

_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
    "applied_at bigint NOT NULL)"
)
_LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock($1)"

_SELECT_CREDENTIAL = (
    "SELECT credential_id, tenant_id, request_id, template_id, format, credential, "
    "status_list_id, status_index, issued_at, expires_at, status, status_updated_at "
    "FROM credentials "
)
_CREDENTIAL_BY_ID = _SELECT_CREDENTIAL + "WHERE tenant_id = $1 AND credential_id = $2"
_CREDENTIAL_BY_REQUEST = _SELECT_CREDENTIAL + "WHERE tenant_id = $1 AND request_id = $2"
# All rows of a call in one statement: one round trip, one implicit transaction (the call
# commits whole or not at all). DO NOTHING waits for a concurrent insert of the same
# request_id to commit or roll back, so a conflict always has a committed row behind it.
_INSERT_CREDENTIALS = (
    "INSERT INTO credentials (credential_id, tenant_id, request_id, template_id, format, "
    "credential, status_list_id, status_index, issued_at, expires_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::text[], $8::integer[], $9::bigint[], $10::bigint[]) "
    "ON CONFLICT (tenant_id, request_id) DO NOTHING "
    "RETURNING credential_id"
)
# A new statement, so it sees the rows committed by whoever won the conflict.
_CREDENTIALS_BY_REQUESTS = _SELECT_CREDENTIAL + (
    "JOIN unnest($1::text[], $2::text[]) AS wanted (tenant_id, request_id) "
    "USING (tenant_id, request_id)"
)
# One statement: lock the row (FOR UPDATE waits for, then sees, a concurrent change),
# change it if its status allows, record the event, bump the list's version. The data-
# modifying CTEs all run, and commit together, whether or not the outer SELECT reads them.
_CHANGE_STATUS = (
    "WITH current AS (SELECT credential_id, tenant_id, request_id, template_id, format, "
    "  credential, status_list_id, status_index, issued_at, expires_at, status, "
    "  status_updated_at FROM credentials "
    "  WHERE tenant_id = $1 AND credential_id = $2 FOR UPDATE), "
    "changed AS (UPDATE credentials AS c SET status = $3, status_updated_at = $4 "
    "  FROM current WHERE c.credential_id = current.credential_id "
    "  AND current.status = ANY($5::smallint[]) "
    "  RETURNING c.credential_id, current.status AS from_status, c.status_list_id), "
    "event AS (INSERT INTO status_events (credential_id, from_status, to_status, reason, at) "
    "  SELECT credential_id, from_status, $3, $6, $4 FROM changed), "
    "bump AS (UPDATE status_lists SET version = version + 1 "
    "  WHERE status_list_id IN (SELECT status_list_id FROM changed)) "
    "SELECT *, EXISTS (SELECT 1 FROM changed) FROM current"
)
_STATUS_AT = "SELECT status FROM credentials WHERE status_list_id = $1 AND status_index = $2"
# Served by the partial index credentials_not_valid alone.
_STATUS_ENTRIES = (
    "SELECT status_index, status FROM credentials "
    "WHERE status_list_id = $1 AND status <> 0 ORDER BY status_index"
)

_SELECT_STATUS_LIST = (
    "SELECT status_list_id, tenant_id, size, bits, permutation_key, next_position, version, "
    "created_at FROM status_lists WHERE status_list_id = $1"
)
# Serialises one tenant's leases and key rotations across every instance. NO KEY UPDATE
# does not conflict with the KEY SHARE locks that foreign-key checks take, so issuing
# and creating API keys for the tenant never wait on it.
_LOCK_TENANT = "SELECT 1 FROM tenants WHERE tenant_id = $1 FOR NO KEY UPDATE"
# Run under the tenant lock: the snapshot is taken after the lock, so `open` is current.
_CLAIM_POSITIONS = (
    "WITH open AS (SELECT status_list_id, next_position FROM status_lists "
    "  WHERE tenant_id = $1 AND next_position < size ORDER BY created_at, seq LIMIT 1) "
    "UPDATE status_lists AS l SET next_position = LEAST(l.next_position + $2, l.size) "
    "FROM open WHERE l.status_list_id = open.status_list_id "
    "RETURNING l.status_list_id, l.size, l.permutation_key, open.next_position, "
    "l.next_position"
)
_INSERT_STATUS_LIST = (
    "INSERT INTO status_lists (status_list_id, tenant_id, size, bits, permutation_key, "
    "next_position, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)

_SELECT_ISSUER_KEY = (
    "SELECT kid, tenant_id, private_key_encrypted, public_jwk, created_at, retired_at, "
    "certificate FROM issuer_keys "
)
_ACTIVE_ISSUER_KEY = _SELECT_ISSUER_KEY + "WHERE tenant_id = $1 AND retired_at IS NULL"
_ISSUER_KEYS_NEWEST_FIRST = (
    _SELECT_ISSUER_KEY + "WHERE tenant_id = $1 ORDER BY created_at DESC, seq DESC"
)
# The partial unique index issuer_keys_one_active is the arbiter: of several instances
# making a tenant's first key at once, one inserts and the others read its key.
_INSERT_FIRST_ISSUER_KEY = (
    "INSERT INTO issuer_keys (kid, tenant_id, private_key_encrypted, public_jwk, created_at, "
    "certificate) VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (tenant_id) WHERE retired_at IS NULL DO NOTHING RETURNING kid"
)
_INSERT_ISSUER_KEY = (
    "INSERT INTO issuer_keys (kid, tenant_id, private_key_encrypted, public_jwk, created_at, "
    "certificate) VALUES ($1, $2, $3, $4, $5, $6)"
)
_SET_KEY_CERTIFICATE = (
    "UPDATE issuer_keys SET certificate = $1 WHERE kid = $2 AND certificate IS NULL"
)
_KEY_CERTIFICATE = "SELECT certificate FROM issuer_keys WHERE kid = $1"
_RETIRE_ACTIVE_KEY = (
    "UPDATE issuer_keys SET retired_at = $1 WHERE tenant_id = $2 AND retired_at IS NULL"
)

_INSERT_META = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
_SELECT_META = "SELECT value FROM meta WHERE key = $1"
_INSERT_TENANT = (
    "INSERT INTO tenants (tenant_id, name, created_at, public_url) VALUES ($1, $2, $3, $4)"
)
_INSERT_API_KEY = (
    "INSERT INTO api_keys (key_id, tenant_id, secret_hash, created_at, label, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
_SELECT_API_KEYS = (
    "SELECT key_id, tenant_id, secret_hash, created_at, label, expires_at, revoked_at, "
    "last_used_at FROM api_keys "
)
_SELECT_API_KEY = _SELECT_API_KEYS + "WHERE key_id = $1"
_TENANT_API_KEYS = _SELECT_API_KEYS + "WHERE tenant_id = $1 ORDER BY created_at, key_id"
_LIVE_API_KEYS = (
    "SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > $2)"
)
# The first revocation time stays.
_REVOKE_API_KEY = (
    "UPDATE api_keys SET revoked_at = $3 "
    "WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL"
)
_TENANT_API_KEY = _SELECT_API_KEYS + "WHERE tenant_id = $1 AND key_id = $2"
_TOUCH_API_KEY = (
    "UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2 "
    "AND (last_used_at IS NULL OR last_used_at < $1)"
)
_SELECT_TENANT = "SELECT tenant_id, name, created_at, public_url FROM tenants WHERE tenant_id = $1"
_FIX_PUBLIC_URL = "UPDATE tenants SET public_url = $2 WHERE tenant_id = $1 AND public_url IS NULL"
_TENANT_PUBLIC_URL = "SELECT public_url FROM tenants WHERE tenant_id = $1"
_TENANT_PUBLIC_URLS = (
    "SELECT DISTINCT public_url FROM tenants WHERE public_url IS NOT NULL ORDER BY public_url"
)
_TENANT_EXISTS = "SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)"

_SELECT_TEMPLATE = (
    "SELECT tenant_id, template_id, kind, definition, description, version, created_at, "
    "updated_at FROM templates "
)
_LIVE_TEMPLATE = (
    _SELECT_TEMPLATE + "WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL"
)
# Answered from the covering index templates_live.
_LIVE_TEMPLATE_VERSION = (
    "SELECT version FROM templates WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL"
)
# $2 is NULL for the first page; $3 NULL for every kind.
_TEMPLATES_PAGE = (
    _SELECT_TEMPLATE + "WHERE tenant_id = $1 AND deleted_at IS NULL "
    "AND ($2::text IS NULL OR template_id > $2::text) "
    "AND ($3::text IS NULL OR kind = $3::text) "
    "ORDER BY template_id LIMIT $4"
)
# A new id is inserted; a tombstone is revived with its version + 1; a live template is
# left alone (no row returned). The row lock of ON CONFLICT makes this race-free.
_CREATE_TEMPLATE = (
    "INSERT INTO templates AS t (tenant_id, template_id, version, deleted_at, kind, "
    "created_at, updated_at, description, definition) "
    "VALUES ($1, $2, 1, NULL, $3, $4, $4, $5, $6) "
    "ON CONFLICT (tenant_id, template_id) DO UPDATE SET version = t.version + 1, "
    "deleted_at = NULL, kind = EXCLUDED.kind, created_at = EXCLUDED.created_at, "
    "updated_at = EXCLUDED.updated_at, description = EXCLUDED.description, "
    "definition = EXCLUDED.definition WHERE t.deleted_at IS NOT NULL "
    "RETURNING version"
)
# Compare-and-set in one statement, as _CHANGE_STATUS: lock the live row, update it when
# its version is the expected one, and report what was there.
_UPDATE_TEMPLATE = (
    "WITH current AS (SELECT version, kind, created_at FROM templates "
    "  WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL FOR UPDATE), "
    "updated AS (UPDATE templates AS t SET version = t.version + 1, updated_at = $4, "
    "  description = $5, definition = $6 FROM current "
    "  WHERE t.tenant_id = $1 AND t.template_id = $2 AND current.version = $3 "
    "  RETURNING t.version) "
    "SELECT current.version, current.kind, current.created_at, "
    "(SELECT version FROM updated) FROM current"
)
# The tombstone keeps id, kind and version; the content goes.
_DELETE_TEMPLATE = (
    "WITH current AS (SELECT version FROM templates "
    "  WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL FOR UPDATE), "
    "deleted AS (UPDATE templates AS t SET version = t.version + 1, deleted_at = $4, "
    "  updated_at = $4, description = '', definition = '{}' FROM current "
    "  WHERE t.tenant_id = $1 AND t.template_id = $2 "
    "  AND ($3::bigint IS NULL OR current.version = $3::bigint) RETURNING 1) "
    "SELECT current.version, EXISTS (SELECT 1 FROM deleted) FROM current"
)


# --- errors ------------------------------------------------------------------------------

_Mapped = tuple[type[EudiConnectError], str, str]

# A violated constraint, by name, to the error the caller gets. Violations the code
# prevents (ON CONFLICT, row locks) are listed too: if one happens anyway it is reported
# as what it means, never as a raw database error.
_CONSTRAINT_ERRORS: Final[Mapping[str, _Mapped]] = {
    "meta_pkey": (AbortedError, "a setting was written concurrently; retry", "STORE_RACE"),
    "tenants_pkey": (AlreadyExistsError, "the tenant exists", "TENANT_EXISTS"),
    "api_keys_pkey": (AlreadyExistsError, "the API key id exists", "API_KEY_EXISTS"),
    "issuer_keys_pkey": (AlreadyExistsError, "the issuer key id exists", "ISSUER_KEY_EXISTS"),
    "issuer_keys_one_active": (
        AbortedError,
        "the tenant's active issuer key changed concurrently; retry",
        "ISSUER_KEY_RACE",
    ),
    "status_lists_pkey": (AlreadyExistsError, "the status list id exists", "STATUS_LIST_EXISTS"),
    "credentials_pkey": (AlreadyExistsError, "the credential id exists", "CREDENTIAL_EXISTS"),
    # An index handed out twice is a bug in allocation, never the caller's fault.
    "credentials_one_per_index": (
        EudiConnectError,
        "the status index is already in use",
        "STATUS_INDEX_TAKEN",
    ),
    "credentials_one_per_request": (
        AbortedError,
        "the request id was used concurrently; retry",
        "STORE_RACE",
    ),
    "templates_pkey": (AlreadyExistsError, "the template exists", "TEMPLATE_EXISTS"),
    "credentials_status_list_fk": (
        NotFoundError,
        "the status list does not exist for this tenant",
        "STATUS_LIST_NOT_FOUND",
    ),
    "status_events_credential_fk": (
        NotFoundError,
        "the credential does not exist",
        "CREDENTIAL_NOT_FOUND",
    ),
}
_TENANT_MISSING: Final[_Mapped] = (NotFoundError, "the tenant does not exist", "TENANT_NOT_FOUND")


def _unavailable(message: str, cause: BaseException) -> UnavailableError:
    mapped = UnavailableError(message, reason="STORE_UNAVAILABLE")
    mapped.__cause__ = cause
    return mapped


def map_error(error: BaseException) -> BaseException:
    """The domain error for a driver or database error; anything else unchanged.

    Messages are short and never carry SQL, values or the server's address; the original
    stays as `__cause__` for the logs.
    """
    if isinstance(error, EudiConnectError):
        return error
    if isinstance(error, asyncpg.PostgresError):
        return _map_postgres_error(error)
    if isinstance(error, TimeoutError):
        # Pool exhaustion (no connection within acquire_timeout) or a statement that ran
        # past command_timeout: either way the store cannot serve this call now.
        return _unavailable("the store is busy; retry later", error)
    if isinstance(error, OSError | asyncpg.InterfaceError | asyncpg.InternalClientError):
        # Refused or broken connections, a pool that is closing, a connection whose
        # protocol state a server-side disconnect left inconsistent.
        return _unavailable("the store is unavailable; retry later", error)
    return error


def _map_postgres_error(error: Any) -> BaseException:
    state = str(getattr(error, "sqlstate", "") or "")
    if state in ("23505", "23503"):  # unique_violation, foreign_key_violation
        name = str(getattr(error, "constraint_name", "") or "")
        known = _CONSTRAINT_ERRORS.get(name)
        if known is None and state == "23503" and name.endswith("_tenant_fk"):
            known = _TENANT_MISSING
        if known is None:
            known = (AlreadyExistsError, "the record exists", "ALREADY_EXISTS")
        kind, message, reason = known
        mapped: BaseException = kind(message, reason=reason)
    elif state.startswith(("22", "23")):
        # Data exceptions (a NUL character in text, a number out of range) and the other
        # integrity checks (CHECK, NOT NULL): the values sent cannot be stored.
        mapped = InvalidArgumentError("a value is out of range", reason="INVALID_RECORD")
    elif state in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        mapped = AbortedError("a concurrent change won; retry", reason="STORE_CONFLICT")
    elif state == "53100":  # disk_full
        mapped = UnavailableError("the store is out of disk space", reason="STORE_UNAVAILABLE")
    elif (
        state.startswith(("08", "53", "57P", "58"))
        or state in ("57014", "25006")
        or isinstance(error, asyncpg.PostgresConnectionError)
    ):
        # Connection lost, too many connections, shutting down, starting up, I/O error,
        # statement timeout, a read-only server (a standby after failover).
        mapped = UnavailableError(
            "the store is unavailable; retry later", reason="STORE_UNAVAILABLE"
        )
    else:
        return cast(BaseException, error)  # a bug (bad SQL): reported as an internal error
    mapped.__cause__ = error
    return mapped


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PostgresOptions:
    """Pool and store settings; each may be given in the URL's query (`?max_size=20`)."""

    min_size: int = 2
    max_size: int = 10
    acquire_timeout: float = 5.0
    command_timeout: float = 30.0
    statement_cache_size: int = 100
    # Most credential rows one grouped INSERT carries (see postgres_writer).
    max_group_rows: int = 2048

    def check(self) -> None:
        if self.min_size < 0 or self.max_size < 1 or self.min_size > self.max_size:
            raise ConfigurationError(
                "the PostgreSQL pool needs 0 <= min_size <= max_size and max_size >= 1",
                reason="DATABASE_URL",
            )
        for value in (self.acquire_timeout, self.command_timeout):
            if not (value > 0 and math.isfinite(value)):
                raise ConfigurationError(
                    "acquire_timeout and command_timeout must be positive seconds",
                    reason="DATABASE_URL",
                )
        if self.statement_cache_size < 0 or self.max_group_rows < 1:
            raise ConfigurationError(
                "statement_cache_size must not be negative, max_group_rows at least 1",
                reason="DATABASE_URL",
            )


_INT_OPTIONS: Final = frozenset({"min_size", "max_size", "statement_cache_size", "max_group_rows"})
_FLOAT_OPTIONS: Final = frozenset({"acquire_timeout", "command_timeout"})


def parse_postgres_url(url: str) -> tuple[str, PostgresOptions, dict[str, str]]:
    """(DSN for asyncpg, pool options, server settings to add) from a store URL.

    Raises ConfigurationError without repeating the URL (it may carry a password).
    """
    try:
        parts = urlsplit(url.strip())
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigurationError(
            "the PostgreSQL URL cannot be parsed", reason="DATABASE_URL"
        ) from None
    if not parts.hostname and "host" not in dict(query):
        raise ConfigurationError(
            "a PostgreSQL URL names a host: postgresql://user@host:5432/database",
            reason="DATABASE_URL",
        )
    values: dict[str, Any] = {}
    passed: list[tuple[str, str]] = []
    for key, value in query:
        if key in _INT_OPTIONS or key in _FLOAT_OPTIONS:
            try:
                values[key] = int(value) if key in _INT_OPTIONS else float(value)
            except ValueError:
                raise ConfigurationError(
                    f"the PostgreSQL URL option {key} must be a number", reason="DATABASE_URL"
                ) from None
        else:
            passed.append((key, value))
    options = PostgresOptions(**values)
    options.check()
    given = {key for key, _ in passed}
    settings = {k: v for k, v in _DEFAULT_SERVER_SETTINGS.items() if k not in given}
    # asyncpg knows postgres:// and postgresql://, not SQLAlchemy's postgresql+asyncpg://.
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(passed), ""))
    return dsn, options, settings


# --- the store -----------------------------------------------------------------------------


class PostgresStore(PostgresWalletSessions, Store):
    """`Store` on a PostgreSQL database through one asyncpg pool per process."""

    def __init__(
        self,
        dsn: str,
        *,
        options: PostgresOptions | None = None,
        server_settings: Mapping[str, str] | None = None,
        close_timeout: float = 30.0,
    ) -> None:
        self._dsn = dsn
        self._options = options or PostgresOptions()
        self._options.check()
        self._server_settings = dict(
            _DEFAULT_SERVER_SETTINGS if server_settings is None else server_settings
        )
        self._close_timeout = close_timeout
        self._state: Literal["new", "open", "closing", "closed"] = "new"
        self._pool: Any = None
        self._inserts: InsertGrouper | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        dsn, options, settings = parse_postgres_url(url)
        return cls(dsn, options=options, server_settings=settings)

    @property
    def options(self) -> PostgresOptions:
        return self._options

    # --- lifecycle ---------------------------------------------------------------------
    async def open(self) -> None:
        if self._state != "new":
            raise RuntimeError("a PostgresStore is opened once")
        migrations = load_migrations(backend_folder("postgres"))
        options = self._options
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=options.min_size,
                max_size=options.max_size,
                command_timeout=options.command_timeout,
                statement_cache_size=options.statement_cache_size,
                server_settings=self._server_settings,
                timeout=options.acquire_timeout,  # per connection attempt
                reset=_keep_session,
            )
        except BaseException as error:
            self._state = "closed"
            _raise_open_error(error)
        try:
            async with pool.acquire(timeout=options.acquire_timeout) as connection:
                await _apply_migrations(connection, migrations)
        except BaseException as error:
            pool.terminate()
            self._state = "closed"
            _raise_open_error(error)
        self._pool = pool
        self._inserts = InsertGrouper(
            self._insert_rows, max_group_rows=self._options.max_group_rows
        )
        self._inserts.start()
        self._state = "open"

    async def close(self) -> None:
        """Refuses new calls, lets calls holding a connection finish, then disconnects."""
        if self._state in ("closing", "closed"):
            return
        if self._state == "new" or self._pool is None:
            self._state = "closed"
            return
        self._state = "closing"
        try:
            if self._inserts is not None:
                await self._inserts.close()
            await asyncio.wait_for(self._pool.close(), timeout=self._close_timeout)
        except TimeoutError:
            self._pool.terminate()
        finally:
            self._pool = None
            self._state = "closed"

    # --- plumbing ----------------------------------------------------------------------
    @property
    def grouper_stats(self) -> GrouperStats:
        """Group-commit counters of credential inserts (groups, calls, largest group)."""
        return self._inserts.stats if self._inserts is not None else GrouperStats()

    @contextlib.asynccontextmanager
    async def _connection(self, *, admit_closing: bool = False) -> AsyncIterator[Connection]:
        """A pooled connection; driver and database errors leave as domain errors.

        `admit_closing`: the insert grouper still commits the calls queued before close().
        """
        usable = self._state == "open" or (admit_closing and self._state == "closing")
        if not usable or self._pool is None:
            raise closed_error()
        try:
            async with self._pool.acquire(timeout=self._options.acquire_timeout) as connection:
                yield connection
        except Exception as error:
            mapped = map_error(error)
            if mapped is error:
                raise
            raise mapped from error

    async def _fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._connection() as connection:
            return list(await connection.fetch(sql, *args))

    async def _fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._connection() as connection:
            return await connection.fetchrow(sql, *args)

    # --- meta --------------------------------------------------------------------------
    async def get_or_set_meta(self, key: str, value: bytes) -> bytes:
        async with self._connection() as connection:
            # DO NOTHING waits for a concurrent insert of the key to commit; the SELECT,
            # a new statement, then sees that row.
            await connection.execute(_INSERT_META, key, value)
            stored = await connection.fetchval(_SELECT_META, key)
        return bytes(stored)

    # --- tenants and API keys ----------------------------------------------------------
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
        check_new_tenant(tenant, api_key)
        async with self._connection() as connection, connection.transaction():
            await connection.execute(
                _INSERT_TENANT, tenant.tenant_id, tenant.name, tenant.created_at, tenant.public_url
            )
            await connection.execute(_INSERT_API_KEY, *api_key_values(api_key))

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._fetch_one(_SELECT_API_KEY, key_id)
        return None if row is None else api_key_record(row)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self._fetch_one(_SELECT_TENANT, tenant_id)
        return None if row is None else tenant_record(row)

    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        check_new_api_key(api_key)
        async with self._connection() as connection, connection.transaction():
            # Two instances adding keys to one tenant take turns on its row, so the count
            # and the insert are one step.
            if await connection.fetchval(_LOCK_TENANT, api_key.tenant_id) is None:
                raise NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
            live = await connection.fetchval(_LIVE_API_KEYS, api_key.tenant_id, now)
            if live >= max_live:
                raise ResourceExhaustedError(
                    f"the tenant has {live} live API keys, the most it may have; revoke one first",
                    reason="API_KEY_LIMIT",
                )
            await connection.execute(_INSERT_API_KEY, *api_key_values(api_key))

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        return [api_key_record(row) for row in await self._fetch(_TENANT_API_KEYS, tenant_id)]

    async def revoke_api_key(
        self, tenant_id: str, key_id: str, revoked_at: int
    ) -> ApiKeyRecord | None:
        async with self._connection() as connection:
            await connection.execute(_REVOKE_API_KEY, tenant_id, key_id, revoked_at)
            # A statement of its own: it sees a revocation another instance committed while
            # this UPDATE waited for the row, where the UPDATE's snapshot would not.
            row = await connection.fetchrow(_TENANT_API_KEY, tenant_id, key_id)
        return None if row is None else api_key_record(row)

    async def touch_api_key(self, key_id: str, used_at: int) -> None:
        async with self._connection() as connection:
            await connection.execute(_TOUCH_API_KEY, used_at, key_id)

    async def fix_tenant_public_url(self, tenant_id: str, public_url: str) -> str | None:
        async with self._connection() as connection:
            # Of racing instances, the second UPDATE waits for the first's row lock and
            # then finds the URL set; the SELECT, a new statement, reads the first's URL.
            await connection.execute(_FIX_PUBLIC_URL, tenant_id, public_url)
            stored = await connection.fetchval(_TENANT_PUBLIC_URL, tenant_id)
        return None if stored is None else str(stored)

    async def list_tenant_public_urls(self) -> list[str]:
        return [str(row[0]) for row in await self._fetch(_TENANT_PUBLIC_URLS)]

    # --- issuer keys -------------------------------------------------------------------
    async def ensure_active_issuer_key(self, candidate: IssuerKeyRecord) -> IssuerKeyRecord:
        check_new_issuer_key(candidate)
        async with self._connection() as connection:
            # A rotation elsewhere swaps the active key in one transaction, so a tenant
            # that has a key always shows one; the loop only guards that promise.
            for _ in range(3):
                inserted = await connection.fetchval(
                    _INSERT_FIRST_ISSUER_KEY, *issuer_key_values(candidate)
                )
                if inserted is not None:
                    return candidate
                row = await connection.fetchrow(_ACTIVE_ISSUER_KEY, candidate.tenant_id)
                if row is not None:
                    return issuer_key_record(row)
        raise AbortedError(
            "the tenant's active issuer key changed concurrently; retry", reason="ISSUER_KEY_RACE"
        )

    async def rotate_issuer_key(self, new_key: IssuerKeyRecord, retired_at: int) -> None:
        check_new_issuer_key(new_key)
        async with self._connection() as connection, connection.transaction():
            # Two rotations at once (two instances) take turns, so the second retires the
            # first one's key instead of clashing with it on issuer_keys_one_active.
            if await connection.fetchval(_LOCK_TENANT, new_key.tenant_id) is None:
                raise NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
            await connection.execute(_RETIRE_ACTIVE_KEY, retired_at, new_key.tenant_id)
            await connection.execute(_INSERT_ISSUER_KEY, *issuer_key_values(new_key))

    async def list_issuer_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        rows = await self._fetch(_ISSUER_KEYS_NEWEST_FIRST, tenant_id)
        return [issuer_key_record(row) for row in rows]

    async def set_issuer_key_certificate(self, kid: str, certificate: bytes) -> bytes:
        async with self._connection() as connection, connection.transaction():
            await connection.execute(_SET_KEY_CERTIFICATE, certificate, kid)
            stored = await connection.fetchval(_KEY_CERTIFICATE, kid)
        if stored is None:
            raise NotFoundError("the issuer key does not exist", reason="ISSUER_KEY_NOT_FOUND")
        return bytes(stored)

    # --- status lists ------------------------------------------------------------------
    async def lease_positions(
        self, tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord
    ) -> PositionLease:
        check_lease(tenant_id, count=count, list_size=list_size, new_list=new_list)
        async with self._connection() as connection, connection.transaction():
            # One lease per tenant at a time over all instances: the open list is read and
            # advanced, or a new list created, while no other instance can do either.
            if await connection.fetchval(_LOCK_TENANT, tenant_id) is None:
                raise NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
            row = await connection.fetchrow(_CLAIM_POSITIONS, tenant_id, count)
            if row is not None:
                start, end = int(row[3]), int(row[4])
                return PositionLease(str(row[0]), int(row[1]), bytes(row[2]), start, end - start)
            start = new_list.next_position
            claimed = min(count, new_list.size - start)
            await connection.execute(
                _INSERT_STATUS_LIST,
                new_list.status_list_id,
                new_list.tenant_id,
                new_list.size,
                new_list.bits,
                new_list.permutation_key,
                start + claimed,
                new_list.version,
                new_list.created_at,
            )
        return PositionLease(
            new_list.status_list_id, new_list.size, new_list.permutation_key, start, claimed
        )

    async def get_status_list(self, status_list_id: str) -> StatusListRecord | None:
        row = await self._fetch_one(_SELECT_STATUS_LIST, status_list_id)
        return None if row is None else status_list_record(row)

    async def list_status_entries(self, status_list_id: str) -> list[tuple[int, int]]:
        rows = await self._fetch(_STATUS_ENTRIES, status_list_id)
        return [(int(row[0]), int(row[1])) for row in rows]

    # --- credentials -------------------------------------------------------------------
    async def insert_credentials(self, rows: Sequence[NewCredential]) -> list[InsertOutcome]:
        if not rows:
            return []
        if self._state != "open" or self._inserts is None:
            raise closed_error()
        return await self._inserts.submit(tuple(rows))

    async def _insert_rows(self, batch: Sequence[NewCredential]) -> list[InsertOutcome]:
        """One statement for the rows of a group; outcomes in the order of `batch`."""
        # Rows go in sorted by request id: two instances inserting the same request ids in
        # one statement each then wait for each other in the same order, never deadlock.
        ordered = sorted(batch, key=lambda row: (row.tenant_id, row.request_id or ""))
        columns = [list(column) for column in zip(*map(credential_values, ordered), strict=True)]
        async with self._connection(admit_closing=True) as connection:
            try:
                inserted = {
                    str(r[0]) for r in await connection.fetch(_INSERT_CREDENTIALS, *columns)
                }
            except asyncpg.ForeignKeyViolationError as error:
                raise await _credential_reference_error(connection, batch, error) from error
            replayed = [row for row in batch if row.credential_id not in inserted]
            stored: dict[tuple[str, str | None], CredentialRecord] = {}
            if replayed:
                found = await connection.fetch(
                    _CREDENTIALS_BY_REQUESTS,
                    [row.tenant_id for row in replayed],
                    [row.request_id for row in replayed],
                )
                for record in map(credential_record, found):
                    stored[(record.tenant_id, record.request_id)] = record
        outcomes: list[InsertOutcome] = []
        for row in batch:
            if row.credential_id in inserted:
                outcomes.append(InsertOutcome(inserted=True, record=new_credential_record(row)))
                continue
            # The tenant already used this request_id: answer with what is stored.
            existing = stored.get((row.tenant_id, row.request_id))
            if existing is None:  # pragma: no cover - DO NOTHING fires only on that conflict
                raise AbortedError("the idempotent insert found no row", reason="STORE_RACE")
            outcomes.append(InsertOutcome(inserted=False, record=existing))
        return outcomes

    async def get_credential(self, tenant_id: str, credential_id: str) -> CredentialRecord | None:
        row = await self._fetch_one(_CREDENTIAL_BY_ID, tenant_id, credential_id)
        return None if row is None else credential_record(row)

    async def get_credential_by_request_id(
        self, tenant_id: str, request_id: str
    ) -> CredentialRecord | None:
        row = await self._fetch_one(_CREDENTIAL_BY_REQUEST, tenant_id, request_id)
        return None if row is None else credential_record(row)

    async def get_status_at(self, status_list_id: str, index: int) -> int | None:
        row = await self._fetch_one(_STATUS_AT, status_list_id, index)
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
        row = await self._fetch_one(
            _CHANGE_STATUS,
            tenant_id,
            credential_id,
            to_status,
            at,
            sorted(from_statuses),
            reason,
        )
        if row is None:
            return None
        current = credential_record(row)
        if not row[12]:
            return StatusChange(changed=False, record=current)
        return StatusChange(
            changed=True, record=replace(current, status=to_status, status_updated_at=at)
        )

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
        version = await self._fetch_one(
            _CREATE_TEMPLATE,
            tenant_id,
            template_id,
            kind,
            created_at,
            description,
            definition_json,
        )
        if version is None:
            raise AlreadyExistsError("the template exists", reason="TEMPLATE_EXISTS")
        return TemplateRecord(
            tenant_id=tenant_id,
            template_id=template_id,
            kind=kind,
            definition=json.loads(definition_json),
            description=description,
            version=int(version[0]),
            created_at=created_at,
            updated_at=created_at,
        )

    async def get_template(self, tenant_id: str, template_id: str) -> TemplateRecord | None:
        row = await self._fetch_one(_LIVE_TEMPLATE, tenant_id, template_id)
        return None if row is None else template_record(row)

    async def get_template_version(self, tenant_id: str, template_id: str) -> int | None:
        row = await self._fetch_one(_LIVE_TEMPLATE_VERSION, tenant_id, template_id)
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
        rows = await self._fetch(_TEMPLATES_PAGE, tenant_id, after, kind, limit)
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
        row = await self._fetch_one(
            _UPDATE_TEMPLATE,
            tenant_id,
            template_id,
            expected_version,
            updated_at,
            description,
            definition_json,
        )
        if row is None:
            return None
        if row[3] is None:
            raise etag_mismatch()
        return TemplateRecord(
            tenant_id=tenant_id,
            template_id=template_id,
            kind=row[1],
            definition=json.loads(definition_json),
            description=description,
            version=int(row[3]),
            created_at=int(row[2]),
            updated_at=updated_at,
        )

    async def delete_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        expected_version: int | None,
        deleted_at: int,
    ) -> bool:
        row = await self._fetch_one(
            _DELETE_TEMPLATE, tenant_id, template_id, expected_version, deleted_at
        )
        if row is None:
            return False
        if not row[1]:
            raise etag_mismatch()
        return True

    # --- trust configuration -------------------------------------------------------------
    async def add_trust_entry(
        self, entry: TrustEntryRecord, *, max_entries: int | None = None
    ) -> None:
        document = trust_document_json(entry)
        async with self._connection() as connection, connection.transaction():
            if max_entries is not None:
                # A tenant's adds take turns on its row (NO KEY UPDATE leaves the foreign
                # key checks of its other writes alone), so the count below stays true.
                locked = await connection.fetchval(
                    "SELECT 1 FROM tenants WHERE tenant_id = $1 FOR NO KEY UPDATE",
                    entry.tenant_id,
                )
                if locked is None:
                    raise NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
            row = await connection.fetchrow(
                "INSERT INTO trust_entries (tenant_id, kind, entry_id, created_at, document) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
                entry.tenant_id,
                entry.kind,
                entry.entry_id,
                entry.created_at,
                document,
            )
            if row is None:
                raise AlreadyExistsError("the trust entry exists", reason="TRUST_ENTRY_EXISTS")
            if max_entries is not None:
                count = await connection.fetchval(
                    "SELECT count(*) FROM trust_entries WHERE tenant_id = $1", entry.tenant_id
                )
                if count > max_entries:
                    raise trust_entries_limit(max_entries)

    async def delete_trust_entry(self, tenant_id: str, kind: TrustEntryKind, entry_id: str) -> bool:
        row = await self._fetch_one(
            "DELETE FROM trust_entries WHERE tenant_id = $1 AND kind = $2 AND entry_id = $3 "
            "RETURNING 1",
            tenant_id,
            kind,
            entry_id,
        )
        return row is not None

    async def list_trust_entries(self, tenant_id: str) -> list[TrustEntryRecord]:
        rows = await self._fetch(
            "SELECT kind, entry_id, created_at, document FROM trust_entries "
            "WHERE tenant_id = $1 ORDER BY kind, entry_id",
            tenant_id,
        )
        return [trust_entry_record(tenant_id, row) for row in rows]


# --- helpers -------------------------------------------------------------------------------


def _raise_open_error(error: BaseException) -> NoReturn:
    mapped = _open_error(error)
    if mapped is error:
        raise error
    raise mapped from error


def _open_error(error: BaseException) -> BaseException:
    """Why the store could not open: waiting may help (Unavailable) or not (Configuration)."""
    if not isinstance(error, Exception) or isinstance(error, EudiConnectError):
        return error
    if isinstance(error, OSError | TimeoutError):
        return _unavailable("the PostgreSQL server cannot be reached", error)
    state = str(getattr(error, "sqlstate", "") or "")
    if state.startswith("28") or state == "3D000":
        # Authentication failed, no such role, no such database: fix the URL.
        mapped: BaseException = ConfigurationError(
            "the PostgreSQL server refused the connection "
            f"({type(error).__name__}); check the URL's user, password and database",
            reason="DATABASE_UNUSABLE",
        )
        mapped.__cause__ = error
        return mapped
    return map_error(error)


async def _keep_session(connection: Connection) -> None:
    """The pool's reset on release, in place of asyncpg's default (a round trip running
    `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` after EVERY call). The
    store never changes session state: no SET, cursors, LISTEN or session-level locks
    (the migration lock is transaction-level). An open transaction is still rolled back
    by asyncpg itself before this runs."""


async def _apply_migrations(connection: Connection, available: Sequence[Migration]) -> list[int]:
    """Applies pending migrations, each in its own transaction under an advisory lock.

    Instances starting together queue on the lock; each one, once it holds it, reads
    which versions are recorded and skips those. Returns the versions applied here.
    """
    applied_here: list[int] = []
    while True:
        async with connection.transaction():
            # Waits while another instance migrates, however long that takes.
            await connection.execute(_LOCK_MIGRATIONS, MIGRATION_LOCK_KEY, timeout=_NO_LIMIT)
            await connection.execute(_MIGRATIONS_TABLE)
            applied = {
                int(row[0]): str(row[1])
                for row in await connection.fetch("SELECT version, checksum FROM schema_migrations")
            }
            todo = pending_migrations(available, applied)
            if not todo:
                return applied_here
            migration = todo[0]
            try:
                # No arguments: the simple query protocol runs the whole script.
                await connection.execute(migration.sql, timeout=_NO_LIMIT)
            except asyncpg.PostgresError as error:
                if map_error(error) is not error:  # a lost connection, not a bad script
                    raise
                raise ConfigurationError(
                    f"migration {migration.version:04d}_{migration.name}.sql failed "
                    f"({type(error).__name__})",
                    reason="MIGRATION_FAILED",
                ) from error
            await connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES ($1, $2, $3, extract(epoch FROM now())::bigint)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        applied_here.append(migration.version)


async def _credential_reference_error(
    connection: Connection, rows: Sequence[NewCredential], error: BaseException
) -> EudiConnectError:
    """Names the missing reference; reads only on this error path (as SQLite's store does:
    an unknown tenant wins over a list of another tenant)."""
    tenants = {row.tenant_id for row in rows}
    for tenant_id in tenants:
        if not await connection.fetchval(_TENANT_EXISTS, tenant_id):
            return NotFoundError("the tenant does not exist", reason="TENANT_NOT_FOUND")
    mapped = map_error(error)
    if isinstance(mapped, EudiConnectError):
        return mapped
    return NotFoundError(
        "the status list does not exist for this tenant", reason="STATUS_LIST_NOT_FOUND"
    )
