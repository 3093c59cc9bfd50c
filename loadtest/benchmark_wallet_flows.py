"""Whole OpenID4VCI wallet flows against a real server, step by step, beside the HTTP echo
ceiling measured in the same run.

What it does:

1. makes a temporary SQLite database and a tenant, and starts the HTTP echo server (the
   aiohttp the service's listener runs on, nothing else) pinned to the server's core;
   measures it one request at a time and with ``--concurrency`` in flight;
2. starts ``eudi-connect serve`` with its HTTP listener as ``--public-url`` on that core,
   the wallet (``tests.wallet``, which shares no code with the service) and this process
   on the other cores;
3. per flow: the internal service creates the offer over gRPC (``offer``, not part of the
   wallet's flow), then the wallet resolves the offer URI (``offer_uri``), reads the issuer
   and authorization server metadata (``metadata``), redeems the code at the token
   endpoint with a DPoP proof (``token``), gets a c_nonce (``nonce``) and asks for the
   credential with 1 or 10 jwt proofs (``credential``); ``flow`` is all the wallet's steps
   together, its own signing included. The key proofs are made before ``credential`` is
   timed (``proof_signing``, the wallet's own work), so that step is the server's answer
   to a ready request (its DPoP proof is made inside, as a wallet makes it per request);
4. flows with 1 proof, then with 10, one at a time; then ``--concurrency`` flows with 1
   proof in flight for flows per second; then the echo ceiling again.

A wallet keeps the server's DPoP nonces from flow to flow (RFC 9449 section 8: it is the
server's, not the flow's), so after the warm-up a token request needs no retry; the
retries that happened are counted. Every credential is checked by the wallet as it
arrives (the count and the response's shape); the holder's signature checks are the
tests' business, not the benchmark's.

    python -m loadtest.benchmark_wallet_flows --flows 200 --concurrency 4 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc

from loadtest.lib import cli, cpu
from loadtest.lib.histogram import Histogram
from loadtest.lib.report import format_table, machine_info, write_json
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import REPO_ROOT, ServiceUnderTest, echo_command
from loadtest.lib.sla import WALLET_TARGETS, wallet_target_rows

STEPS = ("offer", "offer_uri", "metadata", "token", "nonce", "proof_signing", "credential", "flow")
ECHO_BODY = json.dumps({"proofs": {"jwt": ["x" * 700]}}).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StepTimes:
    """Latency histograms per step, and counts of what else happened."""

    histograms: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    flows: int = 0
    credentials: int = 0
    nonce_retries: int = 0
    elapsed: float = 0.0

    def record(self, step: str, seconds: float) -> None:
        self.histograms[step].record(seconds)

    def rows(self, label: str, proofs: int, concurrency: int) -> list[dict[str, Any]]:
        rows = []
        for step in STEPS:
            histogram = self.histograms.get(step)
            if histogram is None or not histogram.count:
                continue
            rows.append(
                {
                    "run": label,
                    "proofs": proofs,
                    "in_flight": concurrency,
                    "step": step,
                    "count": histogram.count,
                    "p50_ms": histogram.percentile(50) * 1000,
                    "p95_ms": histogram.percentile(95) * 1000,
                    "p99_ms": histogram.percentile(99) * 1000,
                    "max_ms": histogram.max * 1000,
                }
            )
        return rows


class Flows:
    """The internal service (gRPC) and the wallet (HTTP) of one benchmark run."""

    def __init__(self, grpc_address: str, api_key: str, session: aiohttp.ClientSession) -> None:
        from eudi.connect.v1 import offer_service_pb2 as opb
        from eudi.connect.v1 import offer_service_pb2_grpc as opb_grpc

        from eudi_connect.api.convert import dict_to_struct
        from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

        self._opb = opb
        self._channel = grpc.aio.insecure_channel(grpc_address)
        self._stub = opb_grpc.OfferServiceStub(self._channel)
        self._metadata = (("x-api-key", api_key),)
        self._subject = dict_to_struct(dict(PID_EXAMPLE_SUBJECT))
        self._session = session
        self._dpop_nonces: dict[str, str] = {}

    async def close(self) -> None:
        await self._channel.close(None)

    async def one(self, copies: int, times: StepTimes) -> None:
        from tests.wallet import KeyPair, Wallet

        opb = self._opb
        started = time.perf_counter()
        created = await self._stub.CreateCredentialOffer(
            opb.CreateCredentialOfferRequest(
                credentials=[opb.OfferedCredential(template_id="pid")],
                subject=self._subject,
                max_copies=copies,
            ),
            metadata=self._metadata,
        )
        times.record("offer", time.perf_counter() - started)
        wallet = Wallet(self._session)  # a new DPoP key per flow
        wallet.dpop_nonces.update(self._dpop_nonces)
        keys = [KeyPair.generate() for _ in range(copies)]

        async def step(name: str, work: Awaitable[Any]) -> Any:
            begun = time.perf_counter()
            result = await work
            times.record(name, time.perf_counter() - begun)
            return result

        flow_started = time.perf_counter()
        offer = await step("offer_uri", wallet.resolve_offer(created.offer.credential_offer_uri))
        issuer, server = await step("metadata", wallet.discover(offer))
        token = await step("token", wallet.token(server, offer.pre_authorized_code))
        if not token.ok:
            raise RuntimeError(f"token: {token.describe()}")
        times.nonce_retries += len(token.dpop_proofs) - 1
        nonce = await step("nonce", wallet.nonce(issuer))
        signing_started = time.perf_counter()
        proofs = wallet.jwt_proofs(issuer, keys, nonce.c_nonce)
        times.record("proof_signing", time.perf_counter() - signing_started)
        reply = await step(
            "credential",
            wallet.credential(
                issuer,
                token.access_token,
                configuration_id=offer.credential_configuration_ids[0],
                proofs=proofs,
            ),
        )
        flow = time.perf_counter() - flow_started
        if reply.status != 200 or len(reply.credentials) != copies:
            raise RuntimeError(f"credential: {reply.describe()}")
        times.nonce_retries += len(reply.dpop_proofs) - 1
        times.record("flow", flow)
        times.flows += 1
        times.credentials += copies
        self._dpop_nonces.update(wallet.dpop_nonces)


async def run_flows(flows: Flows, *, count: int, concurrency: int, copies: int) -> StepTimes:
    times = StepTimes()
    remaining = iter(range(count))

    async def lane() -> None:
        for _ in remaining:
            await flows.one(copies, times)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    times.elapsed = time.perf_counter() - started
    return times


async def echo_run(base: str, *, count: int, concurrency: int) -> dict[str, Any]:
    """GET and POST round trips to the HTTP echo: its latency and requests per second."""
    histogram = Histogram()
    remaining = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def lane() -> None:
            for number in remaining:
                begun = time.perf_counter()
                if number % 2:
                    async with session.post(
                        f"{base}/echo", data=ECHO_BODY, headers={"Content-Type": "application/json"}
                    ) as response:
                        await response.read()
                else:
                    async with session.get(f"{base}/echo") as response:
                        await response.read()
                histogram.record(time.perf_counter() - begun)

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "in_flight": concurrency,
        "count": histogram.count,
        "p50_ms": histogram.percentile(50) * 1000,
        "p95_ms": histogram.percentile(95) * 1000,
        "p99_ms": histogram.percentile(99) * 1000,
        "requests_per_s": histogram.count / elapsed,
    }


def measure_echo(plan: argparse.Namespace, cpus: cpu.CpuPlan) -> list[dict[str, Any]]:
    rows = []
    with ServerProcess(echo_command(http=True), cpus=cpus.server, cwd=str(REPO_ROOT)) as echo:
        base = f"http://{echo.address}"
        asyncio.run(echo_run(base, count=plan.warmup * 4, concurrency=1))
        for concurrency in (1, plan.concurrency):
            run = echo_run(base, count=plan.echo_requests, concurrency=concurrency)
            rows.append(asyncio.run(run))
    return rows


def _server_cpu_us(server: ServerProcess, before: float | None, flows: int) -> float | None:
    after = server.tree_cpu_seconds()
    if before is None or after is None or not flows:
        return None
    return round((after - before) / flows * 1e6, 1)


async def _phase(
    flows: Flows, server: ServerProcess, *, count: int, concurrency: int, copies: int
) -> tuple[StepTimes, float | None]:
    before = server.tree_cpu_seconds()
    times = await run_flows(flows, count=count, concurrency=concurrency, copies=copies)
    return times, _server_cpu_us(server, before, times.flows)


def measure_service(plan: argparse.Namespace, cpus: cpu.CpuPlan) -> dict[str, Any]:
    http_port = free_port()
    serve_args = [
        "--http-port",
        str(http_port),
        "--public-url",
        f"http://127.0.0.1:{http_port}",
        "--sign-workers",
        "0",
    ]
    with (
        ServiceUnderTest.temporary(
            cpus, serve_args=serve_args, log_level=plan.server_log_level
        ) as service,
        service.session() as server,
    ):

        async def run() -> dict[str, Any]:
            connector = aiohttp.TCPConnector(limit=max(8, plan.concurrency * 2))
            async with aiohttp.ClientSession(connector=connector) as session:
                flows = Flows(server.address, service.api_key, session)
                try:
                    await run_flows(flows, count=plan.warmup, concurrency=1, copies=10)
                    phases: dict[str, Any] = {}
                    for label, copies, concurrency in (
                        ("1 proof", 1, 1),
                        ("10 proofs", 10, 1),
                        (f"1 proof, {plan.concurrency} in flight", 1, plan.concurrency),
                    ):
                        count = plan.flows if concurrency == 1 else plan.flows * 2
                        times, cpu_us = await _phase(
                            flows, server, count=count, concurrency=concurrency, copies=copies
                        )
                        phases[label] = {
                            "proofs": copies,
                            "in_flight": concurrency,
                            "rows": times.rows(label, copies, concurrency),
                            "flows": times.flows,
                            "flows_per_s": times.flows / times.elapsed,
                            "credentials_per_s": times.credentials / times.elapsed,
                            "server_cpu_us_per_flow": cpu_us,
                            "dpop_nonce_retries": times.nonce_retries,
                        }
                    return phases
                finally:
                    await flows.close()

        return asyncio.run(run())


def _p95(phases: dict[str, Any], step: str, proofs: int) -> float | None:
    for phase in phases.values():
        if phase["proofs"] == proofs and phase["in_flight"] == 1:
            for row in phase["rows"]:
                if row["step"] == step:
                    return float(row["p95_ms"])
    return None


def report(
    phases: dict[str, Any], echo: list[dict[str, Any]], cpus: cpu.CpuPlan
) -> tuple[str, dict[str, Any]]:
    rows = [row for phase in phases.values() for row in phase["rows"]]
    lines = [
        "OpenID4VCI wallet flows (SQLite), latency in ms",
        format_table(rows, ("run", "step", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms")),
        "",
        format_table(
            [
                {
                    "run": label,
                    "flows": phase["flows"],
                    "flows_per_s": phase["flows_per_s"],
                    "credentials_per_s": phase["credentials_per_s"],
                    "server_us_per_flow": phase["server_cpu_us_per_flow"],
                    "nonce_retries": phase["dpop_nonce_retries"],
                }
                for label, phase in phases.items()
            ],
            (
                "run",
                "flows",
                "flows_per_s",
                "credentials_per_s",
                "server_us_per_flow",
                "nonce_retries",
            ),
        ),
        "",
        "HTTP echo ceiling (aiohttp GET/POST, same core), median of the runs before and after",
        format_table(echo, ("in_flight", "count", "p50_ms", "p95_ms", "p99_ms", "requests_per_s")),
        "",
    ]
    measured = {(t.step, t.proofs): _p95(phases, t.step, t.proofs) for t in WALLET_TARGETS}
    verdicts = wallet_target_rows(measured)
    lines.append(format_table(verdicts, ("target", "measured", "limit", "verdict")))
    document = {
        "machine": machine_info(cpus),
        "phases": phases,
        "echo": echo,
        "targets": verdicts,
    }
    return "\n".join(lines), document


def _median_echo(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for first, second in zip(before, after, strict=True):
        rows.append(
            {
                key: (
                    statistics.median([first[key], second[key]])
                    if isinstance(first[key], float)
                    else first[key] + second[key]
                    if key == "count"
                    else first[key]
                )
                for key in first
            }
        )
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=200, help="flows per phase (default 200)")
    cli.add_http_flow_flags(parser, "flows")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_args(argv)
    cpus = cli.pin_this_process(plan.no_pin)
    echo_before = measure_echo(plan, cpus)
    phases = measure_service(plan, cpus)
    echo_after = measure_echo(plan, cpus)
    text, document = report(phases, _median_echo(echo_before, echo_after), cpus)
    print(text)
    if plan.json:
        write_json(plan.json, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
