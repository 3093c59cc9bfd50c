"""Tenants and their API keys, in SQLite."""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.base import ApiKeyRecord, TenantRecord
from eudi_connect.store.checks import (
    api_key_exists,
    check_api_key_room,
    check_new_api_key,
    check_new_tenant,
    tenant_exists,
    tenant_not_found,
)
from eudi_connect.store.rows import (
    api_key_record,
    api_key_values,
    tenant_record,
    tenant_values,
)
from eudi_connect.store.sql.statements import TENANTS
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_SQL: Final = TENANTS.in_sqlite()


class SqliteTenants(SqliteAccess):
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
        check_new_tenant(tenant, api_key)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_SQL.insert_tenant, tenant_values(tenant))
            except sqlite3.IntegrityError as error:
                raise record_error(error, exists=tenant_exists) from error
            _insert_api_key(conn, api_key)

        await self._write(work)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._fetch_point(_SQL.api_key, (key_id,))
        return None if row is None else api_key_record(row)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self._fetch_one(_SQL.tenant, (tenant_id,))
        return None if row is None else tenant_record(row)

    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        check_new_api_key(api_key)

        def work(conn: sqlite3.Connection) -> None:
            # The single writer makes the count and the insert one atomic step.
            if conn.execute(_SQL.tenant, (api_key.tenant_id,)).fetchone() is None:
                raise tenant_not_found()
            (live,) = conn.execute(_SQL.live_api_keys, (api_key.tenant_id, now)).fetchone()
            check_api_key_room(live, max_live)
            _insert_api_key(conn, api_key)

        await self._write(work)

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        rows = await self._fetch(_SQL.tenant_api_keys, (tenant_id,))
        return [api_key_record(row) for row in rows]

    async def revoke_api_key(
        self, tenant_id: str, key_id: str, revoked_at: int
    ) -> ApiKeyRecord | None:
        def work(conn: sqlite3.Connection) -> ApiKeyRecord | None:
            conn.execute(_SQL.revoke_api_key, (tenant_id, key_id, revoked_at))
            row = conn.execute(_SQL.tenant_api_key, (tenant_id, key_id)).fetchone()
            return None if row is None else api_key_record(row)

        return await self._write(work)

    async def touch_api_key(self, key_id: str, used_at: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_SQL.touch_api_key, (used_at, key_id))

        await self._write(work)

    async def fix_tenant_public_url(self, tenant_id: str, public_url: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            conn.execute(_SQL.fix_public_url, (tenant_id, public_url))
            row = conn.execute(_SQL.public_url, (tenant_id,)).fetchone()
            return None if row is None else str(row[0])

        return await self._write(work)

    async def list_tenant_public_urls(self) -> list[str]:
        return [str(row[0]) for row in await self._fetch(_SQL.public_urls, ())]


def _insert_api_key(conn: sqlite3.Connection, key: ApiKeyRecord) -> None:
    try:
        conn.execute(_SQL.insert_api_key, api_key_values(key))
    except sqlite3.IntegrityError as error:
        raise record_error(error, exists=api_key_exists) from error
