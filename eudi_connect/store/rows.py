"""Rows and records, built once for both SQL stores: what a backend writes for a record, the
record it reads back, and the records its writes answer with.

Both backends select and insert columns in the order given here (the `SELECT_*` prefixes
and the `*_values` tuples), so one mapping serves both; placeholders, statements and
transactions are each backend's own. JSON columns hold compact JSON text.

One module on purpose although it is over 400 lines: every table's column order sits in
one place, beside the mapping that depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from eudi_connect.store.base import (
    ApiKeyRecord,
    CredentialRecord,
    InsertOutcome,
    IssuerKeyRecord,
    KeySettingsRecord,
    NewCredential,
    PositionLease,
    StatusChange,
    StatusListRecord,
    TemplateKind,
    TemplateRecord,
    TenantRecord,
    TrustEntryRecord,
)
from eudi_connect.store.checks import invalid_record, store_race
from eudi_connect.store.wallet_sessions import (
    AccessTokenRecord,
    OfferChange,
    OfferedItem,
    OfferRecord,
    WalletPolicyRecord,
)

Row = Sequence[Any]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _json(value)


def _loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --- tenants and API keys ------------------------------------------------------------------

SELECT_TENANT: Final = "SELECT tenant_id, name, created_at, public_url FROM tenants "
SELECT_API_KEY: Final = (
    "SELECT key_id, tenant_id, secret_hash, created_at, label, expires_at, revoked_at, "
    "last_used_at FROM api_keys "
)


def tenant_values(tenant: TenantRecord) -> tuple[Any, ...]:
    """(tenant_id, name, created_at, public_url)."""
    return (tenant.tenant_id, tenant.name, tenant.created_at, tenant.public_url)


def tenant_record(row: Row) -> TenantRecord:
    """From `SELECT_TENANT`."""
    return TenantRecord(tenant_id=row[0], name=row[1], created_at=row[2], public_url=row[3])


def api_key_record(row: Row) -> ApiKeyRecord:
    """From `SELECT_API_KEY`."""
    return ApiKeyRecord(
        key_id=row[0],
        tenant_id=row[1],
        secret_hash=bytes(row[2]),
        created_at=row[3],
        label=row[4],
        expires_at=row[5],
        revoked_at=row[6],
        last_used_at=row[7],
    )


def api_key_values(key: ApiKeyRecord) -> tuple[Any, ...]:
    """The insert parameters of a new key: (key_id, tenant_id, secret_hash, created_at,
    label, expires_at); a new key is neither revoked nor used."""
    return (key.key_id, key.tenant_id, key.secret_hash, key.created_at, key.label, key.expires_at)


# --- issuer keys ---------------------------------------------------------------------------

SELECT_ISSUER_KEY: Final = (
    "SELECT kid, tenant_id, private_key_encrypted, public_jwk, created_at, retired_at, "
    "certificate, purpose, backend, key_ref, published_until FROM issuer_keys "
)
#: The columns `issuer_key_values` fills, in its order.
ISSUER_KEY_COLUMNS: Final = (
    "kid, tenant_id, private_key_encrypted, public_jwk, created_at, certificate, purpose, "
    "backend, key_ref"
)
SELECT_KEY_SETTINGS: Final = (
    "SELECT tenant_id, purpose, backend, token, max_age_seconds, updated_at "
    "FROM tenant_key_settings "
)


def key_settings_record(row: Row) -> KeySettingsRecord:
    """From `SELECT_KEY_SETTINGS`."""
    return KeySettingsRecord(
        tenant_id=row[0],
        purpose=row[1],
        backend=row[2],
        token=_loads_or_none(row[3]),
        max_age_seconds=row[4],
        updated_at=row[5],
    )


def key_settings_values(settings: KeySettingsRecord) -> tuple[Any, ...]:
    """(tenant_id, purpose, backend, token, max_age_seconds, updated_at)."""
    return (
        settings.tenant_id,
        settings.purpose,
        settings.backend,
        _json_or_none(settings.token),
        settings.max_age_seconds,
        settings.updated_at,
    )


def issuer_key_record(row: Row) -> IssuerKeyRecord:
    """From `SELECT_ISSUER_KEY`."""
    return IssuerKeyRecord(
        kid=row[0],
        tenant_id=row[1],
        private_key_encrypted=bytes(row[2]),
        public_jwk=json.loads(row[3]),
        created_at=row[4],
        retired_at=row[5],
        certificate=None if row[6] is None else bytes(row[6]),
        purpose=row[7],
        backend=row[8],
        key_ref=_loads_or_none(row[9]),
        published_until=row[10],
    )


def issuer_key_values(key: IssuerKeyRecord) -> tuple[Any, ...]:
    """The insert parameters of a new (active) issuer key: (kid, tenant_id,
    private_key_encrypted, public_jwk, created_at, certificate, purpose, backend, key_ref):
    `ISSUER_KEY_COLUMNS`."""
    return (
        key.kid,
        key.tenant_id,
        key.private_key_encrypted,
        json.dumps(key.public_jwk, sort_keys=True, separators=(",", ":")),
        key.created_at,
        key.certificate,
        key.purpose,
        key.backend,
        _json_or_none(key.key_ref),
    )


# --- status lists --------------------------------------------------------------------------

SELECT_STATUS_LIST: Final = (
    "SELECT status_list_id, tenant_id, size, bits, permutation_key, next_position, version, "
    "created_at FROM status_lists "
)


def status_list_record(row: Row) -> StatusListRecord:
    """From `SELECT_STATUS_LIST`."""
    return StatusListRecord(
        status_list_id=row[0],
        tenant_id=row[1],
        size=row[2],
        bits=row[3],
        permutation_key=bytes(row[4]),
        next_position=row[5],
        version=row[6],
        created_at=row[7],
    )


def new_list_lease(new_list: StatusListRecord, count: int) -> tuple[tuple[Any, ...], PositionLease]:
    """What leasing from a list made for the purpose writes and answers: the list's insert
    parameters in `SELECT_STATUS_LIST` order (positions claimed already counted) and the
    lease, up to `count` positions from its first free one."""
    start = new_list.next_position
    claimed = min(count, new_list.size - start)
    values = (
        new_list.status_list_id,
        new_list.tenant_id,
        new_list.size,
        new_list.bits,
        new_list.permutation_key,
        start + claimed,
        new_list.version,
        new_list.created_at,
    )
    lease = PositionLease(
        new_list.status_list_id, new_list.size, new_list.permutation_key, start, claimed
    )
    return values, lease


# --- credentials ---------------------------------------------------------------------------

SELECT_CREDENTIAL: Final = (
    "SELECT credential_id, tenant_id, request_id, template_id, format, credential, "
    "status_list_id, status_index, issued_at, expires_at, status, status_updated_at "
    "FROM credentials "
)


def credential_record(row: Row) -> CredentialRecord:
    """From `SELECT_CREDENTIAL`."""
    return CredentialRecord(
        credential_id=row[0],
        tenant_id=row[1],
        request_id=row[2],
        template_id=row[3],
        format=row[4],
        credential=row[5],
        status_list_id=row[6],
        status_index=row[7],
        issued_at=row[8],
        expires_at=row[9],
        status=row[10],
        status_updated_at=row[11],
    )


def credential_values(row: NewCredential) -> tuple[Any, ...]:
    """The insert parameters of a credential row: the first ten columns of
    `SELECT_CREDENTIAL` (a new credential is VALID and never changed)."""
    return (
        row.credential_id,
        row.tenant_id,
        row.request_id,
        row.template_id,
        row.format,
        row.credential,
        row.status_list_id,
        row.status_index,
        row.issued_at,
        row.expires_at,
    )


def insert_outcomes(
    batch: Sequence[NewCredential],
    inserted: set[str],
    stored: Mapping[tuple[str, str | None], CredentialRecord],
) -> list[InsertOutcome]:
    """One outcome per row of `batch`, in order: the new record for the credential ids in
    `inserted`, else the record the tenant stored before under the row's request_id."""
    outcomes: list[InsertOutcome] = []
    for row in batch:
        if row.credential_id in inserted:
            outcomes.append(InsertOutcome(inserted=True, record=_new_credential_record(row)))
            continue
        existing = stored.get((row.tenant_id, row.request_id))
        if existing is None:  # pragma: no cover - DO NOTHING fires only on that conflict
            raise store_race("the idempotent insert found no row")
        outcomes.append(InsertOutcome(inserted=False, record=existing))
    return outcomes


