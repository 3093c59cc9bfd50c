"""Two server processes on one PostgreSQL database serve one presentation: the request is
created at one instance, fetched at the other, answered at the first, and watched at the
second; one response posted to both at once is accepted by exactly one; a request made
before a DNS name change is still signed with its own identity at the other instance."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk, jws

from eudi_connect.core.oid4vp.client_id import x509_hash
from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import Cluster, running_issuers
from tests.postgres_fixture import new_database, remove_database

from .test_flows import issue_sd_jwt, present_sd_jwt
from .test_response_refusals import encrypt_to, post, request_claims
from .test_wallet_variations import identity_named, set_dns_name
from .verifier_client import Presentations, jws_parts, state_name


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


@pytest.mark.postgres
async def test_a_request_made_before_a_rename_keeps_its_identity_at_every_instance(
    verifier_cluster: Cluster,
    presentations: Presentations,
    second: Presentations,
    session: aiohttp.ClientSession,
) -> None:
    """Created at the first instance, then `verifier set-dns-name`, then fetched at the
    second (which has the new identity): signed by the certificate its client id names."""
    created = (await presentations.create(client_id_prefix="x509_hash")).transaction
    before = await second.identity()
    await asyncio.to_thread(set_dns_name, verifier_cluster, presentations.tenant, "moved.example")
    renamed = await identity_named(second, "moved.example")
    assert renamed.dns_name == "moved.example"
    assert created.client_id in before.client_ids
    assert created.client_id not in renamed.client_ids
    async with session.get(at(verifier_cluster, 1, created.request_uri)) as reply:
        assert reply.status == 200, await reply.text()
        token = await reply.text()
    header, claims = jws_parts(token)
    leaf = base64.b64decode(header["x5c"][0])
    assert claims["client_id"] == created.client_id == f"x509_hash:{x509_hash(leaf)}"
    public_pem = (
        x509.load_der_x509_certificate(leaf)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(jwk.JWK.from_pem(public_pem))
