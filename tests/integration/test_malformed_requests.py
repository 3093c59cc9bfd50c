"""Request bytes that are no valid message (corrupt wire format, invalid UTF-8 in a string,
nesting beyond the parser's limit) get INVALID_ARGUMENT with reason MALFORMED_REQUEST, on
unary and streaming methods alike, public ones included; the server carries on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import template_service_pb2 as template_pb
from google.protobuf import struct_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2

from eudi_connect.services.app import Services

from .client_helpers import pid_request
from .conftest import Tenant
from .template_helpers import expect_error

CREDENTIALS = "/eudi.connect.v1.CredentialService/"
CORRUPT = b"\x0a\xff\xff\xff\xff\x0f"  # a length that runs far past the end
PLACEHOLDER = "QQQQ"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def bad_utf8(message: Message) -> bytes:
    """`message` serialized with its PLACEHOLDER string made invalid UTF-8 (same length)."""
    raw = message.SerializeToString()
    assert PLACEHOLDER.encode() in raw
    return raw.replace(PLACEHOLDER.encode(), b"Q\xffQQ")


def nested(depth: int) -> bytes:
    """An IssueCredentialRequest whose subject nests `depth` structs, written by hand: the
    parser refuses more than 100 levels, so no message object can hold it."""
    value = struct_pb2.Value(string_value="x").SerializeToString()
    struct = b""
    for _ in range(depth):
        struct = _field(1, _field(1, b"a") + _field(2, value))  # Struct{fields: {"a": value}}
        value = _field(5, struct)  # Value{struct_value}
    return _field(1, b"pid") + _field(2, struct)


def unary(channel: grpc.aio.Channel, method: str) -> Callable[..., Any]:
    """A call of `method` that sends the given bytes as they are."""
    return channel.unary_unary(method, request_serializer=None, response_deserializer=None)


def test_nesting_is_written_right() -> None:
    """The hand-written nesting parses when shallow, so only its depth is refused below."""
    parsed = pb.IssueCredentialRequest.FromString(nested(5))
    assert parsed.template_id == "pid"
    assert "a" in parsed.subject.fields


UNARY_CASES = {
    "corrupt": (CREDENTIALS + "IssueCredential", CORRUPT),
    "bad-utf8-string": (
        CREDENTIALS + "IssueCredential",
        bad_utf8(pid_request(request_id=PLACEHOLDER)),
    ),
    "bad-utf8-in-subject": (
        CREDENTIALS + "IssueCredential",
        bad_utf8(pid_request({"family_name": PLACEHOLDER})),
    ),
    "too-deep": (CREDENTIALS + "IssueCredential", nested(200)),
    "template-service": (
        "/eudi.connect.v1.TemplateService/GetTemplate",
        bad_utf8(template_pb.GetTemplateRequest(template_id=PLACEHOLDER)),
    ),
}


@pytest.mark.parametrize("case", list(UNARY_CASES))
async def test_unary_request_that_does_not_parse(
    channel: grpc.aio.Channel, tenant: Tenant, case: str
) -> None:
    """A unary request that does not parse is INVALID_ARGUMENT, MALFORMED_REQUEST."""
    method, body = UNARY_CASES[case]
    error, _ = await expect_error(
        unary(channel, method)(body, metadata=tenant.metadata, timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    )
    assert "\ufffd" not in (error.details() or "")  # no echo of the bytes


async def test_the_key_is_checked_before_the_body(channel: grpc.aio.Channel) -> None:
    """Without an API key an unparsable request is refused as unauthenticated."""
    await expect_error(
        unary(channel, CREDENTIALS + "IssueCredential")(CORRUPT, timeout=10),
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_MISSING",
    )


async def test_public_method_request_that_does_not_parse(channel: grpc.aio.Channel) -> None:
    """Health checking, which needs no key, refuses an unparsable request the same way."""
    await expect_error(
        unary(channel, "/grpc.health.v1.Health/Check")(
            bad_utf8(health_pb2.HealthCheckRequest(service=PLACEHOLDER)), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    )


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("IssueCredentialBatch", CORRUPT),
        (
            "VerifyCredentialBatch",
            bad_utf8(
                pb.VerifyCredentialBatchRequest(
                    items=[pb.VerifyCredentialRequest(credential=PLACEHOLDER)]
                )
            ),
        ),
    ],
)
async def test_server_streaming_request_that_does_not_parse(
    channel: grpc.aio.Channel, tenant: Tenant, method: str, body: bytes
) -> None:
    """A batch request that does not parse ends its stream with MALFORMED_REQUEST at once."""
    call = channel.unary_stream(
        CREDENTIALS + method, request_serializer=None, response_deserializer=None
    )(body, metadata=tenant.metadata, timeout=10)

    async def drain() -> None:
        async for _ in call:
            raise AssertionError("a result for an unparsable request")

    await expect_error(drain(), grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")


async def test_streamed_request_that_does_not_parse(
    channel: grpc.aio.Channel, tenant: Tenant, services: Services
) -> None:
    """A stream whose fourth message does not parse ends with MALFORMED_REQUEST; whatever
    was issued before it was stored, and the server goes on serving."""
    good = [pid_request(request_id=f"s-{i}").SerializeToString() for i in range(3)]

    async def requests() -> AsyncIterator[bytes]:
        for body in good:
            yield body
        yield bad_utf8(pid_request(request_id=PLACEHOLDER))

    call = channel.stream_stream(
        CREDENTIALS + "IssueCredentialStream", request_serializer=None, response_deserializer=None
    )(requests(), metadata=tenant.metadata, timeout=30)
    received: list[pb.IssueCredentialBatchResult] = []

    async def drain() -> None:
        async for raw in call:
            received.extend(pb.IssueCredentialBatchResponse.FromString(raw).results)

    await expect_error(drain(), grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    for result in received:
        stored = await services.store.get_credential(
            tenant.tenant_id, result.credential.credential_id
        )
        assert stored is not None
    issued = await unary(channel, CREDENTIALS + "IssueCredential")(
        pid_request().SerializeToString(), metadata=tenant.metadata, timeout=30
    )
    assert pb.IssueCredentialResponse.FromString(issued).credential_id


async def test_public_streamed_request_that_does_not_parse(channel: grpc.aio.Channel) -> None:
    """Server reflection, a public stream, refuses an unparsable message the same way."""

    async def requests() -> AsyncIterator[bytes]:
        yield CORRUPT

    call = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=None,
        response_deserializer=None,
    )(requests(), timeout=10)

    async def drain() -> None:
        async for _ in call:
            raise AssertionError("an answer to an unparsable request")

    await expect_error(drain(), grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
