"""The response URI's refusals that need no credential: each an HTTP 400 with the
protocol's error, never a 500; what cannot be this request's leaves it open, a wallet's
error response ends it, a replay and an expired request are refused."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
from jwcrypto import jwe, jwk

from tests.integration.oid4vci.issuer_processes import IssuerProcess

from .verifier_client import Presentations, jws_parts, state_name


async def request_claims(session: aiohttp.ClientSession, request_uri: str) -> dict[str, Any]:
    async with session.get(request_uri) as response:
        assert response.status == 200
        _, claims = jws_parts(await response.text())
    return claims


def encrypt_to(claims: dict[str, Any], payload: dict[str, Any], enc: str = "A128GCM") -> str:
    """What a wallet posts: a compact ECDH-ES JWE (jwcrypto) to the request's key."""
    (key,) = claims["client_metadata"]["jwks"]["keys"]
    token = jwe.JWE(
        json.dumps(payload).encode(),
        protected={"alg": "ECDH-ES", "enc": enc, "kid": key["kid"]},
    )
    token.add_recipient(jwk.JWK(**key))
    return str(token.serialize(compact=True))


async def post(
    session: aiohttp.ClientSession, uri: str, data: Any, **headers: str
) -> tuple[int, dict[str, Any]]:
    async with session.post(uri, data=data, headers=headers or None) as response:
        body = await response.json(content_type=None)
        return response.status, body


async def opened(
    presentations: Presentations, session: aiohttp.ClientSession, **fields: Any
) -> tuple[str, dict[str, Any]]:
    created = (await presentations.create(**fields)).transaction
    return created.transaction_id, await request_claims(session, created.request_uri)


