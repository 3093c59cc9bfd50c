"""Whole OpenID4VCI flows through a real `eudi-connect serve` process, driven by the test
wallet: pre-authorized code with and without a transaction code, batches of proofs, both
formats, deferred issuance, notifications, and what the internal service sees over gRPC.

Every credential the wallet collects passes its holder checks (`verify_collected`): the
issuer signature (SD-JWT VC with the independent `sd-jwt` package and the issuer's
published JWKS; mdoc with `pycose` and the tenant's published certificates), the type,
and a binding to exactly one of the wallet's keys.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eudi.connect.v1 import offer_service_pb2 as opb

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from tests.wallet import FlowFailed, KeyPair, VerifiedMdoc, VerifiedSdJwtVc, Wallet, WalletError

from .issuer_processes import IssuerProcess, Offers, issuer_certificates, state_name, wrong_code

FINAL_STATES = {"ACCEPTED", "FAILED", "DELETED", "EXPIRED"}


async def _states(stream: Any) -> list[str]:
    """Every state WatchCredentialOffer streams, until the offer is final."""
    seen = []
    async for update in stream:
        seen.append(state_name(update.offer))
        if seen[-1] in FINAL_STATES:
            break
    return seen


async def test_a_wallet_collects_a_pid_without_a_transaction_code(
    offers: Offers, wallet: Wallet, issuer: IssuerProcess
) -> None:
    """Offer by reference, metadata, DPoP token, nonce, one jwt proof: one SD-JWT VC that
    the holder verifies, whose id the internal service then reads on the offer."""
    created = await offers.create()
    assert created.tx_code == ""
    collected = await wallet.collect(created.offer.credential_offer_uri)
    assert collected.offer.credential_issuer == issuer.issuer_url(offers.tenant)
    assert collected.token.token_type == "DPoP"
    [verified] = await wallet.verify_collected(collected)
    assert isinstance(verified, VerifiedSdJwtVc)
    assert verified.claims["given_name"] == PID_EXAMPLE_SUBJECT["given_name"]
    offer = await offers.get(created.offer.offer_id)
    assert state_name(offer) == "CREDENTIALS_ISSUED"
    assert len(offer.credential_ids) == 1
    assert offer.copies_remaining == 0


async def test_the_offer_by_value_works_as_well_as_by_reference(
    offers: Offers, wallet: Wallet
) -> None:
    """`openid-credential-offer://?credential_offer=...` carries the same offer."""
    created = await offers.create()
    collected = await wallet.collect(created.offer.credential_offer_by_value_uri)
    assert len(await wallet.verify_collected(collected)) == 1


async def test_a_wallet_collects_with_the_transaction_code(offers: Offers, wallet: Wallet) -> None:
    """With a tx_code the offer says so (length, numeric) and the token needs the code."""
    created = await offers.create(tx_code_length=6)
    assert len(created.tx_code) == 6
    assert created.tx_code.isdigit()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    assert offer.tx_code is not None
    assert offer.tx_code.length == 6
    assert offer.tx_code.input_mode == "numeric"
    with pytest.raises(WalletError) as refused:
        await wallet.collect(created.offer.credential_offer_uri)
    assert refused.value.code == "tx_code_required"
    collected = await wallet.collect(created.offer.credential_offer_uri, tx_code=created.tx_code)
    assert len(await wallet.verify_collected(collected)) == 1


async def test_ten_proofs_give_ten_credentials_each_bound_to_its_key(
    offers: Offers, wallet: Wallet
) -> None:
    """One request with 10 jwt proofs: 10 SD-JWT VCs, one per key, each on its own status
    entry, with the same coarsened iat so the copies do not link by time."""
    created = await offers.create(copies=10)
    collected = await wallet.collect(created.offer.credential_offer_uri, copies=10)
    verified = await wallet.verify_collected(collected)
    assert len(verified) == 10
    assert sorted(v.holder_key_index for v in verified) == list(range(10))
    sd_jwts = [v for v in verified if isinstance(v, VerifiedSdJwtVc)]
    entries = {
        (v.claims["status"]["status_list"]["uri"], v.claims["status"]["status_list"]["idx"])
        for v in sd_jwts
    }
    assert len(entries) == 10
    assert len({v.claims["iat"] for v in sd_jwts}) == 1
    offer = await offers.get(created.offer.offer_id)
    assert len(offer.credential_ids) == 10


async def test_the_pid_is_collected_as_an_mdoc(
    offers: Offers, wallet: Wallet, issuer: IssuerProcess
) -> None:
    """mso_mdoc: 3 proofs, 3 IssuerSigned documents whose x5chain leads to the tenant's
    published certificates, each with its own device key."""
    created = await offers.create(credential_format="mso_mdoc", copies=3)
    collected = await wallet.collect(created.offer.credential_offer_uri, copies=3)
    assert collected.configuration.format == "mso_mdoc"
    anchors = await issuer_certificates(wallet, issuer.issuer_url(offers.tenant))
    verified = await wallet.verify_collected(collected, trust_anchors=anchors)
    assert len(verified) == 3
    assert all(isinstance(v, VerifiedMdoc) for v in verified)
    assert {v.holder_key_index for v in verified} == {0, 1, 2}


async def test_two_requests_share_the_offer_s_copies(offers: Offers, wallet: Wallet) -> None:
    """With 3 copies, 2 then 1 proof are served under one access token, a third request is
    refused; the copies left are reported to the internal service."""
    created = await offers.create(copies=3)
    collected = await wallet.collect(created.offer.credential_offer_uri, copies=2)
    assert (await offers.get(created.offer.offer_id)).copies_remaining == 1
    keys = [KeyPair.generate()]
    nonce = await wallet.nonce(collected.issuer)
    reply = await wallet.credential(
        collected.issuer,
        collected.access_token,
        configuration_id=collected.configuration.id,
        proofs=wallet.jwt_proofs(collected.issuer, keys, nonce.c_nonce),
    )
    assert reply.status == 200, reply.describe()
    nonce = await wallet.nonce(collected.issuer)
    again = await wallet.credential(
        collected.issuer,
        collected.access_token,
        configuration_id=collected.configuration.id,
        proofs=wallet.jwt_proofs(collected.issuer, [KeyPair.generate()], nonce.c_nonce),
    )
    assert again.status == 400
    assert again.error == "invalid_credential_request"
    offer = await offers.get(created.offer.offer_id)
    assert len(offer.credential_ids) == 3
    assert offer.copies_remaining == 0


async def test_deferred_issuance_completes_over_grpc(offers: Offers, wallet: Wallet) -> None:
    """A deferred offer: 202 with a transaction_id and an interval, 202 again while the
    subject is pending, then CompleteDeferredOffer, then 200 with the credentials."""
    created = await offers.create(deferred=True, copies=2)
    collected = await wallet.collect(created.offer.credential_offer_uri, copies=2)
    assert collected.reply.status == 202
    transaction_id = collected.transaction_id
    assert transaction_id
    assert state_name(await offers.get(created.offer.offer_id)) == "DEFERRED"
    pending = await wallet.deferred_credential(
        collected.issuer, collected.access_token, transaction_id
    )
    assert pending.status == 202
    assert pending.transaction_id == transaction_id
    assert (pending.interval or 0) > 0
    completed = await offers.complete(created.offer.offer_id, subject=PID_EXAMPLE_SUBJECT)
    assert state_name(completed) == "DEFERRED"
    ready = await wallet.poll_deferred(collected.issuer, collected.access_token, transaction_id)
    assert ready.status == 200, ready.describe()
    verified = await wallet.verify_collected(collected, credentials=ready.credentials)
    assert len(verified) == 2
    gone = await wallet.deferred_credential(
        collected.issuer, collected.access_token, transaction_id
    )
    assert gone.error == "invalid_transaction_id"


async def test_a_failed_deferred_issuance_is_denied_to_the_wallet(
    offers: Offers, wallet: Wallet
) -> None:
    """CompleteDeferredOffer with a failure reason: the wallet's next deferred request is
    refused for good and the offer is FAILED."""
    created = await offers.create(deferred=True)
    collected = await wallet.collect(created.offer.credential_offer_uri)
    assert collected.transaction_id
    failed = await offers.complete(created.offer.offer_id, failure="identity check failed")
    assert state_name(failed) == "FAILED"
    reply = await wallet.deferred_credential(
        collected.issuer, collected.access_token, collected.transaction_id
    )
    assert reply.status == 400
    assert reply.error == "credential_request_denied"


async def test_one_deferred_transaction_per_offer(offers: Offers, wallet: Wallet) -> None:
    """While a deferred request is pending, another credential request of the offer is
    refused (its keys stay free); the pending one completes with its own keys."""
    created = await offers.create(deferred=True, copies=2)
    collected = await wallet.collect(created.offer.credential_offer_uri)
    assert collected.transaction_id
    nonce = await wallet.nonce(collected.issuer)
    other = await wallet.credential(
        collected.issuer,
        collected.access_token,
        configuration_id=collected.configuration.id,
        proofs=wallet.jwt_proofs(collected.issuer, [KeyPair.generate()], nonce.c_nonce),
    )
    assert other.status == 400
    assert other.error == "invalid_credential_request"
    await offers.complete(created.offer.offer_id, subject=PID_EXAMPLE_SUBJECT)
    ready = await wallet.poll_deferred(
        collected.issuer, collected.access_token, collected.transaction_id
    )
    assert len(await wallet.verify_collected(collected, credentials=ready.credentials)) == 1
    assert (await offers.get(created.offer.offer_id)).copies_remaining == 1


async def test_a_withdrawn_offer_s_token_stops_working(offers: Offers, wallet: Wallet) -> None:
    """DeleteCredentialOffer after the token was issued: the credential endpoint answers
    invalid_token (401), and the offer is DELETED."""
    from .issuer_processes import authorized

    created = await offers.create()
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    await offers.stub.DeleteCredentialOffer(
        opb.DeleteCredentialOfferRequest(offer_id=created.offer.offer_id),
        metadata=offers.tenant.metadata,
    )
    reply = await flow.request()
    assert reply.status == 401
    assert reply.error == "invalid_token"
    assert state_name(await offers.get(created.offer.offer_id)) == "DELETED"


async def test_an_access_token_ends_with_its_offer(offers: Offers, wallet: Wallet) -> None:
    """A token lives no longer than the offer it came from: after the offer's lifetime the
    credential endpoint answers invalid_token."""
    from .issuer_processes import authorized

    created = await offers.create(lifetime=2)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    assert (flow.token.expires_in or 0) <= 2
    await asyncio.sleep(2.5)
    reply = await flow.request()
    assert reply.status == 401
    assert reply.error == "invalid_token"


@pytest.mark.parametrize(
    ("event", "final"),
    [
        ("credential_accepted", "ACCEPTED"),
        ("credential_failure", "FAILED"),
        ("credential_deleted", "DELETED"),
    ],
)
async def test_watch_streams_every_state_up_to_the_notification(
    offers: Offers, wallet: Wallet, event: str, final: str
) -> None:
    """WatchCredentialOffer streams OFFERED, TOKEN_ISSUED, CREDENTIALS_ISSUED and the state
    of the wallet's notification, then ends; the notification answers 204."""
    created = await offers.create()
    watching = asyncio.create_task(_states(offers.watch(created.offer.offer_id)))
    await asyncio.sleep(0.3)  # the stream has sent OFFERED before the wallet starts
    collected = await wallet.collect(created.offer.credential_offer_uri)
    assert collected.notification_id
    await asyncio.sleep(0.5)  # at most a poll interval: the stream sees each step apart
    reply = await wallet.notify(
        collected.issuer, collected.access_token, collected.notification_id, event
    )
    assert reply.status == 204, reply.describe()
    states = await asyncio.wait_for(watching, 20)
    assert states[0] == "OFFERED"
    assert states[-1] == final
    assert "CREDENTIALS_ISSUED" in states
    assert states.index("CREDENTIALS_ISSUED") < len(states) - 1
    offer = await offers.get(created.offer.offer_id)
    assert state_name(offer) == final
    assert len(offer.credential_ids) == 1


