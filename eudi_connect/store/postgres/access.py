"""How the PostgreSQL store's aggregates reach the database: pooled connections whose
driver and database errors leave as domain errors. `PostgresStore` opens and closes the
pool.

Most calls run ONE statement in its own implicit transaction (`_fetch`, `_fetch_one`: one
round trip); what must hold across several statements runs in `_transaction`, and what
must hold across instances is left to the database (constraints, row locks).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from eudi_connect.store.checks import closed_error, tenant_not_found
from eudi_connect.store.lifecycle import Lifecycle
from eudi_connect.store.postgres.error_map import raise_mapped
from eudi_connect.store.postgres.options import PostgresOptions

# asyncpg ships no type information: its connections and rows are `Any` to mypy.
Connection = Any
Row = Any

# Serialises one tenant's leases, key rotations, API key and trust entry additions across
# every instance. NO KEY UPDATE does not conflict with the KEY SHARE locks that foreign-key
# checks take, so issuing for the tenant never waits on it.
_LOCK_TENANT: Final = "SELECT 1 FROM tenants WHERE tenant_id = $1 FOR NO KEY UPDATE"


class PostgresAccess(Lifecycle):
    """The pool and the calls that use it."""

    _pool: Any
    _options: PostgresOptions

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
            raise_mapped(error)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        """A pooled connection in a transaction, committed when the block ends."""
        async with self._connection() as connection, connection.transaction():
            yield connection

    async def _fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._connection() as connection:
            return list(await connection.fetch(sql, *args))

    async def _fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._connection() as connection:
            return await connection.fetchrow(sql, *args)


async def lock_tenant(connection: Connection, tenant_id: str) -> None:
    """Takes the tenant's row lock until the transaction ends; NotFoundError for an
    unknown tenant."""
    if await connection.fetchval(_LOCK_TENANT, tenant_id) is None:
        raise tenant_not_found()


async def insert_or_existing(
    connection: Connection, insert: str, values: Sequence[Any], existing: str, *keys: Any
) -> Row | None:
    """Runs `insert` (ON CONFLICT ... DO NOTHING) on `connection`: None when it inserted
    its row, else the row already there, which `existing` reads by `keys` (a repeated
    request id answers with what the first request stored)."""
    status = await connection.execute(insert, *values)
    if status.endswith(" 1"):
        return None
    return await connection.fetchrow(existing, *keys)
