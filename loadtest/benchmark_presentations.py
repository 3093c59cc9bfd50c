"""Whole OpenID4VP exchanges against a real server, step by step, beside the HTTP echo
ceiling measured in the same run.

What it does:

1. makes a temporary SQLite database and a tenant, and measures the HTTP echo server (the
   aiohttp the service's listener runs on, nothing else) pinned to the server's core, one
   request at a time and with ``--concurrency`` in flight, before and after;
2. starts ``eudi-connect serve`` with its HTTP listener as ``--public-url`` on that core
   and issues a PID to one holder key, as an SD-JWT VC and as an mdoc (gRPC);
3. per exchange: the relying party creates a request over gRPC for the PID's given name
   (SD-JWT VC) and family name (mdoc) (``create``); the wallet (``loadtest.lib.vp_holder``,
   which shares no code with the service) fetches the signed request object from the
   request URI and checks its signature (``fetch``), builds both presentations and the
   ECDH-ES JWE (``build``, the wallet's own work) and posts it to the response URI
   (``response``: decrypt, DCQL match, verify both, the status from the cache, the
   store's state change); the relying party reads the result (``result``). ``exchange``
   is all of it. An exchange that does not end VERIFIED stops the run;
4. exchanges one at a time, then ``--concurrency`` in flight, with the server's CPU per
   exchange (its process tree's user + system time over the phase).

Target: the response POST at most 10 ms P95 with one exchange in flight.

    python -m loadtest.benchmark_presentations --exchanges 200 --concurrency 4 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc

from loadtest.benchmark_wallet_flows import free_port, measure_echo
from loadtest.lib import cli, cpu, vp_holder
from loadtest.lib.histogram import Histogram
from loadtest.lib.report import format_table, machine_info, write_json
from loadtest.lib.server import ServerProcess
from loadtest.lib.service import ServiceUnderTest
from loadtest.lib.sla import verdict

STEPS = ("create", "fetch", "build", "response", "result", "exchange")
RESPONSE_P95_TARGET_MS = 10.0
DCQL_QUERY = json.dumps(
    {
        "credentials": [
            {
                "id": "pid",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:eudi:pid:1"]},
                "claims": [{"path": ["given_name"]}],
            },
            {
                "id": "mdoc",
                "format": "mso_mdoc",
                "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
                "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "family_name"]}],
            },
        ]
    }
)


@dataclass
class StepTimes:
    """Latency histograms per step of one phase."""

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
            if self.histograms.get(step) is not None and self.histograms[step].count
        ]


class Exchanges:
    """The relying party (gRPC) and the wallet (HTTP) of one benchmark run."""

    def __init__(self, grpc_address: str, api_key: str, session: aiohttp.ClientSession) -> None:
        from eudi.connect.v1 import credential_service_pb2 as pb
        from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
        from eudi.connect.v1 import presentation_service_pb2 as ppb
        from eudi.connect.v1 import presentation_service_pb2_grpc as ppb_grpc

        self._pb, self._ppb = pb, ppb
        self._channel = grpc.aio.insecure_channel(grpc_address)
        self._credentials = pb_grpc.CredentialServiceStub(self._channel)
        self._presentations = ppb_grpc.PresentationServiceStub(self._channel)
        self._metadata = (("x-api-key", api_key),)
        self._session = session
        self.holder = vp_holder.Holder()
        self.sd_jwt = ""
        self.mdoc = ""

    async def close(self) -> None:
        await self._channel.close(None)

    async def issue(self) -> None:
        """The holder's PID in both formats, from the same server."""
        from eudi_connect.api.convert import dict_to_struct
        from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

        issued = []
        for credential_format in ("", "mso_mdoc"):
            response = await self._credentials.IssueCredential(
                self._pb.IssueCredentialRequest(
                    template_id="pid",
                    subject=dict_to_struct(dict(PID_EXAMPLE_SUBJECT)),
                    holder_jwk=json.dumps(self.holder.public_jwk()),
                    format=credential_format,
                ),
                metadata=self._metadata,
            )
            issued.append(response.credential)
        self.sd_jwt, self.mdoc = issued

    async def one(self, times: StepTimes) -> None:
        ppb = self._ppb

        async def step(name: str, work: Awaitable[Any]) -> Any:
            begun = time.perf_counter()
            result = await work
            times.record(name, time.perf_counter() - begun)
            return result

        started = time.perf_counter()
        created = await step(
            "create",
            self._presentations.CreatePresentationRequest(
                ppb.CreatePresentationRequestRequest(dcql_query_json=DCQL_QUERY),
                metadata=self._metadata,
            ),
        )
        transaction = created.transaction
        request = await step("fetch", self._fetch(transaction.authorization_request_uri))
        built = time.perf_counter()
        vp_token = {
            "pid": [self.holder.present_sd_jwt(self.sd_jwt, ["given_name"], request)],
            "mdoc": [self.holder.present_mdoc(self.mdoc, ["family_name"], request)],
        }
        body = vp_holder.encrypted_response(request, vp_token)
        times.record("build", time.perf_counter() - built)
        await step("response", self._post(request.response_uri, body))
        result = await step(
            "result",
            self._presentations.GetPresentationResult(
                ppb.GetPresentationResultRequest(transaction_id=transaction.transaction_id),
                metadata=self._metadata,
            ),
        )
        times.record("exchange", time.perf_counter() - started)
        if result.transaction.state != ppb.PRESENTATION_STATE_VERIFIED:
            raise RuntimeError(f"not verified: {result.transaction.failure_detail}")
        times.exchanges += 1

    async def _fetch(self, authorization_request_uri: str) -> vp_holder.Request:
        url = vp_holder.request_uri_of(authorization_request_uri)
        async with self._session.get(url) as response:
            token = await response.text()
            if response.status != 200:
                raise RuntimeError(f"request object: {response.status} {token[:200]}")
        return vp_holder.read_request_object(token)

    async def _post(self, url: str, body: str) -> None:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        async with self._session.post(url, data=body.encode(), headers=headers) as response:
            answer = await response.read()
            if response.status != 200:
                raise RuntimeError(f"response URI: {response.status} {answer[:300]!r}")


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


