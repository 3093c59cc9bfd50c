"""Credential offers, as internal services create and follow them (OfferService).

An offer fixes what a wallet may collect: which templates in which formats, the subject
data (or none yet, for deferred issuance), how many copies, until when, and whether a
transaction code guards its pre-authorized code. The wallet side
(`services.wallet_issuer`) moves it through its states; everything is in the store.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.oid4vci import (
    TxCodePolicy,
    credential_offer,
    make_tx_code,
    offer_uri_by_reference,
    offer_uri_by_value,
)
from eudi_connect.core.oid4vci.offer import wallets_accept_issuer
from eudi_connect.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from eudi_connect.reasons import Reason
from eudi_connect.services.issuance import checked_format
from eudi_connect.services.public_urls import PublicUrls, TenantUrls
from eudi_connect.services.templates import CredentialTemplates
from eudi_connect.services.wallet_settings import WalletSettings, configuration_id
from eudi_connect.services.watching import Changes
from eudi_connect.store.base import Store
from eudi_connect.store.wallet_sessions import (
    FINAL_OFFER_STATES,
    OfferChange,
    OfferedItem,
    OfferRecord,
)

MAX_REQUEST_ID_LENGTH = 128
MAX_OFFERED_CREDENTIALS = 16
MAX_FAILURE_REASON = 300


def code_hash(code: str) -> bytes:
    """How one-time secrets (pre-authorized codes, tokens, nonces) are stored: hashed."""
    return hashlib.sha256(code.encode("utf-8")).digest()


def new_secret() -> str:
    """256 bits from the CSPRNG, base64url: unguessable codes, tokens and nonces."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, kw_only=True)
class CreateOfferCommand:
    items: Sequence[tuple[str, str]]  # (template_id, format); format "" is the default
    subject: Mapping[str, Any] | None
    deferred: bool = False
    max_copies: int = 0
    lifetime_seconds: int = 0
    tx_code: TxCodePolicy | None = None
    request_id: str = ""
    validity_seconds: int | None = None


@dataclass(frozen=True)
class OfferView:
    """An offer as callers see it: its effective state (expiry applied) and its URIs."""

    record: OfferRecord
    state: str
    offer_url: str
    credential_offer_uri: str
    credential_offer_by_value_uri: str
    copies_remaining: int

    @property
    def final(self) -> bool:
        return self.state in FINAL_OFFER_STATES


@dataclass(frozen=True)
class CreatedOffer:
    offer: OfferView
    tx_code: str | None


def _check_issuer(urls: PublicUrls, tenant_id: str) -> str:
    issuer = urls.issuer_id(tenant_id)
    if not wallets_accept_issuer(issuer):
        raise FailedPreconditionError(
            f"wallets accept only https Credential Issuers, not {issuer[:200]!r}: serve "
            "with an https --public-url (plain http only for a loopback host)",
            reason=Reason.OFFER_ISSUER_NOT_HTTPS,
        )
    return issuer


def effective_state(record: OfferRecord, now: int) -> str:
    """EXPIRED once the lifetime is over and the offer had not ended otherwise."""
    if record.state not in FINAL_OFFER_STATES and now >= record.expires_at:
        return "EXPIRED"
    return record.state


