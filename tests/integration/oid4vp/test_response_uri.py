"""The response URI's answers that a wallet and a relying party's front end rely on,
through a real server: caching, the response code's strength, one winner among concurrent
answers, a replay re-encrypted under a fresh JWE, a tampered presentation, and response URIs
that name no transaction."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from tests.integration.oid4vci.issuer_processes import raw_post
from tests.wallet import ResponseOptions

from .verifier_client import state_name
from .verifier_helpers import (
    Holder,
    Presentations,
    assert_refused,
    dcql,
    final_state,
    mdoc_query,
    sd_jwt_query,
)


async def test_the_answers_are_not_cached(presentations: Presentations, holder: Holder) -> None:
    """The request object and the response URI's 200 carry Cache-Control: no-store: both
    are one transaction's secrets (its nonce, its response code)."""
    created = await presentations.create(
        dcql(sd_jwt_query()), redirect_uri="https://rp.example/done"
    )
    async with holder.wallet.session.get(created.transaction.request_uri) as fetched:
        assert fetched.status == 200
        assert "no-store" in fetched.headers.get("Cache-Control", "")
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    assert "no-store" in presented.reply.headers.get("Cache-Control", "")


async def test_the_response_code_is_long_and_random(
    presentations: Presentations, holder: Holder
) -> None:
    """Two same-device exchanges: different response codes, each of at least 128 bits."""
    codes = []
    for _ in range(2):
        created = await presentations.create(
            dcql(sd_jwt_query()), redirect_uri="https://rp.example/done"
        )
        presented = await holder.wallet.present(created.transaction.authorization_request_uri)
        assert presented.redirect_uri is not None
        parts = urlsplit(presented.redirect_uri)
        found = parse_qs(parts.query).get("response_code") or parse_qs(parts.fragment).get(
            "response_code"
        )
        assert found, presented.redirect_uri
        codes.append(found[0])
    assert codes[0] != codes[1]
    assert all(len(code) >= 22 for code in codes), codes


async def test_concurrent_answers_have_one_winner(
    presentations: Presentations, holder: Holder
) -> None:
    """Five different valid answers (fresh KB-JWTs, fresh JWEs) to one request at once:
    exactly one is accepted, the others refused."""
    created = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    answers = [holder.wallet.build_response(request) for _ in range(5)]
    replies = await asyncio.gather(
        *(holder.wallet.post_response(request, answer) for answer in answers)
    )
    assert sorted(r.status for r in replies) == [200, 400, 400, 400, 400], [
        r.describe() for r in replies
    ]
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED"


async def test_a_reencrypted_replay_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """The accepted payload sent again under a fresh JWE (other bytes, same content): 400."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    again = holder.wallet.build_response(
        presented.request, ResponseOptions(vp_token=presented.response.payload["vp_token"])
    )
    assert again.form != presented.response.form
    assert_refused(await holder.wallet.post_response(presented.request, again))


async def test_a_disclosure_removed_after_signing_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """A disclosure dropped from a signed presentation breaks its sd_hash: FAILED."""
    query = dcql(sd_jwt_query(claims=(("given_name",), ("family_name",))))
    created = await presentations.create(query)
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    [presentation] = holder.wallet.build_response(request).payload["vp_token"]["pid"]
    parts = presentation.split("~")
    assert len(parts) == 4  # issuer JWT, two disclosures, KB-JWT
    tampered = "~".join([parts[0], parts[1], parts[3]])
    answer = holder.wallet.build_response(request, ResponseOptions(vp_token={"pid": [tampered]}))
    assert_refused(await holder.wallet.post_response(request, answer))
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "FAILED"


async def test_response_uris_of_no_transaction_are_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """The response URI with another transaction id, another tenant id, or an extra path
    segment: a 4xx with a JSON error, never a 500, and the real one still works."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    assert request.response_uri is not None
    answer = holder.wallet.build_response(request)
    base, _slash, transaction_id = request.response_uri.rpartition("/")
    wrong = [
        f"{base}/{'0' * len(transaction_id)}",
        f"{base}/{transaction_id}x",
        request.response_uri.replace(presentations.tenant.tenant_id, "0" * 8),
        f"{request.response_uri}/extra",
    ]
    for url in wrong:
        status, document, _headers = await raw_post(
            holder.wallet.session,
            url,
            answer.body,
            content_type="application/x-www-form-urlencoded",
        )
        assert 400 <= status < 500, (url, status, document)
    reply = await holder.wallet.post_response(request, answer)
    assert reply.status == 200, reply.describe()


async def test_a_jwe_with_an_unadvertised_alg_is_refused(
    presentations: Presentations, holder: Holder
) -> None:
    """ECDH-ES+A128KW to the verifier's own key, where only ECDH-ES was advertised: 400,
    and the request stays answerable."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    wrapped = holder.wallet.build_response(
        request, ResponseOptions(jwe_header={"alg": "ECDH-ES+A128KW"})
    )
    assert_refused(await holder.wallet.post_response(request, wrapped))
    reply = await holder.wallet.post_response(request, holder.wallet.build_response(request))
    assert reply.status == 200, reply.describe()


async def test_a_watch_of_a_finished_transaction_gives_its_state_and_ends(
    presentations: Presentations, holder: Holder
) -> None:
    """WatchPresentation on a VERIFIED transaction: one message, VERIFIED, then the end."""
    created = await presentations.create(dcql(sd_jwt_query()))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    states = []

    async def watch() -> None:
        async for update in presentations.watch(created.transaction.transaction_id):
            states.append(state_name(update.transaction))

    await asyncio.wait_for(watch(), 10)
    assert states == ["VERIFIED"]
