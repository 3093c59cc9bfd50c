"""What the benchmark scripts share: the SLA, server processes, CPU pinning, measured phases.

* :data:`OPERATIONS` — the SLA rows (docs/performance.md, "The SLA"), their scenarios, our targets;
* :class:`ServiceUnderTest` — a temporary SQLite database with one tenant (made with
  ``eudi-connect tenant create``) and ``eudi-connect serve --port 0`` sessions on it;
* :func:`plan_cpus` — server on one core, load on the others, when the machine has two;
* :func:`measure` — one load run plus the server's CPU time over it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.loadgen import LoadSpec, run_load, run_load_inprocess
from loadtest.server_process import ServerProcess, available_cpus

__all__ = [
    "ECHO_SCENARIO",
    "OPERATIONS",
    "REPO_ROOT",
    "CpuPlan",
    "Operation",
    "ServiceUnderTest",
    "WriterStats",
    "cli_command",
    "echo_command",
    "machine_info",
    "measure",
    "median_row",
    "parse_writer_stats",
    "plan_cpus",
    "serve_supports",
    "tree_cpu_seconds",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
ECHO_SCENARIO = "loadtest.echo_server:echo_scenario"


@dataclass(frozen=True)
class Operation:
    """One row of the SLA table and how the load generator exercises it."""

    key: str
    label: str
    scenario: str
    rpcs_per_call: int  # RPCs one scenario call makes (the lifecycle makes four)
    sla_mvp_ms: float  # docs/performance.md, "The SLA": P95
    sla_later_ms: float
    unloaded_p95_target_ms: float  # our own target at one call in flight


OPERATIONS: tuple[Operation, ...] = (
    Operation("issuance", "issuance", "loadtest.scenarios:issue_scenario", 1, 500, 200, 2.0),
    # The same SLA row for the second format: an ISO/IEC 18013-5 mdoc per call.
    Operation(
        "issuance_mdoc",
        "issuance (mso_mdoc)",
        "loadtest.scenarios:issue_mdoc_scenario",
        1,
        500,
        200,
        2.0,
    ),
    Operation(
        "verification", "verification", "loadtest.scenarios:verify_scenario", 1, 200, 100, 1.5
    ),
    Operation("revocation", "revocation", "loadtest.scenarios:revoke_scenario", 1, 300, 150, 1.5),
    Operation(
        "lifecycle",
        "full lifecycle (issue, verify, revoke, verify)",
        "loadtest.scenarios:lifecycle_scenario",
        4,
        800,
        300,
        6.0,
    ),
)


def cli_command() -> list[str]:
    """``eudi-connect`` beside this interpreter (the venv's script), else ``python -m``."""
    script = Path(sys.executable).with_name("eudi-connect")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "eudi_connect.cli.main"]