def _new_credential_record(row: NewCredential) -> CredentialRecord:
    """What reading the row back would give: VALID, its status never changed."""
    return credential_record((*credential_values(row), 0, None))


def changed_status(current: CredentialRecord, *, to_status: int, at: int) -> StatusChange:
    """The answer of a status change that happened."""
    return StatusChange(
        changed=True, record=replace(current, status=to_status, status_updated_at=at)
    )


# --- templates -----------------------------------------------------------------------------

SELECT_TEMPLATE: Final = (
    "SELECT tenant_id, template_id, kind, definition, description, version, created_at, "
    "updated_at FROM templates "
)


def template_record(row: Row) -> TemplateRecord:
    """From `SELECT_TEMPLATE`."""
    return written_template(*row)


def written_template(
    tenant_id: str,
    template_id: str,
    kind: TemplateKind,
    definition_json: str,
    description: str,
    version: int,
    created_at: int,
    updated_at: int,
) -> TemplateRecord:
    """The template as stored, from what was written or read (the definition as JSON text:
    what a read would hand back)."""
    return TemplateRecord(
        tenant_id=tenant_id,
        template_id=template_id,
        kind=kind,
        definition=json.loads(definition_json),
        description=description,
        version=int(version),
        created_at=int(created_at),
        updated_at=int(updated_at),
    )


