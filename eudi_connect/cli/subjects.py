"""What the CLI checks about a template and a subject before and after issuing.

A template's `data_schema` lists every top-level field its claims source may read (the
server refuses a template that reads anything else), so a subject field outside it is
never issued: most often a misspelling, named with the field it probably meant. (When
the server refuses a subject for lacking fields, its message names every missing field and
these unread ones itself.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc

from eudi_connect.cli.client import ClientConfig
from eudi_connect.cli.failures import CliError, did_you_mean
from eudi_connect.cli.rpc_errors import explain, refusal_of
from eudi_connect.core.spelling import with_guesses
from eudi_connect.reasons import Reason

#: A claims source that reads the whole subject may read any field.
_READS_SUBJECT = re.compile(r"\bsubject\b")
#: At most this many template ids are named when none is close to a misspelt one.
_LISTED_IDS = 10


def template_ids(stub: tpb_grpc.TemplateServiceStub, config: ClientConfig) -> list[str]:
    """The ids of every template the tenant can use (its own and the built-ins)."""
    return [
        template.template_id
        for page in config.pages(
            stub.ListTemplates,
            lambda token: tpb.ListTemplatesRequest(page_size=200, page_token=token),
        )
        for template in page.templates
    ]


def unknown_template_hint(
    stub: tpb_grpc.TemplateServiceStub, config: ClientConfig, template_id: str
) -> str:
    """'; did you mean 'pid'?' (or the list of ids) for a template id that is not found."""
    try:
        ids = template_ids(stub, config)
    except grpc.RpcError:
        return ""
    hint = did_you_mean(template_id, ids)
    if hint or not ids:
        return hint
    shown = ", ".join(ids[:_LISTED_IDS]) + (", ..." if len(ids) > _LISTED_IDS else "")
    return f"; the tenant's templates: {shown}"


def not_found_hint(
    error: grpc.RpcError, stub: tpb_grpc.TemplateServiceStub, config: ClientConfig, template_id: str
) -> str:
    """The did-you-mean for a TEMPLATE_NOT_FOUND refusal, '' for any other."""
    if refusal_of(error).reason != Reason.TEMPLATE_NOT_FOUND:
        return ""
    return unknown_template_hint(stub, config, template_id)


def get_template(
    stub: tpb_grpc.TemplateServiceStub, config: ClientConfig, template_id: str
) -> tpb.Template:
    """The template, or the CliError for an unknown id with its did-you-mean."""
    try:
        response = config.call(stub.GetTemplate, tpb.GetTemplateRequest(template_id=template_id))
    except grpc.RpcError as error:
        hint = not_found_hint(error, stub, config, template_id)
        raise explain(error, config.address, hint=hint, timeout=config.timeout) from None
    template: tpb.Template = response.template
    return template


def unread_fields(subject: Mapping[str, Any], template: tpb.Template) -> list[str]:
    """The subject's top-level fields the template never reads."""
    if template.WhichOneof("spec") != "credential" or _READS_SUBJECT.search(
        template.credential.claims_template
    ):
        return []
    schema = set(template.data_schema)
    return [name for name in subject if name not in schema]


def unread_warning(subject: Mapping[str, Any], template: tpb.Template, *, strict: bool) -> str:
    """The warning about subject fields the template does not read ('' when there are
    none); with `strict`, the CliError that refuses them instead."""
    unread = unread_fields(subject, template)
    if not unread:
        return ""
    message = (
        f"template {template.template_id!r} does not read the subject field(s) "
        f"{with_guesses(unread, template.data_schema)}: they would not be issued"
    )
    if strict:
        raise CliError(message + " (--strict)")
    return f"warning: {message}"
