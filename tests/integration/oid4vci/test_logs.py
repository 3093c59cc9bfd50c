"""What a wallet flow leaves in the server's log at INFO (one access line per request):
no pre-authorized code, access token, c_nonce, transaction code, proof or credential, and
no offer id either, which fetches the offer and its code."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from tests.wallet import Wallet

from .issuer_processes import Cluster, Offers, running_issuers


@pytest.fixture(scope="module")
def issuer_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('logged') / 'eudi.db'}"
    with running_issuers(db_url, log_level="INFO") as (issuers, master):
        yield Cluster(db_url, issuers, master)


async def test_a_flow_logs_no_secret_and_no_offer_id(
    offers: Offers, wallet: Wallet, issuer_cluster: Cluster
) -> None:
    """After a whole flow with a transaction code and a notification, the log has the
    access lines of every wallet request (the offer's path with `{offer_id}`), and none of
    the flow's secrets or its offer id."""
    created = await offers.create(tx_code_length=6, copies=2)
    collected = await wallet.collect(
        created.offer.credential_offer_uri, tx_code=created.tx_code, copies=2
    )
    assert collected.notification_id
    await wallet.notify(collected.issuer, collected.access_token, collected.notification_id)
    log, paths = "", list[str]()
    deadline = time.monotonic() + 10
    while not any(path.endswith("/notification") for path in paths):
        # access lines reach the log in batches, a little after their requests
        assert time.monotonic() < deadline, "no access line for the notification"
        await asyncio.sleep(0.2)
        log = issuer_cluster.first.log.read_text()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        paths = [str(line.get("path", "")) for line in lines]
    assert any(path.endswith("/offers/{offer_id}") for path in paths)
    assert any(path.endswith("/credential") for path in paths)
    code = collected.offer.pre_authorized_code
    assert code is not None
    secrets = [
        created.offer.offer_id,
        code,
        created.tx_code,
        collected.access_token,
        collected.notification_id,
        collected.c_nonce or "no-c-nonce",
        *collected.credentials,
        *collected.token.dpop_proofs,
    ]
    for secret in secrets:
        assert secret not in log
