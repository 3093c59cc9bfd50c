"""Whole OpenID4VP exchanges against a real server, step by step.

What it does:

1. makes a temporary SQLite database and a tenant, starts ``eudi-connect serve`` with its
   HTTP listener as ``--public-url`` (pinned to the server's core), and issues the holder
   one SD-JWT VC and one mdoc of the built-in PID over gRPC;
2. per exchange: the relying party creates the request over gRPC (``create``), the
   wallet fetches the signed request object (``fetch``), builds its answer — a KB-JWT for
   the SD-JWT VC, a DeviceResponse over the OpenID4VP session transcript, both in one
   ECDH-ES JWE (``wallet``, the wallet's own work, not timed in the server's steps) — and
   posts it to the response URI (``respond``: decrypt, DCQL match, both verifications,
   status from the cache); ``exchange`` is the whole of it; each result is read back and
   must be VERIFIED;
3. exchanges one at a time, then ``--concurrency`` in flight; server CPU per exchange.

Target: ``respond`` at most 10 ms P95 with one exchange in flight.

    python -m loadtest.benchmark_presentations --exchanges 200 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc

from loadtest.benchmark_wallet_flows import free_port
from loadtest.lib import cpu
from loadtest.lib.histogram import Histogram
from loadtest.lib.report import format_table, machine_info, write_json
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import ServiceUnderTest

STEPS = ("create", "fetch", "wallet", "respond", "exchange")
RESPOND_P95_TARGET_MS = 10.0
PID_NAMESPACE = "eu.europa.ec.eudi.pid.1"
QUERY = {
    "credentials": [
        {
            "id": "pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:eudi:pid:1"]},
            "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}],
        },
        {
            "id": "mdoc",
            "format": "mso_mdoc",
            "meta": {"doctype_value": PID_NAMESPACE},
            "claims": [{"path": [PID_NAMESPACE, "given_name"]}],
        },
    ]
}


@dataclass
class StepTimes:
    histograms: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    exchanges: int = 0
    elapsed: float = 0.0

    def record(self, step: str, seconds: float) -> None:
        self.histograms[step].record(seconds)

    def rows(self, label: str) -> list[dict[str, Any]]:
        return [
            {
                "run": label,
                "step": step,
                "count": self.histograms[step].count,
                "p50_ms": self.histograms[step].percentile(50) * 1000,
                "p95_ms": self.histograms[step].percentile(95) * 1000,
                "p99_ms": self.histograms[step].percentile(99) * 1000,
                "max_ms": self.histograms[step].max * 1000,
            }
            for step in STEPS
            if self.histograms[step].count
        ]


class Exchanges:
    """The relying party (gRPC) and a wallet holding one SD-JWT VC and one mdoc (HTTP)."""

    def __init__(self, grpc_address: str, api_key: str, session: aiohttp.ClientSession) -> None:
        from eudi.connect.v1 import presentation_service_pb2 as ppb
        from eudi.connect.v1 import presentation_service_pb2_grpc as ppb_grpc

        self._ppb = ppb
        self._channel = grpc.aio.insecure_channel(grpc_address)
        self._stub = ppb_grpc.PresentationServiceStub(self._channel)
        self._metadata = (("x-api-key", api_key),)
        self._session = session
        self._held: dict[str, Any] = {}

    async def close(self) -> None:
        await self._channel.close(None)

    async def issue(self) -> None:
        """The holder's two credentials, issued once and presented in every exchange."""
        from eudi.connect.v1 import credential_service_pb2 as pb
        from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

        from eudi_connect.api.convert import dict_to_struct
        from eudi_connect.core.jose import generate_p256_key, public_jwk
        from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

        stub = pb_grpc.CredentialServiceStub(self._channel)
        for name, fmt in (("sd_jwt", ""), ("mdoc", "mso_mdoc")):
            key = generate_p256_key()
            issued = await stub.IssueCredential(
                pb.IssueCredentialRequest(
                    template_id="pid",
                    format=fmt,
                    subject=dict_to_struct(dict(PID_EXAMPLE_SUBJECT)),
                    holder_jwk=json.dumps(public_jwk(key.public_key())),
                ),
                metadata=self._metadata,
            )
            self._held[name] = (issued.credential, key)

    def answer(self, claims: dict[str, Any]) -> dict[str, str]:
        """What the wallet posts: the presentations for this request, encrypted."""
        from eudi_connect.core.encoding import b64url_decode, json_bytes
        from eudi_connect.core.jose import jwk_thumbprint
        from eudi_connect.core.mdoc import make_device_response, openid4vp_session_transcript
        from eudi_connect.core.oid4vp import encrypt_jwe
        from eudi_connect.core.sdjwt import make_presentation

        (key,) = claims["client_metadata"]["jwks"]["keys"]
        sd_jwt, sd_jwt_key = self._held["sd_jwt"]
        mdoc, mdoc_key = self._held["mdoc"]
        transcript = openid4vp_session_transcript(
            client_id=claims["client_id"],
            nonce=claims["nonce"],
            response_uri=claims["response_uri"],
            jwk_thumbprint=b64url_decode(jwk_thumbprint(key)),
        )
        vp_token = {
            "pid": [
                make_presentation(
                    sd_jwt,
                    disclose=["given_name", "family_name"],
                    holder_key=sd_jwt_key,
                    audience=claims["client_id"],
                    nonce=claims["nonce"],
                )
            ],
            "mdoc": [
                make_device_response(
                    mdoc,
                    holder_key=mdoc_key,
                    session_transcript=transcript,
                    disclose=["given_name"],
                )
            ],
        }
        payload = json_bytes({"state": claims["state"], "vp_token": vp_token})
        return {"response": encrypt_jwe(payload, key, enc="A128GCM")}

    async def one(self, times: StepTimes) -> None:
        from eudi_connect.core.jose import split_jws

        ppb = self._ppb
        started = time.perf_counter()
        created = await self._stub.CreatePresentationRequest(
            ppb.CreatePresentationRequestRequest(dcql_query_json=json.dumps(QUERY)),
            metadata=self._metadata,
        )
        times.record("create", time.perf_counter() - started)
        transaction = created.transaction
        begun = time.perf_counter()
        async with self._session.get(transaction.request_uri) as response:
            token = await response.text()
            if response.status != 200:
                raise RuntimeError(f"request object: {response.status} {token[:200]}")
        times.record("fetch", time.perf_counter() - begun)
        begun = time.perf_counter()
        claims = split_jws(token).payload
        form = self.answer(claims)
        times.record("wallet", time.perf_counter() - begun)
        begun = time.perf_counter()
        async with self._session.post(claims["response_uri"], data=form) as response:
            body = await response.text()
            if response.status != 200:
                raise RuntimeError(f"response: {response.status} {body[:300]}")
        times.record("respond", time.perf_counter() - begun)
        times.record("exchange", time.perf_counter() - started)
        result = await self._stub.GetPresentationResult(
            ppb.GetPresentationResultRequest(transaction_id=transaction.transaction_id),
            metadata=self._metadata,
        )
        if result.transaction.state != ppb.PRESENTATION_STATE_VERIFIED:
            raise RuntimeError(f"not verified: {result.transaction.failure_detail}")
        times.exchanges += 1


