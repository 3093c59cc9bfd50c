"""Credential exchange benchmark: issuance, verification, revocation and the full lifecycle
against a real server process, beside the bare gRPC echo ceiling measured in the same run.

What it does (``make bench`` runs it with ``--num-credentials 2000``):

1. makes a temporary SQLite database and a tenant (``eudi-connect tenant create``), and
   starts the echo server (``loadtest/echo_server.py``); on a machine with two or more
   cores every server is pinned to one core and the load generator to the others;
2. measures the echo ceiling: one call at a time, then ``--concurrency`` calls in flight;
3. for each operation, in a fresh ``eudi-connect serve --port 0`` process:
   (a) unloaded: one call at a time; (b) closed loop at ``--concurrency`` in flight
   (``--num-credentials`` calls); after issuance also (c) an open loop at
   ``--open-loop-fraction`` (70 %) of the issuance throughput just measured, timed from
   each call's scheduled start;
4. measures the echo ceiling again (load on a shared machine comes and goes) and reports
   every throughput as a fraction of the median echo figure;
5. prints the tables (figures, SLA, targets, group commit) and writes them as JSON.

The lifecycle is one scenario call of four RPCs (issue, verify, revoke, verify); its
throughput counts lifecycles, and its echo fraction counts its RPCs.

Latency at high concurrency in a closed loop is mostly queueing (p50 ~= in flight /
throughput): compare latency one call at a time or in the open loop, and capacity as a
share of the echo ceiling. ``server µs/call`` is the server's CPU time per successful call.

    python -m loadtest.benchmark_credential_exchange --num-credentials 2000 --json bench.json
    python -m loadtest.benchmark_credential_exchange --endpoint 127.0.0.1:50051 --api-key ek_...
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.bench_support import (
    ECHO_SCENARIO,
    OPERATIONS,
    REPO_ROOT,
    CpuPlan,
    Operation,
    ServiceUnderTest,
    echo_command,
    machine_info,
    measure,
    median_row,
    plan_cpus,
    serve_supports,
)
from loadtest.loadgen import LoadSpec
from loadtest.report import format_table
from loadtest.server_process import ServerProcess

OPEN_LOOP_P95_TARGET_MS = 10.0
CAPACITY_TARGET = 0.60  # unary issuance throughput as a share of the echo ceiling


@dataclass
class Plan:
    """Counts and bounds of one benchmark run, derived from the command line."""

    num_credentials: int
    concurrency: int
    unloaded_calls: int
    lifecycle_unloaded_calls: int
    warmup: int
    repeat: int
    open_loop_fraction: float
    open_loop_seconds: float
    max_phase_seconds: float
    load_processes: int
    cpus: CpuPlan
    progress: bool
    use_uvloop: bool
    in_process_load: bool = False
    single_session: bool = False

    def phases(self, *, with_echo: bool, operations: int, open_loop: bool) -> int:
        """How many measured phases the run has (for the progress bar)."""
        echo = (2 + self.repeat) if with_echo else 0
        return echo + self.repeat * (2 * operations + int(open_loop))


@dataclass
class Results:
    """Every measured row, grouped; medians are taken when reporting."""

    machine: dict[str, Any]
    plan: dict[str, Any]
    echo_unloaded: list[dict[str, Any]] = field(default_factory=list)
    echo_loaded: list[dict[str, Any]] = field(default_factory=list)
    unloaded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    loaded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    open_loop: list[dict[str, Any]] = field(default_factory=list)
    writer: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- running


def _spec(
    plan: Plan,
    target: str,
    scenario: str,
    options: Mapping[str, Any],
    *,
    concurrency: int | None = None,
    rate: float | None = None,
    total: int | None = None,
    duration: float | None = None,
) -> LoadSpec:
    if duration is None:
        duration = plan.max_phase_seconds
    return LoadSpec(
        target=target,
        scenario=scenario,
        options=dict(options),
        concurrency=concurrency,
        rate=rate,
        total=total,
        duration=duration,
        processes=plan.load_processes,
        warmup_calls=plan.warmup,
        use_uvloop=plan.use_uvloop,
        cpus=plan.cpus.load,
        max_in_flight=1000,
        hard_timeout=duration + 30.0,
    )


def _options(operation: Operation, api_key: str, calls: int, plan: Plan) -> dict[str, Any]:
    options: dict[str, Any] = {"api_key": api_key}
    if operation.key == "revocation":
        # One fresh credential per call, warm-up included, for every load process.
        per_process = math.ceil(calls / plan.load_processes) + plan.warmup + 8
        options["pool"] = per_process
    return options


class Runner:
    """Runs the phases in order, with a progress bar over them and a line per phase."""

    def __init__(self, plan: Plan, results: Results, total_phases: int) -> None:
        from tqdm import tqdm

        self.plan = plan
        self.results = results
        self.bar = tqdm(
            total=total_phases,
            desc="benchmark",
            unit="phase",
            disable=not plan.progress,
            dynamic_ncols=True,
            position=1,
        )

    def phase(
        self, label: str, spec: LoadSpec, server: ServerProcess | None, **extra: Any
    ) -> dict[str, Any]:
        self.bar.set_description(label)
        row = measure(
            spec, server, progress=self.plan.progress, in_process=self.plan.in_process_load
        )
        row |= extra
        row["phase"] = label
        self.bar.update(1)
        self.bar.write(_one_line(label, row))
        return row

    def close(self) -> None:
        self.bar.close()


def _one_line(label: str, row: Mapping[str, Any]) -> str:
    text = (
        f"{label}: {row['ok']} ok, {row['errors']} errors, {row['throughput_rps']}/s, "
        f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms"
    )
    if row.get("server_cpu_us_per_call") is not None:
        text += f", server {row['server_cpu_us_per_call']} µs/call"
    if row.get("error_samples"):
        text += f"\n    first errors: {row['error_samples']}"
    return text


def _echo_phase(runner: Runner, echo: ServerProcess, *, unloaded: bool) -> None:
    plan = runner.plan
    if unloaded:
        spec = _spec(
            plan, echo.address, ECHO_SCENARIO, {}, concurrency=1, total=plan.unloaded_calls
        )
        runner.results.echo_unloaded.append(runner.phase("echo, 1 in flight", spec, echo))
    spec = _spec(
        plan,
        echo.address,
        ECHO_SCENARIO,
        {},
        concurrency=plan.concurrency,
        total=plan.num_credentials,
    )
    label = f"echo, {plan.concurrency} in flight"
    runner.results.echo_loaded.append(runner.phase(label, spec, echo))


def _operation_phases(
    runner: Runner, operation: Operation, target: str, server: ServerProcess | None, api_key: str
) -> None:
    plan = runner.plan
    results = runner.results
    unloaded_calls = (
        plan.lifecycle_unloaded_calls if operation.key == "lifecycle" else plan.unloaded_calls
    )
    spec = _spec(
        plan,
        target,
        operation.scenario,
        _options(operation, api_key, unloaded_calls, plan),
        concurrency=1,
        total=unloaded_calls,
    )
    row = runner.phase(f"{operation.key}, 1 in flight", spec, server)
    results.unloaded.setdefault(operation.key, []).append(row)
    spec = _spec(
        plan,
        target,
        operation.scenario,
        _options(operation, api_key, plan.num_credentials, plan),
        concurrency=plan.concurrency,
        total=plan.num_credentials,
    )
    loaded = runner.phase(f"{operation.key}, {plan.concurrency} in flight", spec, server)
    results.loaded.setdefault(operation.key, []).append(loaded)
    if operation.key != "issuance":
        return
    capacity = float(loaded["throughput_rps"] or 0.0)
    if capacity <= 0:
        return
    rate = round(capacity * plan.open_loop_fraction, 1)
    spec = _spec(
        plan,
        target,
        operation.scenario,
        {"api_key": api_key},
        rate=rate,
        duration=plan.open_loop_seconds,
    )
    label = f"issuance, open loop at {rate:g}/s ({plan.open_loop_fraction:.0%} of capacity)"
    row = runner.phase(label, spec, server, capacity_rps=capacity)
    results.open_loop.append(row)


def run_benchmark(args: argparse.Namespace, plan: Plan) -> Results:
    """Every phase, in the order described in the module docstring."""
    operations = [op for op in OPERATIONS if op.key in args.operations]
    results = Results(machine=machine_info(plan.cpus), plan=_plan_dict(plan, args))
    remote = args.endpoint is not None
    phases = plan.phases(
        with_echo=not remote,
        operations=len(operations),
        open_loop=any(op.key == "issuance" for op in operations),
    )
    runner = Runner(plan, results, phases)
    try:
        if remote:
            for _ in range(plan.repeat):
                for operation in operations:
                    _operation_phases(runner, operation, args.endpoint, None, args.api_key)
            return results
        serve_args = list(args.serve_args)
        if not plan.use_uvloop:
            serve_args.append("--no-uvloop")
        with (
            ServiceUnderTest.temporary(
                plan.cpus, serve_args=serve_args, log_level=args.server_log_level
            ) as service,
            ServerProcess(
                echo_command(use_uvloop=plan.use_uvloop), cpus=plan.cpus.server, cwd=str(REPO_ROOT)
            ) as echo,
        ):
            _echo_phase(runner, echo, unloaded=True)
            for _ in range(plan.repeat):
                # A session per operation (unless asked otherwise), so that each server's
                # group-commit counters, logged as it stops, belong to one operation.
                batches = [operations] if plan.single_session else [[op] for op in operations]
                for batch in batches:
                    with service.session() as server:
                        for operation in batch:
                            _operation_phases(
                                runner, operation, server.address, server, service.api_key
                            )
                    stats = service.writer_stats()
                    if stats is not None:
                        name = "+".join(op.key for op in batch)
                        results.writer.setdefault(name, []).append(
                            {
                                "groups": stats.groups,
                                "items": stats.items,
                                "mean": round(stats.mean, 2),
                                "largest": stats.largest,
                            }
                        )
                _echo_phase(runner, echo, unloaded=False)
        return results
    finally:
        results.machine["load_average_end"] = machine_info(plan.cpus)["load_average"]
        runner.close()


# --------------------------------------------------------------------------- reporting


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "pass" if value <= limit else "FAIL"


def summarize(results: Results) -> dict[str, Any]:
    """Medians per phase, the echo ceiling, fractions, and the SLA and target verdicts."""
    echo = median_row(results.echo_loaded)["throughput_rps"] if results.echo_loaded else None
    operations: dict[str, Any] = {}
    for operation in OPERATIONS:
        if operation.key not in results.loaded:
            continue
        unloaded = median_row(results.unloaded[operation.key])
        loaded = median_row(results.loaded[operation.key])
        fraction = None
        if echo and loaded["throughput_rps"] is not None:
            fraction = round(loaded["throughput_rps"] * operation.rpcs_per_call / echo, 3)
        operations[operation.key] = {
            "label": operation.label,
            "unloaded": unloaded,
            "loaded": loaded,
            "echo_fraction": fraction,
        }
    summary: dict[str, Any] = {
        "echo_ceiling_rps": echo,
        "echo_loaded_runs": [row["throughput_rps"] for row in results.echo_loaded],
        "echo_unloaded": median_row(results.echo_unloaded) if results.echo_unloaded else None,
        "operations": operations,
        "open_loop": median_row(results.open_loop) if results.open_loop else None,
        "writer": results.writer,
    }
    summary["sla"] = _sla_rows(operations)
    summary["targets"] = _target_rows(operations, summary["open_loop"])
    return summary


def _sla_rows(operations: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for operation in OPERATIONS:
        figures = operations.get(operation.key)
        if figures is None:
            continue
        p95 = figures["loaded"]["p95_ms"]
        rows.append(
            {
                "operation": operation.label,
                "p95_unloaded_ms": figures["unloaded"]["p95_ms"],
                "p95_loaded_ms": p95,
                "mvp_ms": operation.sla_mvp_ms,
                "mvp": _verdict(p95, operation.sla_mvp_ms),
                "later_ms": operation.sla_later_ms,
                "later": _verdict(p95, operation.sla_later_ms),
            }
        )
    return rows


def _target_rows(
    operations: Mapping[str, Any], open_loop: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    rows = []
    for operation in OPERATIONS:
        figures = operations.get(operation.key)
        if figures is None:
            continue
        value = figures["unloaded"]["p95_ms"]
        rows.append(
            {
                "target": f"{operation.key} P95, 1 in flight",
                "measured": value,
                "limit": f"<= {operation.unloaded_p95_target_ms:g} ms",
                "verdict": _verdict(value, operation.unloaded_p95_target_ms),
            }
        )
    issuance = operations.get("issuance")
    if issuance is not None:
        fraction = issuance["echo_fraction"]
        rows.append(
            {
                "target": "issuance throughput / echo ceiling",
                "measured": fraction,
                "limit": f">= {CAPACITY_TARGET:.0%}",
                "verdict": "n/a"
                if fraction is None
                else ("pass" if fraction >= CAPACITY_TARGET else "FAIL"),
            }
        )
    if open_loop is not None:
        rows.append(
            {
                "target": f"issuance P95, open loop at {open_loop['rate']:g}/s",
                "measured": open_loop["p95_ms"],
                "limit": f"<= {OPEN_LOOP_P95_TARGET_MS:g} ms",
                "verdict": _verdict(open_loop["p95_ms"], OPEN_LOOP_P95_TARGET_MS),
            }
        )
    return rows


def render(summary: Mapping[str, Any], results: Results) -> str:
    """The text report: figures per operation, SLA, targets, group commit."""
    out: list[str] = []
    machine = results.machine
    out.append(
        f"\nmachine: {machine['cpus']} CPUs, load average {machine['load_average']} at start, "
        f"{machine.get('load_average_end')} at end; {machine['pinning']}; "
        f"Python {machine['python']}, grpcio {machine['grpc']}"
    )
    rows: list[dict[str, Any]] = []
    echo = summary["echo_ceiling_rps"]
    if summary["echo_unloaded"] is not None:
        rows.append(_figure_row("echo (bare gRPC)", "1 in flight", summary["echo_unloaded"]))
    if results.echo_loaded:
        row = _figure_row(
            "echo (bare gRPC)",
            f"{results.plan['concurrency']} in flight",
            median_row(results.echo_loaded),
        )
        row["echo_fraction"] = 1.0
        rows.append(row)
    for key, figures in summary["operations"].items():
        rows.append(_figure_row(key, "1 in flight", figures["unloaded"]))
        loaded = _figure_row(key, f"{results.plan['concurrency']} in flight", figures["loaded"])
        loaded["echo_fraction"] = figures["echo_fraction"]
        rows.append(loaded)
    if summary["open_loop"] is not None:
        open_loop = summary["open_loop"]
        rows.append(_figure_row("issuance", f"open {open_loop['rate']:g}/s", open_loop))
    runs = results.plan["repeat"]
    out.append(f"\nfigures (median of {runs} run(s) each; latency in ms; echo ceiling {echo}/s)")
    out.append(
        format_table(
            rows,
            [
                "operation",
                "load",
                "ok",
                "errors",
                "throughput_rps",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "max_ms",
                "server_us_per_call",
                "echo_fraction",
            ],
        )
    )
    out.append("\nSLA (docs/performance.md, P95): judged at the loaded P95")
    out.append(
        format_table(
            summary["sla"],
            ["operation", "p95_unloaded_ms", "p95_loaded_ms", "mvp_ms", "mvp", "later_ms", "later"],
        )
    )
    out.append("\ntargets")
    out.append(format_table(summary["targets"], ["target", "measured", "limit", "verdict"]))
    if results.open_loop:
        # What an open-loop P95 means depends on whether both sides kept to the timetable.
        runs = ", ".join(
            f"{row['rate']:g}/s: p95 {row['p95_ms']} ms, {row['late']} late, "
            f"server busy {row['server_cpu']}"
            for row in results.open_loop
        )
        out.append(
            f"open-loop runs ({runs}); 'late' calls started over 10 ms behind their slot at "
            "the client, and a server busy well under 1.0 while behind means other work "
            "had its core"
        )
    if summary["writer"]:
        writer_rows = [
            {"session": key, **row} for key, rows_ in summary["writer"].items() for row in rows_
        ]
        out.append("\ngroup commit per server session (all its writes, setup and unloaded too)")
        out.append(format_table(writer_rows, ["session", "items", "groups", "mean", "largest"]))
    return "\n".join(out)


def _figure_row(operation: str, load: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "operation": operation,
        "load": load,
        "ok": row["ok"],
        "errors": row["errors"],
        "throughput_rps": row["throughput_rps"],
        "p50_ms": row["p50_ms"],
        "p95_ms": row["p95_ms"],
        "p99_ms": row["p99_ms"],
        "max_ms": row["max_ms"],
        "server_us_per_call": row.get("server_cpu_us_per_call"),
        "echo_fraction": None,
    }


# --------------------------------------------------------------------------- command line


def _plan_dict(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "num_credentials": plan.num_credentials,
        "concurrency": plan.concurrency,
        "unloaded_calls": plan.unloaded_calls,
        "lifecycle_unloaded_calls": plan.lifecycle_unloaded_calls,
        "warmup_calls": plan.warmup,
        "repeat": plan.repeat,
        "open_loop_fraction": plan.open_loop_fraction,
        "open_loop_seconds": plan.open_loop_seconds,
        "load_processes": plan.load_processes,
        "uvloop": plan.use_uvloop,
        "endpoint": args.endpoint,
        "serve_args": list(args.serve_args),
        "server_log_level": args.server_log_level,
        "operations": list(args.operations),
        "in_process_load": plan.in_process_load,
        "single_session": plan.single_session,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.benchmark_credential_exchange",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--num-credentials", type=int, default=2000, help="calls per loaded phase")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight, closed loop")
    parser.add_argument("--unloaded-calls", type=int, help="calls one at a time (default ≤ 500)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per phase (default ≤ 50)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase; medians reported")
    parser.add_argument("--open-loop-fraction", type=float, default=0.7)
    parser.add_argument("--open-loop-seconds", type=float, default=5.0)
    parser.add_argument("--max-phase-seconds", type=float, default=60.0, help="bound per phase")
    parser.add_argument("--load-processes", type=int, default=1)
    parser.add_argument(
        "--operations",
        nargs="+",
        default=[op.key for op in OPERATIONS],
        choices=[op.key for op in OPERATIONS],
    )
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument("--endpoint", metavar="HOST:PORT", help="a running service (no echo)")
    parser.add_argument("--api-key", help="the tenant key for --endpoint")
    parser.add_argument(
        "--workers",
        nargs="?",
        type=int,
        const=0,
        help="serve with several processes (`serve --workers N`; alone: one per core); unpinned",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load")
    parser.add_argument("--no-uvloop", action="store_true", help="asyncio's loop everywhere")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--in-process-load",
        action="store_true",
        help="apply the load from this process, no worker processes (smoke tests only)",
    )
    parser.add_argument(
        "--single-session", action="store_true", help="one server process for all operations"
    )
    parser.add_argument(
        "--server-log-level",
        default="INFO",
        help="the service's log level (INFO, its default, writes an access-log line per call "
        "to the session log file; WARNING leaves it out)",
    )
    return parser


def _make_plan(args: argparse.Namespace) -> Plan:
    n = args.num_credentials
    if n < 1 or args.concurrency < 1 or args.repeat < 1:
        raise SystemExit("--num-credentials, --concurrency and --repeat must be at least 1")
    unloaded = args.unloaded_calls if args.unloaded_calls is not None else min(n, 500)
    warmup = args.warmup if args.warmup is not None else min(50, max(5, n // 10))
    workers = args.workers
    server_cores = 1
    pin = not args.no_pin
    args.serve_args = []
    if workers is not None:
        if not serve_supports("--workers"):
            raise SystemExit("this build's `eudi-connect serve` has no --workers option")
        if workers == 0:
            from loadtest.server_process import available_cpus

            workers = len(available_cpus())
        args.serve_args = ["--workers", str(workers)]
        pin = pin and workers == 1
    return Plan(
        num_credentials=n,
        concurrency=args.concurrency,
        unloaded_calls=unloaded,
        lifecycle_unloaded_calls=max(1, min(unloaded, 200)),
        warmup=warmup,
        repeat=args.repeat,
        open_loop_fraction=args.open_loop_fraction,
        open_loop_seconds=args.open_loop_seconds,
        max_phase_seconds=args.max_phase_seconds,
        load_processes=args.load_processes,
        cpus=plan_cpus(pin=pin, server_cores=server_cores),
        progress=not args.no_progress,
        use_uvloop=not args.no_uvloop,
        in_process_load=args.in_process_load,
        single_session=args.single_session,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when any call failed (the figures are then suspect)."""
    args = build_parser().parse_args(argv)
    if args.endpoint is not None and not args.api_key:
        raise SystemExit("--endpoint needs --api-key")
    plan = _make_plan(args)
    began = time.monotonic()
    results = run_benchmark(args, plan)
    summary = summarize(results)
    summary["elapsed_s"] = round(time.monotonic() - began, 1)
    print(render(summary, results))
    print(f"\ndone in {summary['elapsed_s']} s")
    if args.json:
        document = {
            "machine": results.machine,
            "plan": results.plan,
            "summary": summary,
            "runs": {
                "echo_unloaded": results.echo_unloaded,
                "echo_loaded": results.echo_loaded,
                "unloaded": results.unloaded,
                "loaded": results.loaded,
                "open_loop": results.open_loop,
            },
        }
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, default=_json_default)
            out.write("\n")
    failed = any(
        row["errors"] or row.get("warmup_errors")
        for rows in (
            results.echo_loaded,
            results.open_loop,
            *results.loaded.values(),
            *results.unloaded.values(),
        )
        for row in rows
    )
    return 1 if failed else 0


def _json_default(value: object) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


if __name__ == "__main__":
    sys.exit(main())
