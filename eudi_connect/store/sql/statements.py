"""SQL that both backends run as written, in PostgreSQL's numbered placeholders ($1, $2,
...). `in_sqlite()` gives the same statements with SQLite's numbered ones (?1, ?2, ...),
which bind the same positions of the same parameters, so both backends pass their
arguments in one order.

Only statements whose text is the same in both dialects are here; what each writes its own
way (row locks, upserts, identity columns, array parameters, one-statement CTEs) stays in
the backend's module beside the code that runs it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Final, Self

from eudi_connect.store.presentation_rows import (
    IDENTITY_COLUMNS,
    PRESENTATION_CHANGE_COLUMNS,
    PRESENTATION_COLUMN_COUNT,
    PRESENTATION_COLUMNS,
    PURGE_RETIRED_IDENTITIES,
    RETIRE_IDENTITY,
    SELECT_IDENTITY,
    SELECT_PRESENTATION,
    SELECT_RETIRED_IDENTITIES,
)
from eudi_connect.store.rows import (
    ISSUER_KEY_COLUMNS,
    OFFER_COLUMNS,
    OFFER_UPDATE_COLUMNS,
    SELECT_API_KEY,
    SELECT_CREDENTIAL,
    SELECT_ISSUER_KEY,
    SELECT_KEY_SETTINGS,
    SELECT_OFFER,
    SELECT_POLICY,
    SELECT_TENANT,
    TOKEN_COLUMNS,
)

_NUMBERED: Final = re.compile(r"\$(\d+)")


@dataclasses.dataclass(frozen=True, slots=True)
class Statements:
    """A set of statements; each field is one, written for PostgreSQL."""

    def in_sqlite(self) -> Self:
        return dataclasses.replace(
            self,
            **{
                field.name: _NUMBERED.sub(r"?\1", getattr(self, field.name))
                for field in dataclasses.fields(self)
            },
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TenantStatements(Statements):
    insert_tenant: str = (
        "INSERT INTO tenants (tenant_id, name, created_at, public_url) VALUES ($1, $2, $3, $4)"
    )
    tenant: str = SELECT_TENANT + "WHERE tenant_id = $1"
    fix_public_url: str = (
        "UPDATE tenants SET public_url = $2 WHERE tenant_id = $1 AND public_url IS NULL"
    )
    public_url: str = "SELECT public_url FROM tenants WHERE tenant_id = $1"
    public_urls: str = (
        "SELECT DISTINCT public_url FROM tenants WHERE public_url IS NOT NULL ORDER BY public_url"
    )
    insert_api_key: str = (
        "INSERT INTO api_keys (key_id, tenant_id, secret_hash, created_at, label, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)"
    )
    api_key: str = SELECT_API_KEY + "WHERE key_id = $1"
    tenant_api_key: str = SELECT_API_KEY + "WHERE tenant_id = $1 AND key_id = $2"
    tenant_api_keys: str = SELECT_API_KEY + "WHERE tenant_id = $1 ORDER BY created_at, key_id"
    live_api_keys: str = (
        "SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > $2)"
    )
    # The first revocation time stays.
    revoke_api_key: str = (
        "UPDATE api_keys SET revoked_at = $3 "
        "WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL"
    )
    touch_api_key: str = (
        "UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2 "
        "AND (last_used_at IS NULL OR last_used_at < $1)"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class CredentialStatements(Statements):
    by_id: str = SELECT_CREDENTIAL + "WHERE tenant_id = $1 AND credential_id = $2"
    by_request: str = SELECT_CREDENTIAL + "WHERE tenant_id = $1 AND request_id = $2"
    status_at: str = (
        "SELECT status FROM credentials WHERE status_list_id = $1 AND status_index = $2"
    )


def _placeholders(count: int) -> str:
    return ", ".join(f"${n}" for n in range(1, count + 1))


def _update_by_version(table: str, columns: Sequence[str], key: str) -> str:
    """A compare-and-set UPDATE of `columns` of one tenant's row by `key`, on the version
    read; parameters: the columns' values, then tenant_id, the key and the version."""
    count = len(columns)
    return (
        f"UPDATE {table} SET "  # noqa: S608 constant names
        + ", ".join(f"{column} = ${n}" for n, column in enumerate(columns, 1))
        + f" WHERE tenant_id = ${count + 1} AND {key} = ${count + 2}"
        + f" AND version = ${count + 3}"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class WalletSessionStatements(Statements):
    insert_offer: str = (
        f"INSERT INTO credential_offers ({OFFER_COLUMNS}) "  # noqa: S608 constant columns
        f"VALUES ({_placeholders(len(OFFER_COLUMNS.split(',')))}) "
        "ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
    )
    offer_by_request: str = SELECT_OFFER + "WHERE tenant_id = $1 AND request_id = $2"
    update_offer: str = _update_by_version("credential_offers", OFFER_UPDATE_COLUMNS, "offer_id")
    insert_token: str = (
        f"INSERT INTO access_tokens ({TOKEN_COLUMNS}) "  # noqa: S608 constant columns
        f"VALUES ({_placeholders(len(TOKEN_COLUMNS.split(',')))})"
    )
    token: str = f"SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = $1"  # noqa: S608
    claimed_keys: str = (
        "SELECT count(*) FROM offer_proof_keys WHERE offer_id = $1 AND configuration_id = $2"
    )
    policy: str = SELECT_POLICY + "WHERE tenant_id = $1"
    put_policy: str = (
        "INSERT INTO wallet_policies (tenant_id, document, updated_at) "
        "VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET "
        "document = excluded.document, updated_at = excluded.updated_at"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class IssuerKeyStatements(Statements):
    active_key: str = (
        SELECT_ISSUER_KEY + "WHERE tenant_id = $1 AND purpose = $2 AND retired_at IS NULL"
    )
    insert_key: str = (
        f"INSERT INTO issuer_keys ({ISSUER_KEY_COLUMNS}) "  # noqa: S608 constant columns
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    retire_active_key: str = (
        "UPDATE issuer_keys SET retired_at = $1 "
        "WHERE tenant_id = $2 AND purpose = $3 AND retired_at IS NULL"
    )
    # The first certificate stays.
    set_certificate: str = (
        "UPDATE issuer_keys SET certificate = $1 WHERE kid = $2 AND certificate IS NULL"
    )
    certificate: str = "SELECT certificate FROM issuer_keys WHERE kid = $1"
    last_expiry: str = (
        "SELECT max(expires_at) FROM credentials "
        "WHERE tenant_id = $1 AND issued_at BETWEEN $2 AND $3"
    )
    put_settings: str = (
        "INSERT INTO tenant_key_settings "
        "(tenant_id, purpose, backend, token, max_age_seconds, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, purpose) DO UPDATE SET "
        "backend = excluded.backend, token = excluded.token, "
        "max_age_seconds = excluded.max_age_seconds, updated_at = excluded.updated_at"
    )
    settings_of: str = SELECT_KEY_SETTINGS + "WHERE tenant_id = $1 ORDER BY purpose"
    all_settings: str = SELECT_KEY_SETTINGS + "ORDER BY tenant_id, purpose"


@dataclasses.dataclass(frozen=True, slots=True)
class PresentationStatements(Statements):
    insert_identity: str = (
        f"INSERT INTO verifier_identities ({IDENTITY_COLUMNS}) "  # noqa: S608 constant columns
        "VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    identity: str = SELECT_IDENTITY + "WHERE tenant_id = $1"
    delete_identity: str = "DELETE FROM verifier_identities WHERE tenant_id = $1"
    # The cast gives the selected parameter its type (PostgreSQL cannot infer it there).
    retire_identity: str = RETIRE_IDENTITY.format("CAST($1 AS BIGINT)", "$2")
    retired_identities: str = SELECT_RETIRED_IDENTITIES.format("$1", "$2")
    purge_retired_identities: str = PURGE_RETIRED_IDENTITIES.format("$1", "$2")
    tenant_exists: str = "SELECT 1 FROM tenants WHERE tenant_id = $1"
    insert_presentation: str = (
        f"INSERT INTO presentation_transactions ({PRESENTATION_COLUMNS}) "  # noqa: S608
        f"VALUES ({', '.join(f'${n}' for n in range(1, PRESENTATION_COLUMN_COUNT + 1))}) "
        "ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
    )
    presentation: str = SELECT_PRESENTATION + "WHERE transaction_id = $1 AND tenant_id = $2"
    presentation_by_request: str = SELECT_PRESENTATION + "WHERE tenant_id = $1 AND request_id = $2"
    purge_presentations: str = "DELETE FROM presentation_transactions WHERE expires_at < $1"
    update_presentation: str = _update_by_version(
        "presentation_transactions", PRESENTATION_CHANGE_COLUMNS, "transaction_id"
    )


TENANTS: Final = TenantStatements()
CREDENTIALS: Final = CredentialStatements()
WALLET_SESSIONS: Final = WalletSessionStatements()
ISSUER_KEYS: Final = IssuerKeyStatements()
PRESENTATIONS: Final = PresentationStatements()
