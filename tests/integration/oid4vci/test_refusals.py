"""What a real issuer process refuses, and how: every refusal is the protocol's error code
with a description (RFC 6749 section 5.2, RFC 6750 section 3, RFC 9449 section 7.1,
OpenID4VCI 1.0 sections 6.3, 8.3.1.2, 9.3, 11.3), never a 500, and leaves nothing issued.

The test wallet (strict) checks the shape of every error reply itself: JSON with `error`,
the description's character set, a DPoP challenge on every 401, a `DPoP-Nonce` with
`use_dpop_nonce`.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.wallet import DpopOptions, KeyPair, ProtocolViolation, Wallet

from .issuer_processes import (
    IssuerProcess,
    Offers,
    authorized,
    raw_post,
    state_name,
    wrong_code,
)

# --- token endpoint --------------------------------------------------------------------


async def test_a_pre_authorized_code_is_redeemed_once(offers: Offers, wallet: Wallet) -> None:
    """The second token request with the same code is invalid_grant (section 6.3)."""
    created = await offers.create()
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    code = flow.offer.pre_authorized_code
    assert code is not None
    again = await wallet.token(flow.server, code)
    assert again.status == 400
    assert again.error == "invalid_grant"


async def test_wrong_transaction_codes_end_the_offer(offers: Offers, wallet: Wallet) -> None:
    """Each wrong tx_code is invalid_grant; the third ends the offer (FAILED), after which
    even the right code is refused."""
    created = await offers.create(tx_code_length=6)
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    code = offer.pre_authorized_code
    assert code is not None
    for attempt in range(3):
        reply = await wallet.token(server, code, tx_code=wrong_code(created.tx_code))
        assert reply.status == 400
        assert reply.error == "invalid_grant"
        state = state_name(await offers.get(created.offer.offer_id))
        assert state == ("FAILED" if attempt == 2 else "OFFERED")
    right = await wallet.token(server, code, tx_code=created.tx_code)
    assert right.error == "invalid_grant"
    failed = await offers.get(created.offer.offer_id)
    assert failed.failure_reason
    assert list(failed.credential_ids) == []


async def test_parallel_wrong_codes_cannot_outnumber_the_attempts(
    offers: Offers, session: aiohttp.ClientSession
) -> None:
    """Ten wrong tx_codes sent at once (each from its own wallet): every one is
    invalid_grant, the offer is FAILED, and the right code is refused afterwards, so
    guessing in parallel gains nothing."""
    created = await offers.create(tx_code_length=6)
    wallets = [Wallet(session) for _ in range(11)]
    offer = await wallets[0].resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallets[0].discover(offer)
    code = offer.pre_authorized_code
    assert code is not None
    for wallet in wallets:  # each gets the server's DPoP nonce first, so none waits
        await wallet.nonce(await wallet.fetch_issuer_metadata(offer.credential_issuer))
        wallet.dpop_nonces["authorization_server"] = wallet.dpop_nonces["resource_server"]
    guesses = [f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" != created.tx_code][:10]
    replies = await asyncio.gather(
        *(w.token(server, code, tx_code=g) for w, g in zip(wallets, guesses, strict=False))
    )
    assert {r.error for r in replies} == {"invalid_grant"}
    assert state_name(await offers.get(created.offer.offer_id)) == "FAILED"
    right = await wallets[10].token(server, code, tx_code=created.tx_code)
    assert right.error == "invalid_grant"


async def test_a_missing_or_unexpected_transaction_code_is_invalid_request(
    offers: Offers, wallet: Wallet
) -> None:
    """Section 6.3: no code where one is expected, or one where none is, is invalid_request
    and costs no attempt."""
    guarded = await offers.create(tx_code_length=6)
    offer = await wallet.resolve_offer(guarded.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    assert offer.pre_authorized_code is not None
    missing = await wallet.token(server, offer.pre_authorized_code)
    assert missing.error == "invalid_request"
    open_offer = await offers.create()
    plain = await wallet.resolve_offer(open_offer.offer.credential_offer_uri)
    assert plain.pre_authorized_code is not None
    unexpected = await wallet.token(server, plain.pre_authorized_code, tx_code="123456")
    assert unexpected.error == "invalid_request"
    redeemed = await wallet.token(server, offer.pre_authorized_code, tx_code=guarded.tx_code)
    assert redeemed.ok, redeemed.describe()


async def test_an_expired_offer_is_neither_served_nor_redeemed(
    offers: Offers, wallet: Wallet, session: aiohttp.ClientSession
) -> None:
    """After its lifetime the offer object is gone, its code is invalid_grant, and the
    internal service reads EXPIRED."""
    created = await offers.create(lifetime=1)
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    await asyncio.sleep(1.5)
    async with session.get(created.offer.offer_url) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"
    assert offer.pre_authorized_code is not None
    reply = await wallet.token(server, offer.pre_authorized_code)
    assert reply.error == "invalid_grant"
    assert state_name(await offers.get(created.offer.offer_id)) == "EXPIRED"


async def test_a_token_request_needs_a_dpop_proof(offers: Offers, wallet: Wallet) -> None:
    """Access tokens are always DPoP-bound (HAIP): no proof, no token."""
    created = await offers.create()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    assert offer.pre_authorized_code is not None
    reply = await wallet.token(server, offer.pre_authorized_code, dpop=DpopOptions(send=False))
    assert reply.status == 400
    assert reply.error == "invalid_dpop_proof"
    redeemed = await wallet.token(server, offer.pre_authorized_code)
    assert redeemed.ok, "a refused request does not use the code up"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"grant_type": None}, "unsupported_grant_type"),
        ({"pre-authorized_code": None}, "invalid_request"),
        ({"pre-authorized_code": "not-a-code"}, "invalid_grant"),
    ],
)
async def test_malformed_token_requests_get_oauth_errors(
    offers: Offers, wallet: Wallet, form: dict[str, str | None], error: str
) -> None:
    """A wrong grant type, a missing or unknown code: RFC 6749 section 5.2 codes."""
    created = await offers.create()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    assert offer.pre_authorized_code is not None
    reply = await wallet.token(server, offer.pre_authorized_code, form=form)
    assert reply.status == 400
    assert reply.error == error


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code"}', "text/json"),
        (b'{"grant_type": "authorization_code"}', "application/json"),
        (b"grant_type=a&grant_type=b&pre-authorized_code=c", "application/x-www-form-urlencoded"),
        (b"\xff\xfe" * 64, "application/x-www-form-urlencoded"),
    ],
)
async def test_token_bodies_that_are_no_form_are_invalid_request(
    session: aiohttp.ClientSession,
    offers: Offers,
    issuer: IssuerProcess,
    body: bytes,
    content_type: str,
) -> None:
    """JSON instead of a form, a repeated parameter, bytes that are no form."""
    url = issuer.issuer_url(offers.tenant) + "/token"
    status, document, headers = await raw_post(session, url, body, content_type=content_type)
    assert status == 400
    assert document["error"] in ("invalid_request", "unsupported_grant_type")
    assert headers["Cache-Control"] == "no-store"


# --- DPoP at the protected endpoints ----------------------------------------------------


async def test_a_credential_request_without_dpop_is_a_401_challenge(
    offers: Offers, wallet: Wallet
) -> None:
    """No DPoP header: 401 with a DPoP challenge (RFC 9449 section 7.1)."""
    flow = await authorized(wallet, (await offers.create()).offer.credential_offer_uri)
    reply = await flow.request(dpop=DpopOptions(send=False))
    assert reply.status == 401
    assert reply.error == "invalid_dpop_proof"
    assert any(c.scheme.lower() == "dpop" for c in reply.challenges)


@pytest.mark.parametrize(
    ("dpop", "error"),
    [
        (DpopOptions(claims={"ath": "d3JvbmctYWNjZXNzLXRva2VuLWhhc2g"}), "invalid_dpop_proof"),
        (DpopOptions(drop=("ath",)), "invalid_dpop_proof"),
        (DpopOptions(method="GET"), "invalid_dpop_proof"),
        (DpopOptions(url="http://127.0.0.1:1/elsewhere"), "invalid_dpop_proof"),
        (DpopOptions(iat_offset=-3600), "invalid_dpop_proof"),
        (DpopOptions(key=KeyPair.generate()), "invalid_token"),
        (DpopOptions(scheme="Bearer"), "invalid_token"),
    ],
    ids=["wrong-ath", "no-ath", "wrong-htm", "wrong-htu", "old-iat", "other-key", "bearer"],
)
async def test_a_broken_dpop_proof_is_refused(
    offers: Offers, wallet: Wallet, dpop: DpopOptions, error: str
) -> None:
    """Wrong or missing ath, another method or URL, an old proof, another key than the
    token's, the Bearer scheme: 401 with a DPoP challenge, and no credential."""
    created = await offers.create()
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    reply = await flow.request(dpop=dpop)
    assert reply.status == 401
    assert reply.error == error
    assert list((await offers.get(created.offer.offer_id)).credential_ids) == []
    assert (await flow.request()).ok, "the token still works with a good proof"


