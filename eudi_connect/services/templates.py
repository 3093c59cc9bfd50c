"""Where credential templates come from: the built-ins, rendered through one shared
precompiled environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eudi_connect.core.templates import (
    CredentialTemplate,
    TemplateEnvironment,
    builtin_template,
)
from eudi_connect.errors import InvalidArgumentError, NotFoundError

MAX_TEMPLATE_ID_LENGTH = 128


class CredentialTemplates:
    def __init__(self, environment: TemplateEnvironment | None = None) -> None:
        self.environment = environment or TemplateEnvironment()

    async def get(self, tenant_id: str, template_id: str) -> CredentialTemplate:
        if not template_id:
            raise InvalidArgumentError("template_id is required", reason="TEMPLATE_ID_MISSING")
        if len(template_id) > MAX_TEMPLATE_ID_LENGTH:
            raise InvalidArgumentError(
                f"template_id is longer than {MAX_TEMPLATE_ID_LENGTH} characters",
                reason="TEMPLATE_ID_INVALID",
            )
        template = builtin_template(template_id)
        if template is None:
            raise NotFoundError(
                f"credential template '{template_id}' not found", reason="TEMPLATE_NOT_FOUND"
            )
        return template

    def render_claims(
        self, template: CredentialTemplate, subject: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self.environment.render_claims(template, subject)