async def test_what_cannot_be_this_requests_response_leaves_it_open(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """Plaintext where encryption was required, another request's state, a tampered JWE,
    a JWE for another request's key and an unsupported enc: 400 invalid_request each; the
    transaction stays RETRIEVED."""
    transaction_id, claims = await opened(presentations, session)
    _, other = await opened(presentations, session)
    uri, state = claims["response_uri"], claims["state"]
    vp_token = json.dumps({"pid": ["a~b~"]})
    good = encrypt_to(claims, {"state": state, "vp_token": {"pid": ["a~b~"]}})
    head, key, iv, ciphertext, tag = good.split(".")
    flipped = ciphertext[:-2] + ("A" if ciphertext[-2] != "A" else "B") + ciphertext[-1]
    attempts = [
        {"vp_token": vp_token, "state": state},
        {"response": encrypt_to(claims, {"state": other["state"], "vp_token": {"pid": ["x"]}})},
        {"response": ".".join((head, key, iv, flipped, tag))},
        {"response": encrypt_to(other, {"state": state, "vp_token": {"pid": ["x"]}})},
        {"response": encrypt_to(claims, {"state": state, "vp_token": {}}, enc="A192GCM")},
        {"response": "not-a-jwe"},
    ]
    for form in attempts:
        status, body = await post(session, uri, form)
        assert status == 400, (form, body)
        assert body["error"] == "invalid_request"
        assert body["error_description"]
    assert state_name(await presentations.get(transaction_id)) == "RETRIEVED"


async def test_a_wallet_error_ends_the_request_and_a_replay_is_refused(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """An encrypted access_denied is answered 200 {} and ends FAILED with ACCESS_DENIED;
    the same response posted again is 400."""
    transaction_id, claims = await opened(presentations, session)
    form = {"response": encrypt_to(claims, {"state": claims["state"], "error": "access_denied"})}
    assert await post(session, claims["response_uri"], form) == (200, {})
    ended = await presentations.get(transaction_id)
    assert state_name(ended) == "FAILED"
    assert ended.failure_reason == "ACCESS_DENIED"
    status, body = await post(session, claims["response_uri"], form)
    assert (status, body["error"]) == (400, "invalid_request")
    assert state_name(await presentations.get(transaction_id)) == "FAILED"


async def test_a_wallet_error_is_redirected_when_the_request_has_a_redirect_uri(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """Section 8.2: the error response gets the redirect_uri with the response_code the
    FAILED transaction shows, so the front end learns how the flow ended."""
    transaction_id, claims = await opened(
        presentations, session, redirect_uri="https://rp.example/done"
    )
    form = {"response": encrypt_to(claims, {"state": claims["state"], "error": "access_denied"})}
    status, body = await post(session, claims["response_uri"], form)
    ended = await presentations.get(transaction_id)
    assert state_name(ended) == "FAILED"
    assert len(ended.response_code) >= 32
    assert (status, body) == (
        200,
        {"redirect_uri": f"https://rp.example/done?response_code={ended.response_code}"},
    )


async def test_concurrent_responses_are_accepted_once(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """Eight copies of one response posted at once: one 200, seven 400."""
    _, claims = await opened(presentations, session)
    form = {"response": encrypt_to(claims, {"state": claims["state"], "error": "access_denied"})}
    answers = await asyncio.gather(*(post(session, claims["response_uri"], form) for _ in range(8)))
    assert sorted(status for status, _ in answers) == [200] + [400] * 7


async def test_a_response_after_expiry_is_refused(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """A request of 1 s lifetime refuses its response after 2 s and reads EXPIRED; its
    request object is no longer served."""
    created = (await presentations.create(lifetime_seconds=1)).transaction
    claims = await request_claims(session, created.request_uri)
    await asyncio.sleep(2.1)
    form = {"response": encrypt_to(claims, {"state": claims["state"], "error": "access_denied"})}
    status, body = await post(session, claims["response_uri"], form)
    assert (status, body["error"]) == (400, "invalid_request")
    assert "expired" in body["error_description"]
    assert state_name(await presentations.get(created.transaction_id)) == "EXPIRED"
    async with session.get(created.request_uri) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request_uri"


async def test_malformed_posts_are_refused_never_a_500(
    presentations: Presentations, session: aiohttp.ClientSession, verifier: IssuerProcess
) -> None:
    """JSON instead of a form, bytes that are no UTF-8, a repeated field, an oversized
    body, an unknown transaction: 400; an unknown tenant: 404."""
    transaction_id, claims = await opened(presentations, session)
    uri = claims["response_uri"]
    form_type = "application/x-www-form-urlencoded"
    cases: list[tuple[Any, dict[str, str]]] = [
        (json.dumps({"response": "x"}), {"Content-Type": "application/json"}),
        (b"response=\xff\xfe", {"Content-Type": form_type}),
        ("state=a&state=b", {"Content-Type": form_type}),
        (io.BytesIO(b"response=" + b"a" * (1024 * 1024)), {"Content-Type": form_type}),
    ]
    for data, headers in cases:
        status, body = await post(session, uri, data, **headers)
        assert status == 400, body
        assert body["error"] == "invalid_request"
    unknown = uri.replace(transaction_id, "0" * 32)
    assert (await post(session, unknown, {"error": "access_denied"}))[0] == 400
    ghost = uri.replace(presentations.tenant.tenant_id, "nobody")
    assert (await post(session, ghost, {"error": "access_denied"}))[0] == 404
    assert state_name(await presentations.get(transaction_id)) == "RETRIEVED"


async def test_garbage_in_a_plain_response_is_a_400_never_a_500(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """direct_post responses with the right state and a broken vp_token (not JSON, an
    array, empty, non-string presentations, garbage presentations, an empty error code)
    are 400 invalid_request, and end the transaction FAILED with a reason."""
    broken = [
        "{",
        "[]",
        "{}",
        json.dumps({"pid": [1]}),
        json.dumps({"pid": []}),
        json.dumps({"pid": ["garbage~"]}),
        json.dumps({"pid": ["b3duZXI"]}),
        json.dumps({"pid": ["x"] * 17}),
    ]
    for vp_token in broken:
        transaction_id, claims = await opened(presentations, session, response_mode="direct_post")
        status, body = await post(
            session, claims["response_uri"], {"vp_token": vp_token, "state": claims["state"]}
        )
        assert (status, body["error"]) == (400, "invalid_request"), vp_token
        ended = await presentations.get(transaction_id)
        assert state_name(ended) == "FAILED", vp_token
        assert ended.failure_reason, vp_token
    transaction_id, claims = await opened(presentations, session, response_mode="direct_post")
    status, body = await post(
        session, claims["response_uri"], {"error": "", "state": claims["state"]}
    )
    assert status == 400
    status, body = await post(session, claims["response_uri"], {"state": claims["state"]})
    assert status == 400


async def test_garbage_wallet_metadata_is_a_400_never_a_500(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """A request URI POST with wallet_metadata that is no JSON object, or names no
    encryption we offer, or an unprintable wallet_nonce, is 400 with the protocol's code."""
    created = (await presentations.create(request_uri_method="post")).transaction
    for form in (
        {"wallet_metadata": "{"},
        {"wallet_metadata": "[1]"},
        {"wallet_metadata": json.dumps({"authorization_encryption_enc_values_supported": ["X"]})},
        {"wallet_metadata": json.dumps({"client_id_prefixes_supported": ["did"]})},
        {"wallet_nonce": "a b"},
    ):
        status, body = await post(session, created.request_uri, form)
        assert status == 400, form
        assert body["error"] == "invalid_request", form