class OfferService:
    def __init__(
        self,
        store: Store,
        *,
        templates: CredentialTemplates,
        urls: TenantUrls,
        wallet: WalletSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._templates = templates
        self._urls = urls
        self._wallet = wallet
        self._clock = clock

    def view(self, record: OfferRecord) -> OfferView:
        issuer = json.loads(record.offer_json)["credential_issuer"]
        url = f"{issuer}/offers/{record.offer_id}"
        issued = sum(record.copies_issued.values())
        return OfferView(
            record=record,
            state=effective_state(record, int(self._clock())),
            offer_url=url,
            credential_offer_uri=offer_uri_by_reference(url),
            credential_offer_by_value_uri=offer_uri_by_value(json.loads(record.offer_json)),
            copies_remaining=max(0, record.max_copies * len(record.items) - issued),
        )

    async def _checked_items(
        self, tenant_id: str, command: CreateOfferCommand
    ) -> tuple[OfferedItem, ...]:
        if not command.items:
            raise InvalidArgumentError(
                "an offer needs at least one credential", reason=Reason.OFFER_CREDENTIALS_MISSING
            )
        if len(command.items) > MAX_OFFERED_CREDENTIALS:
            raise InvalidArgumentError(
                f"an offer holds at most {MAX_OFFERED_CREDENTIALS} credentials",
                reason=Reason.OFFER_TOO_LARGE,
            )
        items = []
        for template_id, requested_format in command.items:
            template = await self._templates.get(tenant_id, template_id)
            credential_format = checked_format(requested_format, template)
            if command.subject is not None:
                # Render once now, so a subject the template refuses fails here, at the
                # caller, and not later in front of the holder.
                self._templates.render_claims(template, command.subject)
            items.append(
                OfferedItem(
                    configuration_id=configuration_id(template_id, credential_format),
                    template_id=template_id,
                    format=credential_format,
                )
            )
        if len({item.configuration_id for item in items}) != len(items):
            raise InvalidArgumentError(
                "an offer names the same credential and format twice",
                reason=Reason.OFFER_CREDENTIALS_REPEATED,
            )
        return tuple(items)

    def _checked_numbers(self, command: CreateOfferCommand) -> tuple[int, int]:
        max_copies = command.max_copies or 1
        if not 1 <= max_copies <= self._wallet.batch_size:
            raise InvalidArgumentError(
                f"max_copies must be 1 to {self._wallet.batch_size}",
                reason=Reason.OFFER_COPIES_INVALID,
            )
        lifetime = command.lifetime_seconds or self._wallet.default_offer_lifetime_seconds
        if not 1 <= lifetime <= self._wallet.max_offer_lifetime_seconds:
            raise InvalidArgumentError(
                f"lifetime_seconds must be 1 to {self._wallet.max_offer_lifetime_seconds}",
                reason=Reason.OFFER_LIFETIME_INVALID,
            )
        return max_copies, lifetime

    async def create(self, tenant_id: str, command: CreateOfferCommand) -> CreatedOffer:
        if len(command.request_id) > MAX_REQUEST_ID_LENGTH:
            raise InvalidArgumentError(
                f"request_id is longer than {MAX_REQUEST_ID_LENGTH} characters",
                reason=Reason.REQUEST_ID_INVALID,
            )
        if command.deferred == (command.subject is not None):
            raise InvalidArgumentError(
                "give the subject, or mark the offer deferred and give it later",
                reason=Reason.OFFER_SUBJECT_INVALID,
            )
        items = await self._checked_items(tenant_id, command)
        max_copies, lifetime = self._checked_numbers(command)
        now = int(self._clock())
        offer_id = secrets.token_hex(16)
        code = new_secret()
        tx_code = make_tx_code(command.tx_code) if command.tx_code is not None else None
        # Checked before the tenant's URL is fixed by this offer, and again after (another
        # instance may have fixed another one meanwhile).
        _check_issuer(await self._urls.current(tenant_id), tenant_id)
        # The issuer identifier is fixed now: the credentials will name it as their `iss`.
        issuer = _check_issuer(await self._urls.fixed(tenant_id), tenant_id)
        offer = credential_offer(
            credential_issuer=issuer,
            credential_configuration_ids=[item.configuration_id for item in items],
            pre_authorized_code=code,
            tx_code=command.tx_code,
        )
        record = OfferRecord(
            offer_id=offer_id,
            tenant_id=tenant_id,
            request_id=command.request_id or None,
            state="OFFERED",
            items=items,
            subject=dict(command.subject) if command.subject is not None else None,
            deferred=command.deferred,
            max_copies=max_copies,
            validity_seconds=command.validity_seconds,
            offer_json=json.dumps(offer, separators=(",", ":")),
            code_hash=code_hash(code),
            tx_code=tx_code,
            tx_code_attempts_left=self._wallet.tx_code_attempts if tx_code else 0,
            created_at=now,
            expires_at=now + lifetime,
            updated_at=now,
        )
        stored = await self._store.create_offer(record)
        return CreatedOffer(offer=self.view(stored), tx_code=stored.tx_code)

    async def record(self, tenant_id: str, offer_id: str) -> OfferRecord:
        record = await self._store.get_offer(tenant_id, offer_id)
        if record is None:
            raise NotFoundError(
                f"offer {offer_id[:64]!r} does not exist",
                reason=Reason.OFFER_NOT_FOUND,
                metadata={"offer_id": offer_id[:64]},
            )
        return record

    async def get(self, tenant_id: str, offer_id: str) -> OfferView:
        return self.view(await self.record(tenant_id, offer_id))

    def watch(self, tenant_id: str, offer_id: str) -> Changes[OfferView]:
        """The offer now, then at every change (by any instance), until it is final. The
        store is read every `watch_poll_seconds`: changes closer together arrive as one
        view of the latest state (its credential ids are all there)."""
        return Changes(
            lambda: self.get(tenant_id, offer_id), poll_seconds=self._wallet.watch_poll_seconds
        )

    async def _change(
        self, tenant_id: str, offer_id: str, decide: Callable[[OfferView], OfferChange]
    ) -> OfferView:
        """Compare-and-set with re-reads: `decide` sees the latest offer each time."""
        for _ in range(8):
            view = await self.get(tenant_id, offer_id)
            change = decide(view)
            updated = await self._store.update_offer(
                tenant_id, offer_id, view.record.version, change, int(self._clock())
            )
            if updated is not None:
                return self.view(updated)
        raise FailedPreconditionError(
            "the offer changed too often to update; try again", reason=Reason.OFFER_BUSY
        )

    async def complete_deferred(
        self,
        tenant_id: str,
        offer_id: str,
        *,
        subject: Mapping[str, Any] | None = None,
        failure_reason: str | None = None,
    ) -> OfferView:
        if (subject is None) == (failure_reason is None):
            raise InvalidArgumentError(
                "give the subject or a failure reason", reason=Reason.OFFER_OUTCOME_MISSING
            )
        if subject is not None:
            record = await self.record(tenant_id, offer_id)
            for item in record.items:
                template = await self._templates.get(tenant_id, item.template_id)
                self._templates.render_claims(template, subject)

        def decide(view: OfferView) -> OfferChange:
            if not view.record.deferred:
                raise FailedPreconditionError(
                    "the offer is not deferred", reason=Reason.OFFER_NOT_DEFERRED
                )
            if view.final or view.record.subject is not None:
                raise FailedPreconditionError(
                    f"the offer is {view.state.lower()} and cannot be completed",
                    reason=Reason.OFFER_NOT_PENDING,
                )
            if failure_reason is not None:
                return OfferChange(
                    state="FAILED", failure_reason=failure_reason[:MAX_FAILURE_REASON]
                )
            return OfferChange(subject=dict(subject or {}))

        return await self._change(tenant_id, offer_id, decide)

    async def delete(self, tenant_id: str, offer_id: str) -> OfferView:
        def decide(view: OfferView) -> OfferChange:
            if view.final:
                raise FailedPreconditionError(
                    f"the offer is already {view.state.lower()}", reason=Reason.OFFER_FINAL
                )
            return OfferChange(state="DELETED", failure_reason="withdrawn by the issuer")

        return await self._change(tenant_id, offer_id, decide)
