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
(the eudi-connect processes only, not PostgreSQL's), in total and per process, and the
CPU seconds the load generator used over the whole run ("load s", start-up included). Runs are
interleaved (1, 2, 1, 2, ...) and the median of ``--repeat`` runs is shown, since the
machine is shared and noisy.

    .venv/bin/python -m loadtest.scaling_workers --duration 10 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eudi_connect.core.keys import MasterKey
from eudi_connect.devtools.pgcluster import ThrowawayCluster, create_schema, find_postgres_bin
from eudi_connect.services.app import MASTER_KEY_ENV, open_services
from loadtest.bench_support import cli_command
from loadtest.loadgen import LoadSpec, run_load
from loadtest.server_process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
MODES = {
    "unary": "loadtest.scenarios:issue_scenario",
    "batch": "loadtest.scenarios:batch_scenario",
}


@dataclass(frozen=True)
class Case:
    store: str
    mode: str
    workers: int


def _serve_command(db_url: str, workers: int) -> list[str]:
    return [
        *cli_command(),
        "--log-level",
        "WARNING",  # no access log line per call
        "serve",
        "--port",
        "0",
        "--db",
        db_url,
        "--workers",
        str(workers),
        "--sign-workers",
        "0",
        "--log-format",
        "text",
    ]


def _cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU of `pid` and of each of its children (the workers), from /proc."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listing:
            pids += [int(child) for child in listing.read().split()]
    except OSError:
        pass
    used: dict[int, float] = {}
    for each in pids:
        try:
            with open(f"/proc/{each}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[each] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def _children_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


async def _create_tenant(db_url: str, master: MasterKey) -> str:
    services = await open_services(db_url, master_key=master)
    try:
        return (await services.tenants.create_tenant("scaling benchmark")).api_key
    finally:
        await services.close()


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
        api_key = asyncio.run(_create_tenant(db_url, master))
        env = {**os.environ, MASTER_KEY_ENV: master.to_text()}
        batch = args.batch_size if case.mode == "batch" else 1
        with ServerProcess(
            _serve_command(db_url, case.workers), env=env, cwd=str(REPO_ROOT), ready_timeout=120
        ) as server:
            spec = LoadSpec(
                target=server.address,
                scenario=MODES[case.mode],
                options={"api_key": api_key, "batch_size": batch},
                concurrency=args.concurrency if case.mode == "unary" else args.batch_concurrency,
                duration=args.duration,
                processes=1,
                channels=args.channels,
                warmup_calls=args.warmup if case.mode == "unary" else 2,
            )
            before: dict[int, float] = {}

            def note_start() -> None:
                before.update(_cpu_seconds(server.pid))

            load_before = _children_cpu_seconds()
            result = run_load(spec, progress=False, on_start=note_start)
            after = _cpu_seconds(server.pid)
            # The load generator's process has been joined: its CPU (set-up and warm-up
            # included) now counts among this process's finished children.
            load_cpu = _children_cpu_seconds() - load_before
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
        "process_cpu": [cpu for cpu in spread if cpu >= 0.01],
        "load_cpu_s": round(load_cpu, 1),
        "codes": summary["codes"],
    }


def _median(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged = dict(rows[0])
    for key in ("credentials_per_s", "p50_ms", "p95_ms", "server_cpu", "load_cpu_s"):
        values = [row[key] for row in rows if isinstance(row.get(key), int | float)]
        merged[key] = round(statistics.median(values), 2) if values else None
    merged["errors"] = sum(row["errors"] for row in rows)
    merged["runs"] = len(rows)
    return merged


def _table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"{'store':9} {'mode':6} {'workers':>7} {'cred/s':>9} {'vs 1':>6} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'cpu':>5} {'load s':>6} {'errors':>6}  per process"
    ]
    single = {
        (row["store"], row["mode"]): row["credentials_per_s"] for row in rows if row["workers"] == 1
    }
    for row in rows:
        base = single.get((row["store"], row["mode"]))
        ratio = f"{row['credentials_per_s'] / base:.2f}x" if base else "-"
        lines.append(
            f"{row['store']:9} {row['mode']:6} {row['workers']:>7} "
            f"{row['credentials_per_s']:>9.0f} {ratio:>6} {row['p50_ms'] or 0:>8.1f} "
            f"{row['p95_ms'] or 0:>8.1f} {row['server_cpu'] or 0:>5.2f} "
            f"{row.get('load_cpu_s') or 0:>6.1f} {row['errors']:>6}  "
            f"{'/'.join(str(cpu) for cpu in row.get('process_cpu', []))}"
        )
    return "\n".join(lines)


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
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="eudi-scaling-") as name:
            for _ in range(args.repeat):
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
    finally:
        if cluster is not None:
            cluster.stop()
    rows = [_median(rows) for rows in runs.values()]
    print()
    print(_table(rows))
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    print(
        f"\n{len(os.sched_getaffinity(0))} CPUs, load average {load}, "
        f"{time.monotonic() - started:.0f} s"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"runs": runs_as_list(runs), "medians": rows}, indent=2)
        )


def runs_as_list(runs: dict[Case, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for rows in runs.values() for row in rows]


if __name__ == "__main__":
    main()
