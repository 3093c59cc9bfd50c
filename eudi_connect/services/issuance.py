"""Issuance: template -> claims -> status index -> signed SD-JWT VC -> committed row.

A credential is returned only after its row (with its status index) is committed. Rows of
one batch, and of concurrent calls, share a transaction in the store's writer.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.credential_builder import CredentialDraft, SharedRenders, sign_draft
from eudi_connect.core.formats import FORMATS, MDOC_FORMAT, SD_JWT_VC_FORMAT
from eudi_connect.core.jose import CheckedJwk, InvalidJwkError, checked_public_jwk
from eudi_connect.core.signer import Signer
from eudi_connect.core.templates import CredentialTemplate
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.errors import EudiConnectError, InvalidArgumentError
from eudi_connect.monitoring.performance_metrics import measure_operation_time
from eudi_connect.reasons import Reason
from eudi_connect.services.keys import KeyService
from eudi_connect.services.public_urls import PublicUrls, TenantUrls
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.services.signing_pool import SigningPool
from eudi_connect.services.status_lists import StatusListService, StatusSlot
from eudi_connect.services.templates import CredentialTemplates
from eudi_connect.store.base import CredentialRecord, NewCredential, Store

MAX_REQUEST_ID_LENGTH = 128
MAX_HOLDER_JWK_LENGTH = 4096
# Steps timed into operation.time (and traced): render per credential; sign and store per
# call or batch group (with sign workers, rendering happens inside the sign step).
RENDER_STEP, SIGN_STEP, STORE_STEP = "issuance.render", "issuance.sign", "issuance.store"


@dataclass(frozen=True, kw_only=True)
class IssueCommand:
    template_id: str
    subject: Mapping[str, Any]
    holder_jwk: str = ""
    request_id: str = ""
    validity_seconds: int | None = None
    # Copies of one credential get iat/exp coarsened to the template's granularity, so
    # that timestamps do not link the copies of one batch.
    coarsen_timestamps: bool = False
    # "dc+sd-jwt" or "mso_mdoc"; empty means the default, SD-JWT VC.
    format: str = ""


@dataclass(frozen=True)
class IssuedCredential:
    credential_id: str
    credential: str
    format: str
    status_list_id: str
    status_index: int
    issued_at: int
    expires_at: int

    @classmethod
    def from_record(cls, record: CredentialRecord) -> IssuedCredential:
        return cls(
            credential_id=record.credential_id,
            credential=record.credential,
            format=record.format,
            status_list_id=record.status_list_id,
            status_index=record.status_index,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
        )


def new_credential_id(now: float) -> str:
    """32 hex digits: the time in milliseconds (12), then 80 random bits (20).

    Ids that grow with time land at the right edge of the store's primary-key index, so
    a group commit touches a few index pages instead of one per row (random uuid4 ids
    cost about a quarter more write work per credential). The id stays with the issuing
    client and the store; it is in no credential, so its timestamp links nothing.
    """
    return f"{int(now * 1000) & 0xFFFF_FFFF_FFFF:012x}{secrets.token_hex(10)}"


def parse_holder_jwk(text: str) -> CheckedJwk | None:
    """The holder's public key as a clean JWK (kty, crv, x, y); None when unbound. Checked
    here once: the mdoc's device key is made from it without checking the point again."""
    if not text:
        return None
    if len(text) > MAX_HOLDER_JWK_LENGTH:
        raise InvalidJwkError(f"holder_jwk is longer than {MAX_HOLDER_JWK_LENGTH} characters")
    try:
        jwk = json.loads(text)
    except ValueError as exc:
        raise InvalidJwkError("holder_jwk is not valid JSON") from exc
    return checked_public_jwk(jwk)


def _check_request_id(request_id: str) -> None:
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise InvalidArgumentError(
            f"request_id is longer than {MAX_REQUEST_ID_LENGTH} characters",
            reason=Reason.REQUEST_ID_INVALID,
        )


