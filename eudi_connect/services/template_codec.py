"""How templates are written down outside the process: the JSON definition the store keeps,
the etags clients send back (a version, quoted as in HTTP), and the page tokens of listings.

Each form is written and read in one place here, so the store, the admin service and the
cache agree on it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from eudi_connect.core.templates import (
    MAX_VALIDITY_SECONDS,
    CredentialTemplate,
    NotificationEvent,
    NotificationTemplate,
)
from eudi_connect.errors import InvalidArgumentError, NotFoundError
from eudi_connect.reasons import Reason
from eudi_connect.services.rendering import AnyTemplate
from eudi_connect.store.base import TemplateKind, TemplateRecord

MAX_TEMPLATE_ID_LENGTH = 128

_ETAG = re.compile(r'"v([1-9][0-9]{0,17})"', re.ASCII)


def etag_of(version: int) -> str:
    """The etag of a template version (a quoted string, as in HTTP)."""
    return f'"v{version}"'


def version_of_etag(etag: str) -> int:
    match = _ETAG.fullmatch(etag)
    if match is None:
        raise InvalidArgumentError(
            "etag is not one this service issued; read the template again",
            reason=Reason.ETAG_INVALID,
        )
    return int(match.group(1))


def kind_of(template: AnyTemplate) -> TemplateKind:
    return "credential" if isinstance(template, CredentialTemplate) else "notification"


def definition_of(template: AnyTemplate) -> dict[str, Any]:
    """The JSON document the store keeps for a template (ids and versions live in the row)."""
    if isinstance(template, CredentialTemplate):
        return {
            "vct": template.vct,
            "claims_template": template.claims_template,
            "disclosable": list(template.disclosable),
            "default_validity_seconds": template.default_validity_seconds,
            "max_validity_seconds": template.max_validity_seconds,
            "data_schema": list(template.data_schema),
            "mdoc_doc_type": template.mdoc_doc_type,
            "mdoc_namespace": template.mdoc_namespace,
        }
    return {
        "event": None if template.event is None else template.event.value,
        "subject_template": template.subject_template,
        "text_template": template.text_template,
        "html_template": template.html_template,
        "data_schema": list(template.data_schema),
    }


def template_of(record: TemplateRecord) -> AnyTemplate:
    """The template a stored row describes. Validity periods stored before they had an
    upper bound are read as the bound."""
    d = record.definition
    if record.kind == "credential":
        return CredentialTemplate(
            template_id=record.template_id,
            vct=d["vct"],
            claims_template=d["claims_template"],
            disclosable=tuple(d["disclosable"]),
            default_validity_seconds=min(d["default_validity_seconds"], MAX_VALIDITY_SECONDS),
            max_validity_seconds=min(d["max_validity_seconds"], MAX_VALIDITY_SECONDS),
            data_schema=tuple(d["data_schema"]),
            version=record.version,
            tenant_id=record.tenant_id,
            # Absent from definitions stored before templates could name a docType.
            mdoc_doc_type=d.get("mdoc_doc_type", ""),
            mdoc_namespace=d.get("mdoc_namespace", ""),
        )
    return NotificationTemplate(
        template_id=record.template_id,
        subject_template=d["subject_template"],
        text_template=d["text_template"],
        html_template=d["html_template"],
        event=None if d["event"] is None else NotificationEvent(d["event"]),
        data_schema=tuple(d["data_schema"]),
        version=record.version,
        tenant_id=record.tenant_id,
    )


def check_template_id(template_id: str) -> None:
    if not template_id:
        raise InvalidArgumentError("template_id is required", reason=Reason.TEMPLATE_ID_MISSING)
    if len(template_id) > MAX_TEMPLATE_ID_LENGTH:
        raise InvalidArgumentError(
            f"template_id is longer than {MAX_TEMPLATE_ID_LENGTH} characters",
            reason=Reason.TEMPLATE_ID_INVALID,
        )


def template_not_found(template_id: str) -> NotFoundError:
    return NotFoundError(f"template '{template_id}' not found", reason=Reason.TEMPLATE_NOT_FOUND)


# AIP-158 page tokens: opaque to clients, bound to the filter they were made for.


def encode_page_token(after: str, kind: TemplateKind | None) -> str:
    payload = json.dumps({"a": after, "k": kind or ""}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_page_token(token: str, kind: TemplateKind | None) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after, token_kind = payload["a"], payload["k"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InvalidArgumentError(
            "page_token is not one this service issued", reason=Reason.PAGE_TOKEN_INVALID
        ) from None
    if not isinstance(after, str) or token_kind != (kind or ""):
        raise InvalidArgumentError(
            "page_token was made for other list parameters", reason=Reason.PAGE_TOKEN_INVALID
        )
    return after
