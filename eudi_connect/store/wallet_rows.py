"""Row <-> record conversions of the wallet-session tables, shared by both backends.

Column order matches `OFFER_COLUMNS`; JSON columns hold compact JSON text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from eudi_connect.store.wallet_sessions import (
    AccessTokenRecord,
    OfferChange,
    OfferedItem,
    OfferRecord,
    WalletPolicyRecord,
)

OFFER_COLUMNS = (
    "offer_id, tenant_id, request_id, state, items, subject, deferred, max_copies, "
    "validity_seconds, offer_json, code_hash, tx_code, tx_code_attempts_left, created_at, "
    "expires_at, updated_at, version, credential_ids, copies_issued, failure_reason, "
    "transaction_id, notification_id, deferred_request"
)
TOKEN_COLUMNS = "token_hash, tenant_id, offer_id, dpop_jkt, client_id, issued_at, expires_at"  # noqa: S105
#: Columns an update may set, in the order `offer_change_values` gives them.
OFFER_UPDATE_COLUMNS = (
    "state",
    "subject",
    "tx_code_attempts_left",
    "credential_ids",
    "copies_issued",
    "failure_reason",
    "transaction_id",
    "notification_id",
    "deferred_request",
    "updated_at",
    "version",
)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _json(value)


def offer_values(offer: OfferRecord) -> tuple[Any, ...]:
    return (
        offer.offer_id,
        offer.tenant_id,
        offer.request_id,
        offer.state,
        _json([[i.configuration_id, i.template_id, i.format] for i in offer.items]),
        _json_or_none(offer.subject),
        offer.deferred,
        offer.max_copies,
        offer.validity_seconds,
        offer.offer_json,
        offer.code_hash,
        offer.tx_code,
        offer.tx_code_attempts_left,
        offer.created_at,
        offer.expires_at,
        offer.updated_at,
        offer.version,
        _json(list(offer.credential_ids)),
        _json(dict(offer.copies_issued)),
        offer.failure_reason,
        offer.transaction_id,
        offer.notification_id,
        _json_or_none(offer.deferred_request),
    )


def offer_record(row: tuple[Any, ...]) -> OfferRecord:
    (
        offer_id,
        tenant_id,
        request_id,
        state,
        items,
        subject,
        deferred,
        max_copies,
        validity_seconds,
        offer_json,
        code_hash,
        tx_code,
        attempts_left,
        created_at,
        expires_at,
        updated_at,
        version,
        credential_ids,
        copies_issued,
        failure_reason,
        transaction_id,
        notification_id,
        deferred_request,
    ) = row
    return OfferRecord(
        offer_id=offer_id,
        tenant_id=tenant_id,
        request_id=request_id,
        state=state,
        items=tuple(OfferedItem(c, t, f) for c, t, f in json.loads(items)),
        subject=None if subject is None else json.loads(subject),
        deferred=bool(deferred),
        max_copies=int(max_copies),
        validity_seconds=None if validity_seconds is None else int(validity_seconds),
        offer_json=offer_json,
        code_hash=bytes(code_hash),
        tx_code=tx_code,
        tx_code_attempts_left=int(attempts_left),
        created_at=int(created_at),
        expires_at=int(expires_at),
        updated_at=int(updated_at),
        version=int(version),
        credential_ids=tuple(json.loads(credential_ids)),
        copies_issued=json.loads(copies_issued),
        failure_reason=failure_reason,
        transaction_id=transaction_id,
        notification_id=notification_id,
        deferred_request=None if deferred_request is None else json.loads(deferred_request),
    )


def changed_offer(current: OfferRecord, change: OfferChange, now: int) -> OfferRecord:
    """The offer after `change`, version bumped: what the update writes."""
    updates: dict[str, Any] = {"updated_at": now, "version": current.version + 1}
    for name in ("state", "subject", "tx_code_attempts_left", "copies_issued", "failure_reason"):
        value = getattr(change, name)
        if value is not None:
            updates[name] = value
    for name in ("transaction_id", "notification_id", "deferred_request"):
        value = getattr(change, name)
        if value is not None:
            updates[name] = value or None  # an empty value clears the field
    if change.add_credential_ids:
        updates["credential_ids"] = current.credential_ids + tuple(change.add_credential_ids)
    return replace(current, **updates)


def offer_change_values(offer: OfferRecord) -> tuple[Any, ...]:
    """Values for `OFFER_UPDATE_COLUMNS`."""
    return (
        offer.state,
        _json_or_none(offer.subject),
        offer.tx_code_attempts_left,
        _json(list(offer.credential_ids)),
        _json(dict(offer.copies_issued)),
        offer.failure_reason,
        offer.transaction_id,
        offer.notification_id,
        _json_or_none(offer.deferred_request),
        offer.updated_at,
        offer.version,
    )


def token_values(token: AccessTokenRecord) -> tuple[Any, ...]:
    return (
        token.token_hash,
        token.tenant_id,
        token.offer_id,
        token.dpop_jkt,
        token.client_id,
        token.issued_at,
        token.expires_at,
    )


def token_record(row: tuple[Any, ...]) -> AccessTokenRecord:
    token_hash, tenant_id, offer_id, jkt, client_id, issued_at, expires_at = row
    return AccessTokenRecord(
        token_hash=bytes(token_hash),
        tenant_id=tenant_id,
        offer_id=offer_id,
        dpop_jkt=jkt,
        client_id=client_id,
        issued_at=int(issued_at),
        expires_at=int(expires_at),
    )


def policy_values(policy: WalletPolicyRecord) -> tuple[Any, ...]:
    return (policy.tenant_id, _json(dict(policy.document)), policy.updated_at)


def policy_record(row: tuple[Any, ...]) -> WalletPolicyRecord:
    tenant_id, document, updated_at = row
    return WalletPolicyRecord(
        tenant_id=tenant_id, document=json.loads(document), updated_at=int(updated_at)
    )
