"""OpenID4VP exchanges driven by an independent wallet: a Node script on the published
oid4vc-ts (`@openid4vc/openid4vp`), `@sd-jwt/sd-jwt-vc` and `jose` packages resolves our
signed request object, presents a PID SD-JWT VC the same server issued over OpenID4VCI and
posts the encrypted direct_post.jwt response; the relying party reads the result over gRPC."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import grpc
import pytest

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import Services
from tests.integration.oid4vci.issuer_processes import Offers, new_tenant
from tests.integration.oid4vp.verifier_client import state_name
from tests.integration.oid4vp.verifier_helpers import (
    PID_VCT,
    Presentations,
    claims_of,
    collect_pid,
    dcql,
    failure_name,
    final_state,
    sd_jwt_query,
)
from tests.wallet import Wallet

from .node_wallet import INSTALL_TIMEOUT, ISSUE_SCRIPT, NodeWallet

# The first test also waits for the session's `npm ci`.
pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 120)

ASKED = (("given_name",), ("birthdate",))
# How oid4vc-ts numbers OpenID4VP 1.0 (drafts are their draft number).
OPENID4VP_FINAL = 100


async def wallet_job(
    session: aiohttp.ClientSession,
    offers: Offers,
    presentations: Presentations,
    authorization_request_uri: str,
    *,
    tamper: str = "",
) -> dict[str, Any]:
    """What the Node wallet needs: the request, a PID SD-JWT VC collected from the server
    with its holder key, and the tenant's verifier certificates it trusts."""
    [credential], [key], _ = await collect_pid(Wallet(session), offers)
    identity = await presentations.identity()
    return {
        "authorization_request_uri": authorization_request_uri,
        "credential": credential,
        "holder_private_jwk": key.private_jwk(),
        "trusted_certificates_pem": [identity.certificate_chain_pem],
        "tamper": tamper,
    }


