"""What the response URI and the PresentationService refuse, through a real server: each
test breaks one rule (the wallet's `ResponseOptions`, or a raw body) and checks the spec's
answer to the wallet (HTTP 400, `error`) and what the relying party reads (FAILED, the
failure reason, the failed check per credential), never a 500."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import presentation_service_pb2 as ppb
from jwcrypto.jwk import JWK

from tests.integration.foreign_issuer import ForeignIssuer
from tests.integration.oid4vci.issuer_processes import new_tenant, raw_post
from tests.wallet import KeyPair, ResponseOptions

from .verifier_client import state_name
from .verifier_helpers import (
    Holder,
    Presentations,
    assert_refused,
    dcql,
    failure_name,
    final_state,
    mdoc_query,
    sd_jwt_query,
)


async def _refused_presentation(
    presentations: Presentations,
    holder: Holder,
    options: ResponseOptions,
    *,
    query: str | None = None,
    **create: Any,
) -> ppb.PresentationTransaction:
    """Creates a request, answers it with `options`, checks the 400 and returns the result."""
    created = await presentations.create(query or dcql(sd_jwt_query(), mdoc_query()), **create)
    presented = await holder.wallet.present(created.transaction.authorization_request_uri, options)
    assert_refused(presented.reply)
    return await presentations.result(created.transaction.transaction_id)


async def _first_update(stream: Any) -> Any:
    async for update in stream:
        return update
    return None


def _failed_checks(transaction: ppb.PresentationTransaction) -> dict[str, str]:
    return {
        c.credential_query_id: failure_name(c.verification)
        for c in transaction.credentials
        if not c.verification.valid
    }


async def test_a_wrong_nonce_fails_both_presentations(
    presentations: Presentations, holder: Holder
) -> None:
    """KB-JWT and device signature over another nonce: 400, FAILED, nonce / key binding."""
    result = await _refused_presentation(presentations, holder, ResponseOptions(nonce="other"))
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    failed = _failed_checks(result)
    assert failed["pid"] == "NONCE_MISMATCH"
    assert failed["mdoc"] in {"KEY_BINDING_INVALID", "NONCE_MISMATCH"}


async def test_a_wrong_audience_fails(presentations: Presentations, holder: Holder) -> None:
    """KB-JWT aud and the transcript's client id of another verifier: 400, FAILED."""
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(audience="x509_san_dns:evil.example")
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    failed = _failed_checks(result)
    assert failed["pid"] == "AUDIENCE_MISMATCH"
    assert failed["mdoc"] in {"KEY_BINDING_INVALID", "AUDIENCE_MISMATCH"}


async def test_a_presentation_signed_with_another_key_fails(
    presentations: Presentations, holder: Holder
) -> None:
    """A KB-JWT and a device signature by a key the credentials are not bound to."""
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(sign_with=KeyPair.generate())
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    assert set(_failed_checks(result)) == {"pid", "mdoc"}


async def test_a_wrong_state_is_refused(presentations: Presentations, holder: Holder) -> None:
    """A state the verifier never issued: 400 invalid_request, the transaction unchanged."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(state="not-the-state")
    )
    assert_refused(presented.reply)
    result = await presentations.result(created.transaction.transaction_id)
    assert state_name(result) in {"RETRIEVED", "FAILED"}


async def test_a_missing_state_is_refused(presentations: Presentations, holder: Holder) -> None:
    """No state at all in the response: 400 invalid_request."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(drop_state=True)
    )
    assert_refused(presented.reply)


