"""What several integration tests do as a client: ask for the example PID (as an mdoc too),
read a status entry the way a verifier does, trust an issuer and verify, and run the CLI
against the test's server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import trust_service_pb2 as trust_pb
from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import RunningServer
from eudi_connect.cli.main import main
from eudi_connect.core.jose import generate_p256_key, public_jwk, public_key_from_jwk, split_jws
from eudi_connect.core.status_list import decode_status_list_token
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .conftest import Tenant


def pid_request(subject: dict[str, Any] | None = None, **fields: Any) -> pb.IssueCredentialRequest:
    """An IssueCredentialRequest of the example PID (or `subject`); `fields` set the rest."""
    fields.setdefault("template_id", "pid")
    return pb.IssueCredentialRequest(
        subject=dict_to_struct(PID_EXAMPLE_SUBJECT if subject is None else subject), **fields
    )


async def issue_pid_mdoc(
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    holder: ec.EllipticCurvePrivateKey | None = None,
) -> pb.IssueCredentialResponse:
    """The example PID as an mdoc bound to `holder` (a fresh key if None)."""
    device_key = (holder or generate_p256_key()).public_key()
    issued: pb.IssueCredentialResponse = await stub.IssueCredential(
        pid_request(format="mso_mdoc", holder_jwk=json.dumps(public_jwk(device_key))),
        metadata=tenant.metadata,
    )
    return issued


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


async def add_trusted_issuer(
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    issuer: str,
    *,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str = "",
) -> None:
    """Trusts `issuer` for the tenant, by its JWKS inline or at `jwks_uri`."""
    trusted = trust_pb.TrustedIssuer(issuer=issuer)
    if jwks is not None:
        trusted.jwks = json.dumps(jwks)
    else:
        trusted.jwks_uri = jwks_uri
    await trust.AddTrustedIssuer(
        trust_pb.AddTrustedIssuerRequest(trusted_issuer=trusted), metadata=tenant.metadata
    )


async def verify_credential(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, credential: str, **fields: Any
) -> pb.VerifyCredentialResponse:
    """VerifyCredential as the tenant; `fields` set the rest of the request."""
    response: pb.VerifyCredentialResponse = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=credential, **fields), metadata=tenant.metadata
    )
    return response


async def run_cli(
    capsys: pytest.CaptureFixture[str], server: RunningServer, tenant: Tenant, *argv: str
) -> str:
    """Runs the blocking CLI in a thread (the server shares this event loop); its stdout."""
    flags = ["--address", f"127.0.0.1:{server.port}", "--api-key", tenant.api_key]
    await asyncio.to_thread(main, [*argv, *flags])
    return capsys.readouterr().out