async def test_the_node_wallet_presentation_is_verified_with_the_asked_claims(
    node_wallet: NodeWallet,
    session: aiohttp.ClientSession,
    offers: Offers,
    presentations: Presentations,
) -> None:
    """The library wallet accepts our request object and our verifier verifies its
    encrypted response: VERIFIED, key binding checked, exactly the asked claims disclosed."""
    created = await presentations.create(dcql(sd_jwt_query(claims=ASKED)))
    transaction = created.transaction
    job = await wallet_job(session, offers, presentations, transaction.authorization_request_uri)
    outcome = node_wallet.run(job)
    assert outcome["stage"] == "submitted", outcome
    assert outcome["status"] == 200, outcome
    assert outcome["response_mode"] == "direct_post.jwt"
    assert outcome["client_id"] == transaction.client_id
    assert outcome["client_prefix"] == "x509_san_dns"
    assert outcome["openid4vp_version"] == OPENID4VP_FINAL
    assert outcome["disclosed"] == ["given_name", "birthdate"]
    assert outcome["issued_claims"]["family_name"] == PID_EXAMPLE_SUBJECT["family_name"]
    assert outcome["issued_claims"]["vct"] == PID_VCT
    result = await final_state(presentations, transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    [shown] = result.credentials
    assert shown.credential_query_id == "pid"
    assert shown.verification.valid
    assert shown.verification.key_binding_verified
    claims = claims_of(shown)
    assert claims["given_name"] == PID_EXAMPLE_SUBJECT["given_name"]
    assert claims["birthdate"] == PID_EXAMPLE_SUBJECT["birthdate"]
    assert "family_name" not in claims


async def test_a_response_with_a_tampered_ciphertext_is_refused(
    node_wallet: NodeWallet,
    session: aiohttp.ClientSession,
    offers: Offers,
    presentations: Presentations,
) -> None:
    """One wrong byte in the library-encrypted JWE: the response URI refuses it with 400
    invalid_request and the transaction stays open, unverified."""
    created = await presentations.create(dcql(sd_jwt_query(claims=ASKED)))
    transaction = created.transaction
    job = await wallet_job(
        session, offers, presentations, transaction.authorization_request_uri, tamper="ciphertext"
    )
    outcome = node_wallet.run(job)
    assert outcome["stage"] == "submitted", outcome
    assert outcome["status"] == 400, outcome
    assert json.loads(outcome["body"])["error"] == "invalid_request"
    result = await presentations.result(transaction.transaction_id)
    assert state_name(result) == "RETRIEVED"
    assert not result.credentials


@pytest.mark.parametrize(
    ("tamper", "failure"),
    [("key_binding", "KEY_BINDING_INVALID"), ("key_binding_spelling", "MALFORMED")],
)
async def test_a_presentation_with_a_tampered_key_binding_fails(
    node_wallet: NodeWallet,
    session: aiohttp.ClientSession,
    offers: Offers,
    presentations: Presentations,
    tamper: str,
    failure: str,
) -> None:
    """A wrong byte in the key binding JWT's signature (KEY_BINDING_INVALID), or its bytes
    spelt with unused bits set (MALFORMED), inside a well-encrypted response: refused with
    400 invalid_request and the transaction FAILED."""
    created = await presentations.create(dcql(sd_jwt_query(claims=ASKED)))
    transaction = created.transaction
    job = await wallet_job(
        session, offers, presentations, transaction.authorization_request_uri, tamper=tamper
    )
    outcome = node_wallet.run(job)
    assert outcome["stage"] == "submitted", outcome
    assert outcome["status"] == 400, outcome
    assert json.loads(outcome["body"])["error"] == "invalid_request"
    result = await final_state(presentations, transaction.transaction_id)
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    [shown] = result.credentials
    assert not shown.verification.valid
    assert failure_name(shown.verification) == failure


async def test_the_node_wallet_refuses_a_request_signed_by_a_verifier_it_does_not_trust(
    node_wallet: NodeWallet,
    session: aiohttp.ClientSession,
    offers: Offers,
    presentations: Presentations,
    channel: grpc.aio.Channel,
    local: Services,
) -> None:
    """Trusting only another tenant's verifier certificate, the library's request object
    check fails on our x5c chain, so the transaction gets no response."""
    created = await presentations.create(dcql(sd_jwt_query(claims=ASKED)))
    transaction = created.transaction
    job = await wallet_job(session, offers, presentations, transaction.authorization_request_uri)
    stranger = Presentations(channel, await new_tenant(local, "Stranger"))
    job["trusted_certificates_pem"] = [(await stranger.identity()).certificate_chain_pem]
    outcome = node_wallet.run(job)
    assert outcome["stage"] == "resolve", outcome
    result = await presentations.result(transaction.transaction_id)
    assert state_name(result) == "RETRIEVED"
    assert not result.credentials


async def test_the_node_wallet_collects_a_pid_over_openid4vci_and_presents_it(
    node_wallet: NodeWallet, offers: Offers, presentations: Presentations
) -> None:
    """The library's pre-authorized code flow with a transaction code gets a PID SD-JWT VC
    from our issuer; the same library wallet then presents it and our verifier verifies it."""
    created = await offers.create(tx_code_length=6)
    issued = node_wallet.run(
        {"credential_offer": created.offer.credential_offer_uri, "tx_code": created.tx_code},
        ISSUE_SCRIPT,
    )
    assert issued["stage"] == "issued", issued
    assert issued["format"] == "dc+sd-jwt"
    assert issued["token_type"] == "DPoP"
    offer = await offers.get(created.offer.offer_id)
    assert len(offer.credential_ids) == 1
    request = await presentations.create(dcql(sd_jwt_query(claims=ASKED)))
    transaction = request.transaction
    identity = await presentations.identity()
    outcome = node_wallet.run(
        {
            "authorization_request_uri": transaction.authorization_request_uri,
            "credential": issued["credential"],
            "holder_private_jwk": issued["holder_private_jwk"],
            "trusted_certificates_pem": [identity.certificate_chain_pem],
            "tamper": "",
        }
    )
    assert outcome["stage"] == "submitted", outcome
    assert outcome["status"] == 200, outcome
    result = await final_state(presentations, transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    [shown] = result.credentials
    assert shown.verification.key_binding_verified
    assert claims_of(shown)["given_name"] == PID_EXAMPLE_SUBJECT["given_name"]
