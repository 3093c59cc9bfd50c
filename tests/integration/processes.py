"""The service as separate processes, started the way an operator would start it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

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


def start_server(
    db: str,
    *extra: str,
    log: IO[str] | None = None,
    log_level: str = "WARNING",
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """`eudi-connect serve --port 0` in its own session (so a kill of its group reaches
    its signing worker too); returns the process and its loopback address once READY.
    Its log goes to `log` (nowhere if None); `env` adds to the environment."""
    process = subprocess.Popen(
        [*CLI, "--log-level", log_level, "serve", "--port", "0", "--db", db, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if log is None else log,
        text=True,
        start_new_session=True,
        env=None if env is None else {**os.environ, **env},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY "), line
    return process, f"127.0.0.1:{line.split()[1]}"


@contextmanager
def serving(command: Sequence[str], **popen: Any) -> Iterator[str]:
    """Runs a `... serve --port 0` command (`popen`: Popen's other arguments, not stdout)
    for the block; yields its loopback address once READY, then stops it with SIGTERM and
    checks that it exits cleanly."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **popen)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), line
        yield f"127.0.0.1:{line.split()[1]}"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        if process.stdout is not None:
            process.stdout.close()


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state, ppid, ...; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()


def child_pids(pid: int) -> set[int]:
    """The running processes whose parent is `pid` (Linux: read from /proc)."""
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[1] == str(pid) and fields[0] not in "ZX":
                children.add(int(entry))
    return children


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, dead but not yet reaped, does not)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in "ZX"


@contextlib.contextmanager
def server_running(db: str, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
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


def cli_env(**settings: str) -> dict[str, str]:
    """This process's environment without EUDI_CONNECT_* settings, plus `settings`
    (address="...", api_key="..." become EUDI_CONNECT_ADDRESS, EUDI_CONNECT_API_KEY)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("EUDI_")}
    env.update({f"EUDI_CONNECT_{name.upper()}": value for name, value in settings.items()})
    return env


def run_command(
    *args: str, env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`eudi-connect ARGS` in its own process, as a shell runs it; any exit code."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env() if env is None else env,
        cwd=cwd,
        check=False,
    )
