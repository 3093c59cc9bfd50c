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


def readme_tour() -> str:
    """The shell block of the README's five-minute tour, as it is printed there."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A five-minute tour", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_tour(served: dict[str, str], tmp_path: Path) -> None:
    """The README's tour, run by bash as printed (tenant, holder key, issue, verify, present,
    suspend, reinstate, revoke, status list, JWKS), needs no Python and says nothing on
    standard error."""
    script = readme_tour()
    assert "python" not in script
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(BIN)
    env = {key: value for key, value in os.environ.items() if not key.startswith("EUDI_")}
    env |= {"EUDI_CONNECT_ADDRESS": served["address"], "EUDI_CONNECT_DB": served["db"]}
    epilogue = 'echo "tour-api-key $EUDI_CONNECT_API_KEY"\n'
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + epilogue],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    # step 5, in order: suspend -q, verify --field failure || echo, reinstate, revoke, status
    short = [line for line in lines if line in ("SUSPENDED", "exit 4", "VALID", "REVOKED")]
    assert short == ["SUSPENDED", "SUSPENDED", "exit 4", "VALID", "REVOKED", "REVOKED"]
    assert any(line.startswith('  "token": "ey') for line in lines)  # step 6, the status list

    key_file, public_file = tmp_path / "holder-key.json", tmp_path / "holder-key.pub.json"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    public = json.loads(public_file.read_text())
    assert public == {k: v for k, v in json.loads(key_file.read_text()).items() if k != "d"}
    api_key = lines[-1].removeprefix("tour-api-key ")
    presented = json.loads(
        run_cli(
            "verify",
            f"@{tmp_path / 'presentation.txt'}",
            "--audience",
            "https://verifier.example",
            "--nonce",
            "n-1",
            env={**env, "EUDI_CONNECT_API_KEY": api_key},
            check=False,  # revoked by now: exit 4, with the disclosed claims still shown
        ).stdout
    )
    assert presented["key_binding_verified"] is True
    assert presented["failure"] == "REVOKED"
    assert "given_name" in presented["claims"]
    assert "family_name" not in presented["claims"]
    assert presented["claims"]["cnf"]["jwk"] == public


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
