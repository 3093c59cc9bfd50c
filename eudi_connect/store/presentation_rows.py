"""Rows and records of the verifier tables, built once for both SQL stores (as
`store.rows` does for the others): column order, values in that order, records back."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from eudi_connect.store.presentations import (
    OPEN_PRESENTATION_STATES,
    PresentationOutcome,
    PresentationRecord,
    VerifierIdentityRecord,
)

Row = Sequence[Any]

IDENTITY_COLUMNS: Final = (
    "tenant_id, dns_name, kid, private_key_encrypted, certificate_chain, created_at, updated_at"
)
SELECT_IDENTITY: Final = f"SELECT {IDENTITY_COLUMNS} FROM verifier_identities "  # noqa: S608
#: Moves the current identity to the retired ones (parameters: usable_until, tenant_id).
RETIRE_IDENTITY: Final = (
    f"INSERT INTO retired_verifier_identities ({IDENTITY_COLUMNS}, usable_until) "  # noqa: S608
    f"SELECT {IDENTITY_COLUMNS}, {{}} FROM verifier_identities WHERE tenant_id = {{}}"
)
#: Parameters: tenant_id, now.
SELECT_RETIRED_IDENTITIES: Final = (
    f"SELECT {IDENTITY_COLUMNS} FROM retired_verifier_identities "  # noqa: S608
    "WHERE tenant_id = {} AND usable_until > {} ORDER BY created_at DESC, kid"
)
#: Parameters: tenant_id, now.
PURGE_RETIRED_IDENTITIES: Final = (
    "DELETE FROM retired_verifier_identities WHERE tenant_id = {} AND usable_until <= {}"
)
PRESENTATION_COLUMNS: Final = (
    "transaction_id, tenant_id, request_id, state, client_id, response_mode, dcql_query, "
    "nonce, state_value, response_uri, request_uri, request_uri_method, redirect_uri, "
    "expected_origins, transaction_data, policy, encryption_key, enc_values, created_at, "
    "expires_at, updated_at, version, results, failure_reason, failure_detail, response_code"
)
PRESENTATION_COLUMN_COUNT: Final = len(PRESENTATION_COLUMNS.split(","))
SELECT_PRESENTATION: Final = f"SELECT {PRESENTATION_COLUMNS} FROM presentation_transactions "  # noqa: S608
#: What a state change sets, in `change_values` order.
PRESENTATION_CHANGE_COLUMNS: Final = (
    "state",
    "enc_values",
    "updated_at",
    "version",
    "results",
    "failure_reason",
    "failure_detail",
    "response_code",
    "encryption_key",
)
OPEN_STATES: Final = tuple(sorted(OPEN_PRESENTATION_STATES))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def identity_values(identity: VerifierIdentityRecord) -> tuple[Any, ...]:
    chain = [base64.b64encode(der).decode("ascii") for der in identity.certificate_chain]
    return (
        identity.tenant_id,
        identity.dns_name,
        identity.kid,
        identity.private_key_encrypted,
        _json(chain),
        identity.created_at,
        identity.updated_at,
    )


def identity_record(row: Row) -> VerifierIdentityRecord:
    tenant_id, dns_name, kid, key, chain, created_at, updated_at = row
    return VerifierIdentityRecord(
        tenant_id=tenant_id,
        dns_name=dns_name,
        kid=kid,
        private_key_encrypted=bytes(key),
        certificate_chain=tuple(base64.b64decode(text) for text in json.loads(chain)),
        created_at=int(created_at),
        updated_at=int(updated_at),
    )


def presentation_values(record: PresentationRecord) -> tuple[Any, ...]:
    """In `PRESENTATION_COLUMNS` order."""
    return (
        record.transaction_id,
        record.tenant_id,
        record.request_id,
        record.state,
        record.client_id,
        record.response_mode,
        record.dcql_query,
        record.nonce,
        record.state_value,
        record.response_uri,
        record.request_uri,
        record.request_uri_method,
        record.redirect_uri,
        _json(list(record.expected_origins)),
        _json(list(record.transaction_data)),
        record.policy,
        record.encryption_key_encrypted,
        _json(list(record.enc_values)),
        record.created_at,
        record.expires_at,
        record.updated_at,
        record.version,
        record.results,
        record.failure_reason,
        record.failure_detail,
        record.response_code,
    )


def presentation_record(row: Row) -> PresentationRecord:
    (
        transaction_id,
        tenant_id,
        request_id,
        state,
        client_id,
        response_mode,
        dcql_query,
        nonce,
        state_value,
        response_uri,
        request_uri,
        request_uri_method,
        redirect_uri,
        expected_origins,
        transaction_data,
        policy,
        encryption_key,
        enc_values,
        created_at,
        expires_at,
        updated_at,
        version,
        results,
        failure_reason,
        failure_detail,
        response_code,
    ) = row
    return PresentationRecord(
        transaction_id=transaction_id,
        tenant_id=tenant_id,
        request_id=request_id,
        state=state,
        client_id=client_id,
        response_mode=response_mode,
        dcql_query=dcql_query,
        nonce=nonce,
        state_value=state_value,
        response_uri=response_uri,
        request_uri=request_uri,
        request_uri_method=request_uri_method,
        redirect_uri=redirect_uri,
        expected_origins=tuple(json.loads(expected_origins)),
        transaction_data=tuple(json.loads(transaction_data)),
        policy=policy,
        encryption_key_encrypted=None if encryption_key is None else bytes(encryption_key),
        enc_values=tuple(json.loads(enc_values)),
        created_at=int(created_at),
        expires_at=int(expires_at),
        updated_at=int(updated_at),
        version=int(version),
        results=results,
        failure_reason=failure_reason,
        failure_detail=failure_detail,
        response_code=response_code,
    )


def change_values(record: PresentationRecord) -> tuple[Any, ...]:
    """In `PRESENTATION_CHANGE_COLUMNS` order."""
    return (
        record.state,
        _json(list(record.enc_values)),
        record.updated_at,
        record.version,
        record.results,
        record.failure_reason,
        record.failure_detail,
        record.response_code,
        record.encryption_key_encrypted,
    )


def retrieved(
    current: PresentationRecord, enc_values: Sequence[str], now: int
) -> PresentationRecord | None:
    """The record after a wallet fetched the request object; None when it cannot be."""
    if current.state not in OPEN_PRESENTATION_STATES or now >= current.expires_at:
        return None
    if current.state == "RETRIEVED" and current.enc_values == tuple(enc_values):
        return current
    return replace(
        current,
        state="RETRIEVED",
        enc_values=tuple(enc_values),
        updated_at=now,
        version=current.version + 1,
    )


def claimed(current: PresentationRecord, now: int) -> PresentationRecord | None:
    """The record once a response is accepted for verification; None when none may be."""
    if current.state not in OPEN_PRESENTATION_STATES or now >= current.expires_at:
        return None
    return replace(current, state="RESPONDED", updated_at=now, version=current.version + 1)


def finished(
    current: PresentationRecord, outcome: PresentationOutcome, now: int
) -> PresentationRecord | None:
    if current.state != "RESPONDED":
        return None
    return replace(
        current,
        state=outcome.state,
        results=outcome.results,
        failure_reason=outcome.failure_reason,
        failure_detail=outcome.failure_detail,
        response_code=outcome.response_code,
        # The response is in: its decryption key goes, so that no later leak of the
        # database and the master key can open a recorded response.
        encryption_key_encrypted=None,
        updated_at=now,
        version=current.version + 1,
    )
