"""Tenants and their API keys, in PostgreSQL."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import ApiKeyRecord, TenantRecord
from eudi_connect.store.checks import check_api_key_room, check_new_api_key, check_new_tenant
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import (
    api_key_record,
    api_key_values,
    tenant_record,
    tenant_values,
)
from eudi_connect.store.sql.statements import TENANTS

_SQL: Final = TENANTS


class PostgresTenants(PostgresAccess):
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
        check_new_tenant(tenant, api_key)
        async with self._transaction() as connection:
            await connection.execute(_SQL.insert_tenant, *tenant_values(tenant))
            await connection.execute(_SQL.insert_api_key, *api_key_values(api_key))

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._fetch_one(_SQL.api_key, key_id)
        return None if row is None else api_key_record(row)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self._fetch_one(_SQL.tenant, tenant_id)
        return None if row is None else tenant_record(row)

    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        check_new_api_key(api_key)
        async with self._transaction() as connection:
            # Two instances adding keys to one tenant take turns on its row, so the count
            # and the insert are one step.
            await lock_tenant(connection, api_key.tenant_id)
            live = await connection.fetchval(_SQL.live_api_keys, api_key.tenant_id, now)
            check_api_key_room(live, max_live)
            await connection.execute(_SQL.insert_api_key, *api_key_values(api_key))

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        return [api_key_record(row) for row in await self._fetch(_SQL.tenant_api_keys, tenant_id)]

    async def revoke_api_key(
        self, tenant_id: str, key_id: str, revoked_at: int
    ) -> ApiKeyRecord | None:
        async with self._connection() as connection:
            await connection.execute(_SQL.revoke_api_key, tenant_id, key_id, revoked_at)
            # A statement of its own: it sees a revocation another instance committed while
            # this UPDATE waited for the row, where the UPDATE's snapshot would not.
            row = await connection.fetchrow(_SQL.tenant_api_key, tenant_id, key_id)
        return None if row is None else api_key_record(row)

    async def touch_api_key(self, key_id: str, used_at: int) -> None:
        async with self._connection() as connection:
            await connection.execute(_SQL.touch_api_key, used_at, key_id)

    async def fix_tenant_public_url(self, tenant_id: str, public_url: str) -> str | None:
        async with self._connection() as connection:
            # Of racing instances, the second UPDATE waits for the first's row lock and
            # then finds the URL set; the SELECT, a new statement, reads the first's URL.
            await connection.execute(_SQL.fix_public_url, tenant_id, public_url)
            stored = await connection.fetchval(_SQL.public_url, tenant_id)
        return None if stored is None else str(stored)

    async def list_tenant_public_urls(self) -> list[str]:
        return [str(row[0]) for row in await self._fetch(_SQL.public_urls)]
