"""The whole credential lifecycle through a real server and real stubs."""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.sdjwt import make_presentation
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .client_helpers import pid_request, status_list_entry
from .conftest import Tenant


async def test_full_lifecycle(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """Issue, verify, present with key binding, suspend, reinstate, revoke: each step observed."""
    holder = generate_p256_key()
    issued = await stub.IssueCredential(
        pid_request(holder_jwk=json.dumps(public_jwk(holder.public_key()))),
        metadata=tenant.metadata,
    )
    assert issued.format == "dc+sd-jwt"
    assert issued.credential.count("~") >= 2

    verified = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=tenant.metadata
    )
    assert verified.valid, verified.detail
    assert verified.status == pb.CREDENTIAL_STATUS_VALID
    assert verified.vct == "urn:eudi:pid:1"
    assert verified.claims["family_name"] == PID_EXAMPLE_SUBJECT["family_name"]

    presentation = make_presentation(
        issued.credential,
        disclose=["given_name"],
        holder_key=holder,
        audience="https://verifier.test",
        nonce="n-123",
        issued_at=int(time.time()),
    )
    presented = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(
            credential=presentation,
            expected_audience="https://verifier.test",
            expected_nonce="n-123",
        ),
        metadata=tenant.metadata,
    )
    assert presented.valid, presented.detail
    assert presented.key_binding_verified
    assert presented.claims["given_name"] == PID_EXAMPLE_SUBJECT["given_name"]
    assert "family_name" not in presented.claims

    wrong_nonce = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(
            credential=presentation,
            expected_audience="https://verifier.test",
            expected_nonce="other",
        ),
        metadata=tenant.metadata,
    )
    assert not wrong_nonce.valid
    assert wrong_nonce.failure == pb.VERIFICATION_FAILURE_NONCE_MISMATCH

    request = {"credential_id": issued.credential_id, "reason": "lost device"}
    suspended = await stub.SuspendCredential(
        pb.SuspendCredentialRequest(**request), metadata=tenant.metadata
    )
    assert suspended.status == pb.CREDENTIAL_STATUS_SUSPENDED
    check = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=tenant.metadata
    )
    assert (check.valid, check.failure, check.status) == (
        False,
        pb.VERIFICATION_FAILURE_SUSPENDED,
        pb.CREDENTIAL_STATUS_SUSPENDED,
    )
    assert await status_list_entry(stub, tenant, issued) == TokenStatus.SUSPENDED

    reinstated = await stub.ReinstateCredential(
        pb.ReinstateCredentialRequest(**request), metadata=tenant.metadata
    )
    assert reinstated.status == pb.CREDENTIAL_STATUS_VALID
    assert await status_list_entry(stub, tenant, issued) == TokenStatus.VALID

    revoked = await stub.RevokeCredential(
        pb.RevokeCredentialRequest(**request), metadata=tenant.metadata
    )
    assert revoked.status == pb.CREDENTIAL_STATUS_REVOKED
    check = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(
            credential=presentation,
            expected_nonce="n-123",
            expected_audience="https://verifier.test",
        ),
        metadata=tenant.metadata,
    )
    assert (check.valid, check.failure, check.status) == (
        False,
        pb.VERIFICATION_FAILURE_REVOKED,
        pb.CREDENTIAL_STATUS_REVOKED,
    )
    assert await status_list_entry(stub, tenant, issued) == TokenStatus.INVALID

    status = await stub.GetCredentialStatus(
        pb.GetCredentialStatusRequest(credential_id=issued.credential_id), metadata=tenant.metadata
    )
    assert status.status == pb.CREDENTIAL_STATUS_REVOKED
    assert status.status_index == issued.status_index
    assert status.HasField("expires_at")

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.ReinstateCredential(
            pb.ReinstateCredentialRequest(**request), metadata=tenant.metadata
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_request_id_is_idempotent(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """The same tenant sending the same request_id twice gets the same credential back."""
    first = await stub.IssueCredential(pid_request(request_id="order-1"), metadata=tenant.metadata)
    second = await stub.IssueCredential(pid_request(request_id="order-1"), metadata=tenant.metadata)
    third = await stub.IssueCredential(pid_request(request_id="order-2"), metadata=tenant.metadata)
    assert second.credential_id == first.credential_id
    assert second.credential == first.credential
    assert second.status_index == first.status_index
    assert third.credential_id != first.credential_id


async def test_status_indices_unique_under_concurrency(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """Concurrent issuances never share a status index, across lease refills too."""
    issued = await asyncio.gather(
        *(stub.IssueCredential(pid_request(), metadata=tenant.metadata) for _ in range(300))
    )
    slots = {(i.status_list_id, i.status_index) for i in issued}
    assert len(slots) == 300
    assert len({i.credential_id for i in issued}) == 300
