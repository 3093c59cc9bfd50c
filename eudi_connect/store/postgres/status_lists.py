"""Status lists, in PostgreSQL: position leases (one tenant's at a time over every
instance) and the list's entries."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import PositionLease, StatusListRecord
from eudi_connect.store.checks import check_lease
from eudi_connect.store.postgres.access import PostgresAccess, lock_tenant
from eudi_connect.store.rows import SELECT_STATUS_LIST, new_list_lease, status_list_record

_LIST: Final = SELECT_STATUS_LIST + "WHERE status_list_id = $1"
# Run under the tenant lock: the snapshot is taken after the lock, so `open` is current.
_CLAIM_POSITIONS: Final = (
    "WITH open AS (SELECT status_list_id, next_position FROM status_lists "
    "  WHERE tenant_id = $1 AND next_position < size ORDER BY created_at, seq LIMIT 1) "
    "UPDATE status_lists AS l SET next_position = LEAST(l.next_position + $2, l.size) "
    "FROM open WHERE l.status_list_id = open.status_list_id "
    "RETURNING l.status_list_id, l.size, l.permutation_key, open.next_position, "
    "l.next_position"
)
_INSERT_LIST: Final = (
    "INSERT INTO status_lists (status_list_id, tenant_id, size, bits, permutation_key, "
    "next_position, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
# Served by the partial index credentials_not_valid alone.
_ENTRIES: Final = (
    "SELECT status_index, status FROM credentials "
    "WHERE status_list_id = $1 AND status <> 0 ORDER BY status_index"
)


class PostgresStatusLists(PostgresAccess):
    async def lease_positions(
        self, tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord
    ) -> PositionLease:
        check_lease(tenant_id, count=count, list_size=list_size, new_list=new_list)
        async with self._transaction() as connection:
            # One lease per tenant at a time over all instances: the open list is read and
            # advanced, or a new list created, while no other instance can do either.
            await lock_tenant(connection, tenant_id)
            row = await connection.fetchrow(_CLAIM_POSITIONS, tenant_id, count)
            if row is not None:
                start, end = int(row[3]), int(row[4])
                return PositionLease(str(row[0]), int(row[1]), bytes(row[2]), start, end - start)
            values, lease = new_list_lease(new_list, count)
            await connection.execute(_INSERT_LIST, *values)
        return lease

    async def get_status_list(self, status_list_id: str) -> StatusListRecord | None:
        row = await self._fetch_one(_LIST, status_list_id)
        return None if row is None else status_list_record(row)

    async def list_status_entries(self, status_list_id: str) -> list[tuple[int, int]]:
        rows = await self._fetch(_ENTRIES, status_list_id)
        return [(int(row[0]), int(row[1])) for row in rows]
