"""Issuance throughput in one run, beside the echo ceiling: one IssueCredentialBatch of
1,000 and of 10,000 items and one IssueCredentialStream, each received by a client process
of its own (`loadtest.batch_client`), and unary IssueCredential at 32 in flight from the
load generator; with the server's CPU per credential by process and by thread.

Every figure is the best of ``--repeat`` runs (the machine is shared: the best run is the
one least disturbed), shown with the load average when it was taken. The servers are not
pinned: the point is what one server makes of both cores (event loop, SQLite writer,
signing worker) while its client takes its share of them too.

CPU per credential comes from /proc: every thread of the server process and of each
process below it (signing workers; the server processes of ``--workers N``), read before
and after the call. Threads are named for the kernel by the service (``sqlite-writer``);
the main thread of a server process runs its event loop.

    python -m loadtest.benchmark_throughput [--repeat 3] [--serve-args="--workers 2"]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.lib.cpu import (
    CpuPlan,
    children_cpu_seconds,
    process_command,
    process_tree,
    thread_cpu_seconds,
    thread_switches,
)
from loadtest.lib.pool import run_load
from loadtest.lib.report import format_table, write_json
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import REPO_ROOT, ServiceUnderTest, echo_command
from loadtest.lib.spec import LoadSpec

ECHO_SCENARIO = "loadtest.echo_server:echo_scenario"
UNARY_SCENARIO = "loadtest.benchmark_batch:unary_issue_scenario"
CLIENT_TIMEOUT_SECONDS = 300.0

#: One snapshot: (pid, tid, label) -> (CPU seconds, context switches so far).
Snapshot = dict[tuple[int, int, str], tuple[float, int]]


def _process_label(pid: int, root: int) -> str:
    """What a process of the server's tree is: the server itself (the supervisor under
    ``--workers N``), one of its server workers (named ``worker-<n>`` for the kernel), a
    signing worker, or multiprocessing's resource tracker."""
    if pid == root:
        return "server"
    if _comm(pid).startswith("worker-"):
        return "server worker"
    command = " ".join(process_command(pid))
    if "resource_tracker" in command:
        return "resource tracker"
    return "sign worker"


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def _thread_label(pid: int, tid: int, name: str) -> str:
    return "event loop" if tid == pid else name


def snapshot(root: int) -> Snapshot:
    """CPU seconds of every thread of `root` and of the processes below it."""
    taken: Snapshot = {}
    for pid in process_tree(root):
        switches = thread_switches(pid)
        for (tid, name), seconds in thread_cpu_seconds(pid).items():
            label = f"{_process_label(pid, root)}: {_thread_label(pid, tid, name)}"
            taken[(pid, tid, label)] = (seconds, switches.get(tid, 0))
    return taken


