"""One credential from a template and subject data: render the claims, then sign.

Kept apart from the services so that a worker process can run it with nothing but the
core: batch issuance signs groups of credentials on the machine's other cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eudi_connect.core.jose import SigningKey
from eudi_connect.core.sdjwt import StatusReference, issue_sd_jwt_vc
from eudi_connect.core.templates import CredentialTemplate, TemplateEnvironment
from eudi_connect.errors import InvalidArgumentError


@dataclass(frozen=True, kw_only=True)
class CredentialDraft:
    """Everything that decides one credential's bytes, except the salts and the key."""

    template: CredentialTemplate
    issuer: str
    issued_at: int
    expires_at: int
    status: StatusReference
    holder_jwk: Mapping[str, Any] | None = None
    # Either rendered claims, or the subject to render them from.
    claims: Mapping[str, Any] | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)


def sign_draft(
    draft: CredentialDraft, signing_key: SigningKey, environment: TemplateEnvironment
) -> str:
    """The compact SD-JWT VC of a draft; raises InvalidArgumentError for bad claims."""
    claims = draft.claims
    if claims is None:
        claims = environment.render_claims(draft.template, draft.subject)
    try:
        return issue_sd_jwt_vc(
            claims,
            disclosable=draft.template.disclosable,
            signing_key=signing_key,
            issuer=draft.issuer,
            vct=draft.template.vct,
            issued_at=draft.issued_at,
            expires_at=draft.expires_at,
            status=draft.status,
            holder_jwk=draft.holder_jwk,
        )
    except ValueError as exc:
        # The rendered claims break an SD-JWT rule (a reserved name, an `_sd` key).
        raise InvalidArgumentError(
            f"template '{draft.template.template_id}' rendered claims that cannot be issued: {exc}",
            reason="CLAIMS_INVALID",
        ) from exc