async def test_an_unknown_notification_id_or_event_is_refused(
    offers: Offers, wallet: Wallet
) -> None:
    """Section 11.3: invalid_notification_id, invalid_notification_request."""
    created = await offers.create()
    collected = await wallet.collect(created.offer.credential_offer_uri)
    assert collected.notification_id
    unknown = await wallet.notify(collected.issuer, collected.access_token, "not-ours")
    assert unknown.status == 400
    assert unknown.error == "invalid_notification_id"
    bad_event = await wallet.notify(
        collected.issuer, collected.access_token, collected.notification_id, "credential_lost"
    )
    assert bad_event.status == 400
    assert bad_event.error == "invalid_notification_request"


async def test_the_metadata_lists_every_template_and_format(
    offers: Offers, wallet: Wallet, issuer: IssuerProcess
) -> None:
    """The issuer metadata names the built-in PID in both formats and the mDL as an mdoc,
    with the nonce, deferred and notification endpoints and the batch size."""
    created = await offers.create()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    metadata, server = await wallet.discover(offer)
    assert metadata.credential_issuer == issuer.issuer_url(offers.tenant)
    ids = set(metadata.configurations)
    assert {"pid.dc+sd-jwt", "pid.mso_mdoc", "mdl.mso_mdoc"} <= ids
    assert metadata.raw["batch_credential_issuance"]["batch_size"] == 10
    assert metadata.nonce_endpoint
    assert metadata.deferred_credential_endpoint
    assert metadata.notification_endpoint
    assert server.token_endpoint == f"{metadata.credential_issuer}/token"
    assert server.raw["pre-authorized_grant_anonymous_access_supported"] is True


async def test_request_id_makes_offer_creation_idempotent(offers: Offers) -> None:
    """The same request_id returns the same offer and the same transaction code."""
    first = await offers.create(request_id="order-7", tx_code_length=4)
    again = await offers.create(request_id="order-7", tx_code_length=4)
    assert again.offer.offer_id == first.offer.offer_id
    assert again.tx_code == first.tx_code


async def test_flow_failed_carries_the_error_reply(offers: Offers, wallet: Wallet) -> None:
    """A refused step ends `collect` with the step and the protocol error."""
    created = await offers.create(tx_code_length=6)
    with pytest.raises(FlowFailed) as failed:
        await wallet.collect(
            created.offer.credential_offer_uri, tx_code=wrong_code(created.tx_code)
        )
    assert failed.value.step == "token"
    assert failed.value.reply.error == "invalid_grant"
    assert isinstance(failed.value.reply.json, dict)
    assert state_name(await offers.get(created.offer.offer_id)) == "OFFERED"
