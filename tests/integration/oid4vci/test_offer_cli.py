"""`eudi-connect offer ...` as an operator runs it, against a real issuer process: create
an offer with a QR code, follow it with `status` and `watch` while the test wallet
collects it, and set and read the wallet policy."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from tests.integration.conftest import Tenant
from tests.integration.processes import CLI
from tests.wallet import Wallet, WalletProvider

from .issuer_processes import IssuerProcess

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _offer_cli(
    issuer: IssuerProcess, tenant: Tenant, *argv: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "offer", *argv, "--address", issuer.grpc_address, "--api-key", tenant.api_key],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


async def test_offer_create_with_a_qr_code_then_status_and_watch(
    issuer: IssuerProcess, tenant: Tenant, wallet: Wallet, tmp_path: Path
) -> None:
    """`offer create --tx-code --qr` prints the offer id, URI and code as JSON, a QR code
    on stderr and a PNG; `offer watch` prints each state until the wallet's notification;
    `offer status` prints the final state and the credential ids."""
    (tmp_path / "subject.json").write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)))
    created = await asyncio.to_thread(
        _offer_cli,
        issuer,
        tenant,
        "create",
        "--template",
        "pid",
        "--subject",
        "subject.json",
        "--tx-code",
        "--copies",
        "2",
        "--qr",
        "--qr-file",
        "offer.png",
        cwd=tmp_path,
    )
    summary = _json(created)
    assert summary["state"] == "OFFERED"
    assert summary["credential_offer_uri"].startswith("openid-credential-offer://?")
    assert len(summary["tx_code"]) == 6
    assert summary["tx_code"].isdigit()
    assert (tmp_path / "offer.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "offer.png" in created.stderr
    assert "\u2580" in created.stderr or "\u2588" in created.stderr  # the terminal QR code

    watch = subprocess.Popen(
        [
            *CLI,
            "offer",
            "watch",
            summary["offer_id"],
            "--timeout",
            "30",
            "--address",
            issuer.grpc_address,
            "--api-key",
            tenant.api_key,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = await asyncio.to_thread(watch.stdout.readline)  # type: ignore[union-attr]
        assert json.loads(first)["state"] == "OFFERED"
        collected = await wallet.collect(
            summary["credential_offer_uri"], tx_code=summary["tx_code"], copies=2
        )
        assert len(await wallet.verify_collected(collected)) == 2
        assert collected.notification_id
        await asyncio.sleep(0.5)
        await wallet.notify(collected.issuer, collected.access_token, collected.notification_id)
        rest, errors = await asyncio.to_thread(watch.communicate, timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
    assert watch.returncode == 0, errors
    states = [json.loads(line)["state"] for line in [first, *rest.splitlines()]]
    assert states[0] == "OFFERED"
    assert "CREDENTIALS_ISSUED" in states
    assert states[-1] == "ACCEPTED"
    offer_id = summary["offer_id"]
    status = _json(
        await asyncio.to_thread(_offer_cli, issuer, tenant, "status", offer_id, cwd=tmp_path)
    )
    assert status["state"] == "ACCEPTED"
    assert len(status["credential_ids"]) == 2


async def test_offer_policy_set_and_get_round_trip(
    issuer: IssuerProcess, tenant: Tenant, tmp_path: Path
) -> None:
    """`policy set` from flags, `policy get` prints it as a file `set --file` reads back;
    a policy the server refuses exits 1 with the status and reason on stderr."""
    provider = WalletProvider()
    (tmp_path / "jwks.json").write_text(json.dumps(provider.jwks()))
    stored = _json(
        await asyncio.to_thread(
            _offer_cli,
            issuer,
            tenant,
            "policy",
            "set",
            "--key-attestation",
            "--key-storage",
            "iso_18045_high",
            "--provider-jwks",
            "jwks.json",
            cwd=tmp_path,
        )
    )
    assert stored["key_attestation_required"] is True
    assert stored["key_storage"] == ["iso_18045_high"]
    assert stored["wallet_provider_jwks"]["keys"][0]["kid"] == provider.kid
    read = await asyncio.to_thread(_offer_cli, issuer, tenant, "policy", "get", cwd=tmp_path)
    assert _json(read) == stored
    (tmp_path / "policy.json").write_text(read.stdout)
    again = await asyncio.to_thread(
        _offer_cli, issuer, tenant, "policy", "set", "--file", "policy.json", cwd=tmp_path
    )
    assert _json(again) == stored
    refused = await asyncio.to_thread(
        _offer_cli, issuer, tenant, "policy", "set", "--wallet-attestation", cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "INVALID_ARGUMENT" in refused.stderr
