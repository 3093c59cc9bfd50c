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
    SELECT_API_KEY,
    SELECT_TENANT,
    api_key_record,
    api_key_values,
    tenant_record,
    tenant_values,
)
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_INSERT_TENANT: Final = (
    "INSERT INTO tenants (tenant_id, name, created_at, public_url) VALUES (?, ?, ?, ?)"
)
_TENANT: Final = SELECT_TENANT + "WHERE tenant_id = ?"
_FIX_PUBLIC_URL: Final = (
    "UPDATE tenants SET public_url = ? WHERE tenant_id = ? AND public_url IS NULL"
)
_PUBLIC_URL: Final = "SELECT public_url FROM tenants WHERE tenant_id = ?"
_PUBLIC_URLS: Final = (
    "SELECT DISTINCT public_url FROM tenants WHERE public_url IS NOT NULL ORDER BY public_url"
)

_INSERT_API_KEY: Final = (
    "INSERT INTO api_keys (key_id, tenant_id, secret_hash, created_at, label, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_API_KEY: Final = SELECT_API_KEY + "WHERE key_id = ?"
_TENANT_API_KEY: Final = SELECT_API_KEY + "WHERE tenant_id = ? AND key_id = ?"
_TENANT_API_KEYS: Final = SELECT_API_KEY + "WHERE tenant_id = ? ORDER BY created_at, key_id"
_LIVE_API_KEYS: Final = (
    "SELECT count(*) FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > ?)"
)
# The first revocation time stays.
_REVOKE_API_KEY: Final = (
    "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL"
)
_TOUCH_API_KEY: Final = (
    "UPDATE api_keys SET last_used_at = ?1 WHERE key_id = ?2 "
    "AND (last_used_at IS NULL OR last_used_at < ?1)"
)


class SqliteTenants(SqliteAccess):
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
        check_new_tenant(tenant, api_key)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_INSERT_TENANT, tenant_values(tenant))
            except sqlite3.IntegrityError as error:
                raise record_error(error, exists=tenant_exists) from error
            _insert_api_key(conn, api_key)

        await self._write(work)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._fetch_point(_API_KEY, (key_id,))
        return None if row is None else api_key_record(row)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self._fetch_one(_TENANT, (tenant_id,))
        return None if row is None else tenant_record(row)

    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        check_new_api_key(api_key)

        def work(conn: sqlite3.Connection) -> None:
            # The single writer makes the count and the insert one atomic step.
            if conn.execute(_TENANT, (api_key.tenant_id,)).fetchone() is None:
                raise tenant_not_found()
            (live,) = conn.execute(_LIVE_API_KEYS, (api_key.tenant_id, now)).fetchone()
            check_api_key_room(live, max_live)
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
            row = conn.execute(_PUBLIC_URL, (tenant_id,)).fetchone()
            return None if row is None else str(row[0])

        return await self._write(work)

    async def list_tenant_public_urls(self) -> list[str]:
        return [str(row[0]) for row in await self._fetch(_PUBLIC_URLS, ())]


def _insert_api_key(conn: sqlite3.Connection, key: ApiKeyRecord) -> None:
    try:
        conn.execute(_INSERT_API_KEY, api_key_values(key))
    except sqlite3.IntegrityError as error:
        raise record_error(error, exists=api_key_exists) from error
