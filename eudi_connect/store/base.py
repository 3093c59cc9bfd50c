"""The Store interface: everything the services persist, independent of the database.

Backends: `sqlite` (embedded default, sqlite3 on threads of its own) and `postgres`
(asyncpg). Services generate ids and timestamps (unix seconds); stores persist them and
enforce uniqueness (tenant + request_id, list + index) in the database, never by
check-then-insert.

One module on purpose although it is over 400 lines: it is one contract, read as a whole
by whoever writes a backend, and the contract tests (`tests/store/test_store_contract.py`)
check each promise its docstrings make. The wallet half lives in `store/wallet_sessions.py`;
what the two SQL backends share in implementing it is in `store/sql/`, `store/rows.py` and
`store/checks.py`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eudi_connect.store.presentations import PresentationStore
from eudi_connect.store.wallet_sessions import WalletSessionStore


@dataclass(frozen=True)
class TenantRecord:
    tenant_id: str
    name: str
    created_at: int
    # The base URL its credentials name (`iss`, status list URIs); None until first used,
    # then fixed by `fix_tenant_public_url`.
    public_url: str | None = None


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    tenant_id: str
    secret_hash: bytes = field(repr=False)
    created_at: int
    label: str = ""
    # Unix seconds; None: never expires / not revoked / not used yet (coarse, see
    # `touch_api_key`).
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None


@dataclass(frozen=True)
class IssuerKeyRecord:
    kid: str
    tenant_id: str
    private_key_encrypted: bytes = field(repr=False)
    public_jwk: dict[str, Any]
    created_at: int
    retired_at: int | None = None
    # DER X.509 certificate of the key (mdoc x5chain, SD-JWT x5c); None only for keys made
    # before certificates existed, until `set_issuer_key_certificate` gives them one.
    certificate: bytes | None = field(default=None, repr=False)
    # What the key signs ('credential' or 'status'), where it lives ('software' or
    # 'pkcs11'), and for a token key where in the token (JSON members, never the PIN).
    purpose: str = "credential"
    backend: str = "software"
    key_ref: dict[str, Any] | None = None
    # A retired key is published until then; None: until it is known (kept meanwhile).
    published_until: int | None = None


@dataclass(frozen=True)
class KeySettingsRecord:
    """Where a tenant's new keys of one purpose are made, and when they are rotated."""

    tenant_id: str
    purpose: str
    backend: str
    updated_at: int
    # The PKCS#11 token (module, token_label or slot, pin_file or pin_env, key_label).
    token: dict[str, Any] | None = None
    max_age_seconds: int | None = None


@dataclass(frozen=True)
class StatusListRecord:
    status_list_id: str
    tenant_id: str
    size: int
    bits: int
    permutation_key: bytes = field(repr=False)
    next_position: int
    version: int
    created_at: int


@dataclass(frozen=True)
class PositionLease:
    """Positions [start, start + count) of one list, claimed for this process alone.

    The index handed out for position p is the list's permutation of p, so indices are
    random-looking and never repeat. Positions leased but not used are skipped forever.
    """

    status_list_id: str
    size: int
    permutation_key: bytes = field(repr=False)
    start: int
    count: int


@dataclass(frozen=True)
class NewCredential:
    credential_id: str
    tenant_id: str
    request_id: str | None
    template_id: str
    format: str
    credential: str = field(repr=False)
    status_list_id: str
    status_index: int
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class CredentialRecord:
    credential_id: str
    tenant_id: str
    request_id: str | None
    template_id: str
    format: str
    credential: str = field(repr=False)
    status_list_id: str
    status_index: int
    issued_at: int
    expires_at: int
    status: int
    status_updated_at: int | None = None


@dataclass(frozen=True)
class InsertOutcome:
    """`existing` is set when the tenant had already used the row's request_id."""

    inserted: bool
    record: CredentialRecord


#: What a stored template is; the kind decides the shape of `TemplateRecord.definition`.
TemplateKind = Literal["credential", "notification"]


@dataclass(frozen=True)
class TemplateRecord:
    """A tenant's template as stored (built-ins are never stored).

    `definition` is a JSON object whose shape depends on `kind` (the services validate it
    and own its layout; stores persist it verbatim as JSON and hand back an equal dict).
    `version` is assigned by the store: 1 on first creation, +1 on every update and on
    deletion, and it continues from the deleted row's version when the same id is created
    again, so (tenant_id, template_id, version) never names two different contents. Caches
    and etags are keyed by it.
    """

    tenant_id: str
    template_id: str
    kind: TemplateKind
    definition: Mapping[str, Any]
    description: str
    version: int
    created_at: int
    updated_at: int


#: What a trust entry is; the kind decides the shape of `TrustEntryRecord.document`.
TrustEntryKind = Literal["issuer", "anchor"]


