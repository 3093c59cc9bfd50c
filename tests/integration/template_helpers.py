"""Template builders shared by the template tests (integration and performance), and the
error helpers every integration test uses."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from eudi.connect.v1 import template_service_pb2 as tpb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

#: A small credential template: a diploma with a name, a degree and a list of grades.
DIPLOMA_CLAIMS = """\
{
  "given_name": {{ given_name | as_str }},
  "degree": {{ degree }},
  "grades": [{% for grade in grades %}{{ grade }}{% if not loop.last %}, {% endif %}{% endfor %}]
}
"""
DIPLOMA_SCHEMA = ("given_name", "degree", "grades")
DIPLOMA_DATA: dict[str, Any] = {"given_name": "Erika", "degree": "MSc", "grades": ["A", "B"]}


def credential_template(
    template_id: str = "diploma",
    *,
    claims_template: str = DIPLOMA_CLAIMS,
    data_schema: tuple[str, ...] = DIPLOMA_SCHEMA,
    vct: str = "urn:example:diploma:1",
    disclosable: tuple[str, ...] = ("given_name", "grades[]"),
    default_validity_seconds: int = 86_400,
    max_validity_seconds: int = 30 * 86_400,
    description: str = "A diploma",
) -> tpb.Template:
    return tpb.Template(
        template_id=template_id,
        description=description,
        data_schema=data_schema,
        credential=tpb.CredentialTemplateSpec(
            vct=vct,
            claims_template=claims_template,
            disclosable=disclosable,
            default_validity_seconds=default_validity_seconds,
            max_validity_seconds=max_validity_seconds,
        ),
    )


def notification_template(
    template_id: str = "revoked-mail",
    *,
    subject_template: str = "Your {{ credential_type }} was revoked",
    text_template: str = "Dear {{ holder_name }},\nyour {{ credential_type }} was revoked.",
    html_template: str = (
        "<p>Dear {{ holder_name }},</p><p>your {{ credential_type }} was revoked.</p>"
    ),
    data_schema: tuple[str, ...] = ("holder_name", "credential_type"),
    event: tpb.NotificationEvent = tpb.NOTIFICATION_EVENT_CREDENTIAL_REVOKED,
) -> tpb.Template:
    return tpb.Template(
        template_id=template_id,
        data_schema=data_schema,
        notification=tpb.NotificationTemplateSpec(
            event=event,
            subject_template=subject_template,
            text_template=text_template,
            html_template=html_template,
        ),
    )


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(error)  # type: ignore[arg-type] # AioRpcError is a Call too
    assert status is not None, "error carries no google.rpc.Status"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError("no ErrorInfo in status details")


async def expect_error(
    call: Any, code: grpc.StatusCode, reason: str
) -> tuple[grpc.aio.AioRpcError, error_details_pb2.ErrorInfo]:
    """Awaits `call`, which must fail with `code` and ErrorInfo `reason`."""
    return await expect_error_any(call, code, {reason})


async def expect_error_any(
    call: Any, code: grpc.StatusCode, reasons: set[str]
) -> tuple[grpc.aio.AioRpcError, error_details_pb2.ErrorInfo]:
    """`expect_error` where any of `reasons` will do."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    info = error_info(caught.value)
    assert info.reason in reasons, (info.reason, caught.value.details())
    return caught.value, info