class IssuanceService:
    def __init__(
        self,
        store: Store,
        *,
        keys: KeyService,
        status_lists: StatusListService,
        templates: CredentialTemplates,
        settings: ServiceSettings,
        urls: TenantUrls,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keys = keys
        self._status_lists = status_lists
        self._templates = templates
        self._settings = settings
        self._urls = urls
        self._clock = clock

    async def issue(self, tenant_id: str, command: IssueCommand) -> IssuedCredential:
        result = (await self.issue_many(tenant_id, [command]))[0]
        if isinstance(result, EudiConnectError):
            raise result
        return result

    async def issue_many(
        self,
        tenant_id: str,
        commands: Sequence[IssueCommand],
        *,
        pool: SigningPool | None = None,
    ) -> list[IssuedCredential | EudiConnectError]:
        """Signs every valid command and commits all rows together; a bad command gets its
        own error in its place, the others are issued.

        Without a pool, claims are rendered before any status index is allocated, so a bad
        subject costs nothing; with a pool, rendering moves to the worker with the signing,
        and a subject that fails there leaves its index unused (never handed out again).
        """
        results: list[IssuedCredential | EudiConnectError | None] = []
        prepared: list[tuple[int, _Prepared]] = []
        # A tenant template costs a store read per lookup; look each id up once per call.
        lookups: dict[str, CredentialTemplate | EudiConnectError] = {}
        renders = None if pool is not None else SharedRenders()
        for position, command in enumerate(commands):
            try:
                item = await self._prepare(tenant_id, command, renders=renders, lookups=lookups)
                prepared.append((position, item))
                results.append(None)
            except EudiConnectError as error:
                results.append(error)
        if prepared:
            slots = await self._status_lists.allocate(tenant_id, len(prepared))
            signing_key = await self._keys.signing_key(tenant_id)
            mdoc_chain: tuple[bytes, ...] = ()
            if any(item.format == MDOC_FORMAT for _, item in prepared):
                mdoc_chain = await self._keys.certificate_chain(tenant_id, signing_key)
            x5c = await self._keys.x5c(tenant_id, signing_key)
            # The tenant's fixed URLs (issuing fixes them): its credentials keep one issuer id.
            urls = await self._urls.fixed(tenant_id)
            issuer = urls.issuer_id(tenant_id)
            drafts = [
                self._draft(
                    issuer, urls, item, slot, mdoc_chain if item.format == MDOC_FORMAT else x5c
                )
                for (_, item), slot in zip(prepared, slots, strict=True)
            ]
            with measure_operation_time(SIGN_STEP):
                if pool is None:
                    signed = [self._sign_here(draft, signing_key) for draft in drafts]
                else:
                    signed = await pool.sign(drafts, signing_key)
            rows: list[NewCredential] = []
            row_positions: list[int] = []
            for (position, item), slot, draft, credential in zip(
                prepared, slots, drafts, signed, strict=True
            ):
                if isinstance(credential, EudiConnectError):
                    results[position] = credential
                    continue
                rows.append(self._row(tenant_id, item, slot, draft, credential))
                row_positions.append(position)
            with measure_operation_time(STORE_STEP):
                outcomes = await self._store.insert_credentials(rows) if rows else []
            for position, outcome in zip(row_positions, outcomes, strict=True):
                results[position] = IssuedCredential.from_record(outcome.record)
        return [r for r in results if r is not None]

    async def _prepare(
        self,
        tenant_id: str,
        command: IssueCommand,
        *,
        renders: SharedRenders | None,
        lookups: dict[str, CredentialTemplate | EudiConnectError],
    ) -> _Prepared:
        _check_request_id(command.request_id)
        template = lookups.get(command.template_id)
        if template is None:
            try:
                template = await self._templates.get(tenant_id, command.template_id)
            except EudiConnectError as error:
                template = error
            lookups[command.template_id] = template
        if isinstance(template, EudiConnectError):
            raise template
        credential_format = checked_format(command.format, template)
        validity = template.validity(command.validity_seconds)
        holder_jwk = parse_holder_jwk(command.holder_jwk)
        if credential_format == MDOC_FORMAT and holder_jwk is None:
            raise InvalidArgumentError(
                "an mso_mdoc credential needs holder_jwk: it becomes the mdoc's device key",
                reason=Reason.HOLDER_KEY_REQUIRED,
            )
        claims = None
        if renders is not None:
            claims = renders.known(template, command.subject)
            if claims is None:
                claims = renders.keep(
                    template, command.subject, await self._render(template, command.subject)
                )
        return _Prepared(command, template, claims, holder_jwk, validity, credential_format)

    async def _render(
        self, template: CredentialTemplate, subject: Mapping[str, Any]
    ) -> dict[str, Any]:
        with measure_operation_time(RENDER_STEP):
            return await self._templates.claims(template, subject)

    def _draft(
        self,
        issuer: str,
        urls: PublicUrls,
        item: _Prepared,
        slot: StatusSlot,
        certificate_chain: tuple[bytes, ...] = (),
    ) -> CredentialDraft:
        now = int(self._clock())
        issued_at, expires_at = now, now + item.validity
        if item.command.coarsen_timestamps:
            step = item.template.timestamp_granularity_seconds
            issued_at = now - now % step
            expires_at = -(-expires_at // step) * step
        return CredentialDraft(
            template=item.template,
            issuer=issuer,
            issued_at=issued_at,
            expires_at=expires_at,
            status=StatusReference(uri=urls.status_list_uri(slot.status_list_id), idx=slot.index),
            holder_jwk=item.holder_jwk,
            claims=item.claims,
            subject=item.command.subject,
            format=item.format,
            certificate_chain=certificate_chain,
        )

    def _sign_here(self, draft: CredentialDraft, signing_key: Signer) -> str | EudiConnectError:
        try:
            return sign_draft(draft, signing_key, self._templates.environment)
        except EudiConnectError as error:
            return error

    def _row(
        self,
        tenant_id: str,
        item: _Prepared,
        slot: StatusSlot,
        draft: CredentialDraft,
        credential: str,
    ) -> NewCredential:
        return NewCredential(
            credential_id=new_credential_id(self._clock()),
            tenant_id=tenant_id,
            request_id=item.command.request_id or None,
            template_id=item.template.template_id,
            format=draft.format,
            credential=credential,
            status_list_id=slot.status_list_id,
            status_index=slot.index,
            issued_at=draft.issued_at,
            expires_at=draft.expires_at,
        )


@dataclass(frozen=True)
class _Prepared:
    """A command checked (and, in-process, rendered), ready to be drafted."""

    command: IssueCommand
    template: CredentialTemplate
    claims: dict[str, Any] | None
    holder_jwk: CheckedJwk | None
    validity: int
    format: str = SD_JWT_VC_FORMAT


def checked_format(requested: str, template: CredentialTemplate) -> str:
    """The format to issue `template` in: the default for an empty request, and only one
    the template supports."""
    credential_format = requested or SD_JWT_VC_FORMAT
    if credential_format not in FORMATS:
        raise InvalidArgumentError(
            f"format {requested!r} is not supported; use one of {', '.join(sorted(FORMATS))}",
            reason=Reason.FORMAT_UNSUPPORTED,
            metadata={"format": requested[:64]},
        )
    if credential_format == MDOC_FORMAT and not template.mdoc_doc_type:
        raise InvalidArgumentError(
            f"template '{template.template_id}' declares no mdoc doctype, so it cannot be "
            "issued as mso_mdoc",
            reason=Reason.FORMAT_NOT_OFFERED,
            metadata={"template_id": template.template_id, "format": credential_format},
        )
    return credential_format
