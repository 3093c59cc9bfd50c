"""The verifier half of the store (`PresentationStore`), in PostgreSQL.

A state change locks the transaction's row (SELECT ... FOR UPDATE) and writes it in the
same database transaction: two instances that race to claim one response see one winner.
"""

from __future__ import annotations

from typing import Final

from eudi_connect.store.checks import tenant_not_found
from eudi_connect.store.postgres.access import PostgresAccess, insert_or_existing, lock_tenant
from eudi_connect.store.presentation_rows import (
    change_values,
    identity_record,
    identity_values,
    presentation_record,
    presentation_values,
)
from eudi_connect.store.presentations import PresentationRecord, VerifierIdentityRecord
from eudi_connect.store.sql.presentations import PresentationChange, SqlPresentations
from eudi_connect.store.sql.statements import PRESENTATIONS

_SQL: Final = PRESENTATIONS
_PRESENTATION_FOR_UPDATE: Final = _SQL.presentation + " FOR UPDATE"


class PostgresPresentations(SqlPresentations, PostgresAccess):
    async def get_verifier_identity(self, tenant_id: str) -> VerifierIdentityRecord | None:
        row = await self._fetch_one(_SQL.identity, tenant_id)
        return None if row is None else identity_record(tuple(row))

    async def ensure_verifier_identity(
        self, candidate: VerifierIdentityRecord
    ) -> VerifierIdentityRecord:
        async with self._transaction() as connection:
            await lock_tenant(connection, candidate.tenant_id)
            row = await connection.fetchrow(_SQL.identity, candidate.tenant_id)
            if row is not None:
                return identity_record(tuple(row))
            await connection.execute(_SQL.insert_identity, *identity_values(candidate))
        return candidate

    async def put_verifier_identity(
        self, identity: VerifierIdentityRecord, *, retire_until: int
    ) -> None:
        tenant_id = identity.tenant_id
        async with self._transaction() as connection:
            await lock_tenant(connection, tenant_id)
            await connection.execute(_SQL.purge_retired_identities, tenant_id, identity.created_at)
            await connection.execute(_SQL.retire_identity, retire_until, tenant_id)
            await connection.execute(_SQL.delete_identity, tenant_id)
            await connection.execute(_SQL.insert_identity, *identity_values(identity))

    async def retired_verifier_identities(
        self, tenant_id: str, now: int
    ) -> list[VerifierIdentityRecord]:
        rows = await self._fetch(_SQL.retired_identities, tenant_id, now)
        return [identity_record(tuple(row)) for row in rows]

    async def create_presentation(self, record: PresentationRecord) -> PresentationRecord:
        async with self._transaction() as connection:
            if await connection.fetchval(_SQL.tenant_exists, record.tenant_id) is None:
                raise tenant_not_found()
            row = await insert_or_existing(
                connection,
                _SQL.insert_presentation,
                presentation_values(record),
                _SQL.presentation_by_request,
                record.tenant_id,
                record.request_id,
            )
        return record if row is None else presentation_record(tuple(row))

    async def get_presentation(
        self, tenant_id: str, transaction_id: str
    ) -> PresentationRecord | None:
        row = await self._fetch_one(_SQL.presentation, transaction_id, tenant_id)
        return None if row is None else presentation_record(tuple(row))

    async def purge_presentations(self, expired_before: int) -> int:
        async with self._connection() as connection:
            status = await connection.execute(_SQL.purge_presentations, expired_before)
        return int(status.split()[-1])

    async def _change(
        self, tenant_id: str, transaction_id: str, change: PresentationChange
    ) -> PresentationRecord | None:
        async with self._transaction() as connection:
            row = await connection.fetchrow(_PRESENTATION_FOR_UPDATE, transaction_id, tenant_id)
            if row is None:
                return None
            current = presentation_record(tuple(row))
            updated = change(current)
            if updated is None or updated is current:
                return updated
            await connection.execute(
                _SQL.update_presentation,
                *change_values(updated),
                tenant_id,
                transaction_id,
                current.version,
            )
            return updated
