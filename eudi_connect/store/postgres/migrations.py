"""The PostgreSQL `MigrationDriver`: one connection, an advisory lock, whole scripts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg

from eudi_connect.store.migrations import Migration
from eudi_connect.store.postgres.error_map import map_error

# Key of the transaction-level advisory lock that migrations hold: instances starting
# together apply each migration once, one after the other. Any fixed 64-bit number.
MIGRATION_LOCK_KEY: Final = 0x6575_6469_6D69_6772  # "eudimigr"

# Statement timeout for migrations (an index build on a large table may take long).
_NO_LIMIT: Final = 24 * 3600.0

_LOCK: Final = "SELECT pg_advisory_xact_lock($1)"
_MIGRATIONS_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
    "applied_at bigint NOT NULL)"
)
_RECORDED: Final = "SELECT version, checksum FROM schema_migrations"
_RECORD: Final = (
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
    "VALUES ($1, $2, $3, extract(epoch FROM now())::bigint)"
)


class PostgresMigrations:
    """Each migration in its own transaction on `connection`, under the advisory lock:
    instances starting together queue on it."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._connection.transaction():
            # Waits while another instance migrates, however long that takes.
            await self._connection.execute(_LOCK, MIGRATION_LOCK_KEY, timeout=_NO_LIMIT)
            yield

    async def recorded(self) -> dict[int, str]:
        await self._connection.execute(_MIGRATIONS_TABLE)
        return {int(row[0]): str(row[1]) for row in await self._connection.fetch(_RECORDED)}

    async def run_script(self, sql: str) -> None:
        # No arguments: the simple query protocol runs the whole script.
        await self._connection.execute(sql, timeout=_NO_LIMIT)

    def script_failure(self, error: Exception) -> str | None:
        if not isinstance(error, asyncpg.PostgresError):
            return None
        if map_error(error) is not error:  # a lost connection, not a bad script
            return None
        return type(error).__name__

    async def record(self, migration: Migration) -> None:
        await self._connection.execute(
            _RECORD, migration.version, migration.name, migration.checksum
        )
