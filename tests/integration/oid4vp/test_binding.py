"""What binds a presentation to this one exchange, through a real server: the KB-JWT's age
and transaction data hashes, the mdoc session transcript (response URI, encryption key
thumbprint), presentations without holder binding, a presentation lifted from another
exchange, the DC API audience, and expiry seen by WatchPresentation."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import grpc
import pytest

from tests.integration.oid4vci.issuer_processes import Offers, new_tenant
from tests.wallet import PresentationWallet, ResponseOptions, Wallet

from .verifier_client import state_name
from .verifier_helpers import (
    Holder,
    Presentations,
    assert_refused,
    collect_pid,
    dcql,
    failure_name,
    final_state,
    mdoc_query,
    sd_jwt_query,
)

STABLE_REASON = re.compile(r"[A-Z][A-Z0-9_]*")


async def _answer(
    presentations: Presentations,
    holder: Holder,
    query: str,
    options: ResponseOptions,
    **create: Any,
) -> tuple[int, str, str]:
    created = await presentations.create(query, **create)
    presented = await holder.wallet.present(created.transaction.authorization_request_uri, options)
    result = await presentations.result(created.transaction.transaction_id)
    failures = ",".join(
        sorted(failure_name(c.verification) for c in result.credentials if not c.verification.valid)
    )
    return presented.reply.status, state_name(result), failures


async def test_an_old_kb_jwt_is_refused(presentations: Presentations, holder: Holder) -> None:
    """A KB-JWT issued an hour ago (the policy allows 300 s): 400, FAILED."""
    old = ResponseOptions(kb_claims={"iat": int(time.time()) - 3600})
    status, state, failures = await _answer(presentations, holder, dcql(sd_jwt_query()), old)
    assert (status, state) == (400, "FAILED")
    assert failures == "KEY_BINDING_INVALID"


async def test_an_mdoc_signed_for_another_response_uri_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """The session transcript names another response URI: the device signature fails."""
    other = ResponseOptions(transcript_response_uri="https://evil.example/response")
    status, state, failures = await _answer(presentations, holder, dcql(mdoc_query()), other)
    assert (status, state) == (400, "FAILED")
    assert failures == "KEY_BINDING_INVALID"


async def test_an_mdoc_without_the_encryption_key_thumbprint_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """direct_post.jwt answered with a transcript whose thumbprint is null: refused, so a
    response re-encrypted by a third party is detected (B.2.6.1)."""
    options = ResponseOptions(omit_transcript_thumbprint=True)
    status, state, failures = await _answer(presentations, holder, dcql(mdoc_query()), options)
    assert (status, state) == (400, "FAILED")
    assert failures == "KEY_BINDING_INVALID"


async def test_an_sd_jwt_without_a_kb_jwt_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """The issued SD-JWT VC as it is, no KB-JWT: KEY_BINDING_REQUIRED."""
    issued = holder.sd_jwt.credential
    options = ResponseOptions(vp_token={"pid": [issued]})
    status, state, failures = await _answer(presentations, holder, dcql(sd_jwt_query()), options)
    assert (status, state) == (400, "FAILED")
    assert failures == "KEY_BINDING_REQUIRED"


async def test_an_mdoc_issuer_signed_alone_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """The IssuerSigned structure instead of a DeviceResponse: refused."""
    options = ResponseOptions(vp_token={"mdoc": [holder.mdoc.credential]})
    status, state, _failures = await _answer(presentations, holder, dcql(mdoc_query()), options)
    assert (status, state) == (400, "FAILED")


async def test_a_presentation_lifted_from_another_exchange_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """A's valid vp_token sent to B, with B's state and encrypted to B's key: the nonce and
    transcript are A's, so B fails; A's own answer still verifies."""
    first = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
    second = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
    request_a = await holder.wallet.fetch_request(first.transaction.authorization_request_uri)
    request_b = await holder.wallet.fetch_request(second.transaction.authorization_request_uri)
    answer_a = holder.wallet.build_response(request_a)
    lifted = holder.wallet.build_response(
        request_b, ResponseOptions(vp_token=answer_a.payload["vp_token"])
    )
    assert_refused(await holder.wallet.post_response(request_b, lifted))
    result_b = await final_state(presentations, second.transaction.transaction_id)
    assert state_name(result_b) == "FAILED"
    assert {c.credential_query_id for c in result_b.credentials if not c.verification.valid} == {
        "pid",
        "mdoc",
    }
    reply = await holder.wallet.post_response(request_a, answer_a)
    assert reply.status == 200, reply.describe()


def _transaction_data(credential_id: str) -> str:
    return json.dumps(
        {"type": "urn:example:payment", "credential_ids": [credential_id], "amount": "42.00"}
    )


async def test_transaction_data_is_carried_and_its_hashes_are_checked(
    presentations: Presentations, holder: Holder
) -> None:
    """Transaction data reaches the wallet base64url-encoded; a KB-JWT with its hashes
    verifies, one without them or with others does not."""
    data = [_transaction_data("pid")]
    created = await presentations.create(dcql(sd_jwt_query()), transaction_data=data)
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    [encoded] = request.transaction_data
    padded = encoded + "=" * (-len(encoded) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded))["credential_ids"] == ["pid"]
    reply = await holder.wallet.post_response(request, holder.wallet.build_response(request))
    assert reply.status == 200, reply.describe()
    outcomes = {}
    for name, broken in {
        "hashes null": ResponseOptions(kb_claims={"transaction_data_hashes": None}),
        "other hashes": ResponseOptions(kb_claims={"transaction_data_hashes": ["AAAA"]}),
    }.items():
        outcomes[name] = await _answer(
            presentations, holder, dcql(sd_jwt_query()), broken, transaction_data=data
        )
    assert {name: o[:2] for name, o in outcomes.items()} == {
        "hashes null": (400, "FAILED"),
        "other hashes": (400, "FAILED"),
    }


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        json.dumps({"credential_ids": ["pid"]}),
        json.dumps({"type": "urn:example:payment", "credential_ids": ["unknown"]}),
        json.dumps({"type": "urn:example:payment", "credential_ids": []}),
    ],
)
async def test_bad_transaction_data_is_an_invalid_argument(
    presentations: Presentations, data: str
) -> None:
    """Transaction data without a type, or naming no or unknown queries: INVALID_ARGUMENT."""
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.create(dcql(sd_jwt_query()), transaction_data=[data])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_dc_api_requires_the_origin_as_audience(
    presentations: Presentations, holder: Holder
) -> None:
    """Over the DC API a KB-JWT with aud = the client id (not origin:<origin>) fails."""
    origin = "https://rp.example"
    created = await presentations.create(
        dcql(sd_jwt_query()), response_mode="dc_api.jwt", expected_origins=[origin]
    )
    request = holder.wallet.open_dc_api_request(created.dc_api_request_json, origin=origin)
    data = holder.wallet.answer_dc_api(
        request, origin=origin, options=ResponseOptions(audience=request.client_id)
    )
    result = await presentations.submit(
        created.transaction.transaction_id, origin=origin, response=data
    )
    assert state_name(result) == "FAILED"
    assert [failure_name(c.verification) for c in result.credentials] == ["AUDIENCE_MISMATCH"]


async def test_unencrypted_dc_api_responses(presentations: Presentations, holder: Holder) -> None:
    """dc_api: the browser's data is the vp_token itself; both formats verify with the
    DC API transcript without a thumbprint."""
    origin = "https://rp.example"
    created = await presentations.create(
        dcql(sd_jwt_query(), mdoc_query()), response_mode="dc_api", expected_origins=[origin]
    )
    request = holder.wallet.open_dc_api_request(created.dc_api_request_json, origin=origin)
    data = holder.wallet.answer_dc_api(request, origin=origin)
    assert set(data) == {"vp_token"}
    result = await presentations.submit(
        created.transaction.transaction_id, origin=origin, response=data
    )
    assert state_name(result) == "VERIFIED", result.failure_detail


async def test_submit_to_a_redirect_transaction_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """SubmitPresentationResponse for a direct_post.jwt transaction: refused, untouched."""
    created = await presentations.create(dcql(sd_jwt_query()))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.submit(
            created.transaction.transaction_id, origin="https://rp.example", response={}
        )
    assert refused.value.code() in (
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert state_name(await presentations.result(created.transaction.transaction_id)) == "PENDING"


async def test_watch_ends_with_expired_when_nobody_answers(
    presentations: Presentations,
) -> None:
    """A request nobody answers: WatchPresentation streams PENDING then EXPIRED and ends;
    GetPresentationResult says EXPIRED."""
    created = await presentations.create(dcql(sd_jwt_query()), lifetime=1)
    states: list[str] = []

    async def watch() -> None:
        async for update in presentations.watch(created.transaction.transaction_id, timeout=20):
            states.append(state_name(update.transaction))

    await asyncio.wait_for(watch(), 20)
    assert states[0] == "PENDING"
    assert states[-1] == "EXPIRED"
    result = await presentations.result(created.transaction.transaction_id)
    assert state_name(result) == "EXPIRED"


async def test_failure_reasons_are_stable_upper_snake(
    presentations: Presentations, holder: Holder
) -> None:
    """A failed exchange's failure_reason is an UPPER_SNAKE code, not prose."""
    created = await presentations.create(dcql(sd_jwt_query()))
    await holder.wallet.present(
        created.transaction.authorization_request_uri, ResponseOptions(nonce="other")
    )
    result = await final_state(presentations, created.transaction.transaction_id)
    assert STABLE_REASON.fullmatch(result.failure_reason), result.failure_reason


