"""The service as separate processes, started the way an operator would start it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

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


@contextlib.contextmanager
def serving(db: str, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`start_server` for a `with` block: on leaving it the server gets SIGTERM (and, if it
    has not exited within 30 s, its process group SIGKILL)."""
    process, address = start_server(db, *extra)
    try:
        yield process, address
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
