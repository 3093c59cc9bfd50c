"""TemplateService: converts messages, calls the template services, converts back."""

from __future__ import annotations

from typing import Any

import grpc
from eudi.connect.v1 import template_service_pb2 as pb
from eudi.connect.v1 import template_service_pb2_grpc as pb_grpc
from google.protobuf import struct_pb2

from eudi_connect.api.context import current_tenant
from eudi_connect.api.convert import struct_to_dict, timestamp
from eudi_connect.api.errors import rich_status
from eudi_connect.core.templates import (
    CredentialTemplate,
    NotificationEvent,
    NotificationTemplate,
)
from eudi_connect.errors import EudiConnectError, InvalidArgumentError
from eudi_connect.reasons import Reason
from eudi_connect.services.app import Services
from eudi_connect.services.rendering import RenderFormat, Rendering
from eudi_connect.services.template_admin import StoredTemplate, TemplateDraft
from eudi_connect.services.template_codec import check_template_id
from eudi_connect.store.base import TemplateKind

Context = grpc.aio.ServicerContext[Any, Any]

# The one mapping between protobuf enum numbers and the domain's values.
KIND_OF: dict[int, TemplateKind | None] = {
    pb.TEMPLATE_KIND_UNSPECIFIED: None,
    pb.TEMPLATE_KIND_CREDENTIAL: "credential",
    pb.TEMPLATE_KIND_NOTIFICATION: "notification",
}
PB_KIND_OF: dict[TemplateKind, pb.TemplateKind] = {
    "credential": pb.TEMPLATE_KIND_CREDENTIAL,
    "notification": pb.TEMPLATE_KIND_NOTIFICATION,
}
FORMAT_OF: dict[int, RenderFormat | None] = {
    pb.RENDER_FORMAT_UNSPECIFIED: None,
    pb.RENDER_FORMAT_JSON: "json",
    pb.RENDER_FORMAT_TEXT: "text",
    pb.RENDER_FORMAT_HTML: "html",
}
PB_FORMAT_OF: dict[RenderFormat, pb.RenderFormat] = {
    "json": pb.RENDER_FORMAT_JSON,
    "text": pb.RENDER_FORMAT_TEXT,
    "html": pb.RENDER_FORMAT_HTML,
}
# Every domain event has its protobuf twin; a missing one fails at import.
PB_EVENT_OF: dict[NotificationEvent, pb.NotificationEvent] = {
    event: getattr(pb, f"NOTIFICATION_EVENT_{event.name}") for event in NotificationEvent
}
EVENT_OF: dict[int, NotificationEvent | None] = {
    pb.NOTIFICATION_EVENT_UNSPECIFIED: None,
    **{number: event for event, number in PB_EVENT_OF.items()},
}


def _enum_value(table: dict[int, Any], number: int, field: str) -> Any:
    if number not in table:
        raise InvalidArgumentError(
            f"{field} has an unknown value {number}",
            reason=Reason.ENUM_VALUE_INVALID,
            metadata={"field": field},
        )
    return table[number]


def template_draft(message: pb.Template) -> TemplateDraft:
    """The domain template a request describes; constructing it checks each field."""
    check_template_id(message.template_id)
    spec = message.WhichOneof("spec")
    template: CredentialTemplate | NotificationTemplate
    if spec == "credential":
        credential = message.credential
        template = CredentialTemplate(
            template_id=message.template_id,
            vct=credential.vct,
            claims_template=credential.claims_template,
            disclosable=tuple(credential.disclosable),
            default_validity_seconds=credential.default_validity_seconds,
            max_validity_seconds=credential.max_validity_seconds,
            data_schema=tuple(message.data_schema),
            mdoc_doc_type=credential.mdoc_doc_type,
            mdoc_namespace=credential.mdoc_namespace,
        )
    elif spec == "notification":
        notification = message.notification
        template = NotificationTemplate(
            template_id=message.template_id,
            subject_template=notification.subject_template,
            text_template=notification.text_template,
            html_template=notification.html_template,
            event=_enum_value(EVENT_OF, notification.event, "notification.event"),
            data_schema=tuple(message.data_schema),
        )
    else:
        raise InvalidArgumentError(
            "a template needs a credential or a notification spec",
            reason=Reason.TEMPLATE_SPEC_MISSING,
            metadata={"field": "spec"},
        )
    return TemplateDraft(template, message.description)


