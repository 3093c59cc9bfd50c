"""The SQLite store's event-loop point reads (a performance fix) keep the store's meaning.

Status lookups in verification and status list version reads run on the event loop's own
read-only connection instead of a reader thread. These tests pin down that nothing else
changes: committed changes are seen at once, a failing or missing point reader falls back
to the reader threads, and a closed store still refuses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eudi_connect.errors import UnavailableError
from eudi_connect.store.base import ApiKeyRecord, NewCredential, StatusListRecord, TenantRecord
from eudi_connect.store.sqlite import SqliteStore

INVALID = 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open store with one tenant, one status list and two credentials in it."""
    opened = SqliteStore(tmp_path / "points.db")
    await opened.open()
    await opened.create_tenant(
        TenantRecord("t1", "Tenant", 100), ApiKeyRecord("key-t1", "t1", b"hash", 100)
    )
    await opened.lease_positions(
        "t1",
        count=2,
        list_size=64,
        new_list=StatusListRecord("L1", "t1", 64, 2, b"k" * 32, 0, 0, 100),
    )
    await opened.insert_credentials(
        [
            NewCredential(f"c{n}", "t1", f"r{n}", "pid", "dc+sd-jwt", "x~", "L1", n, 1, 2)
            for n in (0, 1)
        ]
    )
    yield opened
    await opened.close()


async def revoke(store: SqliteStore, credential_id: str) -> None:
    """Revokes through the group-commit writer, as the revocation service does."""
    change = await store.change_status(
        "t1", credential_id, to_status=INVALID, from_statuses=frozenset({0}), reason="", at=5
    )
    assert change is not None
    assert change.changed


async def test_a_committed_revocation_is_read_at_once(store: SqliteStore) -> None:
    """The status read right after a revocation commits sees it, and the list's new version."""
    before = await store.get_status_list("L1")
    assert before is not None
    assert await store.get_status_at("L1", 0) == 0
    await revoke(store, "c0")
    assert await store.get_status_at("L1", 0) == INVALID
    assert await store.get_status_at("L1", 1) == 0
    after = await store.get_status_list("L1")
    assert after is not None
    assert after.version == before.version + 1


async def test_missing_rows_read_as_none(store: SqliteStore) -> None:
    """An index or list that does not exist is None on the point-read path too."""
    assert await store.get_status_at("L1", 63) is None
    assert await store.get_status_list("nope") is None


async def test_a_failing_point_reader_falls_back_to_a_reader_thread(
    store: SqliteStore,
) -> None:
    """When the event-loop connection fails (closed under it), reads still answer correctly."""
    assert store._point_reader is not None
    store._point_reader.close()  # every use now raises sqlite3.ProgrammingError
    await revoke(store, "c1")
    assert await store.get_status_at("L1", 1) == INVALID
    assert await store.get_status_list("L1") is not None


async def test_without_a_point_reader_reads_use_the_threads(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that could not open its point reader reads as it did before the change."""
    reader = store._point_reader
    assert reader is not None
    monkeypatch.setattr(store, "_point_reader", None)
    try:
        assert await store.get_status_at("L1", 0) == 0
    finally:
        reader.close()


async def test_point_reader_is_read_only(store: SqliteStore) -> None:
    """The event-loop connection cannot write: every write stays with the writer."""
    assert store._point_reader is not None
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
        store._point_reader.execute("DELETE FROM credentials")


async def test_a_closed_store_refuses_point_reads(tmp_path: Path) -> None:
    """After close, point reads fail as every other read does, and the connection is gone."""
    store = SqliteStore(tmp_path / "closed.db")
    await store.open()
    await store.close()
    assert store._point_reader is None
    with pytest.raises(UnavailableError):
        await store.get_status_at("L1", 0)
