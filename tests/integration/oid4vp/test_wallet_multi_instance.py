"""Two `eudi-connect serve` instances on one PostgreSQL database serve one OpenID4VP
exchange: the request is created on one, the wallet fetches the request object from one and
posts its response to the other (one public URL, as behind a load balancer), and a watch on
the first instance sees every state the second wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import grpc
import pytest

from tests.integration.oid4vci.issuer_processes import Cluster, Offers, running_issuers
from tests.integration.oid4vci.test_multi_instance import alternating
from tests.postgres_fixture import new_database, remove_database
from tests.wallet import PresentationWallet

from .verifier_client import state_name
from .verifier_helpers import (
    Holder,
    Presentations,
    dcql,
    final_state,
    mdoc_query,
    sd_jwt_query,
    trusted_verifier,
)


@pytest.fixture(scope="module")
def issuer_cluster(postgres_server: str) -> Iterator[Cluster]:
    url = new_database(postgres_server)
    try:
        with running_issuers(url, 2) as (issuers, master):
            yield Cluster(url, issuers, master)
    finally:
        remove_database(postgres_server, url)


async def test_one_exchange_across_two_instances(
    issuer_cluster: Cluster,
    presentations: Presentations,
    holder: Holder,
    session: aiohttp.ClientSession,
) -> None:
    """Request object from one instance, response to the other: VERIFIED, and the second
    instance's gRPC reads and watches what the first wrote."""
    routed: list[str] = []
    wallet = PresentationWallet(
        session,
        trusted=await trusted_verifier(presentations),
        connect_to=alternating(issuer_cluster, routed),
    )
    wallet.held.extend(holder.wallet.held)
    wallet.keys.extend(holder.wallet.keys)
    created = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
    transaction_id = created.transaction.transaction_id
    async with grpc.aio.insecure_channel(issuer_cluster.issuers[1].grpc_address) as channel:
        other = Presentations(channel, presentations.tenant)
        states: list[str] = []

        async def watch() -> None:
            async for update in other.watch(transaction_id):
                states.append(state_name(update.transaction))

        watching = asyncio.create_task(watch())
        await asyncio.sleep(0.3)
        presented = await wallet.present(created.transaction.authorization_request_uri)
        assert presented.reply.status == 200, presented.reply.describe()
        assert len(set(routed)) == 2
        await asyncio.wait_for(watching, 15)
        assert states[0] == "PENDING"
        assert states[-1] == "VERIFIED"
        result = await final_state(other, transaction_id)
        assert state_name(result) == "VERIFIED", result.failure_detail
        assert len(result.credentials) == 2


async def test_a_replay_at_the_other_instance_is_refused(
    issuer_cluster: Cluster, presentations: Presentations, holder: Holder, offers: Offers
) -> None:
    """The same response posted to each instance: one 200, one 400 (the store decides)."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    response = holder.wallet.build_response(request)
    assert request.response_uri is not None
    public = issuer_cluster.first.netloc
    replies = await asyncio.gather(
        *(
            holder.wallet.post_response(
                request,
                response,
                url=request.response_uri.replace(public, issuer.netloc),
            )
            for issuer in issuer_cluster.issuers
        )
    )
    assert sorted(r.status for r in replies) == [200, 400], [r.describe() for r in replies]
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED"
