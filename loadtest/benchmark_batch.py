"""Batch issuance benchmark: credentials/s from IssueCredentialBatch (1,000 and 10,000
items), from IssueCredentialStream, and from copies, against unary IssueCredential at
concurrency 32, all against one server process in one run.

    python -m loadtest.benchmark_batch [--items 1000 10000] [--unary-total 3000] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from tqdm import tqdm

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from loadtest.lib.cpu import plan_cpus
from loadtest.lib.pool import run_load
from loadtest.lib.report import format_table, write_json
from loadtest.lib.service import ServiceUnderTest
from loadtest.lib.spec import LoadSpec, WorkerContext


def _request(person: int = 0, request_id: str = "") -> pb.IssueCredentialRequest:
    """The PID of one person of a roster: each item has its own subject, as in real bulk
    issuance, so nothing can be rendered once and reused."""
    subject = {**PID_EXAMPLE_SUBJECT, "given_name": f"Erika {person}"}
    return pb.IssueCredentialRequest(
        template_id="pid", subject=dict_to_struct(subject), request_id=request_id
    )


async def unary_issue_scenario(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> Callable[[int], Awaitable[None]]:
    """Load-generator scenario: one IssueCredential per call."""
    stub = pb_grpc.CredentialServiceStub(channel)
    metadata = (("x-api-key", worker.options["api_key"]),)
    requests = [_request(person) for person in range(256)]

    async def call(seq: int) -> None:
        await stub.IssueCredential(requests[seq % len(requests)], metadata=metadata, timeout=30)

    return call


async def _consume(
    results: AsyncIterator[pb.IssueCredentialBatchResponse], expected: int, label: str
) -> tuple[float, int]:
    start = time.perf_counter()
    ok = 0
    with tqdm(total=expected, desc=label, unit="cred", leave=False) as bar:
        async for chunk in results:
            ok += sum(result.WhichOneof("outcome") == "credential" for result in chunk.results)
            bar.update(len(chunk.results))
    return time.perf_counter() - start, ok


async def _batch_runs(address: str, api_key: str, sizes: list[int]) -> list[dict[str, Any]]:
    metadata = (("x-api-key", api_key),)
    rows: list[dict[str, Any]] = []
    async with grpc.aio.insecure_channel(
        address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stub = pb_grpc.CredentialServiceStub(channel)
        await stub.IssueCredential(_request(), metadata=metadata)  # warm the key and lease
        for size in sizes:
            request = pb.IssueCredentialBatchRequest(
                items=pb.IssueCredentialBatchItems(items=[_request(i) for i in range(size)])
            )
            elapsed, ok = await _consume(
                stub.IssueCredentialBatch(request, metadata=metadata), size, f"batch {size}"
            )
            rows.append(_row(f"IssueCredentialBatch {size:,} items", size, ok, elapsed))

        size = max(sizes)

        requests = [_request(i) for i in range(size)]

        async def stream() -> AsyncIterator[pb.IssueCredentialRequest]:
            for request in requests:
                yield request

        elapsed, ok = await _consume(
            stub.IssueCredentialStream(stream(), metadata=metadata), size, "stream"
        )
        rows.append(_row(f"IssueCredentialStream {size:,} items", size, ok, elapsed))

        copies = min(size, 1000)
        holders = [json.dumps(public_jwk(generate_p256_key().public_key())) for _ in range(copies)]
        request = pb.IssueCredentialBatchRequest(
            copies=pb.CredentialCopies(
                template_id="pid", subject=dict_to_struct(PID_EXAMPLE_SUBJECT), holder_jwks=holders
            )
        )
        elapsed, ok = await _consume(
            stub.IssueCredentialBatch(request, metadata=metadata), copies, "copies"
        )
        rows.append(_row(f"IssueCredentialBatch {copies:,} copies", copies, ok, elapsed))
    return rows


def _row(name: str, items: int, ok: int, elapsed: float) -> dict[str, Any]:
    return {
        "run": name,
        "items": items,
        "ok": ok,
        "seconds": round(elapsed, 3),
        "credentials_per_s": round(ok / elapsed, 1) if elapsed else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--unary-total", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    with (
        ServiceUnderTest.temporary(plan_cpus(pin=False), log_level="WARNING") as service,
        service.session() as server,
    ):
        rows = asyncio.run(_batch_runs(server.address, service.api_key, args.items))
        unary = run_load(
            LoadSpec(
                target=server.address,
                scenario="loadtest.benchmark_batch:unary_issue_scenario",
                options={"api_key": service.api_key},
                concurrency=args.concurrency,
                total=args.unary_total,
                warmup_calls=50,
            )
        )
    unary_rate = unary.throughput
    rows.append(
        {
            "run": f"IssueCredential unary, {args.concurrency} in flight",
            "items": unary.calls,
            "ok": unary.ok,
            "seconds": round(unary.elapsed, 3),
            "credentials_per_s": round(unary_rate, 1),
        }
    )
    for row in rows:
        row["x_unary"] = round(row["credentials_per_s"] / unary_rate, 2) if unary_rate else None
    print(format_table(rows, ["run", "items", "ok", "seconds", "credentials_per_s", "x_unary"]))
    if args.json:
        write_json(args.json, {"runs": rows})
    return 0 if all(row["ok"] == row["items"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
