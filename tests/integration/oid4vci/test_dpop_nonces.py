"""Server DPoP nonces that go stale (RFC 9449 section 8): a server whose nonce changes
every 2 s (`serve --dpop-nonce-seconds 2`) refuses a nonce older than two periods with
use_dpop_nonce and a fresh `DPoP-Nonce`, at the token endpoint (400) and at the
credential endpoint (401 with a DPoP challenge); a wallet that retries once gets through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.wallet import DpopOptions, Wallet

from .issuer_processes import Cluster, Offers, authorized, sqlite_cluster

NONCE_SECONDS = 2
#: A nonce is accepted in its own period and the next: after this it is stale.
STALE_AFTER = 2 * NONCE_SECONDS + 0.5


@pytest.fixture(scope="module")
def issuer_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from sqlite_cluster(tmp_path_factory, "--dpop-nonce-seconds", str(NONCE_SECONDS))


async def test_a_stale_nonce_at_the_credential_endpoint_is_use_dpop_nonce(
    offers: Offers, wallet: Wallet
) -> None:
    """The nonce from the token response, two periods later: 401 use_dpop_nonce with a new
    DPoP-Nonce; the same request with it succeeds."""
    created = await offers.create()
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    stale = flow.token.dpop_nonce
    assert stale
    await asyncio.sleep(STALE_AFTER)
    refused = await flow.request(dpop=DpopOptions(nonce=stale, retry_on_nonce=False))
    assert refused.status == 401
    assert refused.error == "use_dpop_nonce"
    assert refused.dpop_nonce
    assert refused.dpop_nonce != stale
    assert any(c.scheme.lower() == "dpop" for c in refused.challenges)
    retried = await flow.request(dpop=DpopOptions(nonce=stale))
    assert retried.ok, retried.describe()
    assert len(retried.dpop_proofs) == 2


async def test_a_stale_nonce_at_the_token_endpoint_is_use_dpop_nonce(
    offers: Offers, wallet: Wallet
) -> None:
    """A token request with an old nonce: 400 use_dpop_nonce with a fresh one (RFC 9449
    section 8), and the code is still good for the retry."""
    first = await offers.create()
    flow = await authorized(wallet, first.offer.credential_offer_uri)
    stale = flow.token.dpop_nonce
    assert stale
    second = await offers.create()
    offer = await wallet.resolve_offer(second.offer.credential_offer_uri)
    assert offer.pre_authorized_code is not None
    await asyncio.sleep(STALE_AFTER)
    refused = await wallet.token(
        flow.server, offer.pre_authorized_code, dpop=DpopOptions(nonce=stale, retry_on_nonce=False)
    )
    assert refused.status == 400
    assert refused.error == "use_dpop_nonce"
    assert refused.dpop_nonce
    assert refused.dpop_nonce != stale
    code = offer.pre_authorized_code
    token = await wallet.token(flow.server, code, dpop=DpopOptions(nonce=stale))
    assert token.ok, token.describe()
    assert len(token.dpop_proofs) == 2