def template_definition_json(definition: Mapping[str, Any]) -> str:
    """The definition as strict JSON text (no NaN), the form both stores keep."""
    try:
        return json.dumps(definition, ensure_ascii=False, allow_nan=False, default=_json_mapping)
    except (TypeError, ValueError) as error:
        raise invalid_record("the template definition is not a JSON object") from error


def _json_mapping(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# --- trust entries -------------------------------------------------------------------------

SELECT_TRUST_ENTRY: Final = "SELECT kind, entry_id, created_at, document FROM trust_entries "


def trust_entry_values(entry: TrustEntryRecord) -> tuple[Any, ...]:
    """(tenant_id, kind, entry_id, created_at, document)."""
    document = json.dumps(dict(entry.document), separators=(",", ":"))
    return (entry.tenant_id, entry.kind, entry.entry_id, entry.created_at, document)


def trust_entry_record(tenant_id: str, row: Row) -> TrustEntryRecord:
    """From `SELECT_TRUST_ENTRY`."""
    return TrustEntryRecord(
        tenant_id=tenant_id,
        kind=row[0],
        entry_id=str(row[1]),
        created_at=int(row[2]),
        document=json.loads(row[3]),
    )


# --- wallet sessions -----------------------------------------------------------------------

OFFER_COLUMNS: Final = (
    "offer_id, tenant_id, request_id, state, items, subject, deferred, max_copies, "
    "validity_seconds, offer_json, code_hash, tx_code, tx_code_attempts_left, created_at, "
    "expires_at, updated_at, version, credential_ids, copies_issued, failure_reason, "
    "transaction_id, notification_id, deferred_request"
)
SELECT_OFFER: Final = "SELECT " + OFFER_COLUMNS + " FROM credential_offers "  # noqa: S608
#: Columns an update may set, in the order `offer_change_values` gives them.
OFFER_UPDATE_COLUMNS: Final = (
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
TOKEN_COLUMNS: Final = "token_hash, tenant_id, offer_id, dpop_jkt, client_id, issued_at, expires_at"  # noqa: S105
SELECT_POLICY: Final = "SELECT tenant_id, document, updated_at FROM wallet_policies "
#: Tables of values that expire, emptied of expired rows by `purge_wallet_sessions`.
EXPIRING_TABLES: Final = ("access_tokens", "wallet_once")


def offer_values(offer: OfferRecord) -> tuple[Any, ...]:
    """In `OFFER_COLUMNS` order."""
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


def offer_record(row: Row) -> OfferRecord:
    """From `SELECT_OFFER`."""
    return OfferRecord(
        offer_id=row[0],
        tenant_id=row[1],
        request_id=row[2],
        state=row[3],
        items=tuple(OfferedItem(c, t, f) for c, t, f in json.loads(row[4])),
        subject=_loads_or_none(row[5]),
        deferred=bool(row[6]),
        max_copies=int(row[7]),
        validity_seconds=None if row[8] is None else int(row[8]),
        offer_json=row[9],
        code_hash=bytes(row[10]),
        tx_code=row[11],
        tx_code_attempts_left=int(row[12]),
        created_at=int(row[13]),
        expires_at=int(row[14]),
        updated_at=int(row[15]),
        version=int(row[16]),
        credential_ids=tuple(json.loads(row[17])),
        copies_issued=json.loads(row[18]),
        failure_reason=row[19],
        transaction_id=row[20],
        notification_id=row[21],
        deferred_request=_loads_or_none(row[22]),
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


def offer_update(
    current: OfferRecord, expected_version: int, change: OfferChange, now: int
) -> OfferRecord | None:
    """The offer `update_offer` writes; None when another writer changed it first."""
    if current.version != expected_version:
        return None
    return changed_offer(current, change, now)


def offer_redemption(current: OfferRecord, offer: OfferRecord, now: int) -> OfferRecord | None:
    """The offer `redeem_offer` writes; None when its code was redeemed (or the offer
    changed) since `offer` was read."""
    if current.version != offer.version or current.state != "OFFERED":
        return None
    return changed_offer(current, OfferChange(state="TOKEN_ISSUED"), now)


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
    """In `TOKEN_COLUMNS` order."""
    return (
        token.token_hash,
        token.tenant_id,
        token.offer_id,
        token.dpop_jkt,
        token.client_id,
        token.issued_at,
        token.expires_at,
    )


def token_record(row: Row) -> AccessTokenRecord:
    """From the `TOKEN_COLUMNS`."""
    return AccessTokenRecord(
        token_hash=bytes(row[0]),
        tenant_id=row[1],
        offer_id=row[2],
        dpop_jkt=row[3],
        client_id=row[4],
        issued_at=int(row[5]),
        expires_at=int(row[6]),
    )


def policy_values(policy: WalletPolicyRecord) -> tuple[Any, ...]:
    """In `SELECT_POLICY` order."""
    return (policy.tenant_id, _json(dict(policy.document)), policy.updated_at)


def policy_record(row: Row) -> WalletPolicyRecord:
    """From `SELECT_POLICY`."""
    return WalletPolicyRecord(tenant_id=row[0], document=json.loads(row[1]), updated_at=int(row[2]))
