"""What a wallet reads before it asks for anything: the Credential Issuer metadata
(OpenID4VCI 1.0 section 12.2), the authorization server metadata (RFC 8414) and the offer
object served at `credential_offer_uri` (section 4.1.3)."""

from __future__ import annotations

import json
from typing import Any

from eudi_connect.core.oid4vci import ProtocolError
from eudi_connect.core.oid4vci.metadata import (
    CredentialConfiguration,
    authorization_server_metadata,
    credential_issuer_metadata,
)
from eudi_connect.core.sdjwt import path_segments
from eudi_connect.core.templates import CredentialTemplate
from eudi_connect.services.offers import effective_state
from eudi_connect.services.template_admin import TemplateService
from eudi_connect.services.wallet_issuer.context import E, WalletContext
from eudi_connect.services.wallet_settings import configuration_id

#: Credential templates listed in one tenant's metadata; more is a misconfiguration.
MAX_METADATA_TEMPLATES = 1_000


def claim_paths(template: CredentialTemplate, credential_format: str) -> tuple[Any, ...]:
    """Claims path pointers (Appendix C) of the template's disclosable claims."""
    paths: list[tuple[str | int | None, ...]] = []
    for disclosable in template.disclosable:
        path: list[str | int | None] = []
        for name, arrays in path_segments(disclosable):
            path.append(name)
            path.extend([None] * arrays)
        if credential_format == "mso_mdoc":
            namespace = template.mdoc_namespace or template.mdoc_doc_type
            path = [namespace, path[0]]
        if tuple(path) not in paths:
            paths.append(tuple(path))
    return tuple(paths)


class IssuerMetadata:
    def __init__(self, context: WalletContext, templates: TemplateService) -> None:
        self._context = context
        self._templates = templates

    async def configurations(self, tenant_id: str) -> list[CredentialConfiguration]:
        policy = await self._context.policy(tenant_id)
        configurations = []
        for template in await self._credential_templates(tenant_id):
            formats = ["dc+sd-jwt"] + (["mso_mdoc"] if template.mdoc_doc_type else [])
            for credential_format in formats:
                configurations.append(
                    CredentialConfiguration(
                        configuration_id=configuration_id(template.template_id, credential_format),
                        format=credential_format,  # type: ignore[arg-type]
                        type_name=(
                            template.vct
                            if credential_format == "dc+sd-jwt"
                            else template.mdoc_doc_type
                        ),
                        display_name=template.template_id,
                        claim_paths=claim_paths(template, credential_format),
                        key_attestation=policy.key_attestation,
                        attestation_proofs=policy.key_attestation is not None,
                    )
                )
        return configurations

    async def _credential_templates(self, tenant_id: str) -> list[CredentialTemplate]:
        """The built-in and the tenant's credential templates, page by page."""
        found: list[CredentialTemplate] = []
        token = ""
        while len(found) < MAX_METADATA_TEMPLATES:
            page = await self._templates.list_templates(
                tenant_id, page_size=100, page_token=token, kind="credential"
            )
            found += [
                t.template for t in page.templates if isinstance(t.template, CredentialTemplate)
            ]
            token = page.next_page_token
            if not token:
                break
        return found

    async def issuer_metadata(self, tenant_id: str) -> dict[str, Any]:
        return credential_issuer_metadata(
            await self._context.endpoints(tenant_id), await self.configurations(tenant_id)
        )

    async def authorization_server_metadata(self, tenant_id: str) -> dict[str, Any]:
        policy = await self._context.policy(tenant_id)
        return authorization_server_metadata(
            await self._context.endpoints(tenant_id),
            client_attestation=policy.wallet_attestation_required,
            anonymous_access=not policy.wallet_attestation_required,
        )

    async def offer_object(self, tenant_id: str, offer_id: str) -> dict[str, Any]:
        """The offer object served at `credential_offer_uri`, while it can be redeemed."""
        record = await self._context.store.get_offer(tenant_id, offer_id)
        if record is None or effective_state(record, self._context.now()) != "OFFERED":
            raise ProtocolError(E.INVALID_REQUEST, "this credential offer is not available")
        offer: dict[str, Any] = json.loads(record.offer_json)
        return offer
