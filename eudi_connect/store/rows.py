"""Row <-> record conversions shared by the SQLite and PostgreSQL stores.

Both stores select columns in the same order, so one mapping serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from eudi_connect.errors import AbortedError, InvalidArgumentError
from eudi_connect.store.base import (
    CredentialRecord,
    IssuerKeyRecord,
    NewCredential,
    TemplateRecord,
)

Row = Sequence[Any]


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


def etag_mismatch() -> AbortedError:
    return AbortedError(
        "the template changed since it was read; read it again", reason="TEMPLATE_ETAG_MISMATCH"
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
