"""The Store contract for trust configuration, on every backend."""

from __future__ import annotations

import asyncio

import pytest

from eudi_connect.errors import AlreadyExistsError, NotFoundError, ResourceExhaustedError
from eudi_connect.store.base import Store, TrustEntryRecord
from tests.store.test_store_contract import add_tenant


def entry(entry_id: str, *, kind: str = "issuer", tenant_id: str = "t1") -> TrustEntryRecord:
    return TrustEntryRecord(
        tenant_id=tenant_id,
        kind="issuer" if kind == "issuer" else "anchor",
        entry_id=entry_id,
        document={"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "é", "y": "y"}]}},
        created_at=1_700_000_000,
    )


async def test_entries_round_trip_ordered_by_kind_then_id(store: Store) -> None:
    """Documents come back equal; anchors before issuers, ids bytewise ascending."""
    await add_tenant(store)
    for record in (entry("https://b"), entry("https://a"), entry("ff", kind="anchor")):
        await store.add_trust_entry(record)
    listed = await store.list_trust_entries("t1")
    assert [(e.kind, e.entry_id) for e in listed] == [
        ("anchor", "ff"),
        ("issuer", "https://a"),
        ("issuer", "https://b"),
    ]
    assert listed[1] == entry("https://a")


async def test_a_duplicate_entry_is_already_exists(store: Store) -> None:
    """The same kind and id twice for one tenant; another tenant may use the id."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    await store.add_trust_entry(entry("https://a"))
    with pytest.raises(AlreadyExistsError) as raised:
        await store.add_trust_entry(entry("https://a"))
    assert raised.value.reason == "TRUST_ENTRY_EXISTS"
    await store.add_trust_entry(entry("https://a", tenant_id="t2"))
    await store.add_trust_entry(entry("https://a", kind="anchor"))
    assert len(await store.list_trust_entries("t2")) == 1


async def test_an_unknown_tenant_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError) as raised:
        await store.add_trust_entry(entry("https://a", tenant_id="nobody"))
    assert raised.value.reason == "TENANT_NOT_FOUND"


async def test_delete_removes_one_entry_and_reports_absence(store: Store) -> None:
    await add_tenant(store)
    await store.add_trust_entry(entry("https://a"))
    await store.add_trust_entry(entry("https://a", kind="anchor"))
    assert await store.delete_trust_entry("t1", "issuer", "https://a")
    assert not await store.delete_trust_entry("t1", "issuer", "https://a")
    assert [e.kind for e in await store.list_trust_entries("t1")] == ["anchor"]


async def test_the_entry_limit_holds_under_concurrent_adds(store: Store) -> None:
    """With max_entries 3, twenty concurrent adds store exactly three; the rest are
    RESOURCE_EXHAUSTED (TRUST_ENTRIES_LIMIT); both kinds count; other tenants are apart."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    await store.add_trust_entry(entry("ff", kind="anchor"), max_entries=3)

    async def add(n: int) -> str:
        try:
            await store.add_trust_entry(entry(f"https://{n}"), max_entries=3)
        except ResourceExhaustedError as error:
            return error.reason
        return "added"

    outcomes = await asyncio.gather(*(add(n) for n in range(20)))
    assert sorted(set(outcomes)) == ["TRUST_ENTRIES_LIMIT", "added"]
    assert outcomes.count("added") == 2
    assert len(await store.list_trust_entries("t1")) == 3
    with pytest.raises(AlreadyExistsError):  # a duplicate is still a duplicate
        await store.add_trust_entry(entry("ff", kind="anchor"), max_entries=3)
    await store.add_trust_entry(entry("https://a", tenant_id="t2"), max_entries=3)
    assert await store.delete_trust_entry("t1", "anchor", "ff")
    await store.add_trust_entry(entry("https://again"), max_entries=3)
    with pytest.raises(NotFoundError):
        await store.add_trust_entry(entry("https://a", tenant_id="nobody"), max_entries=3)
