"""Issuer keys, in PostgreSQL: one active key per tenant and purpose (a partial unique
index), retired keys kept; and the tenants' key settings."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord
from eudi_connect.store.checks import check_new_issuer_key, issuer_key_not_found, issuer_key_race
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import (
    ISSUER_KEY_COLUMNS,
    SELECT_ISSUER_KEY,
    SELECT_KEY_SETTINGS,
    issuer_key_record,
    issuer_key_values,
    key_settings_record,
    key_settings_values,
)

_ACTIVE_KEY: Final = (
    SELECT_ISSUER_KEY + "WHERE tenant_id = $1 AND purpose = $2 AND retired_at IS NULL"
)
_KEYS_NEWEST_FIRST: Final = (
    SELECT_ISSUER_KEY + "WHERE tenant_id = $1 ORDER BY created_at DESC, seq DESC"
)
_VALUES: Final = "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
# The partial unique index issuer_keys_one_active is the arbiter: of several instances
# making a tenant's first key at once, one inserts and the others read its key.
_INSERT_FIRST_KEY: Final = (
    f"INSERT INTO issuer_keys ({ISSUER_KEY_COLUMNS}) {_VALUES} "
    "ON CONFLICT (tenant_id, purpose) WHERE retired_at IS NULL DO NOTHING RETURNING kid"
)
_INSERT_KEY: Final = f"INSERT INTO issuer_keys ({ISSUER_KEY_COLUMNS}) {_VALUES}"
_RETIRE_ACTIVE_KEY: Final = (
    "UPDATE issuer_keys SET retired_at = $1 "
    "WHERE tenant_id = $2 AND purpose = $3 AND retired_at IS NULL"
)
_SET_CERTIFICATE: Final = (
    "UPDATE issuer_keys SET certificate = $1 WHERE kid = $2 AND certificate IS NULL"
)
_CERTIFICATE: Final = "SELECT certificate FROM issuer_keys WHERE kid = $1"
_SET_PUBLISHED_UNTIL: Final = (
    "UPDATE issuer_keys SET published_until = $1 WHERE kid = $2 RETURNING kid"
)
_LAST_EXPIRY: Final = (
    "SELECT max(expires_at) FROM credentials WHERE tenant_id = $1 AND issued_at BETWEEN $2 AND $3"
)
_PUT_SETTINGS: Final = (
    "INSERT INTO tenant_key_settings "
    "(tenant_id, purpose, backend, token, max_age_seconds, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, purpose) DO UPDATE SET "
    "backend = excluded.backend, token = excluded.token, "
    "max_age_seconds = excluded.max_age_seconds, updated_at = excluded.updated_at"
)
_SETTINGS_OF: Final = SELECT_KEY_SETTINGS + "WHERE tenant_id = $1 ORDER BY purpose"
_ALL_SETTINGS: Final = SELECT_KEY_SETTINGS + "ORDER BY tenant_id, purpose"


class PostgresIssuerKeys(PostgresAccess):
    async def ensure_active_issuer_key(self, candidate: IssuerKeyRecord) -> IssuerKeyRecord:
        check_new_issuer_key(candidate)
        async with self._connection() as connection:
            # A rotation elsewhere swaps the active key in one transaction, so a tenant
            # that has a key always shows one; the loop only guards that promise.
            for _ in range(3):
                inserted = await connection.fetchval(
                    _INSERT_FIRST_KEY, *issuer_key_values(candidate)
                )
                if inserted is not None:
                    return candidate
                row = await connection.fetchrow(_ACTIVE_KEY, candidate.tenant_id, candidate.purpose)
                if row is not None:
                    return issuer_key_record(row)
        raise issuer_key_race()

    async def rotate_issuer_key(
        self, new_key: IssuerKeyRecord, retired_at: int, *, replacing: str | None = None
    ) -> bool:
        check_new_issuer_key(new_key)
        async with self._transaction() as connection:
            # Two rotations at once (two instances) take turns, so the second retires the
            # first one's key instead of clashing with it on issuer_keys_one_active.
            await lock_tenant(connection, new_key.tenant_id)
            if replacing is not None:
                row = await connection.fetchrow(_ACTIVE_KEY, new_key.tenant_id, new_key.purpose)
                if row is not None and row[0] != replacing:
                    return False
            await connection.execute(
                _RETIRE_ACTIVE_KEY, retired_at, new_key.tenant_id, new_key.purpose
            )
            await connection.execute(_INSERT_KEY, *issuer_key_values(new_key))
        return True

    async def list_issuer_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        rows = await self._fetch(_KEYS_NEWEST_FIRST, tenant_id)
        return [issuer_key_record(row) for row in rows]

    async def set_issuer_key_certificate(self, kid: str, certificate: bytes) -> bytes:
        async with self._transaction() as connection:
            await connection.execute(_SET_CERTIFICATE, certificate, kid)
            stored = await connection.fetchval(_CERTIFICATE, kid)
        if stored is None:
            raise issuer_key_not_found()
        return bytes(stored)

    async def set_issuer_key_published_until(self, kid: str, published_until: int) -> None:
        async with self._connection() as connection:
            if await connection.fetchval(_SET_PUBLISHED_UNTIL, published_until, kid) is None:
                raise issuer_key_not_found()

    async def last_credential_expiry(
        self, tenant_id: str, *, issued_from: int, issued_until: int
    ) -> int | None:
        row = await self._fetch_one(_LAST_EXPIRY, tenant_id, issued_from, issued_until)
        return None if row is None or row[0] is None else int(row[0])

    async def put_key_settings(self, settings: KeySettingsRecord) -> None:
        async with self._connection() as connection:
            await connection.execute(_PUT_SETTINGS, *key_settings_values(settings))

    async def list_key_settings(self, tenant_id: str | None = None) -> list[KeySettingsRecord]:
        if tenant_id is None:
            rows = await self._fetch(_ALL_SETTINGS)
        else:
            rows = await self._fetch(_SETTINGS_OF, tenant_id)
        return [key_settings_record(row) for row in rows]