async def test_a_replayed_dpop_proof_is_refused(offers: Offers, wallet: Wallet) -> None:
    """The same DPoP jti twice (RFC 9449 section 11.1): the second is refused."""
    created = await offers.create(copies=2)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    first = await flow.request(dpop=DpopOptions(jti="fixed-jti-0001"))
    assert first.ok, first.describe()
    again = await flow.request(dpop=DpopOptions(jti="fixed-jti-0001"))
    assert again.status == 401
    assert again.error == "invalid_dpop_proof"
    assert len((await offers.get(created.offer.offer_id)).credential_ids) == 1


async def test_a_made_up_dpop_nonce_asks_for_the_server_s(offers: Offers, wallet: Wallet) -> None:
    """A nonce the server never gave: use_dpop_nonce with a DPoP-Nonce to retry with, and
    the retry succeeds."""
    flow = await authorized(wallet, (await offers.create()).offer.credential_offer_uri)
    reply = await flow.request(dpop=DpopOptions(nonce="not-a-server-nonce", retry_on_nonce=False))
    assert reply.status == 401
    assert reply.error == "use_dpop_nonce"
    assert reply.dpop_nonce
    retried = await flow.request(dpop=DpopOptions(nonce="not-a-server-nonce"))
    assert retried.ok, retried.describe()
    assert len(retried.dpop_proofs) == 2


