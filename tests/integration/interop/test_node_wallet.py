"""OpenID4VP exchanges driven by an independent wallet: a Node script on the published
oid4vc-ts (`@openid4vc/openid4vp`), `@sd-jwt/sd-jwt-vc` and `jose` packages resolves our
signed request object, presents a PID SD-JWT VC the same server issued over OpenID4VCI and
posts the encrypted direct_post.jwt response; the relying party reads the result over gRPC."""

from __future__ import annotations

from typing import Any

import aiohttp

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from tests.integration.oid4vci.issuer_processes import Offers
from tests.integration.oid4vp.verifier_client import state_name
from tests.integration.oid4vp.verifier_helpers import (
    Presentations,
    claims_of,
    collect_pid,
    dcql,
    final_state,
    sd_jwt_query,
)
from tests.wallet import Wallet

from .node_wallet import NodeWallet

ASKED = (("given_name",), ("birthdate",))


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
    assert outcome["disclosed"] == ["given_name", "birthdate"]
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