def template_message(stored: StoredTemplate) -> pb.Template:
    template = stored.template
    message = pb.Template(
        template_id=template.template_id,
        kind=PB_KIND_OF[stored.kind],
        description=stored.description,
        data_schema=template.data_schema,
        version=template.version,
        etag=stored.etag,
        builtin=stored.builtin,
    )
    if stored.created_at:
        message.create_time.CopyFrom(timestamp(stored.created_at))
        message.update_time.CopyFrom(timestamp(stored.updated_at))
    if isinstance(template, CredentialTemplate):
        message.credential.CopyFrom(
            pb.CredentialTemplateSpec(
                vct=template.vct,
                claims_template=template.claims_template,
                disclosable=template.disclosable,
                default_validity_seconds=template.default_validity_seconds,
                max_validity_seconds=template.max_validity_seconds,
                mdoc_doc_type=template.mdoc_doc_type,
                mdoc_namespace=template.mdoc_namespace,
            )
        )
    else:
        message.notification.CopyFrom(
            pb.NotificationTemplateSpec(
                event=(
                    pb.NOTIFICATION_EVENT_UNSPECIFIED
                    if template.event is None
                    else PB_EVENT_OF[template.event]
                ),
                subject_template=template.subject_template,
                text_template=template.text_template,
                html_template=template.html_template,
            )
        )
    return message


def rendering_message(rendering: Rendering) -> pb.Rendering:
    return pb.Rendering(
        format=PB_FORMAT_OF[rendering.format],
        template_version=rendering.template_version,
        subject=rendering.subject,
        content=rendering.content,
    )


def _batch_item(index: int, item: struct_pb2.Struct) -> dict[str, Any] | EudiConnectError:
    try:
        return struct_to_dict(item, field_name=f"items[{index}]")
    except EudiConnectError as error:
        return error


def batch_result(index: int, outcome: Rendering | EudiConnectError) -> pb.RenderTemplateBatchResult:
    if isinstance(outcome, EudiConnectError):
        return pb.RenderTemplateBatchResult(index=index, error=rich_status(outcome))
    return pb.RenderTemplateBatchResult(index=index, rendering=rendering_message(outcome))


class TemplateServicer(pb_grpc.TemplateServiceServicer):
    def __init__(self, services: Services) -> None:
        self._templates = services.template_service

    async def CreateTemplate(
        self, request: pb.CreateTemplateRequest, context: Context
    ) -> pb.CreateTemplateResponse:
        stored = await self._templates.create(current_tenant(), template_draft(request.template))
        return pb.CreateTemplateResponse(template=template_message(stored))

    async def GetTemplate(
        self, request: pb.GetTemplateRequest, context: Context
    ) -> pb.GetTemplateResponse:
        stored = await self._templates.get(current_tenant(), request.template_id)
        return pb.GetTemplateResponse(template=template_message(stored))

    async def ListTemplates(
        self, request: pb.ListTemplatesRequest, context: Context
    ) -> pb.ListTemplatesResponse:
        page = await self._templates.list_templates(
            current_tenant(),
            page_size=request.page_size,
            page_token=request.page_token,
            kind=_enum_value(KIND_OF, request.kind, "kind"),
        )
        return pb.ListTemplatesResponse(
            templates=[template_message(stored) for stored in page.templates],
            next_page_token=page.next_page_token,
        )

    async def UpdateTemplate(
        self, request: pb.UpdateTemplateRequest, context: Context
    ) -> pb.UpdateTemplateResponse:
        stored = await self._templates.update(
            current_tenant(), template_draft(request.template), etag=request.etag
        )
        return pb.UpdateTemplateResponse(template=template_message(stored))

    async def DeleteTemplate(
        self, request: pb.DeleteTemplateRequest, context: Context
    ) -> pb.DeleteTemplateResponse:
        await self._templates.delete(current_tenant(), request.template_id, etag=request.etag)
        return pb.DeleteTemplateResponse()

    async def RenderTemplate(
        self, request: pb.RenderTemplateRequest, context: Context
    ) -> pb.RenderTemplateResponse:
        rendering = await self._templates.render(
            current_tenant(),
            request.template_id,
            struct_to_dict(request.data, field_name="data"),
            format=_enum_value(FORMAT_OF, request.format, "format"),
        )
        return pb.RenderTemplateResponse(rendering=rendering_message(rendering))

    async def RenderTemplateBatch(
        self, request: pb.RenderTemplateBatchRequest, context: Context
    ) -> pb.RenderTemplateBatchResponse:
        outcomes = await self._templates.render_many(
            current_tenant(),
            request.template_id,
            [_batch_item(index, item) for index, item in enumerate(request.items)],
            format=_enum_value(FORMAT_OF, request.format, "format"),
        )
        return pb.RenderTemplateBatchResponse(
            results=[batch_result(index, outcome) for index, outcome in enumerate(outcomes)]
        )