async def test_a_replayed_response_is_refused(presentations: Presentations, holder: Holder) -> None:
    """The same body twice: the first verifies, the second is a 400 and changes nothing."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    again = await holder.wallet.post_response(presented.request, presented.response)
    assert_refused(again)
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED"


async def test_a_response_to_another_transaction_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """A valid answer to request A posted to request B's response URI: B refuses it (state
    and nonce are A's), A is untouched and can still be answered."""
    first = await presentations.create(dcql(sd_jwt_query()))
    second = await presentations.create(dcql(sd_jwt_query()))
    request_a = await holder.wallet.fetch_request(first.transaction.authorization_request_uri)
    request_b = await holder.wallet.fetch_request(second.transaction.authorization_request_uri)
    assert request_a.response_uri != request_b.response_uri or request_a.state != request_b.state
    answer_a = holder.wallet.build_response(request_a)
    crossed = await holder.wallet.post_response(request_b, answer_a)
    assert_refused(crossed)
    assert state_name(await presentations.result(first.transaction.transaction_id)) == "RETRIEVED"
    reply = await holder.wallet.post_response(request_a, answer_a)
    assert reply.status == 200, reply.describe()


async def test_a_missing_required_credential_fails_the_query(
    presentations: Presentations, holder: Holder
) -> None:
    """Only the SD-JWT VC for a query that requires it and the mdoc: DCQL_QUERY_NOT_SATISFIED."""
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(drop_queries=["mdoc"])
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "DCQL_QUERY_NOT_SATISFIED"


async def test_a_missing_required_claim_fails_the_query(
    presentations: Presentations, holder: Holder
) -> None:
    """family_name asked for but not disclosed: DCQL_QUERY_NOT_SATISFIED."""
    query = dcql(sd_jwt_query(claims=(("given_name",), ("family_name",))))
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(drop_paths=[("family_name",)]), query=query
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "DCQL_QUERY_NOT_SATISFIED"


async def test_a_claim_not_asked_for_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """given_name asked for, birthdate disclosed too: refused, nothing accepted beyond the
    query."""
    result = await _refused_presentation(
        presentations,
        holder,
        ResponseOptions(extra_claims=["birthdate"]),
        query=dcql(sd_jwt_query()),
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "DCQL_QUERY_NOT_SATISFIED"


async def test_an_mdoc_element_not_asked_for_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """family_name asked for, given_name shown as well: refused."""
    result = await _refused_presentation(
        presentations,
        holder,
        ResponseOptions(extra_claims=["given_name"]),
        query=dcql(mdoc_query()),
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "DCQL_QUERY_NOT_SATISFIED"


async def test_a_credential_not_asked_for_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """An extra vp_token entry under an id the query does not have: refused."""
    request_for_pid = dcql(sd_jwt_query())
    created = await presentations.create(request_for_pid)
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    valid = holder.wallet.build_response(request)
    extra = ResponseOptions(extra_presentations={"other": valid.payload["vp_token"]["pid"]})
    reply = await holder.wallet.post_response(request, holder.wallet.build_response(request, extra))
    assert_refused(reply)
    result = await presentations.result(created.transaction.transaction_id)
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "CREDENTIAL_NOT_REQUESTED"


async def test_two_presentations_without_multiple_are_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """Two presentations for a query without `multiple`: refused."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    [one] = holder.wallet.build_response(request).payload["vp_token"]["pid"]
    doubled = ResponseOptions(vp_token={"pid": [one, one]})
    reply = await holder.wallet.post_response(
        request, holder.wallet.build_response(request, doubled)
    )
    assert_refused(reply)


async def test_a_revoked_credential_fails_with_its_status(
    presentations: Presentations, holder: Holder
) -> None:
    """The SD-JWT VC revoked before presenting: FAILED, the check says REVOKED."""
    await presentations.revoke(holder.sd_jwt_id)
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(), query=dcql(sd_jwt_query())
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    assert _failed_checks(result) == {"pid": "REVOKED"}


async def test_a_revoked_mdoc_fails_with_its_status(
    presentations: Presentations, holder: Holder
) -> None:
    """The mdoc revoked before presenting: FAILED, REVOKED."""
    await presentations.revoke(holder.mdoc_id)
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(), query=dcql(mdoc_query())
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    assert _failed_checks(result) == {"mdoc": "REVOKED"}


async def test_an_untrusted_issuer_fails(presentations: Presentations, holder: Holder) -> None:
    """An SD-JWT VC from an issuer the tenant does not trust: FAILED, UNTRUSTED_ISSUER (or
    its keys unknown)."""
    foreign = ForeignIssuer.new()
    key = KeyPair.generate()
    holder.wallet.hold(foreign.credential(holder_jwk=key.public_jwk()), [key])
    query = {
        "id": "foreign",
        "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:example:foreign:1"]},
        "claims": [{"path": ["given_name"]}],
    }
    result = await _refused_presentation(
        presentations, holder, ResponseOptions(), query=dcql(query)
    )
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "PRESENTATION_INVALID"
    assert _failed_checks(result)["foreign"] in {
        "UNTRUSTED_ISSUER",
        "UNKNOWN_ISSUER_KEY",
        "ISSUER_KEYS_UNAVAILABLE",
    }


async def test_plaintext_where_encryption_was_required(
    presentations: Presentations, holder: Holder
) -> None:
    """direct_post.jwt answered with plain vp_token and state fields: 400, not verified."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(plaintext=True)
    )
    assert_refused(presented.reply)
    result = await presentations.result(created.transaction.transaction_id)
    assert state_name(result) != "VERIFIED"


async def test_a_jwe_for_another_key_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """A JWE to a key the verifier does not have: 400, not verified."""
    other = {**JWK.generate(kty="EC", crv="P-256").export_public(as_dict=True), "alg": "ECDH-ES"}
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(encrypt_to=other)
    )
    assert_refused(presented.reply)
    result = await presentations.result(created.transaction.transaction_id)
    assert state_name(result) != "VERIFIED"


