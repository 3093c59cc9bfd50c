"""Start-up cost of the `eudi-connect` client commands: wall and CPU time of whole runs
against a server on this machine, beside the floor of the interpreter and of gRPC alone.

Each command runs once to warm the file cache, then `--runs` times; the median of the runs
is reported, with the load average before and after (the host is often shared, and a busy
host lengthens every figure).

    python -m loadtest.benchmark_cli_startup [--runs 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from loadtest.lib.cpu import children_cpu_seconds, plan_cpus
from loadtest.lib.report import format_table, write_json
from loadtest.lib.service import ServiceUnderTest, cli_command

#: What the interpreter and the client's one heavy dependency cost before any of our code.
_FLOORS: dict[str, list[str]] = {
    "python (no site)": [sys.executable, "-S", "-c", "pass"],
    "python": [sys.executable, "-c", "pass"],
    "python + grpc": [sys.executable, "-c", "import grpc"],
}


@dataclass(frozen=True)
class Timing:
    """Medians over the runs, in seconds: wall time and CPU time (user + system)."""

    label: str
    wall: float
    cpu: float
    runs: int

    def row(self) -> dict[str, Any]:
        return {
            "command": self.label,
            "wall_ms": round(self.wall * 1000, 1),
            "cpu_ms": round(self.cpu * 1000, 1),
            "runs": self.runs,
        }


def time_command(
    label: str, command: Sequence[str], *, runs: int, env: Mapping[str, str], cwd: Path
) -> Timing:
    """Runs `command` once to warm up, then `runs` times; each must succeed."""
    walls: list[float] = []
    cpus: list[float] = []
    for attempt in range(runs + 1):
        cpu_before = children_cpu_seconds()
        started = time.perf_counter()
        done = subprocess.run(
            list(command), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=60
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{label}: exit {done.returncode}: {done.stderr.strip()}")
        if attempt:  # the first run only warms the caches
            walls.append(wall)
            cpus.append(children_cpu_seconds() - cpu_before)
    return Timing(label, statistics.median(walls), statistics.median(cpus), runs)


def _client_commands(folder: Path, credential_id: str) -> dict[str, list[str]]:
    subject = folder / "subject.json"
    credential = f"@{folder / 'credential.txt'}"
    return {
        "--help": ["--help"],
        "issue": ["issue", "--template", "pid", "--subject", str(subject), "-q"],
        "verify": ["verify", credential, "-q"],
        "status": ["status", credential_id, "-q"],
        "template get": ["template", "get", "pid"],
        "offer create": ["offer", "create", "--template", "pid", "--subject", str(subject)],
    }


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run(runs: int, *, bytecode_cache: bool = True) -> dict[str, Any]:
    with ServiceUnderTest.temporary(plan_cpus(pin=False), log_level="WARNING") as service:
        folder = service.folder
        (folder / "subject.json").write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)))
        with service.session() as server:
            env = {
                **os.environ,
                "EUDI_CONNECT_ADDRESS": server.address,
                "EUDI_CONNECT_API_KEY": service.api_key,
            }
            if bytecode_cache:  # as installed: the warm-up run writes the .pyc files
                env.pop("PYTHONDONTWRITEBYTECODE", None)
            cli = cli_command()
            issued = subprocess.run(
                [*cli, "issue", "--template", "pid", "--subject", str(folder / "subject.json")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            response = json.loads(issued.stdout)
            (folder / "credential.txt").write_text(response["credential"])
            load_before = _load()
            timings = [
                time_command(label, command, runs=runs, env=env, cwd=folder)
                for label, command in _FLOORS.items()
            ]
            for label, words in _client_commands(folder, response["credential_id"]).items():
                timings.append(time_command(label, [*cli, *words], runs=runs, env=env, cwd=folder))
            load_after = _load()
    return {
        "runs": runs,
        "cpus": os.cpu_count(),
        "bytecode_cache": bytecode_cache,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "timings": [timing.row() for timing in timings],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE if set: modules without a .pyc file are compiled "
        "on every run (an installed package has its .pyc files; by default the runs may "
        "write them)",
    )
    args = parser.parse_args(argv)
    report = run(args.runs, bytecode_cache=not args.no_bytecode_cache)
    print(format_table(report["timings"], ("command", "wall_ms", "cpu_ms", "runs")))
    print(
        f"medians of {report['runs']} runs on {report['cpus']} CPU(s), .pyc files "
        f"{'used' if report['bytecode_cache'] else 'not written'}; load average "
        f"{report['load_average_before']} before, {report['load_average_after']} after"
    )
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