@dataclass(frozen=True)
class TrustEntryRecord:
    """One thing a tenant's verifications trust: an issuer (by `iss`) or an X.509 anchor.

    `document` is a JSON object the services own; stores keep it verbatim.
    """

    tenant_id: str
    kind: TrustEntryKind
    entry_id: str
    document: Mapping[str, Any]
    created_at: int


@dataclass(frozen=True)
class StatusChange:
    """Result of a conditional status update; `changed` is False when the precondition failed."""

    changed: bool
    record: CredentialRecord


class Store(WalletSessionStore, PresentationStore):
    """Async persistence for tenants, keys, status lists and credentials."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connects and applies pending migrations."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finishes queued writes, then closes every connection."""

    # --- meta ------------------------------------------------------------------------
    @abc.abstractmethod
    async def get_or_set_meta(self, key: str, value: bytes) -> bytes:
        """Stores `value` under `key` unless one is there; returns the stored value."""

    # --- tenants and API keys ----------------------------------------------------------
    @abc.abstractmethod
    async def create_tenant(self, tenant: TenantRecord, api_key: ApiKeyRecord) -> None: ...

    @abc.abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    async def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...

    @abc.abstractmethod
    async def create_api_key(self, api_key: ApiKeyRecord, *, max_live: int, now: int) -> None:
        """Adds a key to an existing tenant, durably.

        Raises NotFoundError(reason="TENANT_NOT_FOUND") for an unknown tenant,
        ResourceExhaustedError(reason="API_KEY_LIMIT") when the tenant already has
        `max_live` keys that are neither revoked nor expired at `now` (checked and inserted
        atomically), AlreadyExistsError(reason="API_KEY_EXISTS") for a clashing key id.
        """

    @abc.abstractmethod
    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        """Every key of the tenant, revoked and expired ones included, oldest first."""

    @abc.abstractmethod
    async def revoke_api_key(
        self, tenant_id: str, key_id: str, revoked_at: int
    ) -> ApiKeyRecord | None:
        """Marks the tenant's key revoked (a key revoked before keeps its first time) and
        returns it as stored; None when the tenant has no key with that id."""

    @abc.abstractmethod
    async def touch_api_key(self, key_id: str, used_at: int) -> None:
        """Records a use of the key, unless a later one is recorded (no error for an
        unknown key): the caller writes at most one use per key a minute, never per call."""

    @abc.abstractmethod
    async def fix_tenant_public_url(self, tenant_id: str, public_url: str) -> str | None:
        """Sets the tenant's public URL unless it has one; returns the stored one (the
        first writer's, when instances race), None for an unknown tenant."""

    @abc.abstractmethod
    async def list_tenant_public_urls(self) -> list[str]:
        """The distinct public URLs fixed for tenants, sorted."""

    # --- issuer keys -------------------------------------------------------------------
    @abc.abstractmethod
    async def ensure_active_issuer_key(self, candidate: IssuerKeyRecord) -> IssuerKeyRecord:
        """Inserts `candidate` unless the tenant has an active key; returns the active key."""

    @abc.abstractmethod
    async def rotate_issuer_key(
        self, new_key: IssuerKeyRecord, retired_at: int, *, replacing: str | None = None
    ) -> bool:
        """Retires the tenant's active key of `new_key.purpose` (it keeps verifying) and
        activates `new_key`. With `replacing`, only if that kid is the active key (or there
        is none): False, and nothing changed, when another rotation came first."""

    @abc.abstractmethod
    async def set_issuer_key_published_until(self, kid: str, published_until: int) -> None:
        """Fixes until when a retired key stays in the JWKS."""

    @abc.abstractmethod
    async def last_credential_expiry(
        self, tenant_id: str, *, issued_from: int, issued_until: int
    ) -> int | None:
        """The latest `expires_at` of the tenant's credentials issued in that interval
        (inclusive); None when there are none."""

    @abc.abstractmethod
    async def put_key_settings(self, settings: KeySettingsRecord) -> None:
        """Sets (or replaces) the tenant's key settings of `settings.purpose`."""

    @abc.abstractmethod
    async def list_key_settings(self, tenant_id: str | None = None) -> list[KeySettingsRecord]:
        """The key settings of one tenant, or of every tenant (None)."""

    @abc.abstractmethod
    async def list_issuer_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        """All keys of the tenant, retired ones included, newest first."""

    @abc.abstractmethod
    async def set_issuer_key_certificate(self, kid: str, certificate: bytes) -> bytes:
        """Gives a key without a certificate this one; returns the key's certificate, which
        is another instance's when it was quicker. NotFoundError for an unknown kid."""

    # --- status lists ------------------------------------------------------------------
    @abc.abstractmethod
    async def lease_positions(
        self, tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord
    ) -> PositionLease:
        """Claims up to `count` unused positions of the tenant's open list in one transaction.

        When the tenant has no list with free positions, `new_list` is created and leased
        from. The lease may be shorter than `count` when a list is nearly full.
        """

    @abc.abstractmethod
    async def get_status_list(self, status_list_id: str) -> StatusListRecord | None: ...

    @abc.abstractmethod
    async def list_status_entries(self, status_list_id: str) -> list[tuple[int, int]]:
        """(index, status) of every credential on the list whose status is not VALID (0)."""

    # --- credentials -------------------------------------------------------------------
    @abc.abstractmethod
    async def insert_credentials(self, rows: Sequence[NewCredential]) -> list[InsertOutcome]:
        """Durably commits the rows before returning (one outcome per row, in order).

        A row whose (tenant_id, request_id) exists is not inserted; its outcome carries the
        stored record instead. Backends may commit rows of concurrent calls together.
        """

    @abc.abstractmethod
    async def get_credential(
        self, tenant_id: str, credential_id: str
    ) -> CredentialRecord | None: ...

    @abc.abstractmethod
    async def get_credential_by_request_id(
        self, tenant_id: str, request_id: str
    ) -> CredentialRecord | None: ...

    @abc.abstractmethod
    async def get_status_at(self, status_list_id: str, index: int) -> int | None:
        """Status of the credential at that index, None when no credential holds it."""

    @abc.abstractmethod
    async def change_status(
        self,
        tenant_id: str,
        credential_id: str,
        *,
        to_status: int,
        from_statuses: frozenset[int],
        reason: str,
        at: int,
    ) -> StatusChange | None:
        """Sets the status when the current one is in `from_statuses`, durably, and bumps
        the list's version; None when the tenant has no such credential."""

    # --- templates ---------------------------------------------------------------------
    # Rows are unique per (tenant_id, template_id). A deleted template leaves a tombstone
    # (its id and last version) that no read returns, so versions never go backwards.
    # Writes go through the same durable path as other writes and commit before returning.

    @abc.abstractmethod
    async def create_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        kind: TemplateKind,
        definition: Mapping[str, Any],
        description: str,
        created_at: int,
    ) -> TemplateRecord:
        """Inserts a template and returns it as stored (version 1, or the tombstone's
        version + 1 when the id was used before and deleted).

        Raises AlreadyExistsError(reason="TEMPLATE_EXISTS") when the tenant has a live
        template with this id, NotFoundError(reason="TENANT_NOT_FOUND") for an unknown tenant.
        """

    @abc.abstractmethod
    async def get_template(self, tenant_id: str, template_id: str) -> TemplateRecord | None:
        """The tenant's live template with this id, or None (also when deleted)."""

    @abc.abstractmethod
    async def get_template_version(self, tenant_id: str, template_id: str) -> int | None:
        """Only the version of the live template, or None; the issuance hot path calls
        this on every request to validate its in-process cache, so keep it one indexed
        lookup without decoding `definition`."""

    @abc.abstractmethod
    async def list_templates(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        kind: TemplateKind | None = None,
    ) -> list[TemplateRecord]:
        """Up to `limit` live templates of the tenant ordered by template_id (bytewise
        ascending, as Python orders str), starting after `after` (exclusive) when given;
        only those of `kind` when given."""

    @abc.abstractmethod
    async def update_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        definition: Mapping[str, Any],
        description: str,
        expected_version: int,
        updated_at: int,
    ) -> TemplateRecord | None:
        """Replaces definition and description if the live version equals
        `expected_version`, atomically (compare-and-set), bumping the version by one;
        returns the stored record, None when the tenant has no such live template.

        Raises AbortedError(reason="TEMPLATE_ETAG_MISMATCH") when the version differs. The
        kind never changes.
        """

    @abc.abstractmethod
    async def delete_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        expected_version: int | None,
        deleted_at: int,
    ) -> bool:
        """Deletes the live template (leaving a tombstone with version + 1); False when the
        tenant has no such live template.

        With `expected_version`, deletes only that version, atomically, else raises
        AbortedError(reason="TEMPLATE_ETAG_MISMATCH").
        """

    # --- trust configuration -------------------------------------------------------------
    @abc.abstractmethod
    async def add_trust_entry(
        self, entry: TrustEntryRecord, *, max_entries: int | None = None
    ) -> None:
        """Stores the entry durably. Raises AlreadyExistsError(reason="TRUST_ENTRY_EXISTS")
        when the tenant has one of that kind and id, NotFoundError(reason=
        "TENANT_NOT_FOUND") for an unknown tenant, and ResourceExhaustedError(reason=
        "TRUST_ENTRIES_LIMIT") when the tenant already has `max_entries` entries (both
        kinds together), checked atomically with the insert, so concurrent adds through
        any number of instances never pass the limit."""

    @abc.abstractmethod
    async def delete_trust_entry(self, tenant_id: str, kind: TrustEntryKind, entry_id: str) -> bool:
        """Deletes the entry durably; False when the tenant has no such entry."""

    @abc.abstractmethod
    async def list_trust_entries(self, tenant_id: str) -> list[TrustEntryRecord]:
        """Every entry of the tenant, ordered by kind, then entry_id (bytewise)."""
