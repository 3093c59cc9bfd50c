"""Command-line flags the benchmark scripts share, so that they mean the same everywhere."""

from __future__ import annotations

import argparse
import os
import sys

from loadtest.lib.cpu import CpuPlan, available_cpus, pin_process, plan_cpus
from loadtest.lib.service import serve_supports

__all__ = [
    "add_http_flow_flags",
    "add_service_flags",
    "check_endpoint",
    "pin_this_process",
    "workers_args",
]


def add_service_flags(parser: argparse.ArgumentParser) -> None:
    """Where the load goes (own server or ``--endpoint``) and how it is applied."""
    parser.add_argument("--endpoint", metavar="HOST:PORT", help="a running service instead")
    parser.add_argument("--api-key", help="the tenant key for --endpoint")
    parser.add_argument("--load-processes", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--in-process-load",
        action="store_true",
        help="apply the load from this process, no worker processes (smoke tests only)",
    )
    parser.add_argument(
        "--server-log-level",
        default="INFO",
        help="the service's log level (INFO, its default, writes an access-log line per call "
        "to the session log file; WARNING leaves it out)",
    )


def add_http_flow_flags(parser: argparse.ArgumentParser, unit: str) -> None:
    """The flags of the wallet-protocol benchmarks (whole HTTP exchanges beside an HTTP echo
    ceiling); `unit` names what a phase counts ("flows", "exchanges")."""
    parser.add_argument("--concurrency", type=int, default=4, help=f"{unit} in flight (default 4)")
    parser.add_argument("--warmup", type=int, default=20, help=f"{unit} before measuring")
    parser.add_argument("--echo-requests", type=int, default=1000)
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wallet")
    parser.add_argument(
        "--server-log-level",
        default="INFO",
        help="the service's log level (INFO, its default, writes the access log)",
    )
    parser.add_argument("--json", help="write the figures to this file")


def pin_this_process(no_pin: bool) -> CpuPlan:
    """The CPU plan of a benchmark, with this (the load) process on the load core."""
    cpus = plan_cpus(pin=not no_pin)
    if cpus.load is not None:
        pin_process(os.getpid(), cpus.load)
    print(f"machine: {cpus.describe()}", file=sys.stderr)
    return cpus


def check_endpoint(args: argparse.Namespace) -> None:
    """A running service is only used with its tenant's key."""
    if args.endpoint and not args.api_key:
        raise SystemExit("--endpoint needs --api-key")


def workers_args(workers: int) -> list[str]:
    """``serve`` flags for ``workers`` processes (0: one per core); none for one."""
    if workers == 1:
        return []
    if not serve_supports("--workers"):
        raise SystemExit("this build's `eudi-connect serve` has no --workers option")
    return ["--workers", str(workers or len(available_cpus()))]
