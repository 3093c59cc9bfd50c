"""Streaming batch issuance: mixed items, copies, idempotent resends, limits, cancellation."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from google.rpc import error_details_pb2

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import RunningServer, ServerOptions, start_server
from eudi_connect.core.jose import generate_p256_key, public_jwk, split_jws
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.sdjwt import decode_disclosures, make_presentation
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.settings import ServiceSettings

from .chunks import all_results, each_result
from .client_helpers import pid_request
from .conftest import Tenant
from .db_inspect import stored_slots


def bad(request_id: str = "") -> pb.IssueCredentialRequest:
    return pb.IssueCredentialRequest(template_id="missing", request_id=request_id)


def reason(result: pb.IssueCredentialBatchResult) -> str:
    info = error_details_pb2.ErrorInfo()
    assert result.error.details[0].Unpack(info)
    return str(info.reason)


async def test_batch_with_mixed_items(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """Each bad item gets its own error in place; the good ones are issued."""
    items = [pid_request(request_id=f"r{i}") if i % 3 else bad(f"r{i}") for i in range(30)]
    request = pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items))
    results = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    assert [r.index for r in results] == list(range(30))
    assert [r.request_id for r in results] == [f"r{i}" for i in range(30)]
    for r in results:
        if r.index % 3:
            assert r.WhichOneof("outcome") == "credential"
        else:
            assert r.WhichOneof("outcome") == "error"
            assert r.error.code == grpc.StatusCode.NOT_FOUND.value[0]
            assert reason(r) == "TEMPLATE_NOT_FOUND"
    slots = {
        (r.credential.status_list_id, r.credential.status_index) for r in results if r.index % 3
    }
    assert len(slots) == 20


async def test_stream_with_mixed_items(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """The bidirectional stream answers every item, in order, errors in place."""

    async def requests() -> AsyncIterator[pb.IssueCredentialRequest]:
        for i in range(50):
            yield pid_request() if i % 5 else bad()
            if i % 10 == 0:
                await asyncio.sleep(0.01)

    results = await all_results(stub.IssueCredentialStream(requests(), metadata=tenant.metadata))
    assert [r.index for r in results] == list(range(50))
    assert sum(r.WhichOneof("outcome") == "error" for r in results) == 10


async def test_copies_are_unlinkable_and_bound(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """N holder keys give N credentials that each verify with their own key and share no
    salt, digest, status index or signature; timestamps are coarsened to the day."""
    holders = [generate_p256_key() for _ in range(5)]
    copies = pb.CredentialCopies(
        template_id="pid",
        subject=dict_to_struct(PID_EXAMPLE_SUBJECT),
        holder_jwks=[json.dumps(public_jwk(h.public_key())) for h in holders],
        request_id="wallet-7",
    )
    results = await all_results(
        stub.IssueCredentialBatch(
            pb.IssueCredentialBatchRequest(copies=copies), metadata=tenant.metadata
        )
    )
    assert len(results) == 5
    credentials = [r.credential.credential for r in results]
    salts: list[str] = []
    digests: list[str] = []
    for credential in credentials:
        disclosures = decode_disclosures(credential)
        salts += [d.salt for d in disclosures]
        digests += [d.digest for d in disclosures]
        payload = split_jws(credential.split("~")[0]).payload
        assert payload["iat"] % 86400 == 0
        assert payload["exp"] % 86400 == 0
    assert len(set(salts)) == len(salts)
    assert len(set(digests)) == len(digests)
    assert len({(r.credential.status_list_id, r.credential.status_index) for r in results}) == 5
    assert len({c.split("~")[0].split(".")[2] for c in credentials}) == 5
    for holder, credential in zip(holders, credentials, strict=True):
        presentation = make_presentation(
            credential, holder_key=holder, audience="aud", nonce="n", issued_at=int(time.time())
        )
        verified = await stub.VerifyCredential(
            pb.VerifyCredentialRequest(
                credential=presentation, expected_audience="aud", expected_nonce="n"
            ),
            metadata=tenant.metadata,
        )
        assert verified.valid, verified.detail
    other_key = make_presentation(
        credentials[0], holder_key=holders[1], audience="aud", nonce="n", issued_at=int(time.time())
    )
    refused = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(
            credential=other_key, expected_audience="aud", expected_nonce="n"
        ),
        metadata=tenant.metadata,
    )
    assert refused.failure == pb.VERIFICATION_FAILURE_KEY_BINDING_INVALID


async def test_resent_batch_returns_same_credentials(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """Resending a batch gives the same credentials for items already issued."""
    request = pb.IssueCredentialBatchRequest(
        items=pb.IssueCredentialBatchItems(
            items=[pid_request(request_id=f"item-{i}") for i in range(20)]
        )
    )
    first = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    again = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    assert [r.credential.credential_id for r in first] == [
        r.credential.credential_id for r in again
    ]
    assert [r.credential.credential for r in first] == [r.credential.credential for r in again]


async def test_batch_over_limit(
    server: RunningServer, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A batch over the item limit is RESOURCE_EXHAUSTED naming the limit, before any work."""
    items = [pb.IssueCredentialRequest(template_id="pid")] * 10_001
    request = pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.IssueCredentialBatch(request, metadata=tenant.metadata):
            pass
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "10000" in (caught.value.details() or "")


async def test_cancelled_stream_leaves_store_consistent(
    db_url: str, services: Services, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A client that cancels mid-stream received only committed rows; indices stay unique."""
    request = pb.IssueCredentialBatchRequest(
        items=pb.IssueCredentialBatchItems(
            items=[pid_request(request_id=f"c{i}") for i in range(2000)]
        )
    )
    call = stub.IssueCredentialBatch(request, metadata=tenant.metadata)
    received: list[pb.IssueCredentialBatchResult] = []
    async for result in each_result(call):
        received.append(result)
        if len(received) == 300:
            call.cancel()
            break
    await asyncio.sleep(0.3)
    for result in received:
        record = await services.store.get_credential(
            tenant.tenant_id, result.credential.credential_id
        )
        assert record is not None
    rows = await stored_slots(db_url)
    assert len(rows) == len(set(rows))
    assert len(rows) >= len(received)


async def test_batch_signed_in_worker_process(db_url: str, settings: ServiceSettings) -> None:
    """With a signing worker process, a batch of mixed items is issued, verifies, and bad
    subjects (found only in the worker) get their own errors."""
    services = await open_services(
        db_url, settings, master_key=MasterKey.generate(), sign_workers=1
    )
    running = await start_server(services, ServerOptions(port=0, settings=settings))
    try:
        tenant = await services.tenants.create_tenant("Pooled")
        metadata = (("x-api-key", tenant.api_key),)
        missing_birthdate = {k: v for k, v in PID_EXAMPLE_SUBJECT.items() if k != "birthdate"}
        items = [
            pid_request(request_id=f"p{i}")
            if i % 4
            else pid_request(missing_birthdate, request_id=f"p{i}")
            for i in range(300)
        ]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            request = pb.IssueCredentialBatchRequest(
                items=pb.IssueCredentialBatchItems(items=items)
            )
            results = await all_results(stub.IssueCredentialBatch(request, metadata=metadata))
            assert [r.index for r in results] == list(range(300))
            for r in results:
                if r.index % 4:
                    assert r.WhichOneof("outcome") == "credential"
                else:
                    assert reason(r) == "SUBJECT_FIELD_MISSING"
            verified = await stub.VerifyCredential(
                pb.VerifyCredentialRequest(credential=results[1].credential.credential),
                metadata=metadata,
            )
            assert verified.valid, verified.detail
    finally:
        await running.stop(grace=1.0)
