"""Issued credentials and their status changes, in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from eudi_connect.errors import AbortedError, EudiConnectError
from eudi_connect.reasons import Reason
from eudi_connect.store.base import CredentialRecord, InsertOutcome, NewCredential
from eudi_connect.store.checks import (
    credential_exists,
    status_index_taken,
    status_list_not_found,
    tenant_not_found,
)
from eudi_connect.store.rows import (
    credential_record,
    credential_values,
    insert_outcomes,
)
from eudi_connect.store.sql.credentials import SqlCredentials, StatusRequest
from eudi_connect.store.sql.statements import CREDENTIALS
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_SQL: Final = CREDENTIALS.in_sqlite()

_INSERT: Final = (
    "INSERT INTO credentials (credential_id, tenant_id, request_id, template_id, format, "
    "credential, status_list_id, status_index, issued_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, request_id) DO NOTHING"
)
_SET_STATUS: Final = (
    "UPDATE credentials SET status = ?, status_updated_at = ? "
    "WHERE credential_id = ? AND status = ?"
)
_INSERT_STATUS_EVENT: Final = (
    "INSERT INTO status_events (credential_id, from_status, to_status, reason, at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_BUMP_LIST_VERSION: Final = "UPDATE status_lists SET version = version + 1 WHERE status_list_id = ?"
_TENANT_EXISTS: Final = "SELECT 1 FROM tenants WHERE tenant_id = ?"


class SqliteCredentials(SqlCredentials, SqliteAccess):
    async def insert_credentials(self, rows: Sequence[NewCredential]) -> list[InsertOutcome]:
        if not rows:
            return []
        batch = tuple(rows)
        return await self._write(lambda conn: _insert(conn, batch), rows=len(batch))

    async def get_credential(self, tenant_id: str, credential_id: str) -> CredentialRecord | None:
        row = await self._fetch_point(_SQL.by_id, (tenant_id, credential_id))
        return None if row is None else credential_record(row)

    async def get_credential_by_request_id(
        self, tenant_id: str, request_id: str
    ) -> CredentialRecord | None:
        row = await self._fetch_point(_SQL.by_request, (tenant_id, request_id))
        return None if row is None else credential_record(row)

    async def get_status_at(self, status_list_id: str, index: int) -> int | None:
        row = await self._fetch_point(_SQL.status_at, (status_list_id, index))
        return None if row is None else int(row[0])

    async def _set_status(
        self, tenant_id: str, credential_id: str, request: StatusRequest
    ) -> tuple[CredentialRecord, bool] | None:
        def work(conn: sqlite3.Connection) -> tuple[CredentialRecord, bool] | None:
            # The writer holds the write lock (BEGIN IMMEDIATE), so nothing can change the
            # row between this read and the conditional UPDATE below.
            row = conn.execute(_SQL.by_id, (tenant_id, credential_id)).fetchone()
            if row is None:
                return None
            current = credential_record(row)
            if current.status not in request.from_statuses:
                return current, False
            updated = conn.execute(
                _SET_STATUS, (request.to_status, request.at, credential_id, current.status)
            ).rowcount
            if updated != 1:
                raise AbortedError("the credential changed concurrently", reason=Reason.STATUS_RACE)
            conn.execute(
                _INSERT_STATUS_EVENT,
                (credential_id, current.status, request.to_status, request.reason, request.at),
            )
            conn.execute(_BUMP_LIST_VERSION, (current.status_list_id,))
            return current, True

        return await self._write(work)


def _insert(conn: sqlite3.Connection, batch: Sequence[NewCredential]) -> list[InsertOutcome]:
    inserted: set[str] = set()
    stored: dict[tuple[str, str | None], CredentialRecord] = {}
    for row in batch:
        try:
            if conn.execute(_INSERT, credential_values(row)).rowcount:
                inserted.add(row.credential_id)
                continue
        except sqlite3.IntegrityError as error:
            raise _conflict(conn, error, row) from error
        # The tenant already used this request_id: answer with what is stored.
        found = conn.execute(_SQL.by_request, (row.tenant_id, row.request_id)).fetchone()
        if found is not None:
            stored[(row.tenant_id, row.request_id)] = credential_record(found)
    return insert_outcomes(batch, inserted, stored)


def _conflict(
    conn: sqlite3.Connection, error: sqlite3.IntegrityError, row: NewCredential
) -> EudiConnectError:
    """Names the constraint a credential row broke; reads only on this error path."""
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        if conn.execute(_TENANT_EXISTS, (row.tenant_id,)).fetchone():
            return status_list_not_found()
        return tenant_not_found()
    if name == "SQLITE_CONSTRAINT_PRIMARYKEY":
        return credential_exists()
    if name == "SQLITE_CONSTRAINT_UNIQUE":
        # The only unique constraint left is (status_list_id, status_index).
        return status_index_taken()
    return record_error(error, exists=credential_exists)
