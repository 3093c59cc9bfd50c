"""Scaling test: throughput and latency as the number of calls in flight grows; the knee.

A closed loop at 1, 2, 4, ... calls in flight (``--duration`` seconds each, up to
``--max-concurrency``) against a fresh ``eudi-connect serve`` (``--workers`` processes;
one process is pinned to one core when the machine has two). Throughput rises with
concurrency until the server is saturated; beyond that only latency grows (p50 ~=
in flight / throughput). The *knee* is the smallest concurrency that reaches 90 % of the
best throughput: more in flight buys latency, not capacity. From 16 in flight on, the
sweep stops early once two further doublings add less than 5 %. ``--repeat`` measures
each level several times and keeps the medians (a shared machine is noisy).

Then latency over time: an open loop at ``--rate`` calls/s if given (latency from each
call's scheduled start), else a closed loop at the knee, for ``--duration`` seconds.

Writes ``scaling.png`` (P50/P95/P99 and throughput against concurrency), ``timeline.png``
(percentiles and calls per second over time) and ``scaling.json`` to ``--out``.

    python -m loadtest.scaling_test --workers 1 --duration 5
    python -m loadtest.scaling_test --workers 1 --duration 10 --rate 800 --operation issuance
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loadtest.lib import cli, report
from loadtest.lib.cpu import plan_cpus
from loadtest.lib.runs import PhaseRunner, measure
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import REPO_ROOT, ServiceUnderTest, echo_command
from loadtest.lib.sla import OPERATIONS, operation
from loadtest.lib.spec import LoadSpec

KNEE_SHARE = 0.90  # the knee reaches this share of the best throughput
SATURATED_GAIN = 0.05  # a doubling that adds less than this is no gain
REVOCATIONS_PER_SECOND_BOUND = 2500  # pool per second of a revocation run


def find_knee(points: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The point with the smallest concurrency reaching 90 % of the best throughput."""
    measured = [p for p in points if isinstance(p.get("throughput_rps"), int | float)]
    if not measured:
        return None
    best = max(float(p["throughput_rps"]) for p in measured)
    for point in sorted(measured, key=lambda p: int(p["concurrency"])):
        if float(point["throughput_rps"]) >= KNEE_SHARE * best:
            return point
    return None  # unreachable: the best point itself qualifies


def saturated(points: Sequence[Mapping[str, Any]], *, min_concurrency: int = 16) -> bool:
    """True when the last two points each added less than 5 % over the best before them.

    Never before ``min_concurrency``: on a shared machine one slow point is noise, and the
    low levels are cheap to measure anyway.
    """
    if len(points) < 3 or int(points[-1]["concurrency"]) < min_concurrency:
        return False
    rates = [float(p.get("throughput_rps") or 0.0) for p in points]
    best_before = max(rates[:-2])
    return all(rate < best_before * (1 + SATURATED_GAIN) for rate in rates[-2:])


def concurrency_levels(limit: int) -> list[int]:
    """1, 2, 4, ... up to and including ``limit`` (which need not be a power of two)."""
    levels: list[int] = []
    level = 1
    while level < limit:
        levels.append(level)
        level *= 2
    levels.append(limit)
    return levels


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[tuple[str, ServerProcess | None, str]]:
    """(address, server process or None, API key) for the run."""
    if args.endpoint:
        yield args.endpoint, None, args.api_key
        return
    cpus = plan_cpus(pin=not args.no_pin and args.workers == 1)
    if args.operation == "echo":
        with ServerProcess(echo_command(), cpus=cpus.server, cwd=str(REPO_ROOT)) as echo:
            yield echo.address, echo, ""
        return
    serve_args = cli.workers_args(args.workers)
    with (
        ServiceUnderTest.temporary(
            cpus, serve_args=serve_args, log_level=args.server_log_level
        ) as service,
        service.session() as server,
    ):
        yield server.address, server, service.api_key


