"""A server killed with SIGKILL in the middle of a 10,000-item stream loses nothing that
the client had received, and its database stays consistent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .chunks import each_result
from .processes import create_tenant, start_server


async def test_sigkill_during_stream_loses_no_received_credential(tmp_path: Path) -> None:
    """Every credential the client received before the kill is stored after a restart."""
    db = f"sqlite:///{tmp_path / 'kill.db'}"
    tenant = create_tenant(db, "Killed")
    metadata = (("x-api-key", tenant["api_key"]),)
    process, address = start_server(db)
    received: list[pb.IssueCredentialBatchResult] = []
    subject = dict_to_struct(PID_EXAMPLE_SUBJECT)

    async def requests() -> AsyncIterator[pb.IssueCredentialRequest]:
        for i in range(10_000):
            yield pb.IssueCredentialRequest(template_id="pid", subject=subject, request_id=f"k{i}")

    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            call = stub.IssueCredentialStream(requests(), metadata=metadata)
            with contextlib.suppress(grpc.aio.AioRpcError):
                async for result in each_result(call):
                    received.append(result)
                    if len(received) == 1500:
                        os.killpg(process.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    assert 1500 <= len(received) < 10_000
    assert all(r.WhichOneof("outcome") == "credential" for r in received)

    with contextlib.closing(sqlite3.connect(str(tmp_path / "kill.db"))) as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in database.execute("SELECT credential_id FROM credentials")}
        slots = database.execute("SELECT status_list_id, status_index FROM credentials").fetchall()
    assert {r.credential.credential_id for r in received} <= stored
    assert len(slots) == len(set(slots))

    process, address = start_server(db)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            sample = received[:: max(1, len(received) // 50)]
            statuses = await asyncio.gather(
                *(
                    stub.GetCredentialStatus(
                        pb.GetCredentialStatusRequest(credential_id=r.credential.credential_id),
                        metadata=metadata,
                    )
                    for r in sample
                )
            )
            assert all(s.status == pb.CREDENTIAL_STATUS_VALID for s in statuses)
            resent = pb.IssueCredentialRequest(template_id="pid", subject=subject, request_id="k0")
            again = await stub.IssueCredential(resent, metadata=metadata)
            assert again.credential_id == received[0].credential.credential_id
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        if process.stdout is not None:
            process.stdout.close()


async def test_sigkill_during_unary_issuance_and_revocation(tmp_path: Path) -> None:
    """Every issuance and revocation that got an OK before a SIGKILL is there afterwards."""
    db = f"sqlite:///{tmp_path / 'unary-kill.db'}"
    tenant = create_tenant(db, "Unary")
    metadata = (("x-api-key", tenant["api_key"]),)
    process, address = start_server(db)
    request = pb.IssueCredentialRequest(
        template_id="pid", subject=dict_to_struct(PID_EXAMPLE_SUBJECT)
    )
    issued: list[str] = []
    revoked: list[str] = []
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)

            enough = asyncio.Event()

            async def lane() -> None:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    while True:
                        response = await stub.IssueCredential(request, metadata=metadata)
                        issued.append(response.credential_id)
                        if len(issued) >= 400:
                            enough.set()
                        if len(issued) % 3 == 0:
                            await stub.RevokeCredential(
                                pb.RevokeCredentialRequest(credential_id=response.credential_id),
                                metadata=metadata,
                            )
                            revoked.append(response.credential_id)

            lanes = [asyncio.ensure_future(lane()) for _ in range(16)]
            await asyncio.wait_for(enough.wait(), timeout=60)
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(asyncio.gather(*lanes), timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()

    with contextlib.closing(sqlite3.connect(str(tmp_path / "unary-kill.db"))) as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        status = dict(database.execute("SELECT credential_id, status FROM credentials").fetchall())
    assert set(issued) <= set(status)
    assert all(status[credential_id] == 1 for credential_id in revoked)