def measure_service(plan: argparse.Namespace, cpus: cpu.CpuPlan) -> dict[str, Any]:
    http_port = free_port()
    serve_args = ["--http-port", str(http_port), "--public-url", f"http://127.0.0.1:{http_port}"]
    serve_args += ["--sign-workers", "0"]
    with (
        ServiceUnderTest.temporary(
            cpus, serve_args=serve_args, log_level=plan.server_log_level
        ) as service,
        service.session() as server,
    ):

        async def run() -> dict[str, Any]:
            connector = aiohttp.TCPConnector(limit=max(8, plan.concurrency * 2))
            async with aiohttp.ClientSession(connector=connector) as session:
                exchanges = Exchanges(server.address, service.api_key, session)
                try:
                    await exchanges.issue()
                    await run_exchanges(exchanges, count=plan.warmup, concurrency=1)
                    phases: dict[str, Any] = {}
                    for concurrency in (1, plan.concurrency):
                        label = f"{concurrency} in flight"
                        phases[label] = await _phase(exchanges, server, plan, concurrency, label)
                    return phases
                finally:
                    await exchanges.close()

        return asyncio.run(run())


async def _phase(
    exchanges: Exchanges,
    server: ServerProcess,
    plan: argparse.Namespace,
    concurrency: int,
    label: str,
) -> dict[str, Any]:
    before = server.tree_cpu_seconds()
    times = await run_exchanges(exchanges, count=plan.exchanges, concurrency=concurrency)
    after = server.tree_cpu_seconds()
    cpu_us = None
    if before is not None and after is not None and times.exchanges:
        cpu_us = round((after - before) / times.exchanges * 1e6, 1)
    return {
        "in_flight": concurrency,
        "rows": times.rows(label),
        "exchanges": times.exchanges,
        "exchanges_per_s": times.exchanges / times.elapsed,
        "server_cpu_us_per_exchange": cpu_us,
    }


def report(
    phases: dict[str, Any], echo: list[dict[str, Any]], cpus: cpu.CpuPlan
) -> tuple[str, dict[str, Any]]:
    rows = [row for phase in phases.values() for row in phase["rows"]]
    response_p95 = next(
        (r["p95_ms"] for r in phases["1 in flight"]["rows"] if r["step"] == "response"), None
    )
    target = {
        "target": "response POST P95, 1 in flight",
        "measured": response_p95,
        "limit": f"<= {RESPONSE_P95_TARGET_MS:g} ms",
        "verdict": verdict(response_p95, RESPONSE_P95_TARGET_MS),
    }
    lines = [
        "OpenID4VP exchanges (SQLite; one SD-JWT VC and one mdoc, direct_post.jwt), ms",
        format_table(rows, ("run", "step", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms")),
        "",
        format_table(
            [
                {
                    "run": label,
                    "exchanges": phase["exchanges"],
                    "exchanges_per_s": phase["exchanges_per_s"],
                    "server_us_per_exchange": phase["server_cpu_us_per_exchange"],
                }
                for label, phase in phases.items()
            ],
            ("run", "exchanges", "exchanges_per_s", "server_us_per_exchange"),
        ),
        "",
        "HTTP echo ceiling (aiohttp GET/POST, same core), before and after",
        format_table(
            echo, ("when", "in_flight", "count", "p50_ms", "p95_ms", "p99_ms", "requests_per_s")
        ),
        "",
        format_table([target], ("target", "measured", "limit", "verdict")),
    ]
    document = {
        "machine": machine_info(cpus),
        "phases": phases,
        "echo": echo,
        "targets": [target],
    }
    return "\n".join(lines), document


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--exchanges", type=int, default=200, help="per phase (default 200)")
    cli.add_http_flow_flags(parser, "exchanges")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_args(argv)
    cpus = cli.pin_this_process(plan.no_pin)
    echo_before = measure_echo(plan, cpus)
    phases = measure_service(plan, cpus)
    echo_after = measure_echo(plan, cpus)
    echo = [{**row, "when": "before"} for row in echo_before]
    echo += [{**row, "when": "after"} for row in echo_after]
    text, document = report(phases, echo, cpus)
    print(text)
    if plan.json:
        write_json(plan.json, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