def _spec(args: argparse.Namespace, address: str, api_key: str, **load: Any) -> LoadSpec:
    options: dict[str, Any] = {}
    if args.operation == "echo":
        scenario = "loadtest.echo_server:echo_scenario"
    else:
        scenario, options["api_key"] = operation(args.operation).scenario, api_key
    if args.operation == "revocation":
        # Each call revokes a fresh credential: bound the calls by the pool issued first.
        options["pool"] = pool = int(REVOCATIONS_PER_SECOND_BOUND * args.duration)
        load["total"] = max(1, (pool - args.warmup) * args.load_processes)
    return LoadSpec(
        address,
        scenario,
        options,
        duration=args.duration,
        processes=args.load_processes,
        warmup_calls=args.warmup,
        cpus=plan_cpus(pin=not args.no_pin and args.workers == 1).load,
        max_in_flight=max(1000, (load.get("concurrency") or 0) * 2),
        **load,
    )


def run_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep, the knee and the timeline run; writes the PNGs and JSON to ``--out``."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    levels = concurrency_levels(args.max_concurrency)
    points: list[dict[str, Any]] = []
    series = f"{args.operation}, {args.workers} server process{'es' if args.workers > 1 else ''}"
    progress, in_process = not args.no_progress, args.in_process_load
    with (
        _target(args) as (address, server, api_key),
        PhaseRunner(len(levels) * args.repeat, progress=progress, in_process=in_process) as runner,
    ):
        for concurrency in levels:
            spec = _spec(args, address, api_key, concurrency=concurrency)
            label = f"{concurrency:>4} in flight"
            points.append(runner.repeated(label, spec, server, args.repeat) | {"series": series})
            if saturated(points):
                runner.write("saturated: two doublings added less than 5 %; sweep stopped")
                break
        knee = find_knee(points)
        if args.rate is not None:
            spec = _spec(args, address, api_key, rate=args.rate)
            title = f"{series}: open loop at {args.rate:g}/s"
        else:
            level = int(knee["concurrency"]) if knee is not None else 1
            spec = _spec(args, address, api_key, concurrency=level)
            title = f"{series}: closed loop at the knee, {level} in flight"
        result, timeline_run = measure(spec, server, progress=progress, in_process=in_process)
    plots = {"scaling": str(out / "scaling.png"), "timeline": str(out / "timeline.png")}
    report.scaling_plot(points, plots["scaling"], title=f"{series}: closed-loop sweep")
    report.percentile_plot(result.timeline, plots["timeline"], title=title)
    document = {
        "machine": report.machine_info(plan_cpus(pin=not args.no_pin and args.workers == 1)),
        "operation": args.operation,
        "workers": args.workers,
        "duration_s": args.duration,
        "points": points,
        "knee": knee,
        "timeline_run": timeline_run,
        "timeline": [point.__dict__ for point in result.timeline],
        "plots": plots,
    }
    report.write_json(out / "scaling.json", document)
    return document


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.scaling_test",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    add = parser.add_argument
    add("--workers", type=int, default=1, help="server processes (`serve --workers`)")
    add("--duration", type=float, default=5.0, help="seconds per point")
    add("--rate", type=float, help="open-loop calls/s for the timeline run")
    add("--operation", default="issuance", choices=[*(op.key for op in OPERATIONS), "echo"])
    add("--max-concurrency", type=int, default=128)
    add("--repeat", type=int, default=1, help="runs per level; medians kept")
    add("--warmup", type=int, default=20, help="warm-up calls per point")
    add("--out", default="scaling-results", help="folder for PNGs and JSON")
    cli.add_service_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep and print the points and the knee."""
    args = build_parser().parse_args(argv)
    if min(args.workers, args.max_concurrency, args.repeat) < 1 or args.duration <= 0:
        raise SystemExit("--workers, --max-concurrency, --repeat must be >= 1, --duration > 0")
    if args.operation != "echo":
        cli.check_endpoint(args)
    document = run_sweep(args)
    columns = ["concurrency", "ok", "errors", "throughput_rps", "p50_ms", "p95_ms", "p99_ms"]
    columns += ["server_cpu", "server_cpu_us_per_call"]
    print(report.format_table(document["points"], columns))
    knee = document["knee"]
    if knee is not None:
        print(
            f"\nknee: {knee['concurrency']} in flight, {knee['throughput_rps']}/s "
            f"(>= {KNEE_SHARE:.0%} of the best), p95 {knee['p95_ms']} ms"
        )
    print(f"plots: {document['plots']['scaling']}, {document['plots']['timeline']}")
    failed = any(point["errors"] for point in document["points"])
    return 1 if failed or document["timeline_run"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
