"""Hostile input and faults through the real server: clear statuses, nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import ServerOptions, start_server
from eudi_connect.core.encoding import b64url_encode, json_bytes
from eudi_connect.core.jose import split_jws
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.store.sqlite import SqliteStore

from .client_helpers import pid_request
from .conftest import Tenant
from .db_inspect import integrity_ok, stored_slots
from .template_helpers import expect_error


async def verify(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, credential: str
) -> pb.VerifyCredentialResponse:
    response: pb.VerifyCredentialResponse = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=credential), metadata=tenant.metadata
    )
    return response


async def test_key_rotation_keeps_old_credentials_verifying(
    services: Services, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """After rotation new credentials use the new key, old ones still verify, JWKS has both."""
    old = await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    old_kid = split_jws(old.credential.split("~")[0]).header["kid"]
    new_kid = await services.keys.rotate(tenant.tenant_id)
    new = await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    assert split_jws(new.credential.split("~")[0]).header["kid"] == new_kid != old_kid
    assert (await verify(stub, tenant, old.credential)).valid
    assert (await verify(stub, tenant, new.credential)).valid
    jwks = json.loads(
        (await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)).jwks
    )
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert all("d" not in k for k in jwks["keys"])


def _forged(credential: str, header_changes: dict[str, object]) -> str:
    jwt, rest = credential.split("~", 1)
    parts = split_jws(jwt)
    header = b64url_encode(json_bytes({**parts.header, **header_changes}))
    body, signature = jwt.split(".")[1:]
    return f"{header}.{body}.{signature}~{rest}"


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"alg": "none"}, pb.VERIFICATION_FAILURE_ALGORITHM_NOT_ALLOWED),
        ({"alg": "HS256"}, pb.VERIFICATION_FAILURE_ALGORITHM_NOT_ALLOWED),
        ({"typ": "JWT"}, pb.VERIFICATION_FAILURE_WRONG_TYPE),
        ({"crit": ["exp"]}, pb.VERIFICATION_FAILURE_MALFORMED),
        ({"kid": "not-our-key"}, pb.VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY),
    ],
)
async def test_forged_headers_are_refused(
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    change: dict[str, object],
    failure: int,
) -> None:
    """alg none, alg confusion, wrong typ, crit and unknown kid each fail with their reason."""
    issued = await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    response = await verify(stub, tenant, _forged(issued.credential, change))
    assert (response.valid, response.failure) == (False, failure)


async def test_disclosure_sent_twice(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """The same disclosure sent twice is DUPLICATE_DISCLOSURE."""
    issued = await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    parts = issued.credential.split("~")
    doubled = "~".join([parts[0], parts[1], parts[1], *parts[2:]])
    response = await verify(stub, tenant, doubled)
    assert response.failure == pb.VERIFICATION_FAILURE_DUPLICATE_DISCLOSURE


async def test_huge_credential_is_malformed(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A credential of several hundred kilobytes is refused as MALFORMED without work."""
    response = await verify(stub, tenant, "a" * 600_000)
    assert (response.valid, response.failure) == (False, pb.VERIFICATION_FAILURE_MALFORMED)


async def test_message_over_size_limit(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """A request above the server's receive limit is RESOURCE_EXHAUSTED, and it keeps serving."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential="x" * (17 * 1024 * 1024)),
            metadata=tenant.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await stub.IssueCredential(pid_request(), metadata=tenant.metadata)).credential_id


@pytest.mark.parametrize("value", ["\x00\x01\x1f", "\u202e\u200b", "ß" * 50, '"}, "iss": "x'])
async def test_control_and_unicode_characters_in_subject(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, value: str
) -> None:
    """Odd characters in claim values are either issued intact or refused as INVALID_ARGUMENT,
    never an internal error, and never change other claims."""
    subject = {**PID_EXAMPLE_SUBJECT, "given_name": value}
    request = pb.IssueCredentialRequest(template_id="pid", subject=dict_to_struct(subject))
    refused: grpc.aio.AioRpcError | None = None
    try:
        issued = await stub.IssueCredential(request, metadata=tenant.metadata)
    except grpc.aio.AioRpcError as error:
        refused = error
    if refused is not None:
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.details()
        return
    verified = await verify(stub, tenant, issued.credential)
    assert verified.valid
    assert verified.claims["given_name"] == value
    assert verified.issuer.startswith("https://issuer.test/issuers/")


async def test_deadline_shorter_than_the_work(
    db_url: str, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A batch whose deadline expires is DEADLINE_EXCEEDED and leaves every row whole."""
    items = [pid_request(request_id=f"d{i}") for i in range(3000)]
    request = pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.IssueCredentialBatch(request, metadata=tenant.metadata, timeout=0.3):
            pass
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.5)
    slots = await stored_slots(db_url)
    assert await integrity_ok(db_url)
    assert len(slots) == len(set(slots)) < 3000
    again = await stub.IssueCredential(pid_request(request_id="d0"), metadata=tenant.metadata)
    assert again.credential_id


async def test_locked_store_is_unavailable_then_recovers(
    tmp_path: Path, settings: ServiceSettings
) -> None:
    """While another process holds SQLite's write lock, issuance is UNAVAILABLE with nothing
    half-written; once released, it works again."""
    path = tmp_path / "locked.db"
    services = await open_services(
        f"sqlite:///{path}",
        settings,
        master_key=MasterKey.generate(),
        store=SqliteStore(path, busy_timeout_ms=200),
    )
    running = await start_server(services, ServerOptions(port=0, settings=settings))
    try:
        created = await services.tenants.create_tenant("Locked")
        metadata = (("x-api-key", created.api_key),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            first = await stub.IssueCredential(pid_request(), metadata=metadata)
            with contextlib.closing(sqlite3.connect(str(path), isolation_level=None)) as holder:
                holder.execute("BEGIN IMMEDIATE")
                started = time.monotonic()
                for _ in range(3):
                    await expect_error(
                        stub.RevokeCredential(
                            pb.RevokeCredentialRequest(credential_id=first.credential_id),
                            metadata=metadata,
                        ),
                        grpc.StatusCode.UNAVAILABLE,
                        "STORE_UNAVAILABLE",
                    )
                assert time.monotonic() - started < 10
                holder.execute("ROLLBACK")
            status = await stub.GetCredentialStatus(
                pb.GetCredentialStatusRequest(credential_id=first.credential_id), metadata=metadata
            )
            assert status.status == pb.CREDENTIAL_STATUS_VALID
            revoked = await stub.RevokeCredential(
                pb.RevokeCredentialRequest(credential_id=first.credential_id), metadata=metadata
            )
            assert revoked.status == pb.CREDENTIAL_STATUS_REVOKED
    finally:
        await running.stop(grace=1.0)