async def test_an_access_token_of_another_tenant_is_refused(
    offers: Offers, wallet: Wallet, issuer: IssuerProcess, local: object
) -> None:
    """Tenant A's token at tenant B's credential endpoint, A's code at B's token endpoint,
    A's offer under B's URL: each refused, none answered as B's."""
    from eudi_connect.services.app import Services

    from .issuer_processes import new_tenant

    assert isinstance(local, Services)
    other = await new_tenant(local, "Other Issuer")
    created = await offers.create()
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    theirs = await wallet.fetch_issuer_metadata(issuer.issuer_url(other))
    reply = await wallet.credential(
        theirs,
        flow.access_token,
        configuration_id=flow.configuration_id,
        proofs=flow.wallet.jwt_proofs(theirs, [KeyPair.generate()], await flow.c_nonce()),
    )
    assert reply.status == 401
    assert reply.error == "invalid_token"
    second = await offers.create()
    offer = await wallet.resolve_offer(second.offer.credential_offer_uri)
    their_server = await wallet.fetch_authorization_server_metadata(issuer.issuer_url(other))
    assert offer.pre_authorized_code is not None
    token = await wallet.token(their_server, offer.pre_authorized_code)
    assert token.error == "invalid_grant"
    with pytest.raises(ProtocolViolation):
        await wallet.fetch_offer(f"{issuer.issuer_url(other)}/offers/{second.offer.offer_id}")


# --- proofs ------------------------------------------------------------------------------


async def test_more_proofs_than_the_offer_allows_are_refused_not_cut(
    offers: Offers, wallet: Wallet
) -> None:
    """3 proofs against 2 copies: invalid_credential_request and nothing issued; 2 then
    work."""
    created = await offers.create(copies=2)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    reply = await flow.request([KeyPair.generate() for _ in range(3)])
    assert reply.status == 400
    assert reply.error == "invalid_credential_request"
    offer = await offers.get(created.offer.offer_id)
    assert list(offer.credential_ids) == []
    assert offer.copies_remaining == 2
    issued = await flow.request([KeyPair.generate() for _ in range(2)])
    assert len(issued.credentials) == 2


async def test_requests_in_parallel_cannot_exceed_the_offer_s_copies(
    offers: Offers, wallet: Wallet
) -> None:
    """Four requests of one key each at once against 2 copies: two get a credential, two
    are invalid_credential_request, the offer holds two credentials, and both answers name
    the one notification_id the offer keeps."""
    created = await offers.create(copies=2)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    replies = await asyncio.gather(*(flow.request() for _ in range(4)))
    assert sorted(r.status for r in replies) == [200, 200, 400, 400], [
        r.describe() for r in replies
    ]
    assert {r.error for r in replies if not r.ok} == {"invalid_credential_request"}
    offer = await offers.get(created.offer.offer_id)
    assert len(offer.credential_ids) == 2
    assert offer.copies_remaining == 0
    [notification_id] = {r.notification_id for r in replies if r.ok}
    assert notification_id
    notified = await wallet.notify(flow.issuer, flow.access_token, notification_id)
    assert notified.status == 204, notified.describe()


