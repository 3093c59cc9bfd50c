"""What the SQLite and PostgreSQL stores share: row <-> record conversions, argument checks
and errors.

Both stores select and insert columns in the same order, so one mapping serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from eudi_connect.errors import (
    AbortedError,
    InvalidArgumentError,
    ResourceExhaustedError,
    UnavailableError,
)
from eudi_connect.store.base import (
    ApiKeyRecord,
    CredentialRecord,
    IssuerKeyRecord,
    NewCredential,
    StatusListRecord,
    TemplateRecord,
    TenantRecord,
    TrustEntryRecord,
)

Row = Sequence[Any]


def tenant_record(row: Row) -> TenantRecord:
    """From (tenant_id, name, created_at, public_url)."""
    return TenantRecord(tenant_id=row[0], name=row[1], created_at=row[2], public_url=row[3])


def api_key_record(row: Row) -> ApiKeyRecord:
    """From (key_id, tenant_id, secret_hash, created_at, label, expires_at, revoked_at,
    last_used_at)."""
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
    return (
        key.key_id,
        key.tenant_id,
        key.secret_hash,
        key.created_at,
        key.label,
        key.expires_at,
    )


def status_list_record(row: Row) -> StatusListRecord:
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


def credential_record(row: Row) -> CredentialRecord:
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


def new_credential_record(row: NewCredential) -> CredentialRecord:
    return CredentialRecord(
        credential_id=row.credential_id,
        tenant_id=row.tenant_id,
        request_id=row.request_id,
        template_id=row.template_id,
        format=row.format,
        credential=row.credential,
        status_list_id=row.status_list_id,
        status_index=row.status_index,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        status=0,
    )


def credential_values(row: NewCredential) -> tuple[Any, ...]:
    """The insert parameters of a credential row, in the stores' column order."""
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


def issuer_key_record(row: Row) -> IssuerKeyRecord:
    return IssuerKeyRecord(
        kid=row[0],
        tenant_id=row[1],
        private_key_encrypted=bytes(row[2]),
        public_jwk=json.loads(row[3]),
        created_at=row[4],
        retired_at=row[5],
        certificate=None if row[6] is None else bytes(row[6]),
    )


def issuer_key_values(key: IssuerKeyRecord) -> tuple[Any, ...]:
    """The insert parameters of a new (active) issuer key, in the stores' column order."""
    return (
        key.kid,
        key.tenant_id,
        key.private_key_encrypted,
        json.dumps(key.public_jwk, sort_keys=True, separators=(",", ":")),
        key.created_at,
        key.certificate,
    )


def template_record(row: Row) -> TemplateRecord:
    return TemplateRecord(
        tenant_id=row[0],
        template_id=row[1],
        kind=row[2],
        definition=json.loads(row[3]),
        description=row[4],
        version=row[5],
        created_at=row[6],
        updated_at=row[7],
    )


def trust_entry_record(tenant_id: str, row: Row) -> TrustEntryRecord:
    """A trust entry from (kind, entry_id, created_at, document)."""
    return TrustEntryRecord(
        tenant_id=tenant_id,
        kind=row[0],
        entry_id=str(row[1]),
        created_at=int(row[2]),
        document=json.loads(row[3]),
    )


def trust_document_json(entry: TrustEntryRecord) -> str:
    return json.dumps(dict(entry.document), separators=(",", ":"))


# --- argument checks, errors ---------------------------------------------------------------


def check_new_tenant(tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
    if api_key.tenant_id != tenant.tenant_id:
        raise InvalidArgumentError(
            "the API key belongs to another tenant", reason="TENANT_MISMATCH"
        )
    check_new_api_key(api_key)


def check_new_api_key(api_key: ApiKeyRecord) -> None:
    if api_key.revoked_at is not None or api_key.last_used_at is not None:
        raise InvalidArgumentError(
            "a new API key is neither revoked nor used", reason="INVALID_RECORD"
        )


def check_new_issuer_key(key: IssuerKeyRecord) -> None:
    if key.retired_at is not None:
        raise InvalidArgumentError("a new issuer key cannot be retired", reason="KEY_RETIRED")


def check_lease(tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord) -> None:
    """The arguments of `Store.lease_positions`, checked before any database work."""
    if count < 1:
        raise InvalidArgumentError("count must be at least 1", reason="INVALID_LEASE")
    if new_list.tenant_id != tenant_id or new_list.size != list_size:
        raise InvalidArgumentError(
            "new_list must belong to the tenant and have list_size entries",
            reason="INVALID_LEASE",
        )
    if not 0 <= new_list.next_position < new_list.size:
        raise InvalidArgumentError("new_list must have free positions", reason="INVALID_LEASE")


def closed_error() -> UnavailableError:
    return UnavailableError("the store is closed", reason="STORE_UNAVAILABLE")


def etag_mismatch() -> AbortedError:
    return AbortedError(
        "the template changed since it was read; read it again", reason="TEMPLATE_ETAG_MISMATCH"
    )


def trust_entries_limit(max_entries: int) -> ResourceExhaustedError:
    return ResourceExhaustedError(
        f"the tenant has {max_entries} trust entries, the most allowed; remove one first",
        reason="TRUST_ENTRIES_LIMIT",
        metadata={"max_entries": str(max_entries)},
    )


def template_definition_json(definition: Mapping[str, Any]) -> str:
    """The definition as strict JSON text (no NaN), the form both stores keep."""
    try:
        return json.dumps(definition, ensure_ascii=False, allow_nan=False, default=_json_mapping)
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(
            "the template definition is not a JSON object", reason="INVALID_RECORD"
        ) from error


def _json_mapping(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
