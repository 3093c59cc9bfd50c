"""What several integration tests do as a client: read a status entry the way a verifier
does, and run the CLI against the test's server."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.server import RunningServer
from eudi_connect.cli.main import main
from eudi_connect.core.jose import public_key_from_jwk, split_jws
from eudi_connect.core.status_list import decode_status_list_token

from .conftest import Tenant


async def status_list_entry(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, issued: pb.IssueCredentialResponse
) -> int:
    """The credential's entry in the status list token the server signs, checked with the
    tenant's published keys, as a verifier reads it."""
    token = (
        await stub.GetStatusList(
            pb.GetStatusListRequest(status_list_id=issued.status_list_id), metadata=tenant.metadata
        )
    ).token
    jwks = json.loads(
        (await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)).jwks
    )
    keys = {key["kid"]: public_key_from_jwk(key) for key in jwks["keys"]}
    decoded = decode_status_list_token(
        token, public_key=keys[split_jws(token).header["kid"]], now=int(time.time())
    )
    return decoded.status_list.get(issued.status_index)


async def run_cli(
    capsys: pytest.CaptureFixture[str], server: RunningServer, tenant: Tenant, *argv: str
) -> str:
    """Runs the blocking CLI in a thread (the server shares this event loop); its stdout."""
    flags = ["--address", f"127.0.0.1:{server.port}", "--api-key", tenant.api_key]
    await asyncio.to_thread(main, [*argv, *flags])
    return capsys.readouterr().out
