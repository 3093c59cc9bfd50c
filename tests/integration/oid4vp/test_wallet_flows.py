"""Whole OpenID4VP exchanges through a real `eudi-connect serve` process: the relying party
creates a request over gRPC, the test wallet (which holds a PID collected from the same
server over OpenID4VCI) fetches and checks the signed request object, answers the DCQL
query and posts its response; the relying party then reads what was verified."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from tests.wallet import PresentationWallet, ResponseOptions, certificate_hash

from .verifier_client import state_name
from .verifier_helpers import (
    PID_NAMESPACE,
    Holder,
    Presentations,
    claims_of,
    collect_pid,
    dcql,
    final_state,
    mdoc_query,
    sd_jwt_query,
    status_name,
)


async def test_an_sd_jwt_vc_alone_is_verified_with_only_the_asked_claims(
    presentations: Presentations, holder: Holder
) -> None:
    """One SD-JWT VC query: 200 at the response URI, VERIFIED with the given name only."""
    created = await presentations.create(dcql(sd_jwt_query()))
    transaction = created.transaction
    assert transaction.authorization_request_uri.startswith("openid4vp://")
    assert transaction.client_id.startswith("x509_san_dns:")
    assert transaction.response_mode == "direct_post.jwt"
    presented = await holder.wallet.present(transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    assert presented.response.encrypted
    result = await final_state(presentations, transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    [shown] = result.credentials
    assert shown.credential_query_id == "pid"
    assert shown.index == 0
    assert shown.verification.valid
    assert shown.verification.format == "dc+sd-jwt"
    assert shown.verification.key_binding_verified
    assert status_name(shown.verification) == "VALID"
    claims = claims_of(shown)
    assert claims["given_name"] == PID_EXAMPLE_SUBJECT["given_name"]
    assert "family_name" not in claims
    assert "birthdate" not in claims


async def test_an_mdoc_alone_is_verified_over_the_openid4vp_session(
    presentations: Presentations, holder: Holder
) -> None:
    """One mdoc query: the DeviceResponse signed over the handover with the encryption key's
    thumbprint verifies, showing the asked element only."""
    created = await presentations.create(dcql(mdoc_query()))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    [shown] = result.credentials
    assert shown.credential_query_id == "mdoc"
    assert shown.verification.format == "mso_mdoc"
    assert shown.verification.key_binding_verified
    shown_claims = json.dumps(claims_of(shown))
    assert PID_EXAMPLE_SUBJECT["family_name"] in shown_claims
    assert PID_EXAMPLE_SUBJECT["given_name"] not in shown_claims


async def test_both_formats_in_one_response(presentations: Presentations, holder: Holder) -> None:
    """An SD-JWT VC and an mdoc query together: both verified, each under its id."""
    created = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    assert sorted(c.credential_query_id for c in result.credentials) == ["mdoc", "pid"]
    assert all(c.verification.valid for c in result.credentials)


async def test_credential_sets_accept_the_alternative_the_wallet_holds(
    presentations: Presentations, holder: Holder
) -> None:
    """credential_sets with an mDL or the PID mdoc: the wallet has only the PID, sends it,
    and that option satisfies the set."""
    mdl = {
        "id": "mdl",
        "format": "mso_mdoc",
        "meta": {"doctype_value": "org.iso.18013.5.1.mDL"},
        "claims": [{"path": ["org.iso.18013.5.1", "family_name"]}],
    }
    query = dcql(
        mdl,
        mdoc_query(),
        sd_jwt_query(),
        credential_sets=[
            {"options": [["mdl"], ["mdoc"]]},
            {"options": [["pid"]], "required": False},
        ],
    )
    created = await presentations.create(query)
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    assert sorted(presented.response.payload["vp_token"]) == ["mdoc", "pid"]
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    assert sorted(c.credential_query_id for c in result.credentials) == ["mdoc", "pid"]


async def test_an_optional_credential_set_may_be_left_out(
    presentations: Presentations, holder: Holder
) -> None:
    """The optional set's credential not sent: still VERIFIED with the required one."""
    query = dcql(
        mdoc_query(),
        sd_jwt_query(),
        credential_sets=[{"options": [["mdoc"]]}, {"options": [["pid"]], "required": False}],
    )
    created = await presentations.create(query)
    presented = await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(drop_queries=["pid"])
    )
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    assert [c.credential_query_id for c in result.credentials] == ["mdoc"]


