"""Credential exchange benchmark: issuance, verification, revocation and the full lifecycle
against a real server process, beside the bare gRPC echo ceiling measured in the same run.

What it does (``make bench`` runs it with ``--num-credentials 2000``):

1. makes a temporary SQLite database and a tenant, and starts the echo server; on a machine
   with two or more cores every server is pinned to one core and the load to the others;
2. measures the echo ceiling: one call at a time, then ``--concurrency`` calls in flight;
3. for each operation, in a fresh ``eudi-connect serve --port 0`` process:
   (a) unloaded: one call at a time; (b) closed loop at ``--concurrency`` in flight
   (``--num-credentials`` calls); after issuance also (c) an open loop at
   ``--open-loop-fraction`` (70 %) of the issuance throughput just measured;
4. measures the echo ceiling again and reports every throughput as a fraction of the
   median echo figure;
5. prints the tables (figures, SLA, targets, group commit) and writes them as JSON.

Latency in a closed loop at high concurrency is mostly queueing (p50 ~= in flight /
throughput): compare latency one call at a time or in the open loop, and capacity as a
share of the echo ceiling. ``server µs/call`` is the server's CPU time per successful call.

    python -m loadtest.benchmark_credential_exchange --num-credentials 2000 --json bench.json
    python -m loadtest.benchmark_credential_exchange --endpoint 127.0.0.1:50051 --api-key ek_...
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from loadtest.lib import cli
from loadtest.lib.cpu import CpuPlan, plan_cpus
from loadtest.lib.exchange import Results, render, summarize
from loadtest.lib.report import machine_info, write_json
from loadtest.lib.runs import PhaseRunner
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import REPO_ROOT, ServiceUnderTest, echo_command
from loadtest.lib.sla import OPERATIONS, Operation
from loadtest.lib.spec import LoadSpec

ECHO_SCENARIO = "loadtest.echo_server:echo_scenario"


@dataclass
class Plan:
    """Counts and bounds of one run, from the command line (its fields go into the JSON)."""

    num_credentials: int
    concurrency: int
    unloaded_calls: int
    lifecycle_unloaded_calls: int
    warmup_calls: int
    repeat: int
    open_loop_fraction: float
    open_loop_seconds: float
    max_phase_seconds: float
    load_processes: int
    uvloop: bool
    endpoint: str | None
    serve_args: list[str]
    server_log_level: str
    operations: list[str]
    in_process_load: bool
    single_session: bool


class Benchmark:
    """The phases of one run, in the order of the module docstring."""

    def __init__(self, plan: Plan, cpus: CpuPlan, runner: PhaseRunner, results: Results) -> None:
        self.plan, self.cpus, self.runner, self.results = plan, cpus, runner, results

    def spec(self, target: str, scenario: str, options: dict[str, Any], **load: Any) -> LoadSpec:
        duration = load.pop("duration", self.plan.max_phase_seconds)
        return LoadSpec(
            target,
            scenario,
            options,
            duration=duration,
            processes=self.plan.load_processes,
            warmup_calls=self.plan.warmup_calls,
            use_uvloop=self.plan.uvloop,
            cpus=self.cpus.load,
            hard_timeout=duration + 30.0,
            **load,
        )

    def echo(self, echo: ServerProcess, *, unloaded: bool) -> None:
        plan = self.plan
        levels = [(plan.unloaded_calls, 1, self.results.echo_unloaded)] if unloaded else []
        levels.append((plan.num_credentials, plan.concurrency, self.results.echo_loaded))
        for calls, concurrency, rows in levels:
            spec = self.spec(echo.address, ECHO_SCENARIO, {}, concurrency=concurrency, total=calls)
            rows.append(self.runner.phase(f"echo, {concurrency} in flight", spec, echo))

    def operation(self, op: Operation, target: str, server: ServerProcess | None, key: str) -> None:
        plan, results, run = self.plan, self.results, self.runner.phase
        unloaded = plan.lifecycle_unloaded_calls if op.key == "lifecycle" else plan.unloaded_calls
        for calls, concurrency, rows in (
            (unloaded, 1, results.unloaded),
            (plan.num_credentials, plan.concurrency, results.loaded),
        ):
            options: dict[str, Any] = {"api_key": key}
            if op.key == "revocation":  # one fresh credential per call, warm-up included
                per_process = math.ceil(calls / plan.load_processes) + plan.warmup_calls + 8
                options["pool"] = per_process
            spec = self.spec(target, op.scenario, options, concurrency=concurrency, total=calls)
            rows.setdefault(op.key, []).append(
                run(f"{op.key}, {concurrency} in flight", spec, server)
            )
        capacity = float(results.loaded[op.key][-1]["throughput_rps"] or 0.0)
        if op.key != "issuance" or capacity <= 0:
            return
        rate = round(capacity * plan.open_loop_fraction, 1)
        spec = self.spec(
            target, op.scenario, {"api_key": key}, rate=rate, duration=plan.open_loop_seconds
        )
        label = f"issuance, open loop at {rate:g}/s ({plan.open_loop_fraction:.0%} of capacity)"
        results.open_loop.append(run(label, spec, server, capacity_rps=capacity))

    def run(self, api_key: str | None) -> None:
        plan, operations = self.plan, [op for op in OPERATIONS if op.key in self.plan.operations]
        if plan.endpoint is not None:
            for _ in range(plan.repeat):
                for op in operations:
                    self.operation(op, plan.endpoint, None, api_key or "")
            return
        serve_args = plan.serve_args + ([] if plan.uvloop else ["--no-uvloop"])
        echo_server = ServerProcess(
            echo_command(use_uvloop=plan.uvloop), cpus=self.cpus.server, cwd=str(REPO_ROOT)
        )
        with (
            ServiceUnderTest.temporary(
                self.cpus, serve_args=serve_args, log_level=plan.server_log_level
            ) as service,
            echo_server as echo,
        ):
            self.echo(echo, unloaded=True)
            for _ in range(plan.repeat):
                # A session per operation (unless asked otherwise), so that each server's
                # group-commit counters, logged as it stops, belong to one operation.
                batches = [operations] if plan.single_session else [[op] for op in operations]
                for batch in batches:
                    with service.session() as server:
                        for op in batch:
                            self.operation(op, server.address, server, service.api_key)
                    stats = service.writer_stats()
                    if stats is not None:
                        name = "+".join(op.key for op in batch)
                        self.results.writer.setdefault(name, []).append(stats.as_row())
                self.echo(echo, unloaded=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.benchmark_credential_exchange",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    add = parser.add_argument
    add("--num-credentials", type=int, default=2000, help="calls per loaded phase")
    add("--concurrency", type=int, default=32, help="in flight, closed loop")
    add("--unloaded-calls", type=int, help="calls one at a time (default ≤ 500)")
    add("--warmup", type=int, help="warm-up calls per phase (default ≤ 50)")
    add("--repeat", type=int, default=1, help="runs per phase; medians reported")
    add("--open-loop-fraction", type=float, default=0.7)
    add("--open-loop-seconds", type=float, default=5.0)
    add("--max-phase-seconds", type=float, default=60.0, help="bound per phase")
    keys = [op.key for op in OPERATIONS]
    add("--operations", nargs="+", default=keys, choices=keys)
    add("--json", metavar="PATH", help="write every figure as JSON")
    add("--workers", nargs="?", type=int, const=0, help="`serve --workers N` (alone: one per core)")
    add("--no-uvloop", action="store_true", help="asyncio's loop everywhere")
    add("--single-session", action="store_true", help="one server process for all operations")
    cli.add_service_flags(parser)
    return parser


def _make_plan(args: argparse.Namespace) -> tuple[Plan, CpuPlan]:
    n = args.num_credentials
    if n < 1 or args.concurrency < 1 or args.repeat < 1:
        raise SystemExit("--num-credentials, --concurrency and --repeat must be at least 1")
    unloaded = args.unloaded_calls if args.unloaded_calls is not None else min(n, 500)
    serve_args = [] if args.workers is None else cli.workers_args(args.workers)
    pin = not args.no_pin and args.workers in (None, 1)  # several processes: not pinned
    derived = {
        "unloaded_calls": unloaded,
        "lifecycle_unloaded_calls": max(1, min(unloaded, 200)),
        "warmup_calls": args.warmup if args.warmup is not None else min(50, max(5, n // 10)),
        "uvloop": not args.no_uvloop,
        "serve_args": serve_args,
    }
    given: dict[str, Any] = {field.name: getattr(args, field.name, None) for field in fields(Plan)}
    plan = Plan(**(given | derived))
    return plan, plan_cpus(pin=pin)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when any call failed (the figures are then suspect)."""
    args = build_parser().parse_args(argv)
    cli.check_endpoint(args)
    plan, cpus = _make_plan(args)
    began = time.monotonic()
    results = Results(machine=machine_info(cpus), plan=asdict(plan))
    operations = [op for op in OPERATIONS if op.key in plan.operations]
    echo_phases = 0 if plan.endpoint else 2 + plan.repeat
    open_loop = any(op.key == "issuance" for op in operations)
    phases = echo_phases + plan.repeat * (2 * len(operations) + int(open_loop))
    runner = PhaseRunner(phases, progress=not args.no_progress, in_process=plan.in_process_load)
    try:
        with runner:
            Benchmark(plan, cpus, runner, results).run(args.api_key)
    finally:
        results.machine["load_average_end"] = machine_info(cpus)["load_average"]
    summary = summarize(results)
    summary["elapsed_s"] = round(time.monotonic() - began, 1)
    print(render(summary, results))
    print(f"\ndone in {summary['elapsed_s']} s")
    if args.json:
        write_json(args.json, results.document(summary))
    return 1 if results.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
