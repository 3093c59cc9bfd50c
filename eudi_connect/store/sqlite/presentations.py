"""The verifier half of the store (`PresentationStore`), in SQLite.

Every state change reads and writes in one function on the store's one writer, whose
transaction holds SQLite's write lock (BEGIN IMMEDIATE): two instances on one file that
race to claim a response see one winner.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

from eudi_connect.store.checks import tenant_not_found
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
from eudi_connect.store.sqlite.access import SqliteAccess

_INSERT_IDENTITY: Final = (
    f"INSERT INTO verifier_identities ({IDENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)
_IDENTITY: Final = SELECT_IDENTITY + "WHERE tenant_id = ?"
_RETIRE_IDENTITY: Final = RETIRE_IDENTITY.format("?", "?")
_RETIRED_IDENTITIES: Final = SELECT_RETIRED_IDENTITIES.format("?", "?")
_PURGE_RETIRED_IDENTITIES: Final = PURGE_RETIRED_IDENTITIES.format("?", "?")
_INSERT_PRESENTATION: Final = (
    f"INSERT INTO presentation_transactions ({PRESENTATION_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join('?' * PRESENTATION_COLUMN_COUNT)}) "
    "ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
)
_PRESENTATION: Final = SELECT_PRESENTATION + "WHERE transaction_id = ? AND tenant_id = ?"
_UPDATE_PRESENTATION: Final = (
    "UPDATE presentation_transactions SET "  # noqa: S608 constant columns
    + ", ".join(f"{column} = ?" for column in PRESENTATION_CHANGE_COLUMNS)
    + " WHERE tenant_id = ? AND transaction_id = ? AND version = ?"
)

Change = Callable[[PresentationRecord], PresentationRecord | None]


class SqlitePresentations(SqliteAccess):
    async def get_verifier_identity(self, tenant_id: str) -> VerifierIdentityRecord | None:
        row = await self._fetch_point(_IDENTITY, (tenant_id,))
        return None if row is None else identity_record(row)

    async def ensure_verifier_identity(
        self, candidate: VerifierIdentityRecord
    ) -> VerifierIdentityRecord:
        def work(conn: sqlite3.Connection) -> VerifierIdentityRecord:
            row = conn.execute(_IDENTITY, (candidate.tenant_id,)).fetchone()
            if row is not None:
                return identity_record(row)
            _require_tenant(conn, candidate.tenant_id)
            conn.execute(_INSERT_IDENTITY, identity_values(candidate))
            return candidate

        return await self._write(work)

    async def put_verifier_identity(
        self, identity: VerifierIdentityRecord, *, retire_until: int
    ) -> None:
        tenant_id = identity.tenant_id

        def work(conn: sqlite3.Connection) -> None:
            _require_tenant(conn, tenant_id)
            conn.execute(_PURGE_RETIRED_IDENTITIES, (tenant_id, identity.created_at))
            conn.execute(_RETIRE_IDENTITY, (retire_until, tenant_id))
            conn.execute("DELETE FROM verifier_identities WHERE tenant_id = ?", (tenant_id,))
            conn.execute(_INSERT_IDENTITY, identity_values(identity))

        await self._write(work)

    async def retired_verifier_identities(
        self, tenant_id: str, now: int
    ) -> list[VerifierIdentityRecord]:
        rows = await self._fetch_few(_RETIRED_IDENTITIES, (tenant_id, now))
        return [identity_record(row) for row in rows]

    async def create_presentation(self, record: PresentationRecord) -> PresentationRecord:
        def work(conn: sqlite3.Connection) -> PresentationRecord:
            _require_tenant(conn, record.tenant_id)
            if conn.execute(_INSERT_PRESENTATION, presentation_values(record)).rowcount == 1:
                return record
            row = conn.execute(
                SELECT_PRESENTATION + "WHERE tenant_id = ? AND request_id = ?",
                (record.tenant_id, record.request_id),
            ).fetchone()
            return presentation_record(row)

        return await self._write(work)

    async def get_presentation(
        self, tenant_id: str, transaction_id: str
    ) -> PresentationRecord | None:
        row = await self._fetch_point(_PRESENTATION, (transaction_id, tenant_id))
        return None if row is None else presentation_record(row)

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
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM presentation_transactions WHERE expires_at < ?", (expired_before,)
            ).rowcount

        return await self._write(work)

    async def _change(
        self, tenant_id: str, transaction_id: str, change: Change
    ) -> PresentationRecord | None:
        def work(conn: sqlite3.Connection) -> PresentationRecord | None:
            row = conn.execute(_PRESENTATION, (transaction_id, tenant_id)).fetchone()
            if row is None:
                return None
            current = presentation_record(row)
            updated = change(current)
            if updated is None or updated is current:
                return updated
            conn.execute(
                _UPDATE_PRESENTATION,
                (*change_values(updated), tenant_id, transaction_id, current.version),
            )
            return updated

        return await self._write(work)


def _require_tenant(conn: sqlite3.Connection, tenant_id: str) -> None:
    if conn.execute("SELECT 1 FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone() is None:
        raise tenant_not_found()
