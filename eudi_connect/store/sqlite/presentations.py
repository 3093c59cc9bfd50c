"""The verifier half of the store (`PresentationStore`), in SQLite.

Every state change reads and writes in one function on the store's one writer, whose
transaction holds SQLite's write lock (BEGIN IMMEDIATE): two instances on one file that
race to claim a response see one winner.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.checks import tenant_not_found
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
from eudi_connect.store.sqlite.access import SqliteAccess, insert_or_existing

_SQL: Final = PRESENTATIONS.in_sqlite()


class SqlitePresentations(SqlPresentations, SqliteAccess):
    async def get_verifier_identity(self, tenant_id: str) -> VerifierIdentityRecord | None:
        row = await self._fetch_point(_SQL.identity, (tenant_id,))
        return None if row is None else identity_record(row)

    async def ensure_verifier_identity(
        self, candidate: VerifierIdentityRecord
    ) -> VerifierIdentityRecord:
        def work(conn: sqlite3.Connection) -> VerifierIdentityRecord:
            row = conn.execute(_SQL.identity, (candidate.tenant_id,)).fetchone()
            if row is not None:
                return identity_record(row)
            _require_tenant(conn, candidate.tenant_id)
            conn.execute(_SQL.insert_identity, identity_values(candidate))
            return candidate

        return await self._write(work)

    async def put_verifier_identity(
        self, identity: VerifierIdentityRecord, *, retire_until: int
    ) -> None:
        tenant_id = identity.tenant_id

        def work(conn: sqlite3.Connection) -> None:
            _require_tenant(conn, tenant_id)
            conn.execute(_SQL.purge_retired_identities, (tenant_id, identity.created_at))
            conn.execute(_SQL.retire_identity, (retire_until, tenant_id))
            conn.execute(_SQL.delete_identity, (tenant_id,))
            conn.execute(_SQL.insert_identity, identity_values(identity))

        await self._write(work)

    async def retired_verifier_identities(
        self, tenant_id: str, now: int
    ) -> list[VerifierIdentityRecord]:
        rows = await self._fetch_few(_SQL.retired_identities, (tenant_id, now))
        return [identity_record(row) for row in rows]

    async def create_presentation(self, record: PresentationRecord) -> PresentationRecord:
        def work(conn: sqlite3.Connection) -> PresentationRecord:
            _require_tenant(conn, record.tenant_id)
            row = insert_or_existing(
                conn,
                _SQL.insert_presentation,
                presentation_values(record),
                _SQL.presentation_by_request,
                (record.tenant_id, record.request_id),
            )
            return record if row is None else presentation_record(row)

        return await self._write(work)

    async def get_presentation(
        self, tenant_id: str, transaction_id: str
    ) -> PresentationRecord | None:
        row = await self._fetch_point(_SQL.presentation, (transaction_id, tenant_id))
        return None if row is None else presentation_record(row)

    async def purge_presentations(self, expired_before: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(_SQL.purge_presentations, (expired_before,)).rowcount

        return await self._write(work)

    async def _change(
        self, tenant_id: str, transaction_id: str, change: PresentationChange
    ) -> PresentationRecord | None:
        def work(conn: sqlite3.Connection) -> PresentationRecord | None:
            row = conn.execute(_SQL.presentation, (transaction_id, tenant_id)).fetchone()
            if row is None:
                return None
            current = presentation_record(row)
            updated = change(current)
            if updated is None or updated is current:
                return updated
            conn.execute(
                _SQL.update_presentation,
                (*change_values(updated), tenant_id, transaction_id, current.version),
            )
            return updated

        return await self._write(work)


def _require_tenant(conn: sqlite3.Connection, tenant_id: str) -> None:
    if conn.execute(_SQL.tenant_exists, (tenant_id,)).fetchone() is None:
        raise tenant_not_found()