@pytest.mark.parametrize(
    "vp_token",
    ['"a string"', "[1, 2]", '{"pid": "not-an-array"}', '{"pid": []}', '{"pid": [42]}', "{}"],
)
async def test_a_malformed_vp_token_is_refused(
    presentations: Presentations, holder: Holder, vp_token: str
) -> None:
    """vp_token that is not an object of arrays of presentations: 400, never a 500."""
    created = await presentations.create(dcql(sd_jwt_query()), response_mode="direct_post")
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    response = holder.wallet.build_response(request)
    form = {**response.form, "vp_token": vp_token}
    reply = await holder.wallet.post_response(request, response, raw_body=urlencode(form))
    assert_refused(reply)


@pytest.mark.parametrize(
    "fields",
    [
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "not a uri"},
        {"response_mode": "dc_api.jwt", "expected_origins": ["javascript:alert(1)"]},
        {"lifetime_seconds": -5},
    ],
)
async def test_unsafe_parameters_are_invalid_arguments(
    presentations: Presentations, fields: dict[str, Any]
) -> None:
    """A redirect URI or origin with an unsafe scheme, a negative lifetime: refused."""
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.create(dcql(sd_jwt_query()), **fields)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_huge_dcql_query_is_refused_cleanly(presentations: Presentations) -> None:
    """A DCQL query with 5,000 credential queries: INVALID_ARGUMENT or RESOURCE_EXHAUSTED
    with a reason, never INTERNAL or UNKNOWN."""
    many = [sd_jwt_query(f"q{i}") for i in range(5000)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.create(dcql(*many))
    assert refused.value.code() in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ), refused.value.details()


