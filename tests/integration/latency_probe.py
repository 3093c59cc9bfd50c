"""A client process of its own that measures one call's latency, as a second tenant would
see it while the test process loads the server.

    python -m tests.integration.latency_probe ADDRESS API_KEY

Prints "READY" once its first call has been answered, then calls GetIssuerKeys every few
milliseconds. Each line on standard input ends the current series of latencies: it is
printed as one JSON list of seconds, and a new series starts. At the end of the input it
prints the last series and exits. (A probe in the test's own process would also measure
the test's own client work.)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

INTERVAL_SECONDS = 0.005
MAX_SECONDS = 600


async def probe(address: str, api_key: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    metadata = (("x-api-key", api_key),)
    series: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CredentialServiceStub(channel)
        await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=metadata, timeout=60)
        print("READY", flush=True)
        next_line = asyncio.ensure_future(reader.readline())
        while time.monotonic() < deadline:
            if next_line.done():
                print(json.dumps(series), flush=True)
                series = []
                if not next_line.result():
                    return
                next_line = asyncio.ensure_future(reader.readline())
            started = time.perf_counter()
            await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=metadata, timeout=60)
            series.append(time.perf_counter() - started)
            await asyncio.sleep(INTERVAL_SECONDS)
        next_line.cancel()
    print(json.dumps(series), flush=True)


def main() -> None:
    asyncio.run(probe(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    main()
