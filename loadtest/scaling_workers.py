"""Issuance throughput with 1 vs 2 server processes, on SQLite and on PostgreSQL, in one run.

For each store and each worker count, a fresh database with one tenant, then
`eudi-connect serve --workers N --sign-workers 0` (N processes on one port, nothing else
signing) and a closed-loop load from this project's load generator
(`loadtest.scenarios`), in two modes:

* ``unary``: IssueCredential, one credential per call;
* ``batch``: IssueCredentialBatch, ``--batch-size`` credentials per call.

The load generator is one process (lean: it shares the 2 cores with the servers) with
several channels, each its own connection, so that the kernel spreads them over the
workers' SO_REUSEPORT listeners. PostgreSQL is a throwaway cluster on this machine with
fsync on and synchronous_commit off: the same promise as the SQLite store's default
(WAL, synchronous=NORMAL): a crash of the process loses nothing, a power cut may lose the
last commits. Its server processes share the same 2 cores too.

Reported per row: credentials per second, P50/P95 per call (ms), and server CPU in cores
(the eudi-connect processes only, not PostgreSQL's), in total and per process, server CPU
µs per credential (the efficiency: 2 workers should cost what 1 does), and the
CPU seconds the load generator used over the whole run ("load s", start-up included). Runs are
interleaved (1, 2, 1, 2, ...) and the median of ``--repeat`` runs is shown, since the
machine is shared and noisy.

``cpu_vs_1`` is the efficiency target of issue 17 (N workers within 1.1x of one worker's
CPU per credential): the median, over the repeats, of each run's server CPU per credential
divided by that of the 1-worker run of the same repeat, store and mode. Paired this way,
a minute of load from elsewhere moves both sides of a ratio together.

    .venv/bin/python -m loadtest.scaling_workers --duration 10 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.devtools.pgcluster import ThrowawayCluster, create_schema, find_postgres_bin
from eudi_connect.services.app import MASTER_KEY_ENV
from loadtest.lib.cpu import (
    CpuPlan,
    available_cpus,
    children_cpu_seconds,
    cpu_seconds,
    process_tree,
)
from loadtest.lib.pool import run_load
from loadtest.lib.report import format_table, write_json
from loadtest.lib.runs import median_row
from loadtest.lib.service import ServiceUnderTest
from loadtest.lib.spec import LoadSpec

MODES = {
    "unary": "loadtest.scenarios:issue_scenario",
    "batch": "loadtest.scenarios:batch_scenario",
}
#: Issue 17's bound on CPU per credential with several workers, relative to one.
CPU_RATIO_TARGET = 1.1
FIGURES = (
    "credentials_per_s",
    "p50_ms",
    "p95_ms",
    "server_cpu",
    "server_us_per_cred",
    "load_cpu_s",
)


@dataclass(frozen=True)
class Case:
    store: str
    mode: str
    workers: int


def _cpu_by_process(pid: int) -> dict[int, float]:
    """CPU seconds of the server and of each process below it (the workers)."""
    used = {each: cpu_seconds(each) for each in process_tree(pid)}
    return {each: seconds for each, seconds in used.items() if seconds is not None}


@contextmanager
def _database(store: str, cluster: ThrowawayCluster | None, folder: Path) -> Iterator[str]:
    if store == "postgres":
        assert cluster is not None
        yield asyncio.run(create_schema(cluster.url))
    else:
        with tempfile.TemporaryDirectory(dir=folder) as name:
            yield f"sqlite:///{Path(name) / 'bench.db'}"


def run_case(
    case: Case, cluster: ThrowawayCluster | None, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    master = MasterKey.generate()
    with _database(case.store, cluster, folder) as db_url:
        service = ServiceUnderTest(
            folder,
            CpuPlan(None, None),
            # --sign-workers 0: N processes on one port, nothing else signing.
            serve_args=[
                "--workers",
                str(case.workers),
                "--sign-workers",
                "0",
                "--log-format",
                "text",
            ],
            log_level="WARNING",  # no access log line per call
            db_url=db_url,
            env={**os.environ, MASTER_KEY_ENV: master.to_text()},
            ready_timeout=120,
        )
        service.create_tenant("scaling benchmark")
        batch = args.batch_size if case.mode == "batch" else 1
        with service.session() as server:
            spec = LoadSpec(
                target=server.address,
                scenario=MODES[case.mode],
                options={"api_key": service.api_key, "batch_size": batch},
                concurrency=args.concurrency if case.mode == "unary" else args.batch_concurrency,
                duration=args.duration,
                processes=1,
                channels=args.channels,
                warmup_calls=args.warmup if case.mode == "unary" else 2,
            )
            before: dict[int, float] = {}
            load_before = children_cpu_seconds()
            result = run_load(
                spec, progress=False, on_start=lambda: before.update(_cpu_by_process(server.pid))
            )
            after = _cpu_by_process(server.pid)
            # The load generator's process has been joined: its CPU (set-up and warm-up
            # included) now counts among this process's finished children.
            load_cpu = children_cpu_seconds() - load_before
    summary = result.summary()
    elapsed = result.elapsed or 1.0
    # Per process, busiest first: how evenly the kernel spread the connections.
    spread = sorted(
        (round((after[pid] - before.get(pid, 0.0)) / elapsed, 2) for pid in after), reverse=True
    )
    return {
        "store": case.store,
        "mode": case.mode,
        "workers": case.workers,
        "credentials_per_s": round(result.throughput * batch, 1),
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "errors": result.errors,
        "server_cpu": round(sum(spread), 2),
        # The efficiency figure: server CPU per credential, which the load generator's
        # share of the cores does not move as it moves the throughput.
        "server_us_per_cred": (
            round(sum(spread) / (result.throughput * batch) * 1e6, 1) if result.throughput else None
        ),
        "process_cpu": [cpu for cpu in spread if cpu >= 0.01],
        "load_cpu_s": round(load_cpu, 1),
        "codes": summary["codes"],
    }


def cpu_ratios(runs: Sequence[Sequence[dict[str, Any]]]) -> dict[tuple[str, str, int], float]:
    """Per (store, mode, workers > 1): the median over repeats of its server CPU per
    credential over the 1-worker run's of the same repeat (`runs`: one list of rows per
    repeat). Repeats without a figure on either side are left out."""
    paired: dict[tuple[str, str, int], list[float]] = {}
    for repeat in runs:
        single = {
            (r["store"], r["mode"]): r["server_us_per_cred"] for r in repeat if r["workers"] == 1
        }
        for row in repeat:
            base = single.get((row["store"], row["mode"]))
            if row["workers"] == 1 or not base or not row["server_us_per_cred"]:
                continue
            key = (row["store"], row["mode"], row["workers"])
            paired.setdefault(key, []).append(row["server_us_per_cred"] / base)
    return {key: round(statistics.median(ratios), 3) for key, ratios in paired.items()}


def _table(rows: Sequence[dict[str, Any]], ratios: dict[tuple[str, str, int], float]) -> str:
    single = {(r["store"], r["mode"]): r["credentials_per_s"] for r in rows if r["workers"] == 1}
    shown = []
    for row in rows:
        base = single.get((row["store"], row["mode"]))
        ratio = f"{row['credentials_per_s'] / base:.2f}x" if base else "-"
        per_process = "/".join(str(cpu) for cpu in row.get("process_cpu", []))
        cpu = ratios.get((row["store"], row["mode"], row["workers"]))
        cpu_ratio = f"{cpu:.2f}x" if cpu is not None else "-"
        shown.append(row | {"vs_1": ratio, "cpu_vs_1": cpu_ratio, "per_process": per_process})
    columns = ["store", "mode", "workers", "credentials_per_s", "vs_1", "p50_ms", "p95_ms"]
    columns += ["server_cpu", "server_us_per_cred", "cpu_vs_1", "load_cpu_s", "errors"]
    columns += ["per_process"]
    return format_table(shown, columns)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.scaling_workers",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (median shown)")
    parser.add_argument("--concurrency", type=int, default=32, help="unary calls in flight")
    parser.add_argument("--batch-concurrency", type=int, default=8, help="batch calls in flight")
    parser.add_argument("--batch-size", type=int, default=50)
    # Calls go round robin over the channels and each channel is one connection, which the
    # kernel gives to a worker at random: with few, one worker may get most of the load.
    parser.add_argument("--channels", type=int, default=32, help="connections from the load")
    parser.add_argument("--warmup", type=int, default=200, help="unary warm-up calls")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--json", metavar="PATH", help="write every run as JSON")
    args = parser.parse_args(argv)

    cluster = None
    if "postgres" in args.stores:
        if find_postgres_bin() is None:
            raise SystemExit("PostgreSQL binaries not found (initdb, postgres); see README")
        cluster = ThrowawayCluster.start(durable=True)
    runs: dict[Case, list[dict[str, Any]]] = {}
    repeats: list[list[dict[str, Any]]] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="eudi-scaling-") as name:
            for _ in range(args.repeat):
                repeats.append([])
                for store in args.stores:
                    for mode in args.modes:
                        for workers in args.workers:
                            case = Case(store, mode, workers)
                            row = run_case(case, cluster, Path(name), args)
                            print(
                                f"  {store} {mode} workers={workers}: "
                                f"{row['credentials_per_s']:.0f} cred/s, p95 {row['p95_ms']} ms",
                                flush=True,
                            )
                            runs.setdefault(case, []).append(row)
                            repeats[-1].append(row)
    finally:
        if cluster is not None:
            cluster.stop()
    rows = [
        median_row(rows, figures=FIGURES, counts=("errors",), digits=2) for rows in runs.values()
    ]
    ratios = cpu_ratios(repeats)
    print()
    print(_table(rows, ratios))
    for (store, mode, workers), ratio in ratios.items():
        verdict = "within" if ratio <= CPU_RATIO_TARGET else "over"
        print(
            f"{store} {mode}: CPU per credential, {workers} workers vs 1: {ratio:.2f}x "
            f"({verdict} the {CPU_RATIO_TARGET}x target; median of {args.repeat} paired runs)"
        )
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    print(
        f"\n{len(available_cpus())} CPUs, load average {load}, {time.monotonic() - started:.0f} s"
    )
    if args.json:
        every = [row for rows in runs.values() for row in rows]
        write_json(
            args.json,
            {
                "runs": every,
                "medians": rows,
                "cpu_vs_1": [
                    {"store": store, "mode": mode, "workers": workers, "ratio": ratio}
                    for (store, mode, workers), ratio in ratios.items()
                ],
            },
        )


if __name__ == "__main__":
    main()