async def test_more_proofs_than_the_batch_size_are_refused(offers: Offers, wallet: Wallet) -> None:
    """11 proofs where batch_size is 10: refused before any is checked."""
    created = await offers.create(copies=10)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    reply = await flow.request([KeyPair.generate() for _ in range(11)])
    assert reply.status == 400
    assert reply.error == "invalid_credential_request"
    assert list((await offers.get(created.offer.offer_id)).credential_ids) == []


async def test_a_key_is_used_once_per_offer(offers: Offers, wallet: Wallet) -> None:
    """The same key twice in one request, or again in a later request of the same offer:
    invalid_proof, and no second credential for it."""
    created = await offers.create(copies=4)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    key = KeyPair.generate()
    twice = await flow.request([key, key])
    assert twice.error == "invalid_proof"
    first = await flow.request([key])
    assert first.ok, first.describe()
    reused = await flow.request([KeyPair.generate(), key])
    assert reused.status == 400
    assert reused.error == "invalid_proof"
    assert len((await offers.get(created.offer.offer_id)).credential_ids) == 1


async def test_a_c_nonce_is_good_once(offers: Offers, wallet: Wallet) -> None:
    """A c_nonce used in one request is invalid_nonce in the next; a made-up one too; a
    proof without any is invalid_proof."""
    created = await offers.create(copies=4)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    nonce = await flow.c_nonce()
    first = await flow.request(proofs=wallet.jwt_proofs(flow.issuer, [KeyPair.generate()], nonce))
    assert first.ok, first.describe()
    replayed = await flow.request(
        proofs=wallet.jwt_proofs(flow.issuer, [KeyPair.generate()], nonce)
    )
    assert replayed.error == "invalid_nonce"
    made_up = await flow.request(
        proofs=wallet.jwt_proofs(flow.issuer, [KeyPair.generate()], "made-up-nonce")
    )
    assert made_up.error == "invalid_nonce"
    missing = await flow.request(proofs=wallet.jwt_proofs(flow.issuer, [KeyPair.generate()], None))
    assert missing.error == "invalid_proof"


