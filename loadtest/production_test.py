"""Staging check: the credential lifecycle against a running deployment, read-mostly and bounded.

Meant for a staging or production endpoint, so it is gentle: small counts at a low rate,
each phase an open loop (latency from each call's scheduled start), a hard cap on every
phase's duration, and one process. What it does, in order:

1. health: ``grpc.health.v1`` says SERVING (no API key needed);
2. reads: ``GetIssuerKeys`` (the JWKS) at ``--rate`` calls/s;
3. lifecycles: ``--lifecycles`` issue, verify, revoke, verify sequences (the only writes:
   each issues one credential and revokes it again) at ``--lifecycle-rate``;
4. verification: ``--verifications`` VerifyCredential calls on a few credentials issued
   first (``--pool``) at ``--rate``;
5. status: ``GetCredentialStatus`` and ``GetStatusList`` for those credentials at ``--rate``.

Then a table of P50/P95/P99 per phase and the SLA verdicts (docs/performance.md, P95, MVP and later
columns). Exit status 1 when a call failed or an SLA row is missed at the MVP level.

    python -m loadtest.production_test --api-key ek_... --endpoint staging.example:443 --tls
    python -m loadtest.production_test --api-key ek_... --endpoint 127.0.0.1:50051
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from loadtest.lib.engine import open_channel, run_load_inprocess
from loadtest.lib.report import format_table, write_json
from loadtest.lib.sla import operation, sla_row
from loadtest.lib.spec import LoadSpec

MAX_CALLS_PER_PHASE = 2000  # whatever the flags say: this is a check, not a load test
MAX_RATE = 50.0  # calls per second


@dataclass(frozen=True)
class Phase:
    name: str
    scenario: str
    calls: int
    rate: float
    sla: str | None = None  # the SLA row this phase is judged against
    options: tuple[tuple[str, Any], ...] = ()


def _phases(args: argparse.Namespace) -> list[Phase]:
    rate = min(args.rate, MAX_RATE)
    reads = min(args.reads, MAX_CALLS_PER_PHASE)
    return [
        Phase("issuer keys (JWKS)", "loadtest.scenarios:jwks_scenario", reads, rate),
        Phase(
            "full lifecycle",
            "loadtest.scenarios:lifecycle_scenario",
            min(args.lifecycles, MAX_CALLS_PER_PHASE),
            min(args.lifecycle_rate, MAX_RATE),
            sla="lifecycle",
        ),
        Phase(
            "verification",
            "loadtest.scenarios:verify_scenario",
            min(args.verifications, MAX_CALLS_PER_PHASE),
            rate,
            sla="verification",
            options=(("pool", args.pool),),
        ),
        Phase(
            "credential status",
            "loadtest.scenarios:status_scenario",
            reads,
            rate,
            options=(("pool", args.pool),),
        ),
        Phase("status list token", "loadtest.scenarios:status_list_scenario", reads, rate),
    ]


def _root_cert(args: argparse.Namespace) -> str | None:
    """The PEM file of the roots to trust: --ca, else the system's bundle (with --tls)."""
    if args.ca:
        return str(args.ca)
    if not args.tls:
        return None
    paths = ssl.get_default_verify_paths()
    bundle = paths.cafile or paths.openssl_cafile
    if not bundle:
        raise SystemExit("--tls: no system CA bundle found; pass --ca CERT")
    return bundle


async def check_health(args: argparse.Namespace, root_cert: bytes | None) -> str:
    """The overall health status name (SERVING when all is well)."""
    async with open_channel(args.endpoint, root_cert, args.server_name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def run_checks(args: argparse.Namespace) -> dict[str, Any]:
    """Health, then each phase in turn; every phase bounded in calls and in time."""
    root_cert = _root_cert(args)
    pem = None
    if root_cert is not None:
        with open(root_cert, "rb") as source:
            pem = source.read()
    try:
        health = asyncio.run(check_health(args, pem))
    except grpc.aio.AioRpcError as error:
        raise SystemExit(
            f"health check of {args.endpoint} failed: {error.code().name}: {error.details()}"
        ) from None
    rows: list[dict[str, Any]] = []
    for phase in _phases(args):
        if phase.calls <= 0:
            continue
        expected = phase.calls / phase.rate
        spec = LoadSpec(
            target=args.endpoint,
            scenario=phase.scenario,
            options={"api_key": args.api_key, "timeout": args.timeout, **dict(phase.options)},
            rate=phase.rate,
            total=phase.calls,
            duration=min(expected * 1.5 + 1.0, args.max_phase_seconds),
            max_in_flight=16,
            tls_root_cert=root_cert,
            tls_server_name=args.server_name,
            hard_timeout=min(expected * 1.5 + 1.0, args.max_phase_seconds) + args.timeout,
        )
        began = time.monotonic()
        result = asyncio.run(run_load_inprocess(spec))
        row = result.summary() | {"phase": phase.name, "sla": phase.sla}
        row["wall_s"] = round(time.monotonic() - began, 2)
        if result.error_samples:
            row["error_samples"] = dict(result.error_samples)
        rows.append(row)
        print(
            f"{phase.name}: {row['ok']} ok, {row['errors']} errors, p50 {row['p50_ms']} ms, "
            f"p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms",
            file=sys.stderr,
            flush=True,
        )
    return {
        "endpoint": args.endpoint,
        "tls": root_cert is not None,
        "health": health,
        "phases": rows,
    }


def sla_rows(phases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each judged phase's P95 against the MVP and later SLA columns."""
    return [
        sla_row(operation(phase["sla"]), phase["p95_ms"], p95_ms=phase["p95_ms"])
        | {"operation": phase["phase"]}
        for phase in phases
        if phase.get("sla") is not None
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.production_test",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--api-key", required=True, help="a tenant key of the deployment")
    parser.add_argument("--endpoint", required=True, metavar="HOST:PORT")
    parser.add_argument("--tls", action="store_true", help="TLS with the system's roots")
    parser.add_argument("--ca", help="PEM file of the root(s) to trust (implies --tls)")
    parser.add_argument("--server-name", help="TLS name to expect, if not the host's")
    parser.add_argument("--rate", type=float, default=10.0, help="reads per second (max 50)")
    parser.add_argument("--reads", type=int, default=50, help="calls per read phase")
    parser.add_argument("--lifecycles", type=int, default=10)
    parser.add_argument("--lifecycle-rate", type=float, default=2.0)
    parser.add_argument("--verifications", type=int, default=100)
    parser.add_argument("--pool", type=int, default=5, help="credentials issued to read")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per RPC")
    parser.add_argument("--max-phase-seconds", type=float, default=120.0)
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks, print the tables; 1 on any failed call or a missed MVP SLA."""
    args = build_parser().parse_args(argv)
    if args.rate <= 0 or args.lifecycle_rate <= 0:
        raise SystemExit("rates must be positive")
    document = run_checks(args)
    document["sla"] = sla_rows(document["phases"])
    print(f"health: {document['health']}")
    columns = ["phase", "ok", "errors", "rate", "p50_ms", "p95_ms", "p99_ms", "max_ms"]
    print(format_table(document["phases"], columns))
    print("\nSLA (docs/performance.md, P95)")
    print(
        format_table(document["sla"], ["operation", "p95_ms", "mvp_ms", "mvp", "later_ms", "later"])
    )
    if args.json:
        write_json(args.json, document)
    failed = document["health"] != "SERVING"
    failed = failed or any(row["errors"] or row["unfinished"] for row in document["phases"])
    failed = failed or any(row["mvp"] == "FAIL" for row in document["sla"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
