"""The service's long response streams as a client opens them, for tests that walk away
from them mid-way; run as a program, a client that opens all of them and then hangs, so
that a test can kill it with SIGKILL.

As a program, `python -m tests.integration.streaming_calls ADDRESS API_KEY INPUT TAG`
(INPUT: a JSON file with the `subject` to issue for and the `credentials` to verify; TAG
makes its request ids unique) prints `<method> <credential id or ->` for each result it
reads, and `READY` once every stream has sent at least `RESULTS_BEFORE_READY` results;
then it stops reading and waits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

ISSUE_BATCH = "IssueCredentialBatch"
ISSUE_STREAM = "IssueCredentialStream"
VERIFY_BATCH = "VerifyCredentialBatch"
WATCH = "Watch"
STREAMING_METHODS = (ISSUE_BATCH, ISSUE_STREAM, VERIFY_BATCH, WATCH)
FULL_NAMES = {
    ISSUE_BATCH: "/eudi.connect.v1.CredentialService/IssueCredentialBatch",
    ISSUE_STREAM: "/eudi.connect.v1.CredentialService/IssueCredentialStream",
    VERIFY_BATCH: "/eudi.connect.v1.CredentialService/VerifyCredentialBatch",
    WATCH: "/grpc.health.v1.Health/Watch",
}
# Far more than a client reads before it walks away: the server is always mid-stream. A
# streamed request sends more, so that the server is also mid-way through reading it.
ISSUE_ITEMS = 1000
STREAMED_ITEMS = 3000
VERIFY_ITEMS = 1000
RESULTS_BEFORE_READY = 5


@dataclass(frozen=True)
class CallInput:
    """What the calls send: the PID subject to issue for, the credentials to verify."""

    api_key: str
    subject: dict[str, Any]
    credentials: Sequence[str] = ()


def open_call(
    channel: grpc.aio.Channel,
    method: str,
    given: CallInput,
    *,
    tag: str,
    timeout: float | None = None,
    count: int | None = None,
) -> Any:
    """Starts one long streaming call of `method`; `tag` makes its request ids unique;
    `count` is the number of credentials to issue (by default, many)."""
    metadata = (("x-api-key", given.api_key),)
    stub = pb_grpc.CredentialServiceStub(channel)
    subject = struct_pb2.Struct()
    subject.update(given.subject)

    def issue_request(index: int) -> pb.IssueCredentialRequest:
        return pb.IssueCredentialRequest(
            template_id="pid", subject=subject, request_id=f"{tag}-{index}"
        )

    if method == ISSUE_BATCH:
        items = [issue_request(i) for i in range(count or ISSUE_ITEMS)]
        return stub.IssueCredentialBatch(
            pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items)),
            metadata=metadata,
            timeout=timeout,
        )
    if method == ISSUE_STREAM:

        async def requests() -> AsyncIterator[pb.IssueCredentialRequest]:
            for i in range(count or STREAMED_ITEMS):
                yield issue_request(i)

        return stub.IssueCredentialStream(requests(), metadata=metadata, timeout=timeout)
    if method == VERIFY_BATCH:
        credentials = given.credentials
        to_verify = [
            pb.VerifyCredentialRequest(credential=credentials[i % len(credentials)])
            for i in range(VERIFY_ITEMS)
        ]
        return stub.VerifyCredentialBatch(
            pb.VerifyCredentialBatchRequest(items=to_verify), metadata=metadata, timeout=timeout
        )
    health = health_pb2_grpc.HealthStub(channel)
    return health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=timeout)


def results_of(message: Any) -> list[Any]:
    """The results a streamed message carries: a chunk's `results`, or a health answer
    as it is."""
    if isinstance(message, pb.IssueCredentialBatchResponse | pb.VerifyCredentialBatchResponse):
        return list(message.results)
    return [message]


def credential_id(result: Any) -> str | None:
    """The id of the credential an issuance result reports, None for anything else."""
    if isinstance(result, pb.IssueCredentialBatchResult) and result.HasField("credential"):
        return str(result.credential.credential_id)
    return None


async def _read(call: Any, method: str, ready: asyncio.Event) -> None:
    count = 0
    async for message in call:
        for result in results_of(message):
            print(method, credential_id(result) or "-", flush=True)
            count += 1
        # Watch sends one answer and then waits for a change.
        if count >= (1 if method == WATCH else RESULTS_BEFORE_READY):
            ready.set()
            await asyncio.Event().wait()  # stop reading: the server stays mid-stream


async def _main(address: str, given: CallInput, tag: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        readies = {method: asyncio.Event() for method in STREAMING_METHODS}
        readers = [
            asyncio.ensure_future(_read(open_call(channel, m, given, tag=tag), m, readies[m]))
            for m in STREAMING_METHODS
        ]
        await asyncio.gather(*(ready.wait() for ready in readies.values()))
        print("READY", flush=True)
        await asyncio.gather(*readers)


if __name__ == "__main__":
    address, api_key, input_file, tag = sys.argv[1:5]
    with open(input_file) as opened:
        fields = json.load(opened)
    asyncio.run(_main(address, CallInput(api_key, fields["subject"], fields["credentials"]), tag))
