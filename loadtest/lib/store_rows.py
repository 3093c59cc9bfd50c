"""Credential rows for the store micro-benchmarks, and a tenant with a leased status list.

Random ids and positions, as in service use, so inserts land all over the indexes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from eudi_connect.store.base import (
    ApiKeyRecord,
    NewCredential,
    StatusListRecord,
    Store,
    TenantRecord,
)

__all__ = ["CREDENTIAL", "credential_rows", "prepare"]

CREDENTIAL = "eyJhbGciOiJFUzI1NiJ9." + "x" * 1200 + "~"  # about the size of a real SD-JWT VC


def credential_rows(list_id: str, positions: Iterable[int]) -> list[NewCredential]:
    """One credential of tenant "bench" per status-list position."""
    return [
        NewCredential(
            credential_id=uuid.uuid4().hex,
            tenant_id="bench",
            request_id=uuid.uuid4().hex,
            template_id="pid",
            format="dc+sd-jwt",
            credential=CREDENTIAL,
            status_list_id=list_id,
            status_index=position,
            issued_at=1_700_000_000,
            expires_at=1_800_000_000,
        )
        for position in positions
    ]


async def prepare(store: Store, rows: int) -> str:
    """A tenant "bench" and its list "bench-list" of `rows` positions, all leased."""
    await store.create_tenant(
        TenantRecord("bench", "Bench", 1), ApiKeyRecord("bench-key", "bench", b"h", 1)
    )
    lease = await store.lease_positions(
        "bench",
        count=rows,
        list_size=rows,
        new_list=StatusListRecord("bench-list", "bench", rows, 2, b"k" * 32, 0, 0, 1),
    )
    return lease.status_list_id
