"""Two server processes on one PostgreSQL database serve one presentation: the request is
created at one instance, fetched at the other, answered at the first, and watched at the
second; one response posted to both at once is accepted by exactly one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import grpc
import pytest

from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import Cluster, running_issuers
from tests.postgres_fixture import new_database, remove_database

from .test_flows import issue_sd_jwt, present_sd_jwt
from .test_response_refusals import encrypt_to, post, request_claims
from .verifier_client import Presentations, state_name


@pytest.fixture(scope="module")
def verifier_cluster(postgres_server: str) -> Iterator[Cluster]:
    url = new_database(postgres_server)
    try:
        with running_issuers(url, 2) as (servers, master):
            yield Cluster(url, servers, master)
    finally:
        remove_database(postgres_server, url)


@pytest.fixture
async def second(verifier_cluster: Cluster, tenant: Tenant) -> AsyncIterator[Presentations]:
    async with grpc.aio.insecure_channel(verifier_cluster.issuers[1].grpc_address) as channel:
        yield Presentations(channel, tenant)


def at(cluster: Cluster, index: int, url: str) -> str:
    """`url` (named by the first instance's public URL) sent to instance `index`."""
    parts = urlsplit(url)
    assert parts.netloc == cluster.first.netloc
    return urlunsplit(parts._replace(netloc=cluster.issuers[index].netloc))


@pytest.mark.postgres
async def test_one_presentation_across_two_instances(
    verifier_cluster: Cluster,
    presentations: Presentations,
    second: Presentations,
    channel: grpc.aio.Channel,
    session: aiohttp.ClientSession,
) -> None:
    """Created at the first, fetched at the second, answered at the first: VERIFIED, and
    a watch on the second instance sees it; a replay at the second is refused."""
    created = (await presentations.create()).transaction
    watch = second.watch(created.transaction_id)
    assert state_name((await watch.read()).transaction) == "PENDING"
    claims = await request_claims(session, at(verifier_cluster, 1, created.request_uri))
    issued, holder = await issue_sd_jwt(channel, presentations)
    token = {"pid": [present_sd_jwt(issued.credential, holder, claims)]}
    form = {"response": encrypt_to(claims, {"state": claims["state"], "vp_token": token})}
    assert await post(session, at(verifier_cluster, 0, claims["response_uri"]), form) == (200, {})
    seen = []
    for _ in range(10):
        message = await watch.read()
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]  # exported, not typed
            break
        seen.append(state_name(message.transaction))
    assert seen[-1] == "VERIFIED"
    replayed = await post(session, at(verifier_cluster, 1, claims["response_uri"]), form)
    assert replayed[0] == 400


@pytest.mark.postgres
async def test_a_response_raced_to_both_instances_is_accepted_once(
    verifier_cluster: Cluster, presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """Four copies of one response to each instance at once: one 200, seven 400."""
    created = (await presentations.create()).transaction
    claims = await request_claims(session, created.request_uri)
    form = {"response": encrypt_to(claims, {"state": claims["state"], "error": "access_denied"})}
    targets = [at(verifier_cluster, i % 2, claims["response_uri"]) for i in range(8)]
    answers = await asyncio.gather(*(post(session, uri, form) for uri in targets))
    assert sorted(status for status, _ in answers) == [200] + [400] * 7
    assert state_name(await presentations.get(created.transaction_id)) == "FAILED"
