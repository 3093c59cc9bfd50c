"""Chunked result streams: a batch's results travel a committed group per message, in
order, errors in their place; verification results travel as they are ready; a client
that stops reading holds the server back instead of being buffered for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from grpc.aio import EOF  # type: ignore[attr-defined]  # grpc-stubs lacks it

from eudi_connect.services.batch import DEFAULT_FIRST_GROUP_SIZE, DEFAULT_GROUP_SIZE

from .chunks import all_results
from .client_helpers import pid_request
from .conftest import Tenant
from .db_inspect import integrity_ok, query, stored_slots
from .processes import create_tenant, start_server


def bad(request_id: str) -> pb.IssueCredentialRequest:
    return pb.IssueCredentialRequest(template_id="missing", request_id=request_id)


def batch_of(items: list[pb.IssueCredentialRequest]) -> pb.IssueCredentialBatchRequest:
    return pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items))


async def stored_count(db_url: str) -> int:
    return int((await query(db_url, "SELECT count(*) FROM credentials"))[0][0])


async def test_batch_results_come_a_group_per_message_in_order(
    db_url: str, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A 700-item batch comes back a group per message (the first groups small, so that
    the first results come early), the messages continuing one another in request order,
    each bad item's error in its place and every reported credential already stored."""
    items = [bad(f"m{i}") if i % 7 == 3 else pid_request(request_id=f"m{i}") for i in range(700)]
    call = stub.IssueCredentialBatch(batch_of(items), metadata=tenant.metadata)
    messages = [message async for message in call]
    # One message per group: small first groups, each twice the one before, then full ones.
    assert [len(m.results) for m in messages] == [16, 32, 64, 128, 128, 128, 128, 76]
    assert DEFAULT_GROUP_SIZE == 128
    assert DEFAULT_FIRST_GROUP_SIZE == 16
    results = [r for m in messages for r in m.results]
    assert [r.index for r in results] == list(range(700))
    assert [r.request_id for r in results] == [f"m{i}" for i in range(700)]
    for result in results:
        expected = "error" if result.index % 7 == 3 else "credential"
        assert result.WhichOneof("outcome") == expected, result.index
    sample = results[200].credential
    status = await stub.GetCredentialStatus(
        pb.GetCredentialStatusRequest(credential_id=sample.credential_id),
        metadata=tenant.metadata,
    )
    assert sample.format == "dc+sd-jwt"
    assert sample.credential.count("~") >= 2
    assert (status.status_list_id, status.status_index) == (
        sample.status_list_id,
        sample.status_index,
    )
    assert status.issued_at == sample.issued_at
    assert status.expires_at == sample.expires_at
    assert sample.expires_at.seconds > sample.issued_at.seconds > 0
    stored = {str(row[0]) for row in await query(db_url, "SELECT credential_id FROM credentials")}
    issued = {r.credential.credential_id for r in results if r.HasField("credential")}
    assert len(issued) == 600
    assert issued <= stored


async def test_resent_stream_returns_the_same_credentials(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """An IssueCredentialStream resent with the same request ids answers every item with
    the credential it got the first time, in chunks that cover the stream in order."""

    async def requests() -> AsyncIterator[pb.IssueCredentialRequest]:
        for i in range(300):
            yield pid_request(request_id=f"again-{i}")

    first = await all_results(stub.IssueCredentialStream(requests(), metadata=tenant.metadata))
    again = await all_results(stub.IssueCredentialStream(requests(), metadata=tenant.metadata))
    assert [r.index for r in again] == list(range(300))
    assert [r.credential.credential_id for r in again] == [
        r.credential.credential_id for r in first
    ]
    assert [r.credential.credential for r in again] == [r.credential.credential for r in first]


async def test_verify_batch_answers_each_item_once_in_chunks(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """VerifyCredentialBatch sends every item's result exactly once, in non-empty
    messages; a refused credential and an invalid request each get their own result."""
    issued = await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    items = [pb.VerifyCredentialRequest(credential=issued.credential) for _ in range(200)]
    items[5] = pb.VerifyCredentialRequest(credential="not-a-credential~")
    items[9] = pb.VerifyCredentialRequest(
        credential=issued.credential,
        policy=pb.VerificationPolicy(clock_skew_seconds=99_999),
    )
    messages = [
        m
        async for m in stub.VerifyCredentialBatch(
            pb.VerifyCredentialBatchRequest(items=items), metadata=tenant.metadata
        )
    ]
    assert all(m.results for m in messages)
    results = {r.index: r for m in messages for r in m.results}
    assert sum(len(m.results) for m in messages) == len(results) == 200
    assert results[5].result.failure == pb.VERIFICATION_FAILURE_MALFORMED
    assert results[9].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    valid = [i for i, r in results.items() if r.HasField("result") and r.result.valid]
    assert len(valid) == 198


@pytest.mark.slow
async def test_a_client_that_stops_reading_holds_the_batch_back(tmp_path: Path) -> None:
    """A client that takes the first message of a 10,000-item batch and then stops reading
    gets it before the batch is done; the server then stops issuing after a bounded part
    of the batch (flow control, not a buffer of the rest), and once the client reads on,
    it gets every result, in order."""
    db = f"sqlite:///{tmp_path / 'slow-reader.db'}"
    tenant = create_tenant(db, "Slow Reader")
    metadata = (("x-api-key", tenant["api_key"]),)
    process, address = start_server(db)
    total = 10_000
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            items = [pid_request(request_id=f"slow-{i}") for i in range(total)]
            call = stub.IssueCredentialBatch(batch_of(items), metadata=metadata)
            first = await call.read()
            assert first is not EOF
            assert await stored_count(db) < total
            # Wait (bounded) until the server has stopped issuing: the count holds still.
            counts = [await stored_count(db)]
            deadline = time.monotonic() + 90
            while (len(counts) < 5 or len(set(counts[-5:])) > 1) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                counts.append(await stored_count(db))
            held = counts[-1]
            assert len(set(counts[-5:])) == 1, counts
            assert held <= total // 2, counts
            results = list(first.results)
            while (message := await call.read()) is not EOF:
                results.extend(message.results)
        assert [r.index for r in results] == list(range(total))
        assert all(r.HasField("credential") for r in results)
        assert await stored_count(db) == total
        slots = await stored_slots(db)
        assert len(slots) == len(set(slots))
        assert await integrity_ok(db)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
