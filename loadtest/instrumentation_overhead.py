"""What the RPC instrumentation costs: unary IssueCredential with the interceptors off and
on, measured side by side in one run against real server processes.

Arms:

* ``off``: no metrics or tracing interceptor, no access log;
* ``on``: what ``eudi-connect serve`` runs by default: the metrics interceptor (recording
  nothing, as no exporter is configured), one JSON access-log line per RPC (to a file),
  timed issuance steps;
* ``on-quiet``: ``on`` at ``--log-level WARNING``, so without the access log;
* ``on+prometheus``: the same with ``--metrics-port``: every RPC and step recorded into the
  OpenTelemetry SDK, ready for a scrape of ``/metrics``.

A shared machine is noisy (other work comes and goes by the second), so arms are never
compared across time: each round starts an ``off`` server and an instrumented one *at the
same time*, pinned to the *same* core, each with its own database and its own closed loop
of ``--concurrency`` IssueCredential calls through the real stubs for ``--seconds`` (load
generators on the other core). Both then see the same interference. The figures per round:

* server CPU per successful call (from /proc), for each of the two servers;
* throughput of each; with the core shared fairly, the ratio of the two throughputs is
  the inverse ratio of their costs.

The report gives the median over ``--rounds`` of each pair's difference.

    python -m loadtest.instrumentation_overhead [--rounds 5] [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eudi_connect.api.server import ServerOptions, run
from eudi_connect.monitoring.logging import configure_logging
from loadtest.lib.cpu import plan_cpus
from loadtest.lib.report import format_table
from loadtest.lib.runs import measure
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import create_tenant
from loadtest.lib.spec import LoadSpec

ARMS = ("off", "on", "on-quiet", "on+prometheus")
SCENARIO = "loadtest.scenarios:issue_scenario"


def serve_arm(arm: str, db_url: str, log_file: str) -> None:
    """The server side of one arm (runs in the child process)."""
    with open(log_file, "a", encoding="utf-8") as log:
        # The access log is INFO; "off" runs at WARNING so it writes nothing per call.
        configure_logging("json", "WARNING" if arm in ("off", "on-quiet") else "INFO", stream=log)
        run(
            ServerOptions(
                host="127.0.0.1",
                port=0,
                db_url=db_url,
                instrumentation=arm != "off",
                metrics_port=0 if arm == "on+prometheus" else None,
                sign_workers=0,  # unary issuance signs in-process; no idle helper processes
            )
        )


@dataclass
class Arm:
    name: str
    db_url: str
    api_key: str
    log_file: str


@dataclass
class Measured:
    arm: str
    ok: int
    errors: int
    rps: float
    cpu_us_per_call: float | None


def _load(server: ServerProcess, arm: Arm, args: argparse.Namespace, out: list[Measured]) -> None:
    spec = LoadSpec(
        target=server.address,
        scenario=SCENARIO,
        options={"api_key": arm.api_key},
        concurrency=args.concurrency,
        duration=args.seconds,
        warmup_calls=args.warmup,
        cpus=plan_cpus().load,
    )
    _, row = measure(spec, server, progress=False)
    out.append(
        Measured(
            arm.name, row["ok"], row["errors"], row["throughput_rps"], row["server_cpu_us_per_call"]
        )
    )


def measure_pair(baseline: Arm, other: Arm, args: argparse.Namespace) -> dict[str, Measured]:
    """Both servers up at once on one core, both loads at once; returns each one's figures."""
    server_cpus = plan_cpus().server  # both on the same core

    def command(arm: Arm) -> list[str]:
        return [
            sys.executable,
            "-m",
            "loadtest.instrumentation_overhead",
            *("--serve", arm.name, "--db", arm.db_url, "--log-file", arm.log_file),
        ]

    results: list[Measured] = []
    with (
        ServerProcess(command(baseline), cpus=server_cpus) as first,
        ServerProcess(command(other), cpus=server_cpus) as second,
    ):
        threads = [
            threading.Thread(target=_load, args=(first, baseline, args, results)),
            threading.Thread(target=_load, args=(second, other, args, results)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if len(results) != 2:
        raise RuntimeError("a load run failed; see the errors above")
    return {measured.arm: measured for measured in results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per round")
    parser.add_argument("--warmup", type=int, default=200, help="uncounted calls per server")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight per server")
    parser.add_argument("--arms", nargs="+", choices=ARMS[1:], default=list(ARMS[1:]))
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--serve", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--log-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_arm(args.serve, args.db, args.log_file)
        return 0

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eudi-overhead-") as tmp:
        os.environ["EUDI_CONNECT_MASTER_KEY"] = ""  # key files beside the databases
        arms = {}
        for name in ARMS:
            folder = Path(tmp) / name.replace("+", "-")
            folder.mkdir()
            db_url = f"sqlite:///{folder / 'overhead.db'}"
            arms[name] = Arm(name, db_url, create_tenant(db_url, "overhead"), str(folder / "log"))
        for round_ in range(args.rounds):
            for name in args.arms:
                pair = measure_pair(arms["off"], arms[name], args)
                base, other = pair["off"], pair[name]
                row: dict[str, Any] = {"round": round_ + 1, "arm": name}
                row.update({f"off_{k}": v for k, v in vars(base).items() if k != "arm"})
                row.update({f"arm_{k}": v for k, v in vars(other).items() if k != "arm"})
                runs.append(row)
                print(json.dumps(row), file=sys.stderr)
        logged = {
            name: len(Path(arm.log_file).read_text("utf-8").splitlines())
            for name, arm in arms.items()
            if Path(arm.log_file).exists()
        }

    summary = []
    for name in args.arms:
        rows = [r for r in runs if r["arm"] == name]
        cpu_pairs = [
            (r["off_cpu_us_per_call"], r["arm_cpu_us_per_call"])
            for r in rows
            if r["off_cpu_us_per_call"] and r["arm_cpu_us_per_call"]
        ]
        summary.append(
            {
                "arm": name,
                "off_rps": round(statistics.median(r["off_rps"] for r in rows), 1),
                "arm_rps": round(statistics.median(r["arm_rps"] for r in rows), 1),
                "rps_vs_off_%": round(
                    statistics.median((r["arm_rps"] / r["off_rps"] - 1) * 100 for r in rows), 1
                ),
                "off_cpu_us": round(statistics.median(p[0] for p in cpu_pairs), 1),
                "arm_cpu_us": round(statistics.median(p[1] for p in cpu_pairs), 1),
                "cpu_vs_off_%": round(
                    statistics.median((b / a - 1) * 100 for a, b in cpu_pairs), 1
                ),
                "errors": sum(r["off_errors"] + r["arm_errors"] for r in rows),
            }
        )
    print(format_table(summary, list(summary[0])))
    print("log lines written per arm:", logged)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))
    return 0 if all(row["errors"] == 0 for row in summary) else 1


if __name__ == "__main__":
    raise SystemExit(main())
