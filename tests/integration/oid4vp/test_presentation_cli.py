"""`eudi-connect presentation ...` as a relying party's operator runs it against a real
server: `request` prints the transaction and its `openid4vp://` link, the test wallet
answers it, `watch` prints the states until the end and `result` what was verified."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import IssuerProcess
from tests.integration.processes import CLI

from .verifier_helpers import Holder, dcql, mdoc_query, sd_jwt_query


def _cli(
    issuer: IssuerProcess, tenant: Tenant, *argv: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *CLI,
            "presentation",
            *argv,
            "--address",
            issuer.grpc_address,
            "--api-key",
            tenant.api_key,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def _query_ids(credentials: Any) -> set[str]:
    """The DCQL ids a `credentials` value names, keyed by id or listed with it."""
    if isinstance(credentials, dict):
        return set(credentials)
    return {str(c.get("credential_query_id")) for c in credentials}


async def test_request_watch_and_result(
    issuer: IssuerProcess, tenant: Tenant, holder: Holder, tmp_path: Path
) -> None:
    """`presentation request --dcql` prints transaction_id and authorization_request_uri;
    the wallet answers; `watch` ends at VERIFIED; `result` names both DCQL ids."""
    (tmp_path / "query.json").write_text(dcql(sd_jwt_query(), mdoc_query()))
    created = _json(
        await asyncio.to_thread(
            _cli,
            issuer,
            tenant,
            "request",
            "--dcql",
            "query.json",
            "--lifetime",
            "120",
            cwd=tmp_path,
        )
    )
    transaction_id = created["transaction_id"]
    uri = created["authorization_request_uri"]
    assert uri.startswith("openid4vp://")
    watching = asyncio.create_task(
        asyncio.to_thread(_cli, issuer, tenant, "watch", transaction_id, cwd=tmp_path)
    )
    await asyncio.sleep(1.0)
    presented = await holder.wallet.present(uri)
    assert presented.reply.status == 200, presented.reply.describe()
    watched = await asyncio.wait_for(watching, 60)
    assert watched.returncode == 0, watched.stderr
    states = [json.loads(line)["state"] for line in watched.stdout.splitlines() if line.strip()]
    assert states[-1] == "VERIFIED"
    result = _json(
        await asyncio.to_thread(_cli, issuer, tenant, "result", transaction_id, cwd=tmp_path)
    )
    assert result["state"] == "VERIFIED"
    assert _query_ids(result["credentials"]) == {"pid", "mdoc"}


async def test_request_with_x509_hash_and_direct_post(
    issuer: IssuerProcess, tenant: Tenant, holder: Holder, tmp_path: Path
) -> None:
    """--client-id-prefix x509_hash --response-mode direct_post reach the request object."""
    (tmp_path / "query.json").write_text(dcql(sd_jwt_query()))
    created = _json(
        await asyncio.to_thread(
            _cli,
            issuer,
            tenant,
            "request",
            "--dcql",
            "query.json",
            "--client-id-prefix",
            "x509_hash",
            "--response-mode",
            "direct_post",
            cwd=tmp_path,
        )
    )
    presented = await holder.wallet.present(created["authorization_request_uri"])
    assert presented.request.client_id_prefix == "x509_hash"
    assert presented.request.response_mode == "direct_post"
    assert presented.reply.status == 200, presented.reply.describe()


async def test_a_missing_query_file_is_a_local_input_error(
    issuer: IssuerProcess, tenant: Tenant, tmp_path: Path
) -> None:
    """--dcql naming no file: exit 5 and one error line, no transaction."""
    completed = await asyncio.to_thread(
        _cli, issuer, tenant, "request", "--dcql", "missing.json", cwd=tmp_path
    )
    assert completed.returncode == 5, completed.stderr
    assert completed.stderr.startswith("error:")


async def test_result_of_an_unknown_transaction_is_refused(
    issuer: IssuerProcess, tenant: Tenant, tmp_path: Path
) -> None:
    """`presentation result` of an id that does not exist: exit 1, NOT_FOUND on stderr."""
    completed = await asyncio.to_thread(
        _cli, issuer, tenant, "result", "no-such-transaction", cwd=tmp_path
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.startswith("error: NOT_FOUND")
