"""The wallet-session half of the Store interface, on every backend."""

from __future__ import annotations

import asyncio
import hashlib

from eudi_connect.store.base import Store
from eudi_connect.store.wallet_sessions import (
    COPIES_EXHAUSTED,
    PROOF_KEY_USED,
    AccessTokenRecord,
    OfferChange,
    OfferedItem,
    OfferRecord,
    OnceValue,
    WalletPolicyRecord,
)
from tests.store.test_store_contract import add_tenant


def offer(
    offer_id: str = "o1", *, request_id: str | None = None, tenant_id: str = "t1"
) -> OfferRecord:
    return OfferRecord(
        offer_id=offer_id,
        tenant_id=tenant_id,
        request_id=request_id,
        state="OFFERED",
        items=(OfferedItem("pid.dc+sd-jwt", "pid", "dc+sd-jwt"),),
        subject={"given_name": "Erika"},
        deferred=False,
        max_copies=3,
        validity_seconds=None,
        offer_json='{"credential_issuer":"x"}',
        code_hash=hashlib.sha256(offer_id.encode()).digest(),
        tx_code="493536",
        tx_code_attempts_left=3,
        created_at=100,
        expires_at=700,
        updated_at=100,
    )


def token(offer_id: str = "o1", token_hash: bytes = b"t" * 32) -> AccessTokenRecord:
    return AccessTokenRecord(
        token_hash=token_hash,
        tenant_id="t1",
        offer_id=offer_id,
        dpop_jkt="jkt",
        client_id=None,
        issued_at=100,
        expires_at=400,
    )


