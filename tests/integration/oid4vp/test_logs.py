"""What a presentation leaves in the server's log at INFO: the access lines of the wallet's
requests name the paths with `{transaction_id}`, and neither the transaction id (which
fetches the request object) nor the nonce, state, or anything presented appears."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import grpc
import pytest

from tests.integration.oid4vci.issuer_processes import Cluster, running_issuers

from .test_flows import issue_sd_jwt, present_sd_jwt, respond
from .test_response_refusals import request_claims
from .verifier_client import Presentations, state_name


@pytest.fixture(scope="module")
def verifier_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('logged') / 'eudi.db'}"
    with running_issuers(db_url, log_level="INFO") as (servers, master):
        yield Cluster(db_url, servers, master)


async def test_a_presentation_logs_no_transaction_id_and_no_secret(
    presentations: Presentations,
    channel: grpc.aio.Channel,
    session: aiohttp.ClientSession,
    verifier_cluster: Cluster,
) -> None:
    """After a verified presentation the log holds the request and response access lines
    with `{transaction_id}`, and none of the id, nonce, state or presentation."""
    created = (await presentations.create()).transaction
    claims = await request_claims(session, created.request_uri)
    issued, holder = await issue_sd_jwt(channel, presentations)
    presentation = present_sd_jwt(issued.credential, holder, claims)
    assert (await respond(session, claims, {"pid": [presentation]}))[0] == 200
    assert state_name(await presentations.get(created.transaction_id)) == "VERIFIED"
    log, paths = "", list[str]()
    deadline = time.monotonic() + 10
    while not any(path.endswith("/responses/{transaction_id}") for path in paths):
        assert time.monotonic() < deadline, "no access line for the response"
        await asyncio.sleep(0.2)
        log = verifier_cluster.first.log.read_text()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        paths = [str(line.get("path", "")) for line in lines]
    assert any(path.endswith("/requests/{transaction_id}") for path in paths)
    for secret in (created.transaction_id, claims["nonce"], claims["state"], presentation):
        assert secret not in log