def cpu_by_thread(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds spent between two snapshots, summed by label (a thread or process that
    appeared in between counts from zero)."""
    spent: dict[str, float] = {}
    for key, (seconds, _) in after.items():
        used = seconds - before.get(key, (0.0, 0))[0]
        spent[key[2]] = spent.get(key[2], 0.0) + used
    return spent


def switches_between(before: Snapshot, after: Snapshot) -> int:
    """Context switches of every thread of the tree between two snapshots."""
    return sum(count - before.get(key, (0.0, 0))[1] for key, (_, count) in after.items())


def load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


@dataclass
class Figure:
    """One run of one kind: its throughput and where the CPU went."""

    run: str
    credentials: int
    ok: int
    seconds: float
    load_average: float
    server_cpu: dict[str, float] = field(default_factory=dict)
    client_cpu_s: float | None = None
    first_result_ms: float | None = None
    messages: int | None = None
    switches: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def cpu_us_per_credential(self) -> dict[str, float]:
        ok = self.ok or 1
        return {label: used / ok * 1e6 for label, used in self.server_cpu.items()}

    def row(self) -> dict[str, Any]:
        per = self.cpu_us_per_credential()
        return {
            "run": self.run,
            "items": self.credentials,
            "ok": self.ok,
            "credentials_per_s": round(self.rate, 1),
            "server_us_per_cred": round(sum(per.values()), 1),
            "client_us_per_cred": (
                round(self.client_cpu_s / (self.ok or 1) * 1e6, 1)
                if self.client_cpu_s is not None
                else None
            ),
            "switches_per_cred": round(self.switches / (self.ok or 1), 2),
            "first_ms": self.first_result_ms,
            "messages": self.messages,
            "load_avg": self.load_average,
        }


def client_run(
    address: str, api_key: str, mode: str, items: int, tag: str, root: int, clients: int = 1
) -> Figure:
    """`items` credentials from `clients` client processes at once (each its share, over a
    connection of its own, so that ``--workers N`` spreads them); the server's CPU is read
    while only they run."""
    command = [sys.executable, "-m", "loadtest.batch_client", address, api_key, "--mode", mode]
    shares = [items // clients + (1 if i < items % clients else 0) for i in range(clients)]
    processes = [
        subprocess.Popen(
            [*command, "--items", str(share), "--tag", f"{tag}-{i}"],
            cwd=str(REPO_ROOT),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, share in enumerate(shares)
    ]
    lines: list[str] = []
    try:
        for client in processes:
            assert client.stdout is not None
            ready = client.stdout.readline().strip()
            if ready != "READY":
                raise RuntimeError(f"a client did not start: {ready!r}")
        before = snapshot(root)
        for client in processes:
            assert client.stdin is not None
            client.stdin.write("go\n")
            client.stdin.flush()
        for client in processes:
            assert client.stdout is not None
            lines.append(client.stdout.readline())
        after = snapshot(root)
        for client in processes:
            client.wait(timeout=CLIENT_TIMEOUT_SECONDS)
    finally:
        for client in processes:
            if client.poll() is None:
                client.kill()
                client.wait()
    if not all(lines):
        raise RuntimeError(f"a {mode} client ended without a result")
    outcomes = [json.loads(line) for line in lines]
    label = "IssueCredentialBatch" if mode == "batch" else "IssueCredentialStream"
    firsts = [o["first_result_s"] for o in outcomes if o["first_result_s"] is not None]
    by = f" from {clients} clients" if clients > 1 else ""
    return Figure(
        run=f"{label} {items:,} items{by}",
        credentials=items,
        ok=sum(o["ok"] for o in outcomes),
        # The clients started together: the last one to finish ends the run.
        seconds=max(o["seconds"] for o in outcomes),
        load_average=load_average(),
        server_cpu=cpu_by_thread(before, after),
        switches=switches_between(before, after),
        client_cpu_s=sum(o["client_cpu_s"] for o in outcomes),
        first_result_ms=round(min(firsts) * 1000, 1) if firsts else None,
        messages=sum(o["messages"] for o in outcomes),
    )


def unary_run(
    address: str, api_key: str, concurrency: int, total: int, root: int, channels: int
) -> Figure:
    before: Snapshot = {}
    result = run_load(
        LoadSpec(
            target=address,
            scenario=UNARY_SCENARIO,
            options={"api_key": api_key},
            concurrency=concurrency,
            # Several connections, so that the kernel spreads them over --workers N.
            channels=channels,
            total=total,
            warmup_calls=100,
        ),
        progress=False,
        on_start=lambda: before.update(snapshot(root)),
    )
    after = snapshot(root)
    return Figure(
        run=f"IssueCredential unary, {concurrency} in flight",
        credentials=result.calls,
        ok=result.ok,
        seconds=result.elapsed,
        load_average=load_average(),
        server_cpu=cpu_by_thread(before, after),
        switches=switches_between(before, after),
    )


def echo_run(concurrency: int, total: int) -> Figure:
    with ServerProcess(echo_command(), cwd=str(REPO_ROOT)) as echo:
        before: Snapshot = {}
        result = run_load(
            LoadSpec(
                target=echo.address,
                scenario=ECHO_SCENARIO,
                concurrency=concurrency,
                total=total,
                warmup_calls=100,
            ),
            progress=False,
            on_start=lambda: before.update(snapshot(echo.pid)),
        )
        after = snapshot(echo.pid)
    return Figure(
        run=f"echo ceiling, {concurrency} in flight",
        credentials=result.calls,
        ok=result.ok,
        seconds=result.elapsed,
        load_average=load_average(),
        server_cpu=cpu_by_thread(before, after),
        switches=switches_between(before, after),
    )


def best(figures: Sequence[Figure]) -> Figure:
    return max(figures, key=lambda figure: figure.rate)


def thread_table(figures: Mapping[str, Figure]) -> str:
    """CPU µs per credential by process and thread (threads under 1 µs left out)."""
    labels: dict[str, float] = {}
    for figure in figures.values():
        for label, used in figure.cpu_us_per_credential().items():
            labels[label] = max(labels.get(label, 0.0), used)
    shown = [label for label, top in labels.items() if top >= 1.0]
    shown.sort(key=lambda label: labels[label])
    rows = []
    for label in reversed(shown):
        row: dict[str, Any] = {"process: thread": label}
        for run, figure in figures.items():
            row[run] = round(figure.cpu_us_per_credential().get(label, 0.0), 1)
        rows.append(row)
    total: dict[str, Any] = {"process: thread": "all"}
    for run, figure in figures.items():
        total[run] = round(sum(figure.cpu_us_per_credential().values()), 1)
    rows.append(total)
    return format_table(rows, ["process: thread", *figures])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--stream-items", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (best shown)")
    parser.add_argument("--concurrency", type=int, default=32, help="unary calls in flight")
    parser.add_argument("--unary-total", type=int, default=3000)
    parser.add_argument("--echo-total", type=int, default=6000)
    parser.add_argument(
        "--clients", type=int, default=1, help="client processes sharing each batch or stream"
    )
    parser.add_argument("--channels", type=int, default=8, help="connections of the unary load")
    parser.add_argument(
        "--serve-args", default="", help='extra serve flags, e.g. --serve-args="--workers 2"'
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    started = time.monotonic()
    load_before = children_cpu_seconds()
    runs: dict[str, list[Figure]] = {}

    def keep(figure: Figure) -> None:
        runs.setdefault(figure.run, []).append(figure)
        print(
            f"  {figure.run}: {figure.rate:,.0f}/s (load average {figure.load_average})",
            file=sys.stderr,
            flush=True,
        )

    calls = [("batch", size) for size in args.items] + [("stream", args.stream_items)]
    with ServiceUnderTest.temporary(
        CpuPlan(None, None), serve_args=shlex.split(args.serve_args), log_level="WARNING"
    ) as service:
        for n in range(args.repeat):
            keep(echo_run(args.concurrency, args.echo_total))
            with service.session() as server:
                # Warm the tenant's key, its status list lease and the signing worker.
                client_run(server.address, service.api_key, "batch", 300, f"warm-{n}", server.pid)
                for mode, size in calls:
                    tag = f"{mode}{size}-{n}"
                    keep(
                        client_run(
                            server.address,
                            service.api_key,
                            mode,
                            size,
                            tag,
                            server.pid,
                            args.clients,
                        )
                    )
                unary = unary_run(
                    server.address,
                    service.api_key,
                    args.concurrency,
                    args.unary_total,
                    server.pid,
                    args.channels,
                )
                keep(unary)
    chosen = {run: best(figures) for run, figures in runs.items()}
    echo = next(f for run, f in chosen.items() if run.startswith("echo"))
    unary = next(f for run, f in chosen.items() if run.startswith("IssueCredential unary"))
    rows = []
    for figure in chosen.values():
        row = figure.row()
        row["x_unary"] = round(figure.rate / unary.rate, 2) if unary.rate else None
        row["x_echo"] = round(figure.rate / echo.rate, 2) if echo.rate else None
        rows.append(row)
    columns = ["run", "items", "ok", "credentials_per_s", "x_unary", "x_echo", "load_avg"]
    columns += ["server_us_per_cred", "client_us_per_cred", "switches_per_cred", "first_ms"]
    columns += ["messages"]
    print(f"best of {args.repeat}; serve {args.serve_args or '(defaults)'}")
    print(format_table(rows, columns))
    print("\nserver CPU µs per credential (per call for echo), by process and thread:")
    print(thread_table({run: f for run, f in chosen.items()}))
    print(
        f"\n{os.cpu_count()} CPUs, load average now {load_average()}, "
        f"{time.monotonic() - started:.0f} s, load generator CPU "
        f"{children_cpu_seconds() - load_before:.1f} s"
    )
    if args.json:
        write_json(
            args.json,
            {
                "best": rows,
                "runs": {
                    run: [f.row() | {"server_cpu_us": f.cpu_us_per_credential()} for f in figures]
                    for run, figures in runs.items()
                },
            },
        )
    return 0 if all(f.ok == f.credentials for f in chosen.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