def echo_command(*, use_uvloop: bool = True) -> list[str]:
    """The bare echo server, as a process that prints ``READY <port>``."""
    command = [sys.executable, "-m", "loadtest.echo_server", "--port", "0"]
    return command if use_uvloop else [*command, "--no-uvloop"]


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the server(s) and the load generator may use (None: any)."""

    server: tuple[int, ...] | None
    load: tuple[int, ...] | None

    def describe(self) -> str:
        if self.server is None:
            return "not pinned"
        return f"server on CPU {_cpus(self.server)}, load on CPU {_cpus(self.load or ())}"


def _cpus(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def plan_cpus(*, pin: bool = True, server_cores: int = 1) -> CpuPlan:
    """The server on its own core(s), the load generator on the rest, if there is a rest."""
    cpus = available_cpus()
    if not pin or len(cpus) <= server_cores:
        return CpuPlan(None, None)
    return CpuPlan(tuple(cpus[:server_cores]), tuple(cpus[server_cores:]))


# ------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class WriterStats:
    """The group-commit counters a server logs when it closes its SQLite store."""

    groups: int
    items: int
    largest: int

    @property
    def mean(self) -> float:
        return self.items / self.groups if self.groups else 0.0


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


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` and every process below it (Linux /proc), or None.

    ``serve --workers`` does its work in child processes; the parent alone would show none.
    """
    total = 0.0
    seen: set[int] = set()
    todo = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/stat", encoding="ascii") as stat:
                text = stat.read()
        except OSError:
            if current == pid:
                return None
            continue  # a child that just exited
        fields = text[text.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        try:
            threads = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{current}/task/{tid}/children", encoding="ascii") as children:
                    todo.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    return total


@dataclass
class ServiceUnderTest:
    """A temporary database with one tenant; `session()` serves it in a pinned process.

    ``serve_args`` are extra ``eudi-connect serve`` flags (e.g. ``--workers 2``);
    ``log_level`` is the server's, ``INFO`` (its default) writes the access log.
    """

    folder: Path
    cpus: CpuPlan
    serve_args: Sequence[str] = ()
    log_level: str = "INFO"
    api_key: str = ""
    sessions: int = 0
    _log_files: list[Path] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.folder / 'bench.db'}"

    def create_tenant(self, name: str = "benchmark") -> str:
        """``eudi-connect tenant create`` on the database; keeps and returns the API key."""
        created = subprocess.run(
            [
                *cli_command(),
                "--log-level",
                "WARNING",
                "tenant",
                "create",
                name,
                "--db",
                self.db_url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO_ROOT,
        )
        self.api_key = str(json.loads(created.stdout)["api_key"])
        return self.api_key

    @contextmanager
    def session(self) -> Iterator[ServerProcess]:
        """One ``eudi-connect serve --port 0`` process, stopped (SIGTERM) at the end."""
        self.sessions += 1
        log_file = self.folder / f"server-{self.sessions}.log"
        self._log_files.append(log_file)
        command = [
            *cli_command(),
            "--log-level",
            self.log_level,
            "serve",
            "--port",
            "0",
            "--db",
            self.db_url,
            *self.serve_args,
        ]
        # A generous stop grace: closing the store (a final PRAGMA optimize) after a large
        # run takes seconds, and the group-commit line is only logged once it is done.
        server = ServerProcess(
            command,
            cpus=self.cpus.server,
            cwd=str(REPO_ROOT),
            stderr_path=log_file,
            stop_grace=30.0,
            ready_timeout=60.0,
        )
        with server:
            yield server

    def writer_stats(self) -> WriterStats | None:
        """Group-commit counters of the last finished session, from its log."""
        if not self._log_files or not self._log_files[-1].exists():
            return None
        return parse_writer_stats(self._log_files[-1].read_text("utf-8", errors="replace"))

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of the last session's log (for error reports)."""
        if not self._log_files or not self._log_files[-1].exists():
            return []
        return self._log_files[-1].read_text("utf-8", errors="replace").splitlines()[-lines:]

    @classmethod
    @contextmanager
    def temporary(
        cls, cpus: CpuPlan, *, serve_args: Sequence[str] = (), log_level: str = "INFO"
    ) -> Iterator[ServiceUnderTest]:
        """A service on a fresh temporary folder (removed afterwards) with its tenant made."""
        with tempfile.TemporaryDirectory(prefix="eudi-bench-") as name:
            service = cls(Path(name), cpus, serve_args=serve_args, log_level=log_level)
            service.create_tenant()
            yield service


def serve_supports(flag: str) -> bool:
    """Whether this build's ``eudi-connect serve`` has ``flag`` (e.g. ``--workers``)."""
    shown = subprocess.run(
        [*cli_command(), "serve", "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    return flag in shown.stdout


# ------------------------------------------------------------------------- measuring


def measure(
    spec: LoadSpec,
    server: ServerProcess | None,
    *,
    progress: bool = True,
    in_process: bool = False,
) -> dict[str, Any]:
    """Run ``spec``; its summary plus the server's CPU use over the measured phase.

    ``server_cpu`` is cores busy (1.0: one core all the time), the server's child processes
    included; ``server_cpu_us_per_call`` is CPU per successful call, the cost figure that
    noise on a shared machine moves least.
    ``in_process`` applies the load from this process (no worker processes to start): for
    smoke tests, not for figures, since it shares a core with whatever else runs here.
    """
    before: float | None = None

    def cpu() -> float | None:
        return tree_cpu_seconds(server.pid) if server is not None else None

    def note_start() -> None:
        nonlocal before
        before = cpu()

    if in_process:
        note_start()
        result = asyncio.run(run_load_inprocess(spec))
    else:
        result = run_load(spec, progress=progress, on_start=note_start)
    after = cpu()
    row = result.summary()
    row["warmup_errors"] = result.warmup_errors
    if result.error_samples:
        row["error_samples"] = dict(result.error_samples)
    row["server_cpu"] = None
    row["server_cpu_us_per_call"] = None
    if before is not None and after is not None and result.elapsed > 0:
        row["server_cpu"] = round((after - before) / result.elapsed, 3)
        if result.ok:
            row["server_cpu_us_per_call"] = round((after - before) / result.ok * 1e6, 1)
    return row


_MEDIAN_KEYS = (
    "throughput_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "server_cpu",
    "server_cpu_us_per_call",
)


def median_row(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs: counts summed, figures the median (None if absent)."""
    if not rows:
        raise ValueError("no rows")
    merged = dict(rows[-1])
    for key in ("calls", "ok", "errors", "dropped", "late", "unfinished"):
        merged[key] = sum(int(row.get(key) or 0) for row in rows)
    for key in _MEDIAN_KEYS:
        values = [row[key] for row in rows if isinstance(row.get(key), int | float)]
        merged[key] = round(statistics.median(values), 3) if values else None
    merged["runs"] = len(rows)
    return merged


def machine_info(cpus: CpuPlan) -> dict[str, Any]:
    """Enough about the machine to read the figures: cores, load, versions, pinning."""
    import platform

    import grpc

    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": len(available_cpus()),
        "load_average": load,
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "platform": platform.platform(),
        "pinning": cpus.describe(),
        "ghz_on_path": shutil.which("ghz") is not None,
    }
