"""Two issuer processes on one PostgreSQL database serve one wallet flow: every request of
the flow goes to the other instance than the one before (the wallet's `connect_to`, as a
load balancer without sticky sessions would route it), and whatever is one-time on one
instance (a pre-authorized code, a DPoP jti, a c_nonce) is spent on both.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import grpc
import pytest

from tests.postgres_fixture import new_database, remove_database
from tests.wallet import DpopOptions, KeyPair, Wallet, WalletProvider

from .issuer_processes import Cluster, Offers, authorized, running_issuers, state_name

POLICY_CACHE_SECONDS = 1.0


@pytest.fixture(scope="module")
def issuer_cluster(postgres_server: str) -> Iterator[Cluster]:
    url = new_database(postgres_server)
    try:
        flags = ("--wallet-policy-cache-seconds", str(POLICY_CACHE_SECONDS))
        with running_issuers(url, 2, extra=flags) as (issuers, master):
            yield Cluster(url, issuers, master)
    finally:
        remove_database(postgres_server, url)


def alternating(cluster: Cluster, routed: list[str]) -> Callable[[str], str]:
    """Sends each request to the next instance in turn; `routed` records where."""
    targets = itertools.cycle([issuer.netloc for issuer in cluster.issuers])
    public = cluster.first.netloc

    def route(url: str) -> str:
        parts = urlsplit(url)
        assert parts.netloc == public, url
        target = next(targets)
        routed.append(target)
        return urlunsplit(parts._replace(netloc=target))

    return route


async def test_one_flow_alternates_between_two_instances(
    issuer_cluster: Cluster, offers: Offers, session: aiohttp.ClientSession
) -> None:
    """Offer, metadata, token, nonce, a credential request with 10 proofs and the
    notification, each at the other instance: 10 verified credentials, and a watch on the
    second instance sees every state the first one wrote."""
    routed: list[str] = []
    wallet = Wallet(session, connect_to=alternating(issuer_cluster, routed))
    created = await offers.create(copies=10)
    async with grpc.aio.insecure_channel(issuer_cluster.issuers[1].grpc_address) as channel:
        watcher = Offers(channel, offers.tenant)
        states: list[str] = []

        async def watch() -> None:
            async for update in watcher.watch(created.offer.offer_id):
                states.append(state_name(update.offer))
                if states[-1] == "ACCEPTED":
                    return

        watching = asyncio.create_task(watch())
        await asyncio.sleep(0.3)
        collected = await wallet.collect(created.offer.credential_offer_uri, copies=10)
        assert len(await wallet.verify_collected(collected)) == 10
        assert collected.notification_id
        await asyncio.sleep(0.5)  # more than a watch poll: the stream sees each state apart
        notified = await wallet.notify(
            collected.issuer, collected.access_token, collected.notification_id
        )
        assert notified.status == 204
        await asyncio.wait_for(watching, 20)
    assert states[0] == "OFFERED"
    assert states[-1] == "ACCEPTED"
    assert "CREDENTIALS_ISSUED" in states
    assert {target: routed.count(target) >= 3 for target in set(routed)} == {
        issuer.netloc: True for issuer in issuer_cluster.issuers
    }
    offer = await offers.get(created.offer.offer_id)
    assert len(offer.credential_ids) == 10


async def test_what_is_one_time_on_one_instance_is_spent_on_the_other(
    issuer_cluster: Cluster, offers: Offers, session: aiohttp.ClientSession
) -> None:
    """A code redeemed on A is invalid_grant on B; a DPoP jti used on A is refused on B;
    a c_nonce consumed on A is invalid_nonce on B."""
    a, b = (issuer.netloc for issuer in issuer_cluster.issuers)
    first = Wallet(session, connect_to=_to(a, issuer_cluster))
    second = Wallet(session, dpop_key=first.dpop_key, connect_to=_to(b, issuer_cluster))
    created = await offers.create(copies=3)
    flow = await authorized(first, created.offer.credential_offer_uri)
    assert flow.offer.pre_authorized_code is not None
    again = await second.token(flow.server, flow.offer.pre_authorized_code)
    assert again.error == "invalid_grant"
    second.dpop_nonces.update(first.dpop_nonces)
    used = await flow.request(dpop=DpopOptions(jti="shared-jti-1"))
    assert used.ok, used.describe()
    nonce = await flow.c_nonce()
    replayed = await second.credential(
        flow.issuer,
        flow.access_token,
        configuration_id=flow.configuration_id,
        proofs=second.jwt_proofs(flow.issuer, [KeyPair.generate()], nonce),
        dpop=DpopOptions(jti="shared-jti-1"),
    )
    assert replayed.error == "invalid_dpop_proof"
    spent = await flow.request(proofs=first.jwt_proofs(flow.issuer, [KeyPair.generate()], nonce))
    assert spent.ok, spent.describe()
    on_b = await second.credential(
        flow.issuer,
        flow.access_token,
        configuration_id=flow.configuration_id,
        proofs=second.jwt_proofs(flow.issuer, [KeyPair.generate()], nonce),
    )
    assert on_b.error == "invalid_nonce"


def _to(netloc: str, cluster: Cluster) -> Callable[[str], str]:
    public = cluster.first.netloc

    def route(url: str) -> str:
        parts = urlsplit(url)
        assert parts.netloc == public, url
        return urlunsplit(parts._replace(netloc=netloc))

    return route


async def test_a_policy_set_on_one_instance_applies_on_the_other_within_its_cache_time(
    issuer_cluster: Cluster, offers: Offers, session: aiohttp.ClientSession
) -> None:
    """UpdateWalletPolicy through A; B's metadata requires key attestations within
    --wallet-policy-cache-seconds (plus a poll), and B refuses a plain proof."""
    other = Wallet(session, connect_to=_to(issuer_cluster.issuers[1].netloc, issuer_cluster))
    created = await offers.create(copies=2)
    flow = await authorized(other, created.offer.credential_offer_uri)
    assert (await flow.request()).ok
    provider = WalletProvider()
    await offers.set_policy(
        key_attestation_required=True, wallet_provider_jwks=json.dumps(provider.jwks())
    )
    changed_at = time.monotonic()
    while True:
        metadata = await other.fetch_issuer_metadata(flow.issuer.credential_issuer)
        if "attestation" in metadata.configuration(flow.configuration_id).proof_types:
            break
        assert time.monotonic() - changed_at < POLICY_CACHE_SECONDS + 3, "policy not seen"
        await asyncio.sleep(0.1)
    refused = await flow.request()
    assert refused.error == "invalid_proof"