async def test_an_offer_round_trips_and_is_found_by_its_code(store: Store) -> None:
    """What is stored comes back equal, by id and by code hash, for its tenant only."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    stored = await store.create_offer(offer())
    assert await store.get_offer("t1", "o1") == stored
    assert await store.find_offer_by_code("t1", stored.code_hash) == stored
    assert await store.get_offer("t2", "o1") is None
    assert await store.find_offer_by_code("t2", stored.code_hash) is None


async def test_creating_with_a_used_request_id_returns_the_first_offer(store: Store) -> None:
    """request_id makes creation idempotent per tenant."""
    await add_tenant(store)
    first = await store.create_offer(offer("o1", request_id="r"))
    again = await store.create_offer(offer("o2", request_id="r"))
    assert again == first
    assert await store.get_offer("t1", "o2") is None


async def test_updates_are_compare_and_set_on_the_version(store: Store) -> None:
    """An update at a stale version changes nothing and says so."""
    await add_tenant(store)
    await store.create_offer(offer())
    change = OfferChange(
        state="CREDENTIALS_ISSUED", add_credential_ids=["c1"], copies_issued={"pid.dc+sd-jwt": 1}
    )
    updated = await store.update_offer("t1", "o1", 1, change, 200)
    assert updated is not None
    assert updated.version == 2
    assert updated.credential_ids == ("c1",)
    assert updated.updated_at == 200
    assert await store.update_offer("t1", "o1", 1, OfferChange(state="FAILED"), 201) is None
    assert await store.get_offer("t1", "o1") == updated
    cleared = await store.update_offer(
        "t1", "o1", 2, OfferChange(transaction_id="tx", deferred_request={"k": 1}), 202
    )
    assert cleared is not None
    assert cleared.transaction_id == "tx"
    assert await store.find_offer_by_transaction("t1", "tx") == cleared
    emptied = await store.update_offer(
        "t1", "o1", 3, OfferChange(transaction_id="", deferred_request={}), 203
    )
    assert emptied is not None
    assert emptied.transaction_id is None
    assert emptied.deferred_request is None


async def test_a_code_is_redeemed_once_even_when_two_race(store: Store) -> None:
    """Two concurrent redemptions of one offer: exactly one token is stored."""
    await add_tenant(store)
    stored = await store.create_offer(offer())
    results = await asyncio.gather(
        store.redeem_offer(stored, token(token_hash=b"a" * 32), 150),
        store.redeem_offer(stored, token(token_hash=b"b" * 32), 150),
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].state == "TOKEN_ISSUED"
    found = [await store.get_access_token(h) for h in (b"a" * 32, b"b" * 32)]
    assert sum(t is not None for t in found) == 1


async def test_one_time_values_refuse_a_replay_until_they_expire(store: Store) -> None:
    """remember_once is False for a live value, True again after its expiry."""
    await add_tenant(store)
    assert await store.remember_once("t1", "dpop", "j1", 200, 100)
    assert not await store.remember_once("t1", "dpop", "j1", 200, 150)
    assert await store.remember_once("t1", "client_attestation", "j1", 200, 150)
    assert await store.remember_once("t1", "dpop", "j1", 400, 250)


async def test_proof_keys_are_claimed_all_or_nothing(store: Store) -> None:
    """No key is issued to twice in one offer; a refused claim claims nothing."""
    await add_tenant(store)
    await store.create_offer(offer())
    claimed = await store.claim_once("t1", [], 100, offer_id="o1", key_thumbprints=["k1", "k2"])
    assert claimed is None
    refused = await store.claim_once("t1", [], 100, offer_id="o1", key_thumbprints=["k3", "k2"])
    assert refused == PROOF_KEY_USED
    assert await store.claim_once("t1", [], 100, offer_id="o1", key_thumbprints=["k3"]) is None
    other = await store.claim_once("t2", [], 100, offer_id="o1", key_thumbprints=["k4"])
    assert other == PROOF_KEY_USED


async def test_claims_that_race_never_pass_the_offer_s_copies(store: Store) -> None:
    """Ten concurrent claims of one key each with max_keys 3 for one configuration:
    three succeed, seven are COPIES_EXHAUSTED; another configuration counts apart."""
    await add_tenant(store)
    await store.create_offer(offer())

    async def claim(n: int, configuration: str = "pid.dc+sd-jwt") -> str | None:
        return await store.claim_once(
            "t1",
            [OnceValue("dpop", f"jti-{configuration}-{n}", 500)],
            100,
            offer_id="o1",
            configuration_id=configuration,
            key_thumbprints=[f"{configuration}-k{n}"],
            max_keys=3,
        )

    results = await asyncio.gather(*(claim(n) for n in range(10)))
    assert sorted(results, key=str) == [None] * 3 + [COPIES_EXHAUSTED] * 7
    assert await claim(0, "pid.mso_mdoc") is None


async def test_a_claim_records_its_values_and_keys_together_or_not_at_all(store: Store) -> None:
    """claim_once names the first value seen before and then records nothing of the rest:
    neither the other values nor the keys."""
    await add_tenant(store)
    await store.create_offer(offer())
    assert await store.remember_once("t1", "c_nonce", "n-used", 500, 100)
    values = [OnceValue("dpop", "jti-1", 500), OnceValue("c_nonce", "n-used", 500)]
    refused = await store.claim_once("t1", values, 100, offer_id="o1", key_thumbprints=["k1"])
    assert refused == "c_nonce"
    assert await store.remember_once("t1", "dpop", "jti-1", 500, 100), "jti-1 was not kept"
    fresh = [OnceValue("dpop", "jti-2", 500), OnceValue("c_nonce", "n-new", 500)]
    assert await store.claim_once("t1", fresh, 100, offer_id="o1", key_thumbprints=["k1"]) is None
    again = await store.claim_once("t1", [OnceValue("c_nonce", "n-new", 500)], 200)
    assert again == "c_nonce"
    assert await store.claim_once("t1", [OnceValue("c_nonce", "n-new", 900)], 600) is None


async def test_purge_removes_only_what_expired(store: Store) -> None:
    """Expired tokens, nonces and one-time values go; live ones stay."""
    await add_tenant(store)
    stored = await store.create_offer(offer())
    await store.redeem_offer(stored, token(), 150)
    await store.remember_once("t1", "c_nonce", "n1", 300, 100)
    await store.remember_once("t1", "dpop", "j", 500, 100)
    assert await store.purge_wallet_sessions(450) == 2
    assert await store.get_access_token(b"t" * 32) is None
    assert await store.remember_once("t1", "dpop", "j", 900, 450) is False


async def test_a_tenant_without_a_wallet_policy_has_none(store: Store) -> None:
    """No row: None, which the service reads as the defaults."""
    await add_tenant(store)
    assert await store.get_wallet_policy("t1") is None


async def test_a_wallet_policy_is_stored_per_tenant_and_replaced(store: Store) -> None:
    """put stores the document for one tenant; a second put replaces it."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    first = WalletPolicyRecord("t1", {"key_attestation_required": True, "levels": ["é"]}, 100)
    await store.put_wallet_policy(first)
    assert await store.get_wallet_policy("t1") == first
    assert await store.get_wallet_policy("t2") is None
    second = WalletPolicyRecord("t1", {"wallet_attestation_required": True}, 200)
    await store.put_wallet_policy(second)
    assert await store.get_wallet_policy("t1") == second
