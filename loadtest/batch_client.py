"""One batch issuance call from a process of its own, as an independent client makes it.

The benchmark starts it, waits for ``READY`` (the requests are built: none of that counts),
reads the server's CPU counters, writes a line to its standard input to start the call,
and reads one JSON line back: how many results arrived, how many were credentials, the
seconds from the call's start to its last result and to its first, the messages they came
in, and this process's own CPU seconds over the call.

    python -m loadtest.batch_client ADDRESS API_KEY --mode batch|stream --items N --tag T
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

MODES = ("batch", "stream")
# 10,000 requests of ~400 bytes: above gRPC's default 4 MB send limit.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def roster_request(person: int, request_id: str) -> pb.IssueCredentialRequest:
    """The PID of one person of a roster: each item its own subject, as in real bulk
    issuance, so that nothing can be rendered once and reused."""
    subject = {**PID_EXAMPLE_SUBJECT, "given_name": f"Erika {person}"}
    return pb.IssueCredentialRequest(
        template_id="pid", subject=dict_to_struct(subject), request_id=request_id
    )


def _cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


async def run(address: str, api_key: str, mode: str, items: int, tag: str) -> dict[str, Any]:
    metadata = (("x-api-key", api_key),)
    requests = [roster_request(i, f"{tag}-{i}") for i in range(items)]
    # Built before the clock starts, as a client holds its batch before it sends it.
    batch = pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=requests))
    options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        await channel.channel_ready()
        stub = pb_grpc.CredentialServiceStub(channel)
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        if mode == "batch":
            call = stub.IssueCredentialBatch(batch, metadata=metadata)
        else:

            async def stream() -> AsyncIterator[pb.IssueCredentialRequest]:
                for request in requests:
                    yield request

            call = stub.IssueCredentialStream(stream(), metadata=metadata)
        first: float | None = None
        received = ok = messages = 0
        async for chunk in call:
            if first is None:
                first = time.perf_counter() - start
            messages += 1
            received += len(chunk.results)
            ok += sum(result.HasField("credential") for result in chunk.results)
        elapsed = time.perf_counter() - start
        return {
            "items": items,
            "received": received,
            "ok": ok,
            "messages": messages,
            "seconds": elapsed,
            "first_result_s": first,
            "client_cpu_s": _cpu_seconds() - cpu_before,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("api_key")
    parser.add_argument("--mode", choices=MODES, default="batch")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--tag", default="client", help="makes the request ids unique")
    args = parser.parse_args(argv)
    outcome = asyncio.run(run(args.address, args.api_key, args.mode, args.items, args.tag))
    print(json.dumps(outcome), flush=True)
    return 0 if outcome["ok"] == args.items else 1


if __name__ == "__main__":
    raise SystemExit(main())
