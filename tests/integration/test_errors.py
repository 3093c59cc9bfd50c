"""Bad input gets a precise status and reason; tenants never see each other's things."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from eudi_connect.core.jose import generate_p256_key, private_jwk, public_jwk
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import Services

from .client_helpers import pid_request
from .conftest import Tenant
from .template_helpers import expect_error


async def test_missing_api_key(stub: pb_grpc.CredentialServiceStub) -> None:
    """A call without x-api-key is UNAUTHENTICATED with reason API_KEY_MISSING."""
    await expect_error(
        stub.GetIssuerKeys(pb.GetIssuerKeysRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_MISSING",
    )


@pytest.mark.parametrize(
    "api_key",
    ["garbage", "ek_0000000000000000.AAAA", "ek_" + "x" * 300, "ek_.", "ek_abc.def.ghi"],
)
async def test_wrong_api_key(stub: pb_grpc.CredentialServiceStub, api_key: str) -> None:
    """Malformed, unknown and over-long keys are UNAUTHENTICATED with reason API_KEY_INVALID."""
    error, _ = await expect_error(
        stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=(("x-api-key", api_key),)),
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_INVALID",
    )
    assert api_key not in (error.details() or "")


async def test_right_key_id_wrong_secret(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A real key id with another secret is refused."""
    key_id = tenant.api_key.split(".")[0]
    await expect_error(
        stub.GetIssuerKeys(
            pb.GetIssuerKeysRequest(), metadata=(("x-api-key", key_id + ".AAAAAAAAAAAAAAAAAAAAAA"),)
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_INVALID",
    )


async def test_health_and_reflection_need_no_key(channel: grpc.aio.Channel) -> None:
    """Health checking answers SERVING without an API key."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health = health_pb2_grpc.HealthStub(channel)
    response = await health.Check(
        health_pb2.HealthCheckRequest(service="eudi.connect.v1.CredentialService")
    )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_unknown_template(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """An unknown template id is NOT_FOUND with reason TEMPLATE_NOT_FOUND."""
    await expect_error(
        stub.IssueCredential(pid_request(template_id="nope"), metadata=tenant.metadata),
        grpc.StatusCode.NOT_FOUND,
        "TEMPLATE_NOT_FOUND",
    )


async def test_empty_template_id(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """A missing template id is INVALID_ARGUMENT."""
    await expect_error(
        stub.IssueCredential(pid_request(template_id=""), metadata=tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TEMPLATE_ID_MISSING",
    )


async def test_missing_subject_field_is_named(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A subject without a field the template needs names that field."""
    subject = {k: v for k, v in PID_EXAMPLE_SUBJECT.items() if k != "birthdate"}
    error, _ = await expect_error(
        stub.IssueCredential(pid_request(subject), metadata=tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SUBJECT_FIELD_MISSING",
    )
    assert "birthdate" in (error.details() or "")


async def test_every_missing_and_unread_subject_field_is_in_the_error_info(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A subject lacking two fields and carrying a misspelt one: ErrorInfo keeps the first
    missing field in `field` and lists all of them in `fields`, the unread one in
    `unread_fields`."""
    dropped = ("birthdate", "place_of_birth")
    subject = {k: v for k, v in PID_EXAMPLE_SUBJECT.items() if k not in dropped}
    subject["birth_date"] = "1964-08-12"
    error, info = await expect_error(
        stub.IssueCredential(pid_request(subject), metadata=tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SUBJECT_FIELD_MISSING",
    )
    assert dict(info.metadata) == {
        "field": "birthdate",
        "fields": "birthdate,place_of_birth",
        "unread_fields": "birth_date",
    }
    assert "'place_of_birth'" in (error.details() or "")


@pytest.mark.parametrize("validity", [-5, 10**12])
async def test_validity_out_of_range(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, validity: int
) -> None:
    """Negative or above-maximum validity is INVALID_ARGUMENT."""
    await expect_error(
        stub.IssueCredential(pid_request(validity_seconds=validity), metadata=tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDITY_OUT_OF_RANGE",
    )


def _rsa_jwk() -> str:
    return json.dumps({"kty": "RSA", "n": "AQAB", "e": "AQAB"})


@pytest.mark.parametrize(
    "holder_jwk",
    [
        "not json",
        _rsa_jwk(),
        json.dumps({**public_jwk(generate_p256_key().public_key()), "crv": "P-384"}),
        json.dumps(private_jwk(generate_p256_key())),
        json.dumps({**public_jwk(generate_p256_key().public_key()), "y": "AAAA" * 10 + "AAA"}),
        json.dumps(["not", "an", "object"]),
    ],
    ids=["not-json", "rsa", "wrong-curve", "private-key", "off-curve", "array"],
)
async def test_malformed_holder_jwk(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, holder_jwk: str
) -> None:
    """Holder keys that are not P-256 public JWKs are refused with INVALID_JWK."""
    await expect_error(
        stub.IssueCredential(pid_request(holder_jwk=holder_jwk), metadata=tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_JWK",
    )


async def test_subject_too_deep(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """A subject nested deeper than the limit is refused, naming the limit."""
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(20):  # past our limit of 16, within protobuf's own decoding depth
        deep = {"n": deep}
    await expect_error(
        stub.IssueCredential(
            pid_request({**PID_EXAMPLE_SUBJECT, "x": deep}), metadata=tenant.metadata
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SUBJECT_TOO_DEEP",
    )


async def test_subject_too_large(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """A subject with thousands of values is refused, naming the limit."""
    subject = {**PID_EXAMPLE_SUBJECT, **{f"c{i}": i for i in range(3000)}}
    await expect_error(
        stub.IssueCredential(pid_request(subject), metadata=tenant.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SUBJECT_TOO_LARGE",
    )


@pytest.mark.parametrize(
    "credential",
    ["", "~", "not a credential", "a.b.c~", "\x00\xff" * 10, "e30.e30.~" * 3],
)
async def test_garbage_credential_is_malformed(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, credential: str
) -> None:
    """Input that is not a credential is valid=false, failure=MALFORMED, not an RPC error."""
    response = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=credential), metadata=tenant.metadata
    )
    assert not response.valid
    assert response.failure in (
        pb.VERIFICATION_FAILURE_MALFORMED,
        pb.VERIFICATION_FAILURE_WRONG_TYPE,
        pb.VERIFICATION_FAILURE_ALGORITHM_NOT_ALLOWED,
    )


@pytest.mark.parametrize("credential_id", ["", "../etc", "x" * 500])
async def test_bad_credential_id(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, credential_id: str
) -> None:
    """An empty or malformed credential id is INVALID_ARGUMENT."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RevokeCredential(
            pb.RevokeCredentialRequest(credential_id=credential_id), metadata=tenant.metadata
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_credential(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    """Revoking an id that does not exist is NOT_FOUND."""
    await expect_error(
        stub.RevokeCredential(
            pb.RevokeCredentialRequest(credential_id="0" * 32), metadata=tenant.metadata
        ),
        grpc.StatusCode.NOT_FOUND,
        "CREDENTIAL_NOT_FOUND",
    )


async def test_tenant_isolation(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Another tenant cannot see, change or verify a tenant's credential, list or keys."""
    issued = await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    for call in (
        stub.GetCredentialStatus(
            pb.GetCredentialStatusRequest(credential_id=issued.credential_id),
            metadata=other_tenant.metadata,
        ),
        stub.RevokeCredential(
            pb.RevokeCredentialRequest(credential_id=issued.credential_id),
            metadata=other_tenant.metadata,
        ),
        stub.SuspendCredential(
            pb.SuspendCredentialRequest(credential_id=issued.credential_id),
            metadata=other_tenant.metadata,
        ),
    ):
        await expect_error(call, grpc.StatusCode.NOT_FOUND, "CREDENTIAL_NOT_FOUND")
    await expect_error(
        stub.GetStatusList(
            pb.GetStatusListRequest(status_list_id=issued.status_list_id),
            metadata=other_tenant.metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
        "STATUS_LIST_NOT_FOUND",
    )
    verified = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=other_tenant.metadata
    )
    assert not verified.valid
    # Another tenant is another issuer, trusted only if this tenant configures it.
    assert verified.failure == pb.VERIFICATION_FAILURE_UNTRUSTED_ISSUER
    own = json.loads(
        (await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)).jwks
    )
    other = json.loads(
        (await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=other_tenant.metadata)).jwks
    )
    assert {k["kid"] for k in own["keys"]}.isdisjoint({k["kid"] for k in other["keys"]})
    still = await stub.GetCredentialStatus(
        pb.GetCredentialStatusRequest(credential_id=issued.credential_id), metadata=tenant.metadata
    )
    assert still.status == pb.CREDENTIAL_STATUS_VALID


async def test_failed_authentication_is_rate_limited_per_peer(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, services: Services
) -> None:
    """After many wrong keys a peer's failures get RESOURCE_EXHAUSTED with a retry delay,
    while a valid key from the same address keeps working."""
    bad = (("x-api-key", "ek_0000000000000000.AAAA"),)
    await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)
    for _ in range(services.tenants.throttle.max_failures):
        await expect_error(
            stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=bad),
            grpc.StatusCode.UNAUTHENTICATED,
            "API_KEY_INVALID",
        )
    error, _ = await expect_error(
        stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=bad),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "AUTH_RATE_LIMITED",
    )
    status = rpc_status.from_call(error)  # type: ignore[arg-type] # AioRpcError is a Call too
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details)
    assert retry.retry_delay.seconds > 0
    response = await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)
    assert json.loads(response.jwks)["keys"]
