"""Apply gRPC load with any scenario; sweep concurrency or rate and load processes.

Why our own: ghz drives one RPC from a proto, while a credential lifecycle needs setup
calls, per-worker state and a sequence of RPCs per "call". The engine is
:mod:`loadtest.lib` (scenario contract and loop semantics in :mod:`loadtest.lib.spec`);
this is its command line::

    python -m loadtest.loadgen --target 127.0.0.1:50051 -c 1 8 32 -d 10 \\
        --scenario loadtest.scenarios:verify_scenario -o api_key=ek_...
    python -m loadtest.loadgen --server "python -m loadtest.echo_server --port 0" -c 8 -n 2000

With ``--server`` it starts that command (which prints ``READY <port>``), pinned with
``--server-cpus``, and reports the server's CPU per call.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from loadtest.lib import report
from loadtest.lib.runs import level_label, measure, medians_by
from loadtest.lib.server import ServerProcess
from loadtest.lib.spec import LoadSpec

__all__ = ["main"]


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"options are key=value, got {text!r}")
    try:
        value: Any = json.loads(raw)  # numbers, booleans, lists; anything else is a string
    except ValueError:
        value = raw
    return key, value


def _cpu_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"CPU list like 0 or 1,2 expected: {text!r}") from None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.loadgen",
        description="Apply gRPC load with a scenario; sweep concurrency/rate and processes.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", help="host:port of a running server")
    where.add_argument("--server", help="command that starts the server and prints 'READY <port>'")
    parser.add_argument("--server-cpus", type=_cpu_list, help="pin the --server, e.g. 0")
    parser.add_argument("--cpus", type=_cpu_list, help="pin the load workers, e.g. 1")
    parser.add_argument("--scenario", default="loadtest.echo_server:echo_scenario")
    parser.add_argument("-o", "--option", type=_parse_option, action="append", default=[])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-c", "--concurrency", type=int, nargs="+", help="closed loop, swept")
    mode.add_argument("-r", "--rate", type=float, nargs="+", help="open loop calls/s, swept")
    parser.add_argument("-n", "--total", type=int, help="calls per run")
    parser.add_argument("-d", "--duration", type=float, help="seconds per run")
    parser.add_argument("-p", "--processes", type=int, nargs="+", default=[1], help="swept")
    parser.add_argument("--warmup", type=int, default=0, help="warm-up calls per worker")
    parser.add_argument("--repeat", type=int, default=1, help="runs per point (all reported)")
    parser.add_argument("--max-in-flight", type=int, default=1000)
    parser.add_argument("--tls-root-cert")
    parser.add_argument("--tls-server-name")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", help="write the summaries (one JSON object per line)")
    parser.add_argument("--plot-dir", help="write latency-over-time and scaling PNGs here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run each (processes, concurrency or rate) point and print a table."""
    args = _build_parser().parse_args(argv)
    if args.total is None and args.duration is None:
        args.duration = 10.0
    server: ServerProcess | None = None
    if args.server:
        server = ServerProcess(shlex.split(args.server), cpus=args.server_cpus)
    rows: list[dict[str, Any]] = []
    try:
        if server is not None:
            server.start()
            print(f"server pid {server.pid} on port {server.port}", file=sys.stderr)
        target = server.address if server is not None else args.target
        for processes in args.processes:
            for level in args.concurrency or args.rate:
                for attempt in range(1, args.repeat + 1):
                    spec = _spec_from_args(args, target, processes, level)
                    rows.append(_run_point(args, spec, server, attempt))
    finally:
        if server is not None:
            server.stop()
    x = "concurrency" if args.concurrency else "rate"
    columns = ["series", x, "processes", "run", "ok", "errors", "dropped", "throughput_rps"]
    columns += ["p50_ms", "p95_ms", "p99_ms", "max_ms"]
    if server is not None:
        columns += ["server_cpu", "server_cpu_us_per_call"]
    print(report.format_table(rows, columns))
    medians = medians_by(rows, ["series", x]) if args.repeat > 1 else rows
    if args.repeat > 1:
        print(f"\nmedians of {args.repeat} runs")
        print(report.format_table(medians, [c for c in columns if c != "run"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(report.finite(row)) + "\n")
    if args.plot_dir and args.concurrency:
        report.scaling_plot(medians, os.path.join(args.plot_dir, "scaling.png"))
    return 0


def _spec_from_args(
    args: argparse.Namespace, target: str, processes: int, level: float
) -> LoadSpec:
    return LoadSpec(
        target=target,
        scenario=args.scenario,
        options=dict(args.option),
        concurrency=int(level) if args.concurrency else None,
        rate=float(level) if args.rate else None,
        total=args.total,
        duration=args.duration,
        processes=processes,
        warmup_calls=args.warmup,
        max_in_flight=args.max_in_flight,
        tls_root_cert=args.tls_root_cert,
        tls_server_name=args.tls_server_name,
        use_uvloop=not args.no_uvloop,
        cpus=args.cpus,
    )


def _run_point(
    args: argparse.Namespace, spec: LoadSpec, server: ServerProcess | None, attempt: int
) -> dict[str, Any]:
    """One run; with a --server, also its CPU use while the load was applied."""
    result, row = measure(spec, server, progress=not args.no_progress)
    # "series" is the requested process count: one call in flight runs in one process.
    row |= {"run": attempt, "series": f"{spec.processes} proc"}
    print(
        f"{row['series']} ({row['processes']} used), {level_label(row)}: "
        f"{row['throughput_rps']} ok/s, p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
        f"p99 {row['p99_ms']} ms, errors {row['errors']}, dropped {row['dropped']}",
        file=sys.stderr,
        flush=True,
    )
    if args.plot_dir:
        os.makedirs(args.plot_dir, exist_ok=True)
        level = spec.concurrency if spec.concurrency is not None else spec.rate
        name = f"timeline-p{spec.processes}-{row['mode']}{level:g}-{attempt}.png"
        report.percentile_plot(
            result.timeline,
            os.path.join(args.plot_dir, name),
            title=f"{spec.scenario}, {row['series']}, {level_label(row)}",
        )
    return row


if __name__ == "__main__":
    sys.exit(main())
