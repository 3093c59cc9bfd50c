"""The credential service under test: a database with a tenant, and server processes on it.

* :func:`create_tenant` — ``eudi-connect tenant create`` on a database, the way an operator
  makes one; every tool that needs an API key gets it here;
* :class:`ServiceUnderTest` — a database (temporary SQLite unless told otherwise) with one
  tenant, and ``eudi-connect serve --port 0`` sessions on it, each logging to its own file;
* :func:`parse_writer_stats` — the group-commit counters a server logs as it closes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from loadtest.lib.cpu import CpuPlan
from loadtest.lib.server import ServerProcess

__all__ = [
    "REPO_ROOT",
    "ServiceUnderTest",
    "WriterStats",
    "cli_command",
    "create_tenant",
    "echo_command",
    "parse_writer_stats",
    "serve_supports",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli_command() -> list[str]:
    """``eudi-connect`` beside this interpreter (the venv's script), else ``python -m``."""
    script = Path(sys.executable).with_name("eudi-connect")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "eudi_connect.cli.main"]


def echo_command(*, use_uvloop: bool = True, http: bool = False) -> list[str]:
    """The bare echo server (gRPC, or aiohttp with `http`), as a process that prints
    ``READY <port>``."""
    command = [sys.executable, "-m", "loadtest.echo_server", "--port", "0"]
    if http:
        command.append("--http")
    return command if use_uvloop else [*command, "--no-uvloop"]


def _cli(*args: str, check: bool, env: Mapping[str, str] | None = None) -> str:
    """What ``eudi-connect args...`` printed on stdout, run from the repository root."""
    done = subprocess.run(
        [*cli_command(), *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=None if env is None else dict(env),
    )
    return done.stdout


def create_tenant(db_url: str, name: str, *, env: Mapping[str, str] | None = None) -> str:
    """``eudi-connect tenant create name --db db_url``; returns the new tenant's API key.

    ``env`` is the whole environment of the command (a PostgreSQL store needs the master
    key in it); by default this process's.
    """
    created = _cli(
        "--log-level", "WARNING", "tenant", "create", name, "--db", db_url, check=True, env=env
    )
    return str(json.loads(created)["api_key"])


def serve_supports(flag: str) -> bool:
    """Whether this build's ``eudi-connect serve`` has ``flag`` (e.g. ``--workers``)."""
    return flag in _cli("serve", "--help", check=False)


@dataclass(frozen=True)
class WriterStats:
    """The group-commit counters a server logs when it closes its SQLite store."""

    groups: int
    items: int
    largest: int

    @property
    def mean(self) -> float:
        return self.items / self.groups if self.groups else 0.0

    def as_row(self) -> dict[str, float]:
        return {
            "groups": self.groups,
            "items": self.items,
            "mean": round(self.mean, 2),
            "largest": self.largest,
        }


_WRITER_LINE = re.compile(
    r"group commit: (?P<items>\d+) items in (?P<groups>\d+) groups.*?largest (?P<largest>\d+)"
)


def parse_writer_stats(log_text: str) -> WriterStats | None:
    """The group-commit lines of one server run's log, added up (one line per worker
    process with ``serve --workers``); None without any (another store, an older server)."""
    matches = list(_WRITER_LINE.finditer(log_text))
    if not matches:
        return None
    return WriterStats(
        groups=sum(int(match["groups"]) for match in matches),
        items=sum(int(match["items"]) for match in matches),
        largest=max(int(match["largest"]) for match in matches),
    )


@dataclass
class ServiceUnderTest:
    """A database with one tenant; `session()` serves it in a (pinned) process.

    ``db_url`` defaults to a SQLite file in ``folder``; ``env`` is the servers' and the
    tenant command's environment (None: this process's). ``serve_args`` are extra
    ``eudi-connect serve`` flags (e.g. ``--workers 2``); ``log_level`` is the server's,
    ``INFO`` (its default) writes the access log.
    """

    folder: Path
    cpus: CpuPlan
    serve_args: Sequence[str] = ()
    log_level: str = "INFO"
    db_url: str = ""
    env: Mapping[str, str] | None = None
    ready_timeout: float = 60.0
    api_key: str = ""
    sessions: int = 0
    _log_files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db_url = self.db_url or f"sqlite:///{self.folder / 'bench.db'}"

    def create_tenant(self, name: str = "benchmark") -> str:
        """A tenant on the database; keeps and returns its API key."""
        self.api_key = create_tenant(self.db_url, name, env=self.env)
        return self.api_key

    @contextmanager
    def session(self) -> Iterator[ServerProcess]:
        """One ``eudi-connect serve --port 0`` process, stopped (SIGTERM) at the end."""
        self.sessions += 1
        log_file = self.folder / f"server-{self.sessions}.log"
        self._log_files.append(log_file)
        command = [*cli_command(), "--log-level", self.log_level, "serve", "--port", "0"]
        command += ["--db", self.db_url, *self.serve_args]
        # A generous stop grace: closing the store (a final PRAGMA optimize) after a large
        # run takes seconds, and the group-commit line is only logged once it is done.
        server = ServerProcess(
            command,
            cpus=self.cpus.server,
            cwd=str(REPO_ROOT),
            env=self.env,
            stderr_path=log_file,
            stop_grace=30.0,
            ready_timeout=self.ready_timeout,
        )
        with server:
            yield server

    def _last_log(self) -> str:
        if not self._log_files or not self._log_files[-1].exists():
            return ""
        return self._log_files[-1].read_text("utf-8", errors="replace")

    def writer_stats(self) -> WriterStats | None:
        """Group-commit counters of the last finished session, from its log."""
        return parse_writer_stats(self._last_log())

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of the last session's log (for error reports)."""
        return self._last_log().splitlines()[-lines:]

    @classmethod
    @contextmanager
    def temporary(
        cls,
        cpus: CpuPlan,
        *,
        serve_args: Sequence[str] = (),
        log_level: str = "INFO",
        tenant: str = "benchmark",
    ) -> Iterator[ServiceUnderTest]:
        """A service on a fresh temporary folder (removed afterwards) with its tenant made."""
        with tempfile.TemporaryDirectory(prefix="eudi-bench-") as name:
            service = cls(Path(name), cpus, serve_args=serve_args, log_level=log_level)
            service.create_tenant(tenant)
            yield service