async def test_claim_sets_accept_the_first_option_the_wallet_can_meet(
    presentations: Presentations, holder: Holder
) -> None:
    """claim_sets [email] or [given_name, family_name]: the PID has no email, so the second
    option is shown, and nothing else."""
    query = sd_jwt_query(claims=())
    query["claims"] = [
        {"id": "email", "path": ["email"]},
        {"id": "given", "path": ["given_name"]},
        {"id": "family", "path": ["family_name"]},
    ]
    query["claim_sets"] = [["email"], ["given", "family"]]
    created = await presentations.create(dcql(query))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    claims = claims_of(result.credentials[0])
    assert claims["given_name"] == PID_EXAMPLE_SUBJECT["given_name"]
    assert claims["family_name"] == PID_EXAMPLE_SUBJECT["family_name"]
    assert "birthdate" not in claims


async def test_nested_and_array_claims_paths(presentations: Presentations, holder: Holder) -> None:
    """place_of_birth.country and every nationality: the disclosures for exactly those."""
    query = sd_jwt_query(claims=(("place_of_birth", "country"), ("nationalities", None)))
    created = await presentations.create(dcql(query))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    claims = claims_of(result.credentials[0])
    assert claims["place_of_birth"] == {"country": PID_EXAMPLE_SUBJECT["place_of_birth"]["country"]}
    assert claims["nationalities"] == list(PID_EXAMPLE_SUBJECT["nationalities"])


async def test_multiple_accepts_several_credentials_for_one_query(
    presentations: Presentations, holder: Holder, offers: Any
) -> None:
    """multiple: two PIDs held, both sent for one query, both verified with indices 0 and 1."""
    from tests.wallet import Wallet

    [second], keys, _ids = await collect_pid(Wallet(holder.wallet.session), offers)
    holder.wallet.hold(second, keys)
    created = await presentations.create(dcql(sd_jwt_query(multiple=True)))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    assert len(presented.response.payload["vp_token"]["pid"]) == 2
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    assert sorted(c.index for c in result.credentials) == [0, 1]


async def test_request_uri_method_post_with_wallet_metadata(
    presentations: Presentations, holder: Holder
) -> None:
    """request_uri_method=post: the link says so, the request object comes back for a POST
    with wallet_metadata and echoes the wallet_nonce; the exchange verifies."""
    created = await presentations.create(dcql(sd_jwt_query()), request_uri_method="post")
    uri = created.transaction.authorization_request_uri
    assert "request_uri_method=post" in uri
    presented = await holder.wallet.present(uri)
    assert "wallet_nonce" in presented.request.claims
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail


async def test_an_x509_hash_client_identifier(presentations: Presentations, holder: Holder) -> None:
    """x509_hash: the client id is the leaf certificate's hash, which the wallet checks."""
    identity = await presentations.identity()
    created = await presentations.create(dcql(sd_jwt_query()), client_id_prefix="x509_hash")
    transaction = created.transaction
    presented = await holder.wallet.present(transaction.authorization_request_uri)
    leaf = presented.request.chain[0]
    assert transaction.client_id == f"x509_hash:{certificate_hash(leaf)}"
    assert transaction.client_id in identity.client_ids
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail


async def test_direct_post_without_encryption(presentations: Presentations, holder: Holder) -> None:
    """direct_post: vp_token and state as plain form fields; the mdoc's transcript has a
    null thumbprint."""
    created = await presentations.create(
        dcql(sd_jwt_query(), mdoc_query()), response_mode="direct_post"
    )
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert not presented.response.encrypted
    assert set(presented.response.form) == {"vp_token", "state"}
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail


