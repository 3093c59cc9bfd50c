"""The verifier half of the store (`PresentationStore`), in PostgreSQL.

A state change locks the transaction's row (SELECT ... FOR UPDATE) and writes it in the
same database transaction: two instances that race to claim one response see one winner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from eudi_connect.store.checks import tenant_not_found
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.presentation_rows import (
    IDENTITY_COLUMNS,
    PRESENTATION_CHANGE_COLUMNS,
    PRESENTATION_COLUMN_COUNT,
    PRESENTATION_COLUMNS,
    PURGE_RETIRED_IDENTITIES,
    RETIRE_IDENTITY,
    SELECT_IDENTITY,
    SELECT_PRESENTATION,
    SELECT_RETIRED_IDENTITIES,
    change_values,
    claimed,
    finished,
    identity_record,
    identity_values,
    presentation_record,
    presentation_values,
    retrieved,
)
from eudi_connect.store.presentations import (
    PresentationOutcome,
    PresentationRecord,
    VerifierIdentityRecord,
)

_INSERT_IDENTITY: Final = (
    f"INSERT INTO verifier_identities ({IDENTITY_COLUMNS}) "  # noqa: S608 constant columns
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
_IDENTITY: Final = SELECT_IDENTITY + "WHERE tenant_id = $1"
_RETIRE_IDENTITY: Final = RETIRE_IDENTITY.format("$1::bigint", "$2")
_RETIRED_IDENTITIES: Final = SELECT_RETIRED_IDENTITIES.format("$1", "$2")
_PURGE_RETIRED_IDENTITIES: Final = PURGE_RETIRED_IDENTITIES.format("$1", "$2")
_INSERT_PRESENTATION: Final = (
    f"INSERT INTO presentation_transactions ({PRESENTATION_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join(f'${n}' for n in range(1, PRESENTATION_COLUMN_COUNT + 1))}) "
    "ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
)
_PRESENTATION_FOR_UPDATE: Final = (
    SELECT_PRESENTATION + "WHERE transaction_id = $1 AND tenant_id = $2 FOR UPDATE"
)
_UPDATE_PRESENTATION: Final = (
    "UPDATE presentation_transactions SET "  # noqa: S608 constant columns
    + ", ".join(f"{c} = ${n}" for n, c in enumerate(PRESENTATION_CHANGE_COLUMNS, start=1))
    + f" WHERE tenant_id = ${len(PRESENTATION_CHANGE_COLUMNS) + 1}"
    + f" AND transaction_id = ${len(PRESENTATION_CHANGE_COLUMNS) + 2}"
)

Change = Callable[[PresentationRecord], PresentationRecord | None]


class PostgresPresentations(PostgresAccess):
    async def get_verifier_identity(self, tenant_id: str) -> VerifierIdentityRecord | None:
        row = await self._fetch_one(_IDENTITY, tenant_id)
        return None if row is None else identity_record(tuple(row))

    async def ensure_verifier_identity(
        self, candidate: VerifierIdentityRecord
    ) -> VerifierIdentityRecord:
        async with self._transaction() as connection:
            await lock_tenant(connection, candidate.tenant_id)
            row = await connection.fetchrow(_IDENTITY, candidate.tenant_id)
            if row is not None:
                return identity_record(tuple(row))
            await connection.execute(_INSERT_IDENTITY, *identity_values(candidate))
        return candidate

    async def put_verifier_identity(
        self, identity: VerifierIdentityRecord, *, retire_until: int
    ) -> None:
        tenant_id = identity.tenant_id
        async with self._transaction() as connection:
            await lock_tenant(connection, tenant_id)
            await connection.execute(_PURGE_RETIRED_IDENTITIES, tenant_id, identity.created_at)
            await connection.execute(_RETIRE_IDENTITY, retire_until, tenant_id)
            await connection.execute(
                "DELETE FROM verifier_identities WHERE tenant_id = $1", tenant_id
            )
            await connection.execute(_INSERT_IDENTITY, *identity_values(identity))

    async def retired_verifier_identities(
        self, tenant_id: str, now: int
    ) -> list[VerifierIdentityRecord]:
        rows = await self._fetch(_RETIRED_IDENTITIES, tenant_id, now)
        return [identity_record(tuple(row)) for row in rows]

    async def create_presentation(self, record: PresentationRecord) -> PresentationRecord:
        async with self._transaction() as connection:
            exists = await connection.fetchval(
                "SELECT 1 FROM tenants WHERE tenant_id = $1", record.tenant_id
            )
            if exists is None:
                raise tenant_not_found()
            status = await connection.execute(_INSERT_PRESENTATION, *presentation_values(record))
            if status.endswith(" 1"):
                return record
            row = await connection.fetchrow(
                SELECT_PRESENTATION + "WHERE tenant_id = $1 AND request_id = $2",
                record.tenant_id,
                record.request_id,
            )
        return presentation_record(tuple(row))

    async def get_presentation(
        self, tenant_id: str, transaction_id: str
    ) -> PresentationRecord | None:
        row = await self._fetch_one(
            SELECT_PRESENTATION + "WHERE transaction_id = $1 AND tenant_id = $2",
            transaction_id,
            tenant_id,
        )
        return None if row is None else presentation_record(tuple(row))

    async def mark_presentation_retrieved(
        self, tenant_id: str, transaction_id: str, enc_values: Sequence[str], now: int
    ) -> PresentationRecord | None:
        return await self._change(
            tenant_id, transaction_id, lambda current: retrieved(current, enc_values, now)
        )

    async def claim_presentation_response(
        self, tenant_id: str, transaction_id: str, now: int
    ) -> PresentationRecord | None:
        return await self._change(tenant_id, transaction_id, lambda current: claimed(current, now))

    async def finish_presentation(
        self, tenant_id: str, transaction_id: str, outcome: PresentationOutcome, now: int
    ) -> PresentationRecord | None:
        return await self._change(
            tenant_id, transaction_id, lambda current: finished(current, outcome, now)
        )

    async def purge_presentations(self, expired_before: int) -> int:
        async with self._connection() as connection:
            status = await connection.execute(
                "DELETE FROM presentation_transactions WHERE expires_at < $1", expired_before
            )
        return int(status.split()[-1])

    async def _change(
        self, tenant_id: str, transaction_id: str, change: Change
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
                _UPDATE_PRESENTATION, *change_values(updated), tenant_id, transaction_id
            )
            return updated