async def test_a_jwe_with_an_unadvertised_enc_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """An enc the verifier did not list in encrypted_response_enc_values_supported: 400."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    offered = request.client_metadata.get("encrypted_response_enc_values_supported", ["A128GCM"])
    unlisted = next(e for e in ("A128CBC-HS256", "A256CBC-HS512", "A192GCM") if e not in offered)
    reply = await holder.wallet.post_response(
        request, holder.wallet.build_response(request, ResponseOptions(enc=unlisted))
    )
    assert_refused(reply)


async def test_an_expired_request_is_refused(presentations: Presentations, holder: Holder) -> None:
    """A response after the request's lifetime: 400, and the relying party reads EXPIRED."""
    created = await presentations.create(dcql(sd_jwt_query()), lifetime=1)
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    response = holder.wallet.build_response(request)
    await asyncio.sleep(2.2)
    reply = await holder.wallet.post_response(request, response)
    assert reply.status == 400, reply.describe()
    assert reply.error is not None
    result = await presentations.result(created.transaction.transaction_id)
    assert state_name(result) == "EXPIRED"


async def test_an_expired_request_object_is_not_served(
    presentations: Presentations, holder: Holder
) -> None:
    """Fetching the request object after the lifetime: an HTTP error, never a request."""
    created = await presentations.create(dcql(sd_jwt_query()), lifetime=1)
    await asyncio.sleep(2.2)
    from tests.wallet import parse_authorization_request_uri

    link = parse_authorization_request_uri(created.transaction.authorization_request_uri)
    reply = await holder.wallet.fetch_request_object(link)
    assert 400 <= reply.status < 500, reply.describe()


