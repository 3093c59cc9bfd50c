"""One credential from a template and subject data: render the claims, then sign, as an
SD-JWT VC or as an ISO/IEC 18013-5 mdoc.

Kept apart from the services so that a worker process can run it with nothing but the
core: batch issuance signs groups of credentials on the machine's other cores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eudi_connect.core.formats import MDOC_FORMAT, SD_JWT_VC_FORMAT
from eudi_connect.core.mdoc import (
    BUILTIN_MAPPINGS,
    MdocIssuanceError,
    MdocMapping,
    ValidityInfo,
    issue_mdoc,
    to_mdoc_namespaces,
)
from eudi_connect.core.sdjwt import issue_sd_jwt_vc
from eudi_connect.core.signer import Signer
from eudi_connect.core.templates import CredentialTemplate, TemplateEnvironment
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason


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
    format: str = SD_JWT_VC_FORMAT
    # x5chain of the signing key (its certificate first); mdoc needs it, and an SD-JWT
    # carries it as its `x5c` header when set.
    certificate_chain: tuple[bytes, ...] = ()


Render = Callable[[CredentialTemplate, Mapping[str, Any]], dict[str, Any]]


class SharedRenders:
    """Claims rendered once per subject object: the copies of one credential share their
    subject, so a batch of copies renders it once, not once per copy."""

    __slots__ = ("_claims", "_render")

    def __init__(self, render: Render | None = None) -> None:
        self._render = render  # None: the caller renders and uses `known` and `keep`
        self._claims: dict[tuple[str, int, int], dict[str, Any]] = {}

    def claims(self, template: CredentialTemplate, subject: Mapping[str, Any]) -> dict[str, Any]:
        claims = self.known(template, subject)
        if claims is None:
            if self._render is None:
                raise TypeError("this SharedRenders has no render function")
            claims = self.keep(template, subject, self._render(template, subject))
        return claims

    def known(
        self, template: CredentialTemplate, subject: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The claims already rendered for this subject object, if any (for callers that
        render elsewhere, asynchronously, and `keep` the result)."""
        return self._claims.get(_shared_key(template, subject))

    def keep(
        self, template: CredentialTemplate, subject: Mapping[str, Any], claims: dict[str, Any]
    ) -> dict[str, Any]:
        self._claims[_shared_key(template, subject)] = claims
        return claims


def _shared_key(template: CredentialTemplate, subject: Mapping[str, Any]) -> tuple[str, int, int]:
    # id() is safe as a key: every subject stays alive while a SharedRenders is in use.
    return (template.template_id, template.version, id(subject))


def mdoc_mapping(template: CredentialTemplate) -> MdocMapping:
    """How the template's claims become mdoc elements: the built-in mapping of its
    docType (PID, mDL), else every claim under its own name in the template's namespace."""
    builtin = BUILTIN_MAPPINGS.get(template.mdoc_doc_type)
    namespace = template.mdoc_namespace
    if builtin is not None and (not namespace or namespace == builtin.namespace):
        return builtin
    return MdocMapping(
        doc_type=template.mdoc_doc_type, namespace=namespace or template.mdoc_doc_type
    )


def sign_draft(
    draft: CredentialDraft, signing_key: Signer, environment: TemplateEnvironment
) -> str:
    """The compact SD-JWT VC of a draft; raises InvalidArgumentError for bad claims."""
    claims = draft.claims
    if claims is None:
        claims = environment.render_claims(draft.template, draft.subject)
    if draft.format == MDOC_FORMAT:
        return _sign_mdoc(draft, claims, signing_key)
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
            x5c=draft.certificate_chain,
        )
    except ValueError as exc:
        # The rendered claims break an SD-JWT rule (a reserved name, an `_sd` key).
        raise InvalidArgumentError(
            f"template '{draft.template.template_id}' rendered claims that cannot be issued: {exc}",
            reason=Reason.CLAIMS_INVALID,
        ) from exc


def _sign_mdoc(draft: CredentialDraft, claims: Mapping[str, Any], signing_key: Signer) -> str:
    if draft.holder_jwk is None:
        raise InvalidArgumentError(
            "an mso_mdoc credential needs holder_jwk: it becomes the mdoc's device key",
            reason=Reason.HOLDER_KEY_REQUIRED,
        )
    try:
        signed = datetime.fromtimestamp(draft.issued_at, UTC)
        until = datetime.fromtimestamp(draft.expires_at, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidArgumentError(
            "the credential's validity ends past any date an mdoc can carry",
            reason=Reason.VALIDITY_OUT_OF_RANGE,
        ) from None
    try:
        namespaces = to_mdoc_namespaces(
            mdoc_mapping(draft.template),
            claims,
            issuance_date=signed.date(),
            expiry_date=until.date(),
        )
        issued = issue_mdoc(
            namespaces,
            doc_type=draft.template.mdoc_doc_type,
            holder_jwk=draft.holder_jwk,
            validity=ValidityInfo(signed=signed, valid_from=signed, valid_until=until),
            signing_key=signing_key,
            certificate_chain=draft.certificate_chain,
            status=draft.status,
        )
    except MdocIssuanceError as exc:
        raise InvalidArgumentError(
            f"template '{draft.template.template_id}' rendered claims that cannot be issued "
            f"as an mdoc: {exc.message}",
            reason=Reason.CLAIMS_INVALID,
        ) from exc
    return issued.credential