async def test_the_same_device_flow_redirects_with_a_response_code(
    presentations: Presentations, holder: Holder
) -> None:
    """With redirect_uri the response URI answers with it plus a response_code, the same
    code the relying party reads on the transaction."""
    created = await presentations.create(
        dcql(sd_jwt_query()), redirect_uri="https://rp.example/done"
    )
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    redirect = presented.redirect_uri
    assert redirect is not None
    assert redirect.startswith("https://rp.example/done")
    result = await final_state(presentations, created.transaction.transaction_id)
    assert result.response_code
    assert f"response_code={result.response_code}" in redirect


async def test_watch_sees_pending_retrieved_then_verified(
    presentations: Presentations, holder: Holder
) -> None:
    """WatchPresentation streams PENDING, RETRIEVED once the wallet fetched the request, and
    VERIFIED after the response, then ends."""
    created = await presentations.create(dcql(sd_jwt_query()))
    transaction_id = created.transaction.transaction_id
    states: list[str] = []

    async def watch() -> None:
        async for update in presentations.watch(transaction_id):
            states.append(state_name(update.transaction))

    watching = asyncio.create_task(watch())
    await asyncio.sleep(0.3)
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    await asyncio.sleep(0.5)
    reply = await holder.wallet.post_response(request, holder.wallet.build_response(request))
    assert reply.status == 200, reply.describe()
    await asyncio.wait_for(watching, 15)
    assert states[0] == "PENDING"
    assert "RETRIEVED" in states
    assert states[-1] == "VERIFIED"
    assert states.index("RETRIEVED") < len(states) - 1


async def test_the_request_is_idempotent_on_request_id(presentations: Presentations) -> None:
    """The same request_id returns the same transaction."""
    first = await presentations.create(dcql(sd_jwt_query()), request_id="rp-order-17")
    again = await presentations.create(dcql(sd_jwt_query()), request_id="rp-order-17")
    assert again.transaction.transaction_id == first.transaction.transaction_id
    assert again.transaction.request_uri == first.transaction.request_uri


async def test_the_digital_credentials_api_path(
    presentations: Presentations, holder: Holder
) -> None:
    """dc_api.jwt: the signed request object for the page, the browser's answer handed to
    SubmitPresentationResponse with the origin: aud origin:<origin>, the DC API transcript."""
    origin = "https://rp.example"
    created = await presentations.create(
        dcql(sd_jwt_query(), mdoc_query()), response_mode="dc_api.jwt", expected_origins=[origin]
    )
    assert created.request_object
    assert created.transaction.authorization_request_uri == ""
    request = holder.wallet.open_dc_api_request(created.dc_api_request_json, origin=origin)
    assert request.token == created.request_object
    assert request.claims["expected_origins"] == [origin]
    data = holder.wallet.answer_dc_api(request, origin=origin)
    assert set(data) == {"response"}
    result = await presentations.submit(
        created.transaction.transaction_id, origin=origin, response=data
    )
    assert state_name(result) == "VERIFIED", result.failure_detail
    assert sorted(c.credential_query_id for c in result.credentials) == ["mdoc", "pid"]


async def test_an_mdoc_element_path_with_values(
    presentations: Presentations, holder: Holder
) -> None:
    """A claims query with values the mdoc matches (age_over_18 true) verifies."""
    query = mdoc_query(elements=())
    query["claims"] = [{"path": [PID_NAMESPACE, "age_over_18"], "values": [True]}]
    created = await presentations.create(dcql(query))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail


@pytest.mark.parametrize("prefix", ["x509_san_dns", "x509_hash"])
async def test_a_wallet_that_does_not_trust_the_verifier_refuses(
    presentations: Presentations, holder: Holder, prefix: str
) -> None:
    """A wallet configured with another certificate refuses the request as invalid_client."""
    from tests.wallet import RequestRefused

    created = await presentations.create(dcql(sd_jwt_query()), client_id_prefix=prefix)
    stranger = PresentationWallet(holder.wallet.session, trusted=[])
    with pytest.raises(RequestRefused) as refused:
        await stranger.fetch_request(created.transaction.authorization_request_uri)
    assert refused.value.code == "invalid_client"