async def test_the_wallet_s_error_response_fails_the_transaction(
    presentations: Presentations, holder: Holder
) -> None:
    """An access_denied error response: 200 to the wallet (it was processed), FAILED with
    the wallet's code as the reason."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(error="access_denied")
    )
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "FAILED"
    assert result.failure_reason == "ACCESS_DENIED"


async def test_another_tenant_s_transaction_is_not_found(
    presentations: Presentations, local: Any, channel: grpc.aio.Channel
) -> None:
    """Another tenant's key cannot read, watch or submit to this tenant's transaction."""
    created = await presentations.create(dcql(sd_jwt_query()))
    stranger = Presentations(channel, await new_tenant(local, "Other Verifier"))
    transaction_id = created.transaction.transaction_id
    with pytest.raises(grpc.aio.AioRpcError) as read:
        await stranger.result(transaction_id)
    assert read.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as watched:
        await _first_update(stranger.watch(transaction_id))
    assert watched.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as submitted:
        await stranger.submit(transaction_id, origin="https://rp.example", response={})
    assert submitted.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("not json", {}),
        ('{"credentials": []}', {}),
        ('{"credentials": [{"id": "a b", "format": "dc+sd-jwt", "meta": {}}]}', {}),
        ('{"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {}, "x": NaN}]}', {}),
        (dcql(sd_jwt_query()), {"client_id_prefix": "redirect_uri"}),
        (dcql(sd_jwt_query()), {"response_mode": "fragment"}),
        (dcql(sd_jwt_query()), {"lifetime": 3601}),
        (dcql(sd_jwt_query()), {"request_uri_method": "put"}),
        (dcql(sd_jwt_query()), {"response_mode": "dc_api.jwt"}),
    ],
)
async def test_bad_create_requests_are_invalid_arguments(
    presentations: Presentations, query: str, fields: dict[str, Any]
) -> None:
    """Invalid DCQL or parameters: INVALID_ARGUMENT with a reason, never a transaction."""
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.create(query, **fields)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()


async def test_an_unknown_transaction_is_not_found(presentations: Presentations) -> None:
    """GetPresentationResult of an id that does not exist: NOT_FOUND."""
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await presentations.result("no-such-transaction")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", "application/x-www-form-urlencoded"),
        ("response=not-a-jwe", "application/x-www-form-urlencoded"),
        ("response=a.b.c.d.e", "application/x-www-form-urlencoded"),
        ("vp_token=%7B%7D&state=x", "application/x-www-form-urlencoded"),
        ('{"response": "x"}', "application/json"),
        ("response=%FF%FE", "application/x-www-form-urlencoded"),
        ("\x00" * 64, "application/octet-stream"),
    ],
)
async def test_malformed_bodies_at_the_response_uri_are_400(
    presentations: Presentations, holder: Holder, body: str, content_type: str
) -> None:
    """Garbage at the response URI: a 400 (or 415) with a JSON error, never a 500."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    assert request.response_uri is not None
    status, document, _headers = await raw_post(
        holder.wallet.session, request.response_uri, body, content_type=content_type
    )
    assert status in (400, 415), (status, document)
    assert isinstance(document, dict)
    assert isinstance(document.get("error"), str)


async def test_an_oversized_body_is_refused_without_a_500(
    presentations: Presentations, holder: Holder
) -> None:
    """A multi-megabyte response body: 4xx, and the transaction is still answerable."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    assert request.response_uri is not None
    body = io.BytesIO(b"response=" + b"A" * (8 * 1024 * 1024))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with holder.wallet.session.post(request.response_uri, data=body, headers=headers) as big:
        assert 400 <= big.status < 500, big.status
    reply = await holder.wallet.post_response(request, holder.wallet.build_response(request))
    assert reply.status == 200, reply.describe()


async def test_the_dc_api_refuses_an_unexpected_origin(
    presentations: Presentations, holder: Holder
) -> None:
    """SubmitPresentationResponse from an origin the request did not list: refused, and an
    answer bound to one origin does not verify when submitted as another."""
    origin = "https://rp.example"
    created = await presentations.create(
        dcql(sd_jwt_query()), response_mode="dc_api.jwt", expected_origins=[origin]
    )
    request = holder.wallet.open_dc_api_request(created.dc_api_request_json, origin=origin)
    data = holder.wallet.answer_dc_api(request, origin=origin)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.submit(
            created.transaction.transaction_id, origin="https://evil.example", response=data
        )
    assert refused.value.code() in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    result = await presentations.submit(
        created.transaction.transaction_id, origin=origin, response=json.dumps(data)
    )
    assert state_name(result) == "VERIFIED", result.failure_detail
