"""The verifier half of the Store interface (identities, presentation transactions), on
every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from eudi_connect.errors import NotFoundError
from eudi_connect.store.base import Store
from eudi_connect.store.presentations import (
    PresentationOutcome,
    PresentationRecord,
    VerifierIdentityRecord,
)
from tests.store.test_store_contract import add_tenant


def identity(tenant_id: str = "t1", dns_name: str = "verifier.example") -> VerifierIdentityRecord:
    return VerifierIdentityRecord(
        tenant_id=tenant_id,
        dns_name=dns_name,
        kid=f"kid-{dns_name}",
        private_key_encrypted=b"sealed-" + dns_name.encode(),
        certificate_chain=(b"leaf-der", b"ca-der"),
        created_at=100,
        updated_at=100,
    )


def transaction(
    transaction_id: str = "tx1", *, request_id: str | None = None, tenant_id: str = "t1"
) -> PresentationRecord:
    return PresentationRecord(
        transaction_id=transaction_id,
        tenant_id=tenant_id,
        request_id=request_id,
        state="PENDING",
        client_id="x509_san_dns:verifier.example",
        response_mode="direct_post.jwt",
        dcql_query='{"credentials":[]}',
        nonce="n-" + transaction_id,
        state_value="s-" + transaction_id,
        response_uri="https://verifier.example/r",
        request_uri="https://verifier.example/q",
        request_uri_method="get",
        redirect_uri=None,
        expected_origins=(),
        transaction_data=("eyJ0eXBlIjoieCJ9",),
        policy="{}",
        encryption_key_encrypted=b"sealed-key",
        enc_values=("A128GCM", "A256GCM"),
        created_at=100,
        expires_at=400,
        updated_at=100,
    )


async def test_a_verifier_identity_is_made_once_and_replaced_on_purpose(store: Store) -> None:
    """The first identity stored wins a race; put replaces it; other tenants see none."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    assert await store.get_verifier_identity("t1") is None
    first, second = await asyncio.gather(
        store.ensure_verifier_identity(identity(dns_name="a.example")),
        store.ensure_verifier_identity(identity(dns_name="b.example")),
    )
    assert first == second
    assert await store.get_verifier_identity("t1") == first
    assert await store.get_verifier_identity("t2") is None
    renamed = replace(identity(dns_name="c.example"), updated_at=200)
    await store.put_verifier_identity(renamed, retire_until=500)
    assert await store.get_verifier_identity("t1") == renamed


async def test_a_replaced_identity_stays_usable_until_its_time(store: Store) -> None:
    """put keeps the identity it replaces, listed (newest first) for its tenant only until
    its time, and deletes retired ones past their time at the next put."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    first = await store.ensure_verifier_identity(identity(dns_name="a.example"))
    second = replace(identity(dns_name="b.example"), created_at=200, updated_at=200)
    await store.put_verifier_identity(second, retire_until=1000)
    assert await store.retired_verifier_identities("t1", 999) == [first]
    assert await store.retired_verifier_identities("t1", 1000) == []
    assert await store.retired_verifier_identities("t2", 0) == []
    third = replace(identity(dns_name="c.example"), created_at=300, updated_at=300)
    await store.put_verifier_identity(third, retire_until=2000)
    assert await store.get_verifier_identity("t1") == third
    assert await store.retired_verifier_identities("t1", 900) == [second, first]
    fourth = replace(identity(dns_name="d.example"), created_at=1500, updated_at=1500)
    await store.put_verifier_identity(fourth, retire_until=3000)
    assert await store.retired_verifier_identities("t1", 0) == [third, second]


async def test_an_identity_for_an_unknown_tenant_is_refused(store: Store) -> None:
    """Nothing is stored for a tenant that does not exist."""
    with pytest.raises(NotFoundError):
        await store.ensure_verifier_identity(identity("ghost"))
    with pytest.raises(NotFoundError):
        await store.put_verifier_identity(identity("ghost"), retire_until=500)
    with pytest.raises(NotFoundError):
        await store.create_presentation(transaction(tenant_id="ghost"))


async def test_a_transaction_round_trips_for_its_tenant_only(store: Store) -> None:
    """What is stored comes back equal; another tenant does not see it."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    stored = await store.create_presentation(transaction())
    assert await store.get_presentation("t1", "tx1") == stored
    assert await store.get_presentation("t2", "tx1") is None
    dc_api = replace(
        transaction("tx2"),
        state_value=None,
        response_uri=None,
        request_uri=None,
        encryption_key_encrypted=None,
        expected_origins=("https://rp.example",),
        response_mode="dc_api",
    )
    assert await store.create_presentation(dc_api) == dc_api
    assert await store.get_presentation("t1", "tx2") == dc_api


