"""Issuer keys, in PostgreSQL: one active key per tenant (a partial unique index), retired
keys kept."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import IssuerKeyRecord
from eudi_connect.store.checks import check_new_issuer_key, issuer_key_not_found, issuer_key_race
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import SELECT_ISSUER_KEY, issuer_key_record, issuer_key_values
from eudi_connect.store.sql.statements import ISSUER_KEYS

_SQL: Final = ISSUER_KEYS

_KEYS_NEWEST_FIRST: Final = (
    SELECT_ISSUER_KEY + "WHERE tenant_id = $1 ORDER BY created_at DESC, seq DESC"
)
# The partial unique index issuer_keys_one_active is the arbiter: of several instances
# making a tenant's first key at once, one inserts and the others read its key.
_INSERT_FIRST_KEY: Final = (
    "INSERT INTO issuer_keys (kid, tenant_id, private_key_encrypted, public_jwk, created_at, "
    "certificate) VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (tenant_id) WHERE retired_at IS NULL DO NOTHING RETURNING kid"
)
_INSERT_KEY: Final = (
    "INSERT INTO issuer_keys (kid, tenant_id, private_key_encrypted, public_jwk, created_at, "
    "certificate) VALUES ($1, $2, $3, $4, $5, $6)"
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
                row = await connection.fetchrow(_SQL.active_key, candidate.tenant_id)
                if row is not None:
                    return issuer_key_record(row)
        raise issuer_key_race()

    async def rotate_issuer_key(self, new_key: IssuerKeyRecord, retired_at: int) -> None:
        check_new_issuer_key(new_key)
        async with self._transaction() as connection:
            # Two rotations at once (two instances) take turns, so the second retires the
            # first one's key instead of clashing with it on issuer_keys_one_active.
            await lock_tenant(connection, new_key.tenant_id)
            await connection.execute(_SQL.retire_active_key, retired_at, new_key.tenant_id)
            await connection.execute(_INSERT_KEY, *issuer_key_values(new_key))

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
