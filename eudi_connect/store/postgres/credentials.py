"""Issued credentials and their status changes, in PostgreSQL.

Inserts go through the insert grouper (`writer`): the rows of concurrent calls are one
statement. A status change is one statement too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import asyncpg

from eudi_connect.errors import EudiConnectError
from eudi_connect.store.base import CredentialRecord, InsertOutcome, NewCredential
from eudi_connect.store.checks import closed_error, status_list_not_found, tenant_not_found
from eudi_connect.store.postgres.access import Connection, PostgresAccess
from eudi_connect.store.postgres.error_map import map_error
from eudi_connect.store.postgres.writer import InsertGrouper
from eudi_connect.store.rows import (
    SELECT_CREDENTIAL,
    credential_record,
    credential_values,
    insert_outcomes,
)
from eudi_connect.store.sql.credentials import SqlCredentials, StatusRequest
from eudi_connect.store.sql.statements import CREDENTIALS

_SQL: Final = CREDENTIALS

# All rows of a call in one statement: one round trip, one implicit transaction (the call
# commits whole or not at all). DO NOTHING waits for a concurrent insert of the same
# request_id to commit or roll back, so a conflict always has a committed row behind it.
_INSERT: Final = (
    "INSERT INTO credentials (credential_id, tenant_id, request_id, template_id, format, "
    "credential, status_list_id, status_index, issued_at, expires_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::text[], $8::integer[], $9::bigint[], $10::bigint[]) "
    "ON CONFLICT (tenant_id, request_id) DO NOTHING "
    "RETURNING credential_id"
)
# A new statement, so it sees the rows committed by whoever won the conflict.
_BY_REQUESTS: Final = SELECT_CREDENTIAL + (
    "JOIN unnest($1::text[], $2::text[]) AS wanted (tenant_id, request_id) "
    "USING (tenant_id, request_id)"
)
# One statement: lock the row (FOR UPDATE waits for, then sees, a concurrent change),
# change it if its status allows, record the event, bump the list's version. The data-
# modifying CTEs all run, and commit together, whether or not the outer SELECT reads them.
_CHANGE_STATUS: Final = (
    "WITH current AS (SELECT credential_id, tenant_id, request_id, template_id, format, "
    "  credential, status_list_id, status_index, issued_at, expires_at, status, "
    "  status_updated_at FROM credentials "
    "  WHERE tenant_id = $1 AND credential_id = $2 FOR UPDATE), "
    "changed AS (UPDATE credentials AS c SET status = $3, status_updated_at = $4 "
    "  FROM current WHERE c.credential_id = current.credential_id "
    "  AND current.status = ANY($5::smallint[]) "
    "  RETURNING c.credential_id, current.status AS from_status, c.status_list_id), "
    "event AS (INSERT INTO status_events (credential_id, from_status, to_status, reason, at) "
    "  SELECT credential_id, from_status, $3, $6, $4 FROM changed), "
    "bump AS (UPDATE status_lists SET version = version + 1 "
    "  WHERE status_list_id IN (SELECT status_list_id FROM changed)) "
    "SELECT *, EXISTS (SELECT 1 FROM changed) FROM current"
)
_TENANT_EXISTS: Final = "SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)"


class PostgresCredentials(SqlCredentials, PostgresAccess):
    _inserts: InsertGrouper | None

    async def insert_credentials(self, rows: Sequence[NewCredential]) -> list[InsertOutcome]:
        if not rows:
            return []
        if self._state != "open" or self._inserts is None:
            raise closed_error()
        return await self._inserts.submit(tuple(rows))

    async def _insert_rows(self, batch: Sequence[NewCredential]) -> list[InsertOutcome]:
        """One statement for the rows of a group; outcomes in the order of `batch`."""
        # Rows go in sorted by request id: two instances inserting the same request ids in
        # one statement each then wait for each other in the same order, never deadlock.
        ordered = sorted(batch, key=lambda row: (row.tenant_id, row.request_id or ""))
        columns = [list(column) for column in zip(*map(credential_values, ordered), strict=True)]
        async with self._connection(admit_closing=True) as connection:
            try:
                inserted = {str(r[0]) for r in await connection.fetch(_INSERT, *columns)}
            except asyncpg.ForeignKeyViolationError as error:
                raise await _reference_error(connection, batch, error) from error
            # The tenant already used these request_ids: answer with what is stored.
            replayed = [row for row in batch if row.credential_id not in inserted]
            stored: dict[tuple[str, str | None], CredentialRecord] = {}
            if replayed:
                found = await connection.fetch(
                    _BY_REQUESTS,
                    [row.tenant_id for row in replayed],
                    [row.request_id for row in replayed],
                )
                for record in map(credential_record, found):
                    stored[(record.tenant_id, record.request_id)] = record
        return insert_outcomes(batch, inserted, stored)

    async def get_credential(self, tenant_id: str, credential_id: str) -> CredentialRecord | None:
        row = await self._fetch_one(_SQL.by_id, tenant_id, credential_id)
        return None if row is None else credential_record(row)

    async def get_credential_by_request_id(
        self, tenant_id: str, request_id: str
    ) -> CredentialRecord | None:
        row = await self._fetch_one(_SQL.by_request, tenant_id, request_id)
        return None if row is None else credential_record(row)

    async def get_status_at(self, status_list_id: str, index: int) -> int | None:
        row = await self._fetch_one(_SQL.status_at, status_list_id, index)
        return None if row is None else int(row[0])

    async def _set_status(
        self, tenant_id: str, credential_id: str, request: StatusRequest
    ) -> tuple[CredentialRecord, bool] | None:
        row = await self._fetch_one(
            _CHANGE_STATUS,
            tenant_id,
            credential_id,
            request.to_status,
            request.at,
            sorted(request.from_statuses),
            request.reason,
        )
        return None if row is None else (credential_record(row), bool(row[12]))


async def _reference_error(
    connection: Connection, rows: Sequence[NewCredential], error: BaseException
) -> EudiConnectError:
    """Names the missing reference; reads only on this error path (as SQLite's store does:
    an unknown tenant wins over a list of another tenant)."""
    for tenant_id in {row.tenant_id for row in rows}:
        if not await connection.fetchval(_TENANT_EXISTS, tenant_id):
            return tenant_not_found()
    mapped = map_error(error)
    if isinstance(mapped, EudiConnectError):
        return mapped
    return status_list_not_found()
