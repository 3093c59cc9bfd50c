"""Issuer keys, in PostgreSQL: one active key per tenant and purpose (a partial unique
index), retired keys kept; and the tenants' key settings."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord
from eudi_connect.store.checks import check_new_issuer_key, issuer_key_not_found, issuer_key_race
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import (
    SELECT_ISSUER_KEY,
    issuer_key_record,
    issuer_key_values,
    key_settings_record,
    key_settings_values,
)
from eudi_connect.store.sql.statements import ISSUER_KEYS

_SQL: Final = ISSUER_KEYS
_KEYS_NEWEST_FIRST: Final = (
    SELECT_ISSUER_KEY + "WHERE tenant_id = $1 ORDER BY created_at DESC, seq DESC"
)
# The partial unique index issuer_keys_one_active is the arbiter: of several instances
# making a tenant's first key at once, one inserts and the others read its key.
_INSERT_FIRST_KEY: Final = (
    _SQL.insert_key
    + " ON CONFLICT (tenant_id, purpose) WHERE retired_at IS NULL DO NOTHING RETURNING kid"
)
_SET_PUBLISHED_UNTIL: Final = (
    "UPDATE issuer_keys SET published_until = $1 WHERE kid = $2 RETURNING kid"
)


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
                row = await connection.fetchrow(
                    _SQL.active_key, candidate.tenant_id, candidate.purpose
                )
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
                row = await connection.fetchrow(_SQL.active_key, new_key.tenant_id, new_key.purpose)
                if row is not None and row[0] != replacing:
                    return False
            await connection.execute(
                _SQL.retire_active_key, retired_at, new_key.tenant_id, new_key.purpose
            )
            await connection.execute(_SQL.insert_key, *issuer_key_values(new_key))
        return True

    async def list_issuer_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        rows = await self._fetch(_KEYS_NEWEST_FIRST, tenant_id)
        return [issuer_key_record(row) for row in rows]

    async def set_issuer_key_certificate(self, kid: str, certificate: bytes) -> bytes:
        async with self._transaction() as connection:
            await connection.execute(_SQL.set_certificate, certificate, kid)
            stored = await connection.fetchval(_SQL.certificate, kid)
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
        row = await self._fetch_one(_SQL.last_expiry, tenant_id, issued_from, issued_until)
        return None if row is None or row[0] is None else int(row[0])

    async def put_key_settings(self, settings: KeySettingsRecord) -> None:
        async with self._connection() as connection:
            await connection.execute(_SQL.put_settings, *key_settings_values(settings))

    async def list_key_settings(self, tenant_id: str | None = None) -> list[KeySettingsRecord]:
        if tenant_id is None:
            rows = await self._fetch(_SQL.all_settings)
        else:
            rows = await self._fetch(_SQL.settings_of, tenant_id)
        return [key_settings_record(row) for row in rows]
