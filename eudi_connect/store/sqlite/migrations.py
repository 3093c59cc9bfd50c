"""The SQLite `MigrationDriver`: the writer's connection, its write lock, a script run one
statement at a time."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Final

from eudi_connect.store.migrations import Migration
from eudi_connect.store.sqlite.error_map import error_name, is_transient
from eudi_connect.store.sqlite.thread import ConnectionThread

_MIGRATIONS_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
    "applied_at INTEGER NOT NULL) STRICT"
)
_RECORDED: Final = "SELECT version, checksum FROM schema_migrations"
_RECORD: Final = (
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)"
)


class SqliteMigrations:
    """Each migration in its own BEGIN IMMEDIATE transaction on `connection`.

    A second process opening the same file waits at BEGIN IMMEDIATE (busy_timeout), then
    finds the migration recorded and skips it.
    """

    def __init__(self, connection: ConnectionThread) -> None:
        self._connection = connection

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        await self._connection.run(lambda conn: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield
            await self._connection.run(lambda conn: conn.execute("COMMIT"))
        except BaseException:
            await self._connection.run(_roll_back)
            raise

    async def recorded(self) -> dict[int, str]:
        def read(conn: sqlite3.Connection) -> dict[int, str]:
            conn.execute(_MIGRATIONS_TABLE)
            return {int(version): str(digest) for version, digest in conn.execute(_RECORDED)}

        return await self._connection.run(read)

    async def run_script(self, sql: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for statement in split_statements(sql):
                conn.execute(statement)

        await self._connection.run(run)

    def script_failure(self, error: Exception) -> str | None:
        if not isinstance(error, sqlite3.Error):
            return None
        if isinstance(error, sqlite3.OperationalError) and is_transient(error):
            return None
        return error_name(error)

    async def record(self, migration: Migration) -> None:
        values = (migration.version, migration.name, migration.checksum, int(time.time()))
        await self._connection.run(lambda conn: conn.execute(_RECORD, values))


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


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