async def test_a_pid_from_another_tenant_of_the_server_is_untrusted(
    presentations: Presentations, holder: Holder, local: Any, channel: grpc.aio.Channel
) -> None:
    """A PID issued by another tenant of the same server: that tenant is a stranger to this
    verifier, so the presentation fails on trust, not on its signature."""
    other_tenant = await new_tenant(local, "Other Issuer")
    [credential], keys, _ids = await collect_pid(
        Wallet(holder.wallet.session), Offers(channel, other_tenant)
    )
    stranger = PresentationWallet(holder.wallet.session, trusted=holder.wallet.trusted)
    stranger.hold(credential, keys)
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await stranger.present(created.transaction.authorization_request_uri)
    assert_refused(presented.reply)
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "FAILED"
    [shown] = result.credentials
    assert failure_name(shown.verification) in {"UNTRUSTED_ISSUER", "UNKNOWN_ISSUER_KEY"}


async def test_a_dc_api_response_is_taken_once(
    presentations: Presentations, holder: Holder
) -> None:
    """The browser's data submitted twice: the first verifies, the second is refused and
    leaves the result as it was."""
    origin = "https://rp.example"
    created = await presentations.create(
        dcql(sd_jwt_query()), response_mode="dc_api.jwt", expected_origins=[origin]
    )
    request = holder.wallet.open_dc_api_request(created.dc_api_request_json, origin=origin)
    data = holder.wallet.answer_dc_api(request, origin=origin)
    transaction_id = created.transaction.transaction_id
    first = await presentations.submit(transaction_id, origin=origin, response=data)
    assert state_name(first) == "VERIFIED", first.failure_detail
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.submit(transaction_id, origin=origin, response=data)
    assert refused.value.code() in (
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert state_name(await presentations.result(transaction_id)) == "VERIFIED"


async def test_a_malformed_dc_api_response_is_an_invalid_argument(
    presentations: Presentations,
) -> None:
    """Browser data that is not JSON, or holds no response: INVALID_ARGUMENT, never INTERNAL."""
    origin = "https://rp.example"
    created = await presentations.create(
        dcql(sd_jwt_query()), response_mode="dc_api.jwt", expected_origins=[origin]
    )
    for data in ("not json", "[]", '{"response": 5}', '{"response": "a.b.c.d.e"}'):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await presentations.submit(
                created.transaction.transaction_id, origin=origin, response=data
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (data, refused.value)
