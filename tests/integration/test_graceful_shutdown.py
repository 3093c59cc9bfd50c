"""SIGTERM under load: running calls finish, new ones are refused, the process exits 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .chunks import each_result
from .db_inspect import integrity_ok, stored_slots
from .processes import create_tenant, start_server


async def test_sigterm_lets_running_calls_finish(tmp_path: Path) -> None:
    """A batch running when SIGTERM arrives completes in full; a call made after the
    signal is refused; the server exits 0 and every committed row is whole."""
    db = f"sqlite:///{tmp_path / 'term.db'}"
    tenant = create_tenant(db, "Term")
    metadata = (("x-api-key", tenant["api_key"]),)
    process, address = start_server(db, "--grace", "20")
    subject = dict_to_struct(PID_EXAMPLE_SUBJECT)
    items = [pb.IssueCredentialRequest(template_id="pid", subject=subject) for _ in range(3000)]
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            call = stub.IssueCredentialBatch(
                pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items)),
                metadata=metadata,
            )
            received = 0
            async for result in each_result(call):
                assert result.WhichOneof("outcome") == "credential"
                received += 1
                if received == 200:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.sleep(0.3)
                    with pytest.raises(grpc.aio.AioRpcError) as refused:
                        await stub.GetIssuerKeys(
                            pb.GetIssuerKeysRequest(), metadata=metadata, timeout=5
                        )
                    assert refused.value.code() in (
                        grpc.StatusCode.UNAVAILABLE,
                        grpc.StatusCode.CANCELLED,
                    )
            assert received == 3000
        assert await asyncio.to_thread(process.wait, 60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    slots = await stored_slots(db)
    assert len(slots) == len(set(slots)) == 3000
    assert await integrity_ok(db)