async def run_exchanges(exchanges: Exchanges, *, count: int, concurrency: int) -> StepTimes:
    times = StepTimes()
    remaining = iter(range(count))

    async def lane() -> None:
        for _ in remaining:
            await exchanges.one(times)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    times.elapsed = time.perf_counter() - started
    return times


def measure(plan: argparse.Namespace, cpus: cpu.CpuPlan) -> dict[str, Any]:
    http_port = free_port()
    serve_args = ["--http-port", str(http_port), "--public-url", f"http://127.0.0.1:{http_port}"]
    with (
        ServiceUnderTest.temporary(
            cpus, serve_args=[*serve_args, "--sign-workers", "0"], log_level=plan.server_log_level
        ) as service,
        service.session() as server,
    ):
        return asyncio.run(_phases(plan, service, server))


async def _phases(
    plan: argparse.Namespace, service: ServiceUnderTest, server: ServerProcess
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        exchanges = Exchanges(server.address, service.api_key, session)
        try:
            await exchanges.issue()
            await run_exchanges(exchanges, count=plan.warmup, concurrency=1)
            phases: dict[str, Any] = {}
            for concurrency in (1, plan.concurrency):
                label = f"{concurrency} in flight"
                before = server.tree_cpu_seconds()
                times = await run_exchanges(
                    exchanges, count=plan.exchanges, concurrency=concurrency
                )
                after = server.tree_cpu_seconds()
                cpu_ms = None
                if before is not None and after is not None and times.exchanges:
                    cpu_ms = round((after - before) / times.exchanges * 1000, 2)
                phases[label] = {
                    "in_flight": concurrency,
                    "rows": times.rows(label),
                    "exchanges": times.exchanges,
                    "exchanges_per_s": times.exchanges / times.elapsed,
                    "server_cpu_ms_per_exchange": cpu_ms,
                }
            return phases
        finally:
            await exchanges.close()


def report(phases: dict[str, Any], cpus: cpu.CpuPlan) -> tuple[str, dict[str, Any]]:
    rows = [row for phase in phases.values() for row in phase["rows"]]
    single = next(p for p in phases.values() if p["in_flight"] == 1)
    respond = next(r for r in single["rows"] if r["step"] == "respond")
    verdict = {
        "target": "respond P95, 1 in flight",
        "measured": respond["p95_ms"],
        "limit": RESPOND_P95_TARGET_MS,
        "verdict": "pass" if respond["p95_ms"] <= RESPOND_P95_TARGET_MS else "FAIL",
    }
    lines = [
        "OpenID4VP exchanges (SQLite; one SD-JWT VC and one mdoc, encrypted), latency in ms",
        format_table(rows, ("run", "step", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms")),
        "",
        format_table(
            [
                {
                    "run": label,
                    "exchanges": phase["exchanges"],
                    "exchanges_per_s": phase["exchanges_per_s"],
                    "server_cpu_ms_per_exchange": phase["server_cpu_ms_per_exchange"],
                }
                for label, phase in phases.items()
            ],
            ("run", "exchanges", "exchanges_per_s", "server_cpu_ms_per_exchange"),
        ),
        "",
        format_table([verdict], ("target", "measured", "limit", "verdict")),
    ]
    document = {"machine": machine_info(cpus), "phases": phases, "targets": [verdict]}
    return "\n".join(lines), document


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--exchanges", type=int, default=200, help="per phase (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="in flight (default 4)")
    parser.add_argument("--warmup", type=int, default=20, help="exchanges before measuring")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wallet")
    parser.add_argument(
        "--server-log-level",
        default="INFO",
        help="the service's log level (INFO, its default, writes the access log)",
    )
    parser.add_argument("--json", help="write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_args(argv)
    cpus = cpu.plan_cpus(pin=not plan.no_pin)
    if cpus.load is not None:
        cpu.pin_process(os.getpid(), cpus.load)
    print(f"machine: {cpus.describe()}", file=sys.stderr)
    text, document = report(measure(plan, cpus), cpus)
    print(text)
    if plan.json:
        write_json(plan.json, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
