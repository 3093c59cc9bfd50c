"""One render of a template for one data item, the same in the event loop and in a render
worker process, and the picklable forms its results travel in between the two."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eudi_connect.core.templates import (
    CredentialTemplate,
    NotificationFormat,
    NotificationTemplate,
    TemplateEnvironment,
)
from eudi_connect.errors import EudiConnectError
from eudi_connect.reasons import Reason

AnyTemplate = CredentialTemplate | NotificationTemplate
RenderFormat = Literal["json", "text", "html"]
#: What a render hands back: the claims object (issuance) or a `Rendering` (the render API).
RenderOutput = Literal["claims", "rendering"]


@dataclass(frozen=True)
class Rendering:
    format: RenderFormat
    template_version: int
    subject: str  # notification subject line; "" for credential templates
    content: str  # claims JSON, or the notification body


@dataclass(frozen=True)
class ErrorCopy:
    """A domain error as it crosses a process boundary: its class (pickled by name), its
    message, reason and metadata. Domain errors take keyword arguments, which exceptions'
    own pickling loses."""

    kind: type[EudiConnectError]
    message: str
    reason: Reason
    metadata: dict[str, str]

    @classmethod
    def of(cls, error: EudiConnectError) -> ErrorCopy:
        return cls(type(error), error.message, error.reason, dict(error.metadata))

    def error(self) -> EudiConnectError:
        return self.kind(self.message, reason=self.reason, metadata=self.metadata)


def render_one(
    environment: TemplateEnvironment,
    template: AnyTemplate,
    format: RenderFormat,
    data: Mapping[str, Any],
    *,
    output: RenderOutput,
    cpu_seconds: float | None = None,
) -> dict[str, Any] | Rendering:
    """Renders `data`; raises the template's domain errors, and TimeLimitReached when a
    `cpu_seconds` shorter than the template's own limit runs out."""
    if isinstance(template, CredentialTemplate):
        claims = environment.render_claims(template, data, cpu_seconds=cpu_seconds)
        if output == "claims":
            return claims
        content = json.dumps(claims, ensure_ascii=False, separators=(",", ":"))
        return Rendering(format, template.version, "", content)
    rendered = environment.render_notification(
        template, data, NotificationFormat(format), cpu_seconds=cpu_seconds
    )
    return Rendering(format, template.version, rendered.subject, rendered.body)
