"""Template rendering benchmark: renders/s for single and batch renders, cold (first compile)
against warm cache, and the cost of invalidating one template while others are rendered.

    python -m loadtest.benchmark_templates --num-templates 5 --num-alerts 100 [--grpc]

Each of `--num-templates` notification templates (:mod:`.alerts`) is rendered for
`--num-alerts` alerts. In-process runs (:mod:`.in_process`) go through the services
(`TemplateService`, the same code the gRPC servicer calls) on a temporary SQLite database;
`--grpc` adds the same single-vs-batch comparison against a real server process on
loopback (:mod:`.over_grpc`). One run, one machine: compare rows with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from loadtest.lib.cpu import plan_cpus
from loadtest.lib.report import format_table, write_json
from loadtest.lib.service import ServiceUnderTest

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its rows."""
    from loadtest.benchmark_templates.in_process import in_process
    from loadtest.benchmark_templates.over_grpc import over_grpc

    parser = argparse.ArgumentParser(
        prog="python -m loadtest.benchmark_templates", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--num-templates", type=int, default=5)
    parser.add_argument("--num-alerts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of every run")
    parser.add_argument("--grpc", action="store_true", help="also measure over gRPC")
    parser.add_argument(
        "--issuances", type=int, default=300, help="issuances per template in the hot-path rows"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.num_templates < 1 or args.num_alerts < 1 or args.rounds < 1:
        parser.error("--num-templates, --num-alerts and --rounds must be at least 1")
    sizes = (args.num_templates, args.num_alerts, args.rounds)
    with tempfile.TemporaryDirectory(prefix="eudi-template-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'inproc.db'}"
        rows = asyncio.run(in_process(*sizes, args.issuances, db_url))
        if args.grpc:
            with (
                ServiceUnderTest.temporary(plan_cpus(pin=False), log_level="WARNING") as service,
                service.session() as server,
            ):
                rows += asyncio.run(over_grpc(server.address, service.api_key, *sizes))
    print(
        f"{args.num_templates} templates x {args.num_alerts} alerts x {args.rounds} rounds "
        "(one run: compare rows with each other, not with other machines)"
    )
    print(
        format_table(rows, ["run", "renders", "seconds", "renders_per_s", "us_per_render", "note"])
    )
    if args.json:
        write_json(args.json, {"runs": rows})
    return 0
