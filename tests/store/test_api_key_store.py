"""The Store contract for API key lifecycles and tenants' public URLs, on every backend."""

from __future__ import annotations

import asyncio

import pytest

from eudi_connect.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)
from eudi_connect.store.base import ApiKeyRecord, Store
from tests.store.test_store_contract import add_tenant


def key(
    key_id: str, *, tenant_id: str = "t1", created_at: int = 200, **fields: object
) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id,
        tenant_id=tenant_id,
        secret_hash=b"hash-" + key_id.encode(),
        created_at=created_at,
        **fields,  # type: ignore[arg-type]
    )


async def test_added_keys_round_trip_and_list_oldest_first(store: Store) -> None:
    """Keys added to a tenant read back equal, label and expiry included, oldest first."""
    await add_tenant(store)
    await store.create_api_key(key("k-b", label="ci", expires_at=9_000), max_live=10, now=300)
    await store.create_api_key(key("k-a", created_at=250, label="ops"), max_live=10, now=300)
    assert await store.get_api_key("k-b") == key("k-b", label="ci", expires_at=9_000)
    listed = await store.list_api_keys("t1")
    assert [k.key_id for k in listed] == ["key-t1", "k-b", "k-a"]
    assert listed[2] == key("k-a", created_at=250, label="ops")
    assert await store.list_api_keys("nobody") == []


async def test_a_key_for_an_unknown_tenant_or_a_clashing_id_is_refused(store: Store) -> None:
    """An unknown tenant is TENANT_NOT_FOUND, a reused key id API_KEY_EXISTS, a key made
    revoked INVALID_RECORD; none of them writes a row."""
    await add_tenant(store)
    with pytest.raises(NotFoundError) as unknown:
        await store.create_api_key(key("k1", tenant_id="nobody"), max_live=10, now=300)
    assert unknown.value.reason == "TENANT_NOT_FOUND"
    with pytest.raises(AlreadyExistsError) as clash:
        await store.create_api_key(key("key-t1"), max_live=10, now=300)
    assert clash.value.reason == "API_KEY_EXISTS"
    with pytest.raises(InvalidArgumentError):
        await store.create_api_key(key("k2", revoked_at=5), max_live=10, now=300)
    assert [k.key_id for k in await store.list_api_keys("t1")] == ["key-t1"]


async def test_the_live_key_limit_counts_neither_revoked_nor_expired_keys(store: Store) -> None:
    """At `max_live` live keys a further one is API_KEY_LIMIT; revoked or expired keys
    free their place."""
    await add_tenant(store)  # key-t1, live
    await store.create_api_key(key("k-exp", expires_at=400), max_live=3, now=300)
    await store.create_api_key(key("k-3"), max_live=3, now=300)
    with pytest.raises(ResourceExhaustedError) as full:
        await store.create_api_key(key("k-4"), max_live=3, now=300)
    assert full.value.reason == "API_KEY_LIMIT"
    await store.create_api_key(key("k-4"), max_live=3, now=400)  # k-exp expired at 400
    await store.revoke_api_key("t1", "k-3", 401)
    await store.create_api_key(key("k-5"), max_live=3, now=402)
    with pytest.raises(ResourceExhaustedError):
        await store.create_api_key(key("k-6"), max_live=3, now=402)


async def test_concurrent_additions_never_pass_the_limit(store: Store) -> None:
    """Twenty additions at once against a limit of five: exactly four succeed (one key is
    the tenant's first)."""
    await add_tenant(store)
    results = await asyncio.gather(
        *(store.create_api_key(key(f"k-{n}"), max_live=5, now=300) for n in range(20)),
        return_exceptions=True,
    )
    assert sum(result is None for result in results) == 4
    assert all(
        isinstance(result, ResourceExhaustedError) for result in results if result is not None
    )
    assert len(await store.list_api_keys("t1")) == 5


async def test_revocation_is_durable_keeps_the_first_time_and_is_per_tenant(store: Store) -> None:
    """A revoked key reads back revoked; revoking again keeps the first time; another
    tenant's key id is None and stays live."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    revoked = await store.revoke_api_key("t1", "key-t1", 500)
    assert revoked is not None
    assert revoked.revoked_at == 500
    again = await store.revoke_api_key("t1", "key-t1", 600)
    assert again is not None
    assert again.revoked_at == 500
    stored = await store.get_api_key("key-t1")
    assert stored is not None
    assert stored.revoked_at == 500
    assert await store.revoke_api_key("t1", "key-t2", 500) is None
    other = await store.get_api_key("key-t2")
    assert other is not None
    assert other.revoked_at is None
    assert await store.revoke_api_key("t1", "nope", 500) is None


async def test_touch_records_only_later_uses(store: Store) -> None:
    """last_used_at moves forward only; an unknown key id is no error."""
    await add_tenant(store)
    await store.touch_api_key("key-t1", 1_000)
    await store.touch_api_key("key-t1", 900)
    stored = await store.get_api_key("key-t1")
    assert stored is not None
    assert stored.last_used_at == 1_000
    await store.touch_api_key("key-t1", 1_060)
    stored = await store.get_api_key("key-t1")
    assert stored is not None
    assert stored.last_used_at == 1_060
    await store.touch_api_key("unknown", 1_000)


async def test_a_tenant_public_url_is_fixed_by_the_first_writer(store: Store) -> None:
    """The first URL stays, also when instances race; unknown tenants get None; the
    distinct URLs are listed."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    await add_tenant(store, "t3")
    tenant = await store.get_tenant("t1")
    assert tenant is not None
    assert tenant.public_url is None
    assert await store.list_tenant_public_urls() == []
    answers = await asyncio.gather(
        *(store.fix_tenant_public_url("t1", f"https://{n}.example") for n in range(10))
    )
    assert len(set(answers)) == 1
    assert answers[0] in {f"https://{n}.example" for n in range(10)}
    assert await store.fix_tenant_public_url("t1", "https://later.example") == answers[0]
    tenant = await store.get_tenant("t1")
    assert tenant is not None
    assert tenant.public_url == answers[0]
    assert await store.fix_tenant_public_url("t2", "https://a.example") == "https://a.example"
    assert await store.fix_tenant_public_url("nobody", "https://a.example") is None
    assert await store.list_tenant_public_urls() == sorted({str(answers[0]), "https://a.example"})
