"""The service as separate processes, started the way an operator would start it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

CLI = [sys.executable, "-m", "eudi_connect.cli.main"]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_tenant(db: str, name: str) -> dict[str, str]:
    """`eudi-connect tenant create`; returns its JSON (tenant_id, api_key)."""
    completed = subprocess.run(
        [*CLI, "tenant", "create", name, "--db", db],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    created: dict[str, str] = json.loads(completed.stdout)
    return created


def start_server(db: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """`eudi-connect serve --port 0` in its own session (so a kill of its group reaches
    its signing worker too); returns the process and its loopback address once READY."""
    process = subprocess.Popen(
        [*CLI, "--log-level", "WARNING", "serve", "--port", "0", "--db", db, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY "), line
    return process, f"127.0.0.1:{line.split()[1]}"
