"""`eudi-connect verifier ...` (on the database) and `eudi-connect presentation ...` (a
client) as an operator runs them, against a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import Cluster, IssuerProcess
from tests.integration.processes import CLI
from tests.integration.template_helpers import expect_error

from .test_response_refusals import encrypt_to, post, request_claims
from .verifier_client import PID_QUERY, Presentations

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(
    argv: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


def verifier_cli(
    cluster: Cluster, tenant: Tenant, *argv: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EUDI_CONNECT_MASTER_KEY": cluster.master.to_text()}
    return run(
        ["verifier", *argv, "--tenant", tenant.tenant_id, "--db", cluster.db_url], cwd=cwd, env=env
    )


def presentation_cli(
    verifier: IssuerProcess, tenant: Tenant, *argv: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    connection = ["--address", verifier.grpc_address, "--api-key", tenant.api_key]
    return run(["presentation", *argv, *connection], cwd=cwd)


def as_json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


async def test_verifier_show_and_set_dns_name(
    verifier_cluster: Cluster, presentations: Presentations, tmp_path: Path
) -> None:
    """`verifier show` prints what GetVerifierIdentity returns; `set-dns-name` gives the
    tenant a new certificate that the server serves within its refresh interval, after
    which x509_san_dns requests need that host and x509_hash ones still work."""
    tenant = presentations.tenant
    shown = as_json(
        await asyncio.to_thread(verifier_cli, verifier_cluster, tenant, "show", cwd=tmp_path)
    )
    identity = await presentations.identity()
    assert shown["dns_name"] == identity.dns_name == "127.0.0.1"
    assert shown["client_ids"] == list(identity.client_ids)
    assert shown["certificate_chain_pem"] == identity.certificate_chain_pem
    renamed = as_json(
        await asyncio.to_thread(
            verifier_cli, verifier_cluster, tenant, "set-dns-name", "Verifier.Example", cwd=tmp_path
        )
    )
    assert renamed["dns_name"] == "verifier.example"
    assert renamed["client_ids"][0] == "x509_san_dns:verifier.example"
    deadline = time.monotonic() + 15
    while (await presentations.identity()).dns_name != "verifier.example":
        assert time.monotonic() < deadline, "the server never saw the new DNS name"
        await asyncio.sleep(0.5)
    assert (await presentations.identity()).certificate_chain_pem == renamed[
        "certificate_chain_pem"
    ]
    await expect_error(
        presentations.create(),
        grpc.StatusCode.FAILED_PRECONDITION,
        "VERIFIER_DNS_NAME_MISMATCH",
    )
    by_hash = (await presentations.create(client_id_prefix="x509_hash")).transaction
    assert by_hash.client_id == renamed["client_ids"][1]
    refused = await asyncio.to_thread(
        verifier_cli, verifier_cluster, tenant, "set-dns-name", "not a name", cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "VERIFIER_DNS_NAME_INVALID" in refused.stderr


async def test_presentation_request_result_and_watch(
    verifier: IssuerProcess,
    presentations: Presentations,
    session: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    """`presentation request --qr` prints the transaction id and openid4vp:// URI and
    writes a PNG; `result` prints PENDING; `watch` prints each state until the wallet's
    error ends it FAILED."""
    tenant = presentations.tenant
    (tmp_path / "query.json").write_text(json.dumps(PID_QUERY))
    created = await asyncio.to_thread(
        presentation_cli,
        verifier,
        tenant,
        "request",
        "--dcql",
        "query.json",
        "--qr",
        "--qr-file",
        "request.png",
        "--lifetime",
        "120",
        cwd=tmp_path,
    )
    summary = as_json(created)
    assert summary["state"] == "PENDING"
    assert summary["authorization_request_uri"].startswith("openid4vp://?client_id=")
    assert summary["credentials"] == {}
    assert (tmp_path / "request.png").read_bytes().startswith(PNG_SIGNATURE)
    transaction_id = summary["transaction_id"]
    result = as_json(
        await asyncio.to_thread(
            presentation_cli, verifier, tenant, "result", transaction_id, cwd=tmp_path
        )
    )
    assert (result["transaction_id"], result["state"]) == (transaction_id, "PENDING")
    connection = ["--address", verifier.grpc_address, "--api-key", tenant.api_key]
    watch = subprocess.Popen(
        [*CLI, "presentation", "watch", transaction_id, *connection],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert watch.stdout is not None
        first = await asyncio.to_thread(watch.stdout.readline)
        assert json.loads(first)["state"] == "PENDING"
        claims = await request_claims(session, summary["request_uri"])
        form = {
            "response": encrypt_to(claims, {"state": claims["state"], "error": "access_denied"})
        }
        assert (await post(session, claims["response_uri"], form))[0] == 200
        rest, errors = await asyncio.to_thread(watch.communicate, timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert watch.returncode == 0, errors
    lines = rest.splitlines()
    assert {json.loads(line)["state"] for line in lines[:-1]} <= {"RETRIEVED", "RESPONDED"}
    assert json.loads(lines[-1])["state"] == "FAILED"
    assert json.loads(lines[-1])["failure_reason"] == "ACCESS_DENIED"
    missing = await asyncio.to_thread(
        presentation_cli, verifier, tenant, "request", "--dcql", "nope.json", cwd=tmp_path
    )
    assert missing.returncode == 5
