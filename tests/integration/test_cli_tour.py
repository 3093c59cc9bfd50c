"""The README's tour, run for real: `eudi-connect serve` in its own process, the CLI as a
person would type it, and grpcurl driving the server through reflection alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .processes import CLI

BIN = Path(sys.executable).parent


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A server process on a free loopback port with a throwaway database."""
    db = f"sqlite:///{tmp_path / 'tour.db'}"
    process = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--db", db, "--grace", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), line
        yield {"address": f"127.0.0.1:{line.split()[1]}", "db": db, "dir": str(tmp_path)}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        if process.stdout is not None:
            process.stdout.close()


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> Any:
    completed = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def test_readme_tour(served: dict[str, str], tmp_path: Path) -> None:
    """Tenant, holder key, issue, verify, present, suspend, reinstate, revoke: all by CLI."""
    tenant = json.loads(run_cli("tenant", "create", "Tour Issuer", "--db", served["db"]).stdout)
    env = {"EUDI_CONNECT_ADDRESS": served["address"], "EUDI_CONNECT_API_KEY": tenant["api_key"]}
    key_file = tmp_path / "holder-key.json"
    holder = json.loads(run_cli("holder-key", "--out", str(key_file)).stdout)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    subject = tmp_path / "subject.json"
    subject.write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)))

    issued = json.loads(
        run_cli(
            "issue",
            "--template",
            "pid",
            "--subject",
            str(subject),
            "--holder-jwk",
            json.dumps(holder["public_jwk"]),
            env=env,
        ).stdout
    )
    credential_file = tmp_path / "credential.txt"
    credential_file.write_text(issued["credential"])
    verified = json.loads(run_cli("verify", f"@{credential_file}", env=env).stdout)
    assert verified["valid"] is True

    presentation = run_cli(
        "present",
        f"@{credential_file}",
        "--disclose",
        "given_name",
        "--holder-key",
        str(key_file),
        "--audience",
        "https://verifier.example",
        "--nonce",
        "n-1",
    ).stdout.strip()
    presentation_file = tmp_path / "presentation.txt"
    presentation_file.write_text(presentation)
    presented = json.loads(
        run_cli(
            "verify",
            f"@{presentation_file}",
            "--audience",
            "https://verifier.example",
            "--nonce",
            "n-1",
            env=env,
        ).stdout
    )
    assert presented["valid"] is True
    assert presented["key_binding_verified"] is True
    assert set(presented["claims"]) >= {"given_name"}
    assert "family_name" not in presented["claims"]

    cid = issued["credential_id"]
    run_cli("suspend", cid, "--reason", "device lost", env=env)
    suspended = run_cli("verify", f"@{credential_file}", env=env, check=False)
    assert suspended.returncode == 2
    assert json.loads(suspended.stdout)["failure"] == "VERIFICATION_FAILURE_SUSPENDED"
    run_cli("reinstate", cid, env=env)
    run_cli("revoke", cid, "--reason", "holder request", env=env)
    status = json.loads(run_cli("status", cid, env=env).stdout)
    assert status["status"] == "CREDENTIAL_STATUS_REVOKED"
    token = json.loads(run_cli("status-list", issued["status_list_id"], env=env).stdout)
    assert token["token"].count(".") == 2
    jwks = json.loads(run_cli("jwks", env=env).stdout)
    assert jwks["keys"][0]["kid"]

    wrong = run_cli("status", cid, env={**env, "EUDI_CONNECT_API_KEY": "nope"}, check=False)
    assert wrong.returncode == 1
    assert "UNAUTHENTICATED" in wrong.stderr


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "grpcurl"), "-plaintext", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_grpcurl_works_through_reflection(served: dict[str, str]) -> None:
    """A client with no proto files lists, describes and calls the service via reflection."""
    tenant = json.loads(run_cli("tenant", "create", "Reflected", "--db", served["db"]).stdout)
    listed = grpcurl(served["address"], "list")
    assert listed.returncode == 0, listed.stderr
    assert "eudi.connect.v1.CredentialService" in listed.stdout.split()
    assert "grpc.health.v1.Health" in listed.stdout.split()
    described = grpcurl(served["address"], "describe", "eudi.connect.v1.CredentialService")
    assert "IssueCredentialBatch" in described.stdout
    health = grpcurl(served["address"], "grpc.health.v1.Health/Check")
    assert json.loads(health.stdout)["status"] == "SERVING"
    request = json.dumps({"template_id": "pid", "subject": dict(PID_EXAMPLE_SUBJECT)})
    issued = grpcurl(
        "-H",
        f"x-api-key: {tenant['api_key']}",
        "-d",
        request,
        served["address"],
        "eudi.connect.v1.CredentialService/IssueCredential",
    )
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["format"] == "dc+sd-jwt"
    refused = grpcurl(
        "-d", request, served["address"], "eudi.connect.v1.CredentialService/IssueCredential"
    )
    assert "Unauthenticated" in refused.stderr


def test_issue_batch_cli(served: dict[str, str], tmp_path: Path) -> None:
    """issue-batch streams a JSONL file, and --copies makes holder-bound copies."""
    tenant = json.loads(run_cli("tenant", "create", "Batch", "--db", served["db"]).stdout)
    env = {"EUDI_CONNECT_ADDRESS": served["address"], "EUDI_CONNECT_API_KEY": tenant["api_key"]}
    subjects = tmp_path / "subjects.jsonl"
    lines = [dict(PID_EXAMPLE_SUBJECT, given_name=f"Erika {i}") for i in range(25)]
    lines.append({"family_name": "no birthdate"})
    subjects.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "out.jsonl"
    completed = run_cli(
        "issue-batch",
        "--template",
        "pid",
        "--subjects",
        str(subjects),
        "--out",
        str(out),
        "--request-id-prefix",
        "roster",
        env=env,
        check=False,
    )
    assert completed.returncode == 3  # one line failed, the others were issued
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == 26
    assert sum("credential" in r for r in results) == 25
    assert results[-1]["error"]["code"] == 3  # INVALID_ARGUMENT
    assert results[0]["request_id"] == "roster-1"

    copies_out = tmp_path / "copies.jsonl"
    subjects.write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)) + "\n")
    run_cli(
        "issue-batch",
        "--template",
        "pid",
        "--subjects",
        str(subjects),
        "--copies",
        "4",
        "--out",
        str(copies_out),
        env=env,
    )
    copies = [json.loads(line) for line in copies_out.read_text().splitlines()]
    assert len(copies) == 4
    assert len({c["holder_private_jwk"]["x"] for c in copies}) == 4
