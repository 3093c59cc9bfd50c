"""Whole presentations through a real server: the tenant issues an SD-JWT VC and an mdoc
(CredentialService), a holder presents them to the tenant's own verifier at the response
URI (the wallet's side written here from the specification, with jwcrypto for the JWE),
and the result is read over gRPC."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import aiohttp
import grpc
from cryptography.hazmat.primitives.asymmetric import ec
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import presentation_service_pb2 as ppb
from jwcrypto import jwk

from eudi_connect.api.convert import struct_to_dict
from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.mdoc import (
    PID_NAMESPACE,
    make_device_response,
    openid4vp_dc_api_session_transcript,
    openid4vp_session_transcript,
)
from eudi_connect.core.sdjwt import make_presentation
from eudi_connect.services.app import Services
from tests.integration.client_helpers import issue_pid_mdoc, pid_request
from tests.integration.oid4vci.issuer_processes import new_tenant
from tests.integration.template_helpers import expect_error

from .test_response_refusals import encrypt_to, post, request_claims
from .verifier_client import PID_QUERY, PID_VCT, Presentations, jws_parts, state_name

MDOC_QUERY: dict[str, Any] = {
    "id": "mdl",
    "format": "mso_mdoc",
    "meta": {"doctype_value": PID_NAMESPACE},
    "claims": [{"path": [PID_NAMESPACE, "given_name"]}],
}


async def issue_sd_jwt(
    channel: grpc.aio.Channel, presentations: Presentations
) -> tuple[pb.IssueCredentialResponse, ec.EllipticCurvePrivateKey]:
    holder = generate_p256_key()
    issued: pb.IssueCredentialResponse = await pb_grpc.CredentialServiceStub(
        channel
    ).IssueCredential(
        pid_request(holder_jwk=json.dumps(public_jwk(holder.public_key()))),
        metadata=presentations.tenant.metadata,
    )
    return issued, holder


def present_sd_jwt(
    credential: str, holder: ec.EllipticCurvePrivateKey, claims: dict[str, Any], **overrides: Any
) -> str:
    return make_presentation(
        credential,
        disclose=overrides.pop("disclose", ["given_name", "family_name"]),
        holder_key=holder,
        audience=overrides.pop("audience", claims["client_id"]),
        nonce=overrides.pop("nonce", claims["nonce"]),
        issued_at=int(time.time()),
        key_binding_claims=overrides.pop("key_binding_claims", None),
    )


def mdoc_transcript(claims: dict[str, Any]) -> bytes:
    """Appendix B.2.6.1, as the wallet computes it from the request object."""
    (key,) = claims["client_metadata"]["jwks"]["keys"]
    thumbprint = jwk.JWK(**key).thumbprint()
    return openid4vp_session_transcript(
        client_id=claims["client_id"],
        nonce=claims["nonce"],
        response_uri=claims["response_uri"],
        jwk_thumbprint=base64.urlsafe_b64decode(thumbprint + "=" * (-len(thumbprint) % 4)),
    )


async def respond(
    session: aiohttp.ClientSession, claims: dict[str, Any], vp_token: dict[str, list[str]]
) -> tuple[int, dict[str, Any]]:
    form = {"response": encrypt_to(claims, {"state": claims["state"], "vp_token": vp_token})}
    return await post(session, claims["response_uri"], form)


async def test_an_sd_jwt_vc_and_an_mdoc_verify_in_one_encrypted_response(
    presentations: Presentations, channel: grpc.aio.Channel, session: aiohttp.ClientSession
) -> None:
    """Both presentations verify (key binding to the client id and nonce, the mdoc over
    the session transcript with the key's thumbprint) and the result names each."""
    query = {"credentials": [*PID_QUERY["credentials"], MDOC_QUERY]}
    created = (await presentations.create(query)).transaction
    claims = await request_claims(session, created.request_uri)
    issued, holder = await issue_sd_jwt(channel, presentations)
    device = generate_p256_key()
    stub = pb_grpc.CredentialServiceStub(channel)
    mdoc = await issue_pid_mdoc(stub, presentations.tenant, device)
    vp_token = {
        "pid": [present_sd_jwt(issued.credential, holder, claims)],
        "mdl": [
            make_device_response(
                mdoc.credential,
                holder_key=device,
                session_transcript=mdoc_transcript(claims),
                disclose=["given_name"],
            )
        ],
    }
    assert await respond(session, claims, vp_token) == (200, {})
    result = await presentations.get(created.transaction_id)
    assert state_name(result) == "VERIFIED", (result.failure_reason, result.failure_detail)
    by_id = {c.credential_query_id: c.verification for c in result.credentials}
    assert set(by_id) == {"pid", "mdl"}
    assert by_id["pid"].valid
    assert by_id["pid"].key_binding_verified
    assert by_id["pid"].vct == PID_VCT
    assert by_id["pid"].format == "dc+sd-jwt"
    assert set(dict(by_id["pid"].claims)) >= {"given_name", "family_name"}
    assert by_id["mdl"].valid
    assert by_id["mdl"].key_binding_verified
    assert by_id["mdl"].format == "mso_mdoc"
    assert "given_name" in struct_to_dict(by_id["mdl"].claims)[PID_NAMESPACE]


async def test_refused_presentations_fail_the_transaction(
    presentations: Presentations, channel: grpc.aio.Channel, session: aiohttp.ClientSession
) -> None:
    """A wrong nonce, a wrong audience, a claim not asked for, a missing required claim and
    a revoked credential: 400 at the response URI and FAILED with a reason."""
    issued, holder = await issue_sd_jwt(channel, presentations)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"nonce": "another-nonce"}, "PRESENTATION_INVALID"),
        ({"audience": "x509_san_dns:elsewhere.example"}, "PRESENTATION_INVALID"),
        ({"disclose": ["given_name", "family_name", "birthdate"]}, "DCQL_QUERY_NOT_SATISFIED"),
        ({"disclose": ["given_name"]}, "DCQL_QUERY_NOT_SATISFIED"),
    ]
    for overrides, reason in cases:
        created = (await presentations.create()).transaction
        claims = await request_claims(session, created.request_uri)
        token = {"pid": [present_sd_jwt(issued.credential, holder, claims, **overrides)]}
        status, body = await respond(session, claims, token)
        assert (status, body["error"]) == (400, "invalid_request"), overrides
        result = await presentations.get(created.transaction_id)
        assert state_name(result) == "FAILED"
        assert result.failure_reason == reason, (overrides, result.failure_detail)
    await pb_grpc.CredentialServiceStub(channel).RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id),
        metadata=presentations.tenant.metadata,
    )
    created = (await presentations.create()).transaction
    claims = await request_claims(session, created.request_uri)
    status, _ = await respond(
        session, claims, {"pid": [present_sd_jwt(issued.credential, holder, claims)]}
    )
    assert status == 400
    result = await presentations.get(created.transaction_id)
    assert (state_name(result), result.failure_reason) == ("FAILED", "PRESENTATION_INVALID")
    assert result.credentials[0].verification.status == pb.CREDENTIAL_STATUS_REVOKED