async def test_a_used_request_id_returns_the_first_transaction(store: Store) -> None:
    """request_id makes creation idempotent per tenant."""
    await add_tenant(store)
    first = await store.create_presentation(transaction("tx1", request_id="r"))
    again = await store.create_presentation(transaction("tx2", request_id="r"))
    assert again == first
    assert await store.get_presentation("t1", "tx2") is None


async def test_retrieval_records_the_advertised_encryption(store: Store) -> None:
    """Fetching moves PENDING to RETRIEVED once; the advertised enc values are kept."""
    await add_tenant(store)
    await store.create_presentation(transaction())
    fetched = await store.mark_presentation_retrieved("t1", "tx1", ["A256GCM"], 150)
    assert fetched is not None
    assert (fetched.state, fetched.enc_values, fetched.version) == ("RETRIEVED", ("A256GCM",), 2)
    again = await store.mark_presentation_retrieved("t1", "tx1", ["A256GCM"], 160)
    assert again == fetched
    assert await store.mark_presentation_retrieved("t1", "tx1", ["A256GCM"], 400) is None


async def test_one_response_is_claimed_however_many_race(store: Store) -> None:
    """Of ten concurrent claims exactly one wins; a claim after expiry never does."""
    await add_tenant(store)
    await store.create_presentation(transaction())
    await store.create_presentation(transaction("tx2"))
    claims = await asyncio.gather(
        *(store.claim_presentation_response("t1", "tx1", 150) for _ in range(10))
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert winners[0].state == "RESPONDED"
    assert await store.claim_presentation_response("t1", "tx2", 400) is None
    assert await store.claim_presentation_response("t2", "tx1", 150) is None


async def test_a_claimed_response_finishes_once(store: Store) -> None:
    """Only a RESPONDED transaction takes its outcome; the results are stored as given."""
    await add_tenant(store)
    await store.create_presentation(transaction())
    outcome = PresentationOutcome(state="VERIFIED", results='[{"id":"pid"}]', response_code="code")
    assert await store.finish_presentation("t1", "tx1", outcome, 150) is None
    await store.claim_presentation_response("t1", "tx1", 150)
    done = await store.finish_presentation("t1", "tx1", outcome, 160)
    assert done is not None
    assert (done.state, done.results, done.response_code, done.updated_at) == (
        "VERIFIED",
        '[{"id":"pid"}]',
        "code",
        160,
    )
    assert done.encryption_key_encrypted is None
    assert await store.get_presentation("t1", "tx1") == done
    failed = PresentationOutcome(state="FAILED", failure_reason="X")
    assert await store.finish_presentation("t1", "tx1", failed, 170) is None


async def test_transactions_expired_long_ago_are_purged(store: Store) -> None:
    """Only transactions that expired before the cut-off go, of every tenant."""
    await add_tenant(store)
    await store.create_presentation(transaction("old"))
    await store.create_presentation(replace(transaction("new"), expires_at=900))
    assert await store.purge_presentations(400) == 0
    assert await store.purge_presentations(401) == 1
    assert await store.get_presentation("t1", "old") is None
    assert await store.get_presentation("t1", "new") is not None