@pytest.mark.parametrize(
    "change",
    [
        {"claims": {"aud": "https://issuer.example/elsewhere"}},
        {"claims": {"iss": "https://wallet.example/unasked"}},
        {"claims": {"iat": 1_000_000_000}},
        {"header": {"typ": "JWT"}},
        {"header": {"kid": "k-1"}},
        {"header": {"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}},
    ],
    ids=["aud", "iss-anonymous", "old-iat", "typ", "kid-and-jwk", "bad-jwk"],
)
async def test_a_bad_key_proof_is_invalid_proof(
    offers: Offers, wallet: Wallet, change: dict[str, dict[str, object]]
) -> None:
    """Appendix F.4: audience, anonymous iss, freshness, typ, alg and the header key."""
    from tests.wallet import jwt_key_proof

    created = await offers.create()
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    proof = jwt_key_proof(
        KeyPair.generate(),
        audience=flow.issuer.credential_issuer,
        nonce=await flow.c_nonce(),
        claims=change.get("claims"),
        header=change.get("header"),
    )
    reply = await flow.request(proofs={"jwt": [proof]})
    assert reply.status == 400
    assert reply.error == "invalid_proof"


async def test_an_unsigned_key_proof_is_invalid_proof(offers: Offers, wallet: Wallet) -> None:
    """`alg: none` (RFC 8725 section 3.1): refused before anything else is read."""
    from tests.wallet import unsigned_jwt

    flow = await authorized(wallet, (await offers.create()).offer.credential_offer_uri)
    key = KeyPair.generate()
    header = {"typ": "openid4vci-proof+jwt", "alg": "none", "jwk": key.public_jwk()}
    claims = {"aud": flow.issuer.credential_issuer, "iat": 0, "nonce": await flow.c_nonce()}
    reply = await flow.request(proofs={"jwt": [unsigned_jwt(header, claims)]})
    assert reply.status == 400
    assert reply.error == "invalid_proof"


PID = {"credential_configuration_id": "pid.dc+sd-jwt"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (PID, "invalid_proof"),
        ({**PID, "proofs": {}}, "invalid_proof"),
        ({**PID, "proofs": {"jwt": "x"}}, "invalid_proof"),
        ({**PID, "proofs": {"jwt": []}}, "invalid_proof"),
        ({**PID, "proofs": {"jwt": ["x.y.z"]}}, "invalid_proof"),
        ({**PID, "proofs": {"jwt": [7]}}, "invalid_proof"),
        ({**PID, "proofs": {"jwt": ["a"], "attestation": ["b"]}}, "invalid_proof"),
        ({**PID, "proofs": {"di_vp": [{}]}}, "invalid_proof"),
        ({"proofs": {"jwt": ["a"]}}, "invalid_credential_request"),
        ({"credential_configuration_id": 5}, "invalid_credential_request"),
        ({"credential_configuration_id": "mdl.mso_mdoc"}, "unknown_credential_configuration"),
        ({"credential_identifier": "pid-1"}, "unknown_credential_identifier"),
        ({**PID, "credential_response_encryption": {}}, "invalid_encryption_parameters"),
    ],
)
async def test_malformed_credential_requests_get_their_error_code(
    offers: Offers, wallet: Wallet, body: dict[str, object], error: str
) -> None:
    """Section 8.3.1.2: each malformed request gets the code the spec names."""
    flow = await authorized(wallet, (await offers.create()).offer.credential_offer_uri)
    reply = await flow.request(body=body)
    assert reply.status == 400
    assert reply.error == error


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"a string"', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"credential_configuration_id": "pid.dc+sd-jwt"}', "text/plain"),
        (b"\xff\xfe\xfd", "application/json"),
        (b'{"a": "' + b"x" * 300_000 + b'"}', "application/json"),
        pytest.param(
            b'{"a": "' + b"x" * 3_000_000 + b'"}',
            "application/json",
            # the test client's own warning about sending 3 MB at once
            marks=pytest.mark.filterwarnings("ignore:Sending a large body:ResourceWarning"),
        ),
    ],
    ids=["broken", "array", "string", "deep", "text-plain", "not-utf8", "too-large", "huge"],
)
async def test_credential_bodies_that_are_no_json_object_are_invalid_request(
    offers: Offers,
    wallet: Wallet,
    issuer: IssuerProcess,
    raw: bytes,
    content_type: str,
) -> None:
    """Broken JSON, an array, a string, nesting deep enough to crash a naive parser, the
    wrong media type, bytes that are no UTF-8, a body over the limit: 400
    invalid_credential_request, never a 500."""
    flow = await authorized(wallet, (await offers.create()).offer.credential_offer_uri)
    reply = await flow.request(raw_body=raw, headers={"Content-Type": content_type})
    assert reply.status == 400, reply.describe()
    assert reply.error == "invalid_credential_request"


async def test_the_deferred_and_notification_endpoints_refuse_malformed_requests(
    offers: Offers, wallet: Wallet
) -> None:
    """An unknown transaction_id is invalid_transaction_id (section 9.3); a notification
    without its fields is invalid_notification_request (section 11.3)."""
    created = await offers.create()
    collected = await wallet.collect(created.offer.credential_offer_uri)
    unknown = await wallet.deferred_credential(
        collected.issuer, collected.access_token, "no-such-transaction"
    )
    assert unknown.status == 400
    assert unknown.error == "invalid_transaction_id"
    empty = await wallet.notify(
        collected.issuer, collected.access_token, "x", body={"something": "else"}
    )
    assert empty.status == 400
    assert empty.error in ("invalid_notification_id", "invalid_notification_request")


async def test_unknown_issuers_and_methods_are_plain_http_errors(
    session: aiohttp.ClientSession, issuer: IssuerProcess
) -> None:
    """Metadata of a tenant that does not exist is 404; GET on a POST endpoint 405."""
    url = f"{issuer.public_url}/.well-known/openid-credential-issuer/issuers/nobody"
    async with session.get(url) as response:
        assert response.status == 404
    async with session.get(f"{issuer.public_url}/issuers/nobody/nonce") as response:
        assert response.status == 405
    status, document, _ = await raw_post(
        session, f"{issuer.public_url}/issuers/nobody/nonce", b"", content_type="text/plain"
    )
    assert status == 404, document