async def test_a_credential_not_asked_for_is_refused(
    presentations: Presentations, channel: grpc.aio.Channel, session: aiohttp.ClientSession
) -> None:
    """A vp_token id the query does not name fails the transaction without verifying."""
    issued, holder = await issue_sd_jwt(channel, presentations)
    created = (await presentations.create()).transaction
    claims = await request_claims(session, created.request_uri)
    presentation = present_sd_jwt(issued.credential, holder, claims)
    status, _ = await respond(session, claims, {"pid": [presentation], "extra": [presentation]})
    assert status == 400
    result = await presentations.get(created.transaction_id)
    assert (state_name(result), result.failure_reason) == ("FAILED", "CREDENTIAL_NOT_REQUESTED")


async def test_plain_direct_post_with_a_redirect_and_watch(
    presentations: Presentations, channel: grpc.aio.Channel, session: aiohttp.ClientSession
) -> None:
    """direct_post answers with the redirect_uri and a response_code that the transaction
    shows; Watch streams PENDING, RETRIEVED and VERIFIED."""
    created = (
        await presentations.create(
            response_mode="direct_post", redirect_uri="http://127.0.0.1/done?x=1"
        )
    ).transaction
    watch = presentations.watch(created.transaction_id)
    first = await watch.read()
    assert state_name(first.transaction) == "PENDING"
    claims = await request_claims(session, created.request_uri)
    assert "jwks" not in claims["client_metadata"]
    issued, holder = await issue_sd_jwt(channel, presentations)
    form = {
        "vp_token": json.dumps({"pid": [present_sd_jwt(issued.credential, holder, claims)]}),
        "state": claims["state"],
    }
    status, body = await post(session, claims["response_uri"], form)
    assert status == 200
    result = await presentations.get(created.transaction_id)
    assert state_name(result) == "VERIFIED"
    redirect = f"http://127.0.0.1/done?x=1&response_code={result.response_code}"
    assert body == {"redirect_uri": redirect}
    seen = [state_name(first.transaction)]
    for _ in range(10):
        message = await watch.read()
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]  # exported, not typed
            break
        seen.append(state_name(message.transaction))
    assert seen[0] == "PENDING"
    assert seen[-1] == "VERIFIED"
    assert set(seen) <= {"PENDING", "RETRIEVED", "RESPONDED", "VERIFIED"}


