"""A tenant's trust configuration (trusted issuers, trust anchors), in PostgreSQL."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import TrustEntryKind, TrustEntryRecord
from eudi_connect.store.checks import check_trust_room, trust_entry_exists
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import SELECT_TRUST_ENTRY, trust_entry_record, trust_entry_values

_INSERT: Final = (
    "INSERT INTO trust_entries (tenant_id, kind, entry_id, created_at, document) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1"
)
_COUNT: Final = "SELECT count(*) FROM trust_entries WHERE tenant_id = $1"
_DELETE: Final = (
    "DELETE FROM trust_entries WHERE tenant_id = $1 AND kind = $2 AND entry_id = $3 RETURNING 1"
)
_ENTRIES: Final = SELECT_TRUST_ENTRY + "WHERE tenant_id = $1 ORDER BY kind, entry_id"


class PostgresTrustEntries(PostgresAccess):
    async def add_trust_entry(
        self, entry: TrustEntryRecord, *, max_entries: int | None = None
    ) -> None:
        values = trust_entry_values(entry)
        async with self._transaction() as connection:
            if max_entries is not None:
                # A tenant's adds take turns on its row, so the count below stays true.
                await lock_tenant(connection, entry.tenant_id)
            if await connection.fetchrow(_INSERT, *values) is None:
                raise trust_entry_exists()
            if max_entries is not None:
                check_trust_room(await connection.fetchval(_COUNT, entry.tenant_id), max_entries)

    async def delete_trust_entry(self, tenant_id: str, kind: TrustEntryKind, entry_id: str) -> bool:
        return await self._fetch_one(_DELETE, tenant_id, kind, entry_id) is not None

    async def list_trust_entries(self, tenant_id: str) -> list[TrustEntryRecord]:
        rows = await self._fetch(_ENTRIES, tenant_id)
        return [trust_entry_record(tenant_id, row) for row in rows]
