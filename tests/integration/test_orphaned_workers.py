"""A server that dies abruptly leaves no process of its own behind: its sign workers see
their parent gone and exit, and with them the multiprocessing resource tracker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from .chunks import each_result
from .client_helpers import pid_request
from .observed import eventually
from .processes import child_pids, create_tenant, running, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc"),
]

EXIT_SECONDS = 5.0


@pytest.mark.parametrize("death", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
async def test_children_exit_when_the_server_dies_mid_batch(
    tmp_path: Path, death: signal.Signals
) -> None:
    """Killed (or crashed) while its workers sign a batch, the server leaves every child
    process it had (sign workers, resource tracker) to exit within a few seconds."""
    db = f"sqlite:///{tmp_path / 'orphans.db'}"
    tenant = create_tenant(db, "Orphans")
    process, address = start_server(db, "--sign-workers", "2")
    children: set[int] = set()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            items = [pid_request(request_id=f"o-{i}") for i in range(1000)]
            call = stub.IssueCredentialBatch(
                pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items)),
                metadata=(("x-api-key", tenant["api_key"]),),
            )
            received = 0
            with contextlib.suppress(grpc.aio.AioRpcError):
                async for _ in each_result(call):
                    received += 1
                    if received == 200:  # the workers are busy signing the next groups
                        children = child_pids(process.pid)
                        os.kill(process.pid, death)
        assert await asyncio.to_thread(process.wait, 30) == -death
        assert len(children) >= 2, children  # a sign worker and the resource tracker
        await eventually(lambda: not any(map(running, children)), within=EXIT_SECONDS)
    finally:
        for pid in (process.pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