async def test_a_dc_api_response_is_submitted_and_verified(
    presentations: Presentations, channel: grpc.aio.Channel
) -> None:
    """dc_api.jwt: the browser's encrypted data goes to SubmitPresentationResponse with the
    page's origin; the KB-JWT's aud is origin:<origin> and the mdoc signs the DC API
    transcript. Another origin is refused, and a second submission too."""
    origin = "https://rp.example"
    query = {"credentials": [*PID_QUERY["credentials"], MDOC_QUERY]}
    created = await presentations.create(
        query, response_mode="dc_api.jwt", expected_origins=[origin]
    )
    _, claims = jws_parts(created.request_object)
    issued, holder = await issue_sd_jwt(channel, presentations)
    device = generate_p256_key()
    stub = pb_grpc.CredentialServiceStub(channel)
    mdoc = await issue_pid_mdoc(stub, presentations.tenant, device)
    (key,) = claims["client_metadata"]["jwks"]["keys"]
    thumbprint = jwk.JWK(**key).thumbprint()
    transcript = openid4vp_dc_api_session_transcript(
        origin=origin,
        nonce=claims["nonce"],
        jwk_thumbprint=base64.urlsafe_b64decode(thumbprint + "=" * (-len(thumbprint) % 4)),
    )
    vp_token = {
        "pid": [present_sd_jwt(issued.credential, holder, claims, audience=f"origin:{origin}")],
        "mdl": [
            make_device_response(
                mdoc.credential,
                holder_key=device,
                session_transcript=transcript,
                disclose=["given_name"],
            )
        ],
    }
    data = json.dumps({"response": encrypt_to(claims, {"vp_token": vp_token})})
    submit = presentations.stub.SubmitPresentationResponse
    transaction_id = created.transaction.transaction_id
    await expect_error(
        submit(
            ppb.SubmitPresentationResponseRequest(
                transaction_id=transaction_id, origin="https://evil.example", response_json=data
            ),
            metadata=presentations.tenant.metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ORIGIN_NOT_EXPECTED",
    )
    request = ppb.SubmitPresentationResponseRequest(
        transaction_id=transaction_id, origin=origin, response_json=data
    )
    answer = await submit(request, metadata=presentations.tenant.metadata)
    result = answer.transaction
    assert state_name(result) == "VERIFIED", (result.failure_reason, result.failure_detail)
    assert {c.credential_query_id for c in result.credentials} == {"pid", "mdl"}
    assert all(c.verification.key_binding_verified for c in result.credentials)
    await expect_error(
        submit(request, metadata=presentations.tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "RESPONSE_ALREADY_RECEIVED",
    )


async def test_transaction_data_must_be_hashed_in_the_key_binding(
    presentations: Presentations, channel: grpc.aio.Channel, session: aiohttp.ClientSession
) -> None:
    """A request with transaction data verifies only a KB-JWT whose
    transaction_data_hashes hold the SHA-256 of each entry as sent; without them the
    presentation fails key binding. Transaction data for an mdoc is refused up front."""
    entry = json.dumps({"type": "payment", "credential_ids": ["pid"], "amount": "42 EUR"})
    issued, holder = await issue_sd_jwt(channel, presentations)
    outcomes = {}
    for hashed in (True, False):
        created = (await presentations.create(transaction_data_json=[entry])).transaction
        claims = await request_claims(session, created.request_uri)
        (sent,) = claims["transaction_data"]
        digest = base64.urlsafe_b64encode(hashlib.sha256(sent.encode()).digest()).rstrip(b"=")
        extra = {"transaction_data_hashes": [digest.decode()]} if hashed else None
        token = {
            "pid": [present_sd_jwt(issued.credential, holder, claims, key_binding_claims=extra)]
        }
        status, _ = await respond(session, claims, token)
        result = await presentations.get(created.transaction_id)
        outcomes[hashed] = (status, state_name(result), result.failure_reason)
        if not hashed:
            verification = result.credentials[0].verification
            assert verification.failure == pb.VERIFICATION_FAILURE_KEY_BINDING_INVALID
    assert outcomes == {True: (200, "VERIFIED", ""), False: (400, "FAILED", "PRESENTATION_INVALID")}
    mdoc_entry = json.dumps({"type": "payment", "credential_ids": ["mdl"]})
    await expect_error(
        presentations.create(
            {"credentials": [*PID_QUERY["credentials"], MDOC_QUERY]},
            transaction_data_json=[mdoc_entry],
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TRANSACTION_DATA_UNSUPPORTED",
    )


async def test_the_policy_and_trust_apply_as_verify_credential_applies_them(
    presentations: Presentations,
    channel: grpc.aio.Channel,
    session: aiohttp.ClientSession,
    local: Services,
) -> None:
    """allowed_vcts refuses another type, a credential of an issuer the tenant does not
    trust is UNKNOWN_ISSUER_KEY, and a policy out of bounds is refused at creation."""
    issued, holder = await issue_sd_jwt(channel, presentations)
    policy = pb.VerificationPolicy(allowed_vcts=["urn:other"])
    created = (await presentations.create(policy=policy)).transaction
    claims = await request_claims(session, created.request_uri)
    await respond(session, claims, {"pid": [present_sd_jwt(issued.credential, holder, claims)]})
    result = await presentations.get(created.transaction_id)
    assert (state_name(result), result.failure_reason) == ("FAILED", "PRESENTATION_INVALID")
    assert result.credentials[0].verification.failure == pb.VERIFICATION_FAILURE_WRONG_TYPE
    stranger = Presentations(channel, await new_tenant(local, "Another Issuer"))
    foreign, foreign_holder = await issue_sd_jwt(channel, stranger)
    created = (await presentations.create()).transaction
    claims = await request_claims(session, created.request_uri)
    token = {"pid": [present_sd_jwt(foreign.credential, foreign_holder, claims)]}
    assert (await respond(session, claims, token))[0] == 400
    result = await presentations.get(created.transaction_id)
    assert (state_name(result), result.failure_reason) == ("FAILED", "PRESENTATION_INVALID")
    assert result.credentials[0].verification.failure in (
        pb.VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY,
        pb.VERIFICATION_FAILURE_UNTRUSTED_ISSUER,
    )
    await expect_error(
        presentations.create(policy=pb.VerificationPolicy(clock_skew_seconds=99999)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "POLICY_INVALID",
    )


async def test_submit_refuses_what_is_not_a_dc_api_answer(presentations: Presentations) -> None:
    """SubmitPresentationResponse for a direct_post request, with JSON text holding NaN,
    or for an unknown transaction: INVALID_ARGUMENT / NOT_FOUND with their reasons."""
    submit = presentations.stub.SubmitPresentationResponse
    metadata = presentations.tenant.metadata
    direct = (await presentations.create()).transaction
    request = ppb.SubmitPresentationResponseRequest(
        transaction_id=direct.transaction_id, origin="https://rp.example", response_json="{}"
    )
    await expect_error(
        submit(request, metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "RESPONSE_MODE_MISMATCH",
    )
    dc = await presentations.create(response_mode="dc_api", expected_origins=["https://rp.example"])
    nan = ppb.SubmitPresentationResponseRequest(
        transaction_id=dc.transaction.transaction_id,
        origin="https://rp.example",
        response_json='{"vp_token": {"pid": [NaN]}}',
    )
    await expect_error(
        submit(nan, metadata=metadata), grpc.StatusCode.INVALID_ARGUMENT, "JSON_INVALID"
    )
    unknown = ppb.SubmitPresentationResponseRequest(
        transaction_id="0" * 32, origin="https://rp.example", response_json="{}"
    )
    await expect_error(
        submit(unknown, metadata=metadata), grpc.StatusCode.NOT_FOUND, "PRESENTATION_NOT_FOUND"
    )


async def test_a_credential_set_alternative_and_multiple_presentations(
    presentations: Presentations, channel: grpc.aio.Channel, session: aiohttp.ClientSession
) -> None:
    """With credential_sets [[pid], [mdl]] an mdoc alone satisfies the query; with
    `multiple` two SD-JWT VCs for one id verify, and two without it are refused."""
    query = {
        "credentials": [{**PID_QUERY["credentials"][0]}, MDOC_QUERY],
        "credential_sets": [{"options": [["pid"], ["mdl"]]}],
    }
    created = (await presentations.create(query)).transaction
    claims = await request_claims(session, created.request_uri)
    device = generate_p256_key()
    mdoc = await issue_pid_mdoc(
        pb_grpc.CredentialServiceStub(channel), presentations.tenant, device
    )
    answer = make_device_response(
        mdoc.credential,
        holder_key=device,
        session_transcript=mdoc_transcript(claims),
        disclose=["given_name"],
    )
    assert await respond(session, claims, {"mdl": [answer]}) == (200, {})
    assert state_name(await presentations.get(created.transaction_id)) == "VERIFIED"
    first, first_holder = await issue_sd_jwt(channel, presentations)
    second, second_holder = await issue_sd_jwt(channel, presentations)
    for multiple, expected in ((True, "VERIFIED"), (False, "FAILED")):
        pid = {**PID_QUERY["credentials"][0], "multiple": multiple}
        created = (await presentations.create({"credentials": [pid]})).transaction
        claims = await request_claims(session, created.request_uri)
        token = {
            "pid": [
                present_sd_jwt(first.credential, first_holder, claims),
                present_sd_jwt(second.credential, second_holder, claims),
            ]
        }
        await respond(session, claims, token)
        result = await presentations.get(created.transaction_id)
        assert state_name(result) == expected, (result.failure_reason, result.failure_detail)
        if multiple:
            assert [c.index for c in result.credentials] == [0, 1]
