"""Status lists, in SQLite: position leases and the list's entries."""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.base import PositionLease, StatusListRecord
from eudi_connect.store.checks import check_lease, status_list_exists
from eudi_connect.store.rows import SELECT_STATUS_LIST, new_list_lease, status_list_record
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_LIST: Final = SELECT_STATUS_LIST + "WHERE status_list_id = ?"
# Served by the partial index status_lists_open.
_OPEN_LIST: Final = (
    "SELECT status_list_id, size, permutation_key, next_position FROM status_lists "
    "WHERE tenant_id = ? AND next_position < size ORDER BY created_at, rowid LIMIT 1"
)
_INSERT_LIST: Final = (
    "INSERT INTO status_lists (status_list_id, tenant_id, size, bits, permutation_key, "
    "next_position, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CLAIM_POSITIONS: Final = "UPDATE status_lists SET next_position = ? WHERE status_list_id = ?"
# Served by the partial index credentials_not_valid alone (a covering index).
_ENTRIES: Final = (
    "SELECT status_index, status FROM credentials "
    "WHERE status_list_id = ? AND status <> 0 ORDER BY status_index"
)


class SqliteStatusLists(SqliteAccess):
    async def lease_positions(
        self, tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord
    ) -> PositionLease:
        check_lease(tenant_id, count=count, list_size=list_size, new_list=new_list)

        def work(conn: sqlite3.Connection) -> PositionLease:
            row = conn.execute(_OPEN_LIST, (tenant_id,)).fetchone()
            if row is not None:
                list_id, size, permutation_key, start = row
                claimed = min(count, size - start)
                conn.execute(_CLAIM_POSITIONS, (start + claimed, list_id))
                return PositionLease(list_id, size, bytes(permutation_key), start, claimed)
            values, lease = new_list_lease(new_list, count)
            try:
                conn.execute(_INSERT_LIST, values)
            except sqlite3.IntegrityError as error:
                raise record_error(error, exists=status_list_exists) from error
            return lease

        return await self._write(work)

    async def get_status_list(self, status_list_id: str) -> StatusListRecord | None:
        row = await self._fetch_point(_LIST, (status_list_id,))
        return None if row is None else status_list_record(row)

    async def list_status_entries(self, status_list_id: str) -> list[tuple[int, int]]:
        rows = await self._fetch(_ENTRIES, (status_list_id,))
        return [(int(index), int(status)) for index, status in rows]
