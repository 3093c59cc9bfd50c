"""Tenants and their API keys, in PostgreSQL."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import ApiKeyRecord, TenantRecord
from eudi_connect.store.checks import check_api_key_room, check_new_api_key, check_new_tenant
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import (
    SELECT_API_KEY,
    SELECT_TENANT,
    api_key_record,
    api_key_values,
    tenant_record,
    tenant_values,
)

_INSERT_TENANT: Final = (
    "INSERT INTO tenants (tenant_id, name, created_at, public_url) VALUES ($1, $2, $3, $4)"
)
_TENANT: Final = SELECT_TENANT + "WHERE tenant_id = $1"
_FIX_PUBLIC_URL: Final = (
    "UPDATE tenants SET public_url = $2 WHERE tenant_id = $1 AND public_url IS NULL"
)
_PUBLIC_URL: Final = "SELECT public_url FROM tenants WHERE tenant_id = $1"
_PUBLIC_URLS: Final = (
    "SELECT DISTINCT public_url FROM tenants WHERE public_url IS NOT NULL ORDER BY public_url"
)

_INSERT_API_KEY: Final = (
    "INSERT INTO api_keys (key_id, tenant_id, secret_hash, created_at, label, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
_API_KEY: Final = SELECT_API_KEY + "WHERE key_id = $1"
_TENANT_API_KEY: Final = SELECT_API_KEY + "WHERE tenant_id = $1 AND key_id = $2"
_TENANT_API_KEYS: Final = SELECT_API_KEY + "WHERE tenant_id = $1 ORDER BY created_at, key_id"
_LIVE_API_KEYS: Final = (
    "SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > $2)"
)
# The first revocation time stays.
_REVOKE_API_KEY: Final = (
    "UPDATE api_keys SET revoked_at = $3 "
    "WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL"
)
_TOUCH_API_KEY: Final = (
    "UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2 "
    "AND (last_used_at IS NULL OR last_used_at < $1)"
)


class PostgresTenants(PostgresAccess):
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
        check_new_tenant(tenant, api_key)
        async with self._transaction() as connection:
            await connection.execute(_INSERT_TENANT, *tenant_values(tenant))
            await connection.execute(_INSERT_API_KEY, *api_key_values(api_key))

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._fetch_one(_API_KEY, key_id)
        return None if row is None else api_key_record(row)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self._fetch_one(_TENANT, tenant_id)
        return None if row is None else tenant_record(row)

    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        check_new_api_key(api_key)
        async with self._transaction() as connection:
            # Two instances adding keys to one tenant take turns on its row, so the count
            # and the insert are one step.
            await lock_tenant(connection, api_key.tenant_id)
            live = await connection.fetchval(_LIVE_API_KEYS, api_key.tenant_id, now)
            check_api_key_room(live, max_live)
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
            stored = await connection.fetchval(_PUBLIC_URL, tenant_id)
        return None if stored is None else str(stored)

    async def list_tenant_public_urls(self) -> list[str]:
        return [str(row[0]) for row in await self._fetch(_PUBLIC_URLS)]
