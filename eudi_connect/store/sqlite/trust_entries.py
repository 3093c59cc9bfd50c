"""A tenant's trust configuration (trusted issuers, trust anchors), in SQLite."""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.base import TrustEntryKind, TrustEntryRecord
from eudi_connect.store.checks import check_trust_room, trust_entry_exists
from eudi_connect.store.rows import SELECT_TRUST_ENTRY, trust_entry_record, trust_entry_values
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_INSERT: Final = (
    "INSERT INTO trust_entries (tenant_id, kind, entry_id, created_at, document) "
    "VALUES (?, ?, ?, ?, ?)"
)
_COUNT: Final = "SELECT count(*) FROM trust_entries WHERE tenant_id = ?"
_DELETE: Final = "DELETE FROM trust_entries WHERE tenant_id = ? AND kind = ? AND entry_id = ?"
_ENTRIES: Final = SELECT_TRUST_ENTRY + "WHERE tenant_id = ? ORDER BY kind, entry_id"


class SqliteTrustEntries(SqliteAccess):
    async def add_trust_entry(
        self, entry: TrustEntryRecord, *, max_entries: int | None = None
    ) -> None:
        values = trust_entry_values(entry)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_INSERT, values)
            except sqlite3.IntegrityError as error:
                raise record_error(error, exists=trust_entry_exists) from error
            if max_entries is not None:
                # The one writer runs this with the insert: the count includes the new row.
                (count,) = conn.execute(_COUNT, (entry.tenant_id,)).fetchone()
                check_trust_room(count, max_entries)

        await self._write(work)

    async def delete_trust_entry(self, tenant_id: str, kind: TrustEntryKind, entry_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute(_DELETE, (tenant_id, kind, entry_id)).rowcount > 0

        return await self._write(work)

    async def list_trust_entries(self, tenant_id: str) -> list[TrustEntryRecord]:
        rows = await self._fetch(_ENTRIES, (tenant_id,))
        return [trust_entry_record(tenant_id, row) for row in rows]
