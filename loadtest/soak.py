"""Soak run: a fixed rate of mixed calls, a share of them hostile, for a bounded time.

Reports calls and errors by status code, latency percentiles over time (table and PNG),
and the server's resident memory at start and end, which must not grow past a bound.

    python -m loadtest.soak --duration 600 --rate 200 [--hostile-share 0.15] [--out DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from loadtest.lib.cpu import plan_cpus
from loadtest.lib.pool import run_load
from loadtest.lib.report import format_table, percentile_plot, write_json
from loadtest.lib.service import ServiceUnderTest
from loadtest.lib.spec import LoadSpec, WorkerContext

MEMORY_GROWTH_BOUND_MB = 64.0


class UnexpectedOutcome(Exception):
    """A hostile call that the server did not refuse the way it must."""


async def mixed_scenario(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> Callable[[int], Awaitable[None]]:
    """Issue 40 %, verify 25 %, status 10 %, revoke 5 %, batch 5 %, hostile the rest."""
    stub = pb_grpc.CredentialServiceStub(channel)
    metadata = (("x-api-key", worker.options["api_key"]),)
    hostile_share = float(worker.options.get("hostile_share", 0.15))
    request = pb.IssueCredentialRequest(
        template_id="pid", subject=dict_to_struct(PID_EXAMPLE_SUBJECT)
    )
    issued = [await stub.IssueCredential(request, metadata=metadata) for _ in range(20)]

    async def expect(call: Awaitable[Any], *codes: grpc.StatusCode) -> None:
        try:
            await call
        except grpc.aio.AioRpcError as error:
            if error.code() in codes:
                return
            raise
        raise UnexpectedOutcome(f"expected one of {[code.name for code in codes]}")

    hostile: list[Callable[[], Awaitable[None]]] = [
        lambda: expect(
            stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=(("x-api-key", "ek_bad.x"),)),
            # The peer is throttled after a few failures; its valid calls still pass.
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        ),
        lambda: expect(
            stub.IssueCredential(pb.IssueCredentialRequest(template_id="nope"), metadata=metadata),
            grpc.StatusCode.NOT_FOUND,
        ),
        lambda: expect(
            stub.IssueCredential(
                pb.IssueCredentialRequest(
                    template_id="pid", subject=dict_to_struct({"x": list(range(5000))})
                ),
                metadata=metadata,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        lambda: expect(
            stub.RevokeCredential(
                pb.RevokeCredentialRequest(credential_id="0" * 32), metadata=metadata
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]

    async def malformed_verify() -> None:
        response = await stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential="e30.e30.~garbage~"), metadata=metadata
        )
        if response.valid:
            raise UnexpectedOutcome("garbage verified")

    hostile.append(malformed_verify)

    async def call(seq: int) -> None:
        slot = (seq * 7919) % 1000 / 1000  # spread the mix evenly over the run
        if slot < hostile_share:
            await hostile[seq % len(hostile)]()
        elif slot < hostile_share + 0.40:
            issued.append(await stub.IssueCredential(request, metadata=metadata))
            del issued[:-200]
        elif slot < hostile_share + 0.65:
            response = await stub.VerifyCredential(
                pb.VerifyCredentialRequest(credential=issued[seq % len(issued)].credential),
                metadata=metadata,
            )
            if response.failure not in (
                pb.VERIFICATION_FAILURE_UNSPECIFIED,
                pb.VERIFICATION_FAILURE_REVOKED,
            ):
                raise UnexpectedOutcome(f"verification failed: {response.detail}")
        elif slot < hostile_share + 0.75:
            await stub.GetCredentialStatus(
                pb.GetCredentialStatusRequest(
                    credential_id=issued[seq % len(issued)].credential_id
                ),
                metadata=metadata,
            )
        elif slot < hostile_share + 0.80:
            await stub.RevokeCredential(
                pb.RevokeCredentialRequest(credential_id=issued[seq % len(issued)].credential_id),
                metadata=metadata,
            )
        else:
            items = pb.IssueCredentialBatchItems(items=[request] * 20)
            batch = pb.IssueCredentialBatchRequest(items=items)
            async for _ in stub.IssueCredentialBatch(batch, metadata=metadata):
                pass

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--hostile-share", type=float, default=0.15)
    parser.add_argument("--out", type=Path, default=Path("loadtest/results/soak"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with (
        ServiceUnderTest.temporary(plan_cpus(pin=False), log_level="WARNING") as service,
        service.session() as server,
    ):
        memory_start = server.resident_mb()
        result = run_load(
            LoadSpec(
                target=server.address,
                scenario="loadtest.soak:mixed_scenario",
                options={"api_key": service.api_key, "hostile_share": args.hostile_share},
                rate=args.rate,
                duration=args.duration,
            ),
            progress=not args.no_progress,
        )
        memory_end = server.resident_mb()

    summary = result.summary()
    growth = memory_end - memory_start
    print(
        format_table(
            [{"code": k, "calls": v} for k, v in sorted(result.codes.items())], ["code", "calls"]
        )
    )
    rows = [
        {
            "second": p.second,
            "ok": p.ok,
            "errors": p.errors,
            "p50_ms": round(p.p50_ms, 2),
            "p95_ms": round(p.p95_ms, 2),
            "p99_ms": round(p.p99_ms, 2),
        }
        for p in result.timeline[:: max(1, len(result.timeline) // 20)]
    ]
    print(format_table(rows, ["second", "ok", "errors", "p50_ms", "p95_ms", "p99_ms"]))
    print(
        f"server memory: {memory_start:.1f} MB at start, {memory_end:.1f} MB at end "
        f"(growth {growth:+.1f} MB, bound {MEMORY_GROWTH_BOUND_MB:.0f} MB)"
    )
    percentile_plot(result.timeline, args.out / "soak-latency.png", title="soak: latency over time")
    report = {"summary": summary, "codes": result.codes, "memory_mb": [memory_start, memory_end]}
    write_json(args.out / "soak.json", report)
    unexpected = sum(v for k, v in result.codes.items() if k != "OK")
    return 0 if unexpected == 0 and growth <= MEMORY_GROWTH_BOUND_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
