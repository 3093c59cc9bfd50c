"""What the verifier persists: each tenant's verifier identity and its presentation
transactions (OpenID4VP).

A wallet may fetch the request object from one instance and answer at another, so every
fact of a transaction is in the store: the DCQL query, the nonce and `state`, the client
identifier and response mode, the per-request response encryption key (encrypted with the
master key, like issuer keys), the expiry and, once answered, the results.

A response is accepted once: `claim_presentation_response` moves the transaction from
PENDING or RETRIEVED to RESPONDED in one conditional update, so of two responses (or one
replayed to two instances) exactly one proceeds. Every change bumps `version`, which is
what WatchPresentation polls for.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

PresentationStateName = Literal[
    "PENDING", "RETRIEVED", "RESPONDED", "VERIFIED", "FAILED", "EXPIRED"
]
#: States a wallet's response may still arrive in.
OPEN_PRESENTATION_STATES: frozenset[str] = frozenset({"PENDING", "RETRIEVED"})
#: States after which nothing about a transaction changes any more.
FINAL_PRESENTATION_STATES: frozenset[str] = frozenset({"VERIFIED", "FAILED", "EXPIRED"})


@dataclass(frozen=True)
class VerifierIdentityRecord:
    """A tenant's verifier key (PKCS #8, encrypted) and its certificate chain (DER, leaf
    first; the CA's certificate after it when a CA signed the leaf)."""

    tenant_id: str
    dns_name: str
    kid: str
    private_key_encrypted: bytes = field(repr=False)
    certificate_chain: tuple[bytes, ...] = field(repr=False)
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class PresentationRecord:
    transaction_id: str
    tenant_id: str
    request_id: str | None
    state: PresentationStateName
    client_id: str
    response_mode: str
    dcql_query: str  # the query as JSON text, as the request carries it
    nonce: str = field(repr=False)
    state_value: str | None = field(repr=False)  # the request's `state` (None: DC API)
    response_uri: str | None
    request_uri: str | None
    request_uri_method: str  # "get" or "post"
    redirect_uri: str | None
    expected_origins: tuple[str, ...]
    transaction_data: tuple[str, ...]  # base64url entries, as sent
    policy: str  # the verification policy as JSON text
    # The private response encryption JWK, encrypted with the master key (None: no
    # encrypted response was asked for, or the transaction is finished).
    encryption_key_encrypted: bytes | None = field(repr=False)
    enc_values: tuple[str, ...]  # what the request advertised (after a wallet POST, ours ∩ its)
    created_at: int
    expires_at: int
    updated_at: int
    version: int = 1
    results: str = ""  # JSON: the verification of every presentation, once answered
    failure_reason: str = ""
    failure_detail: str = ""
    response_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PresentationOutcome:
    """What `finish_presentation` writes once a response is verified (or refused)."""

    state: PresentationStateName
    results: str = ""
    failure_reason: str = ""
    failure_detail: str = ""
    response_code: str | None = None


class PresentationStore(abc.ABC):
    """The verifier half of the Store interface."""

    @abc.abstractmethod
    async def get_verifier_identity(self, tenant_id: str) -> VerifierIdentityRecord | None: ...

    @abc.abstractmethod
    async def ensure_verifier_identity(
        self, candidate: VerifierIdentityRecord
    ) -> VerifierIdentityRecord:
        """Stores `candidate` unless the tenant has an identity; returns the stored one
        (so racing instances agree on one key)."""

    @abc.abstractmethod
    async def put_verifier_identity(
        self, identity: VerifierIdentityRecord, *, retire_until: int
    ) -> None:
        """Replaces the tenant's identity (a new DNS name gets a new key and certificate);
        the one it replaces is kept, retired, until `retire_until` (requests made with it
        are still signed with it), and retired ones past their time are deleted.
        NotFoundError (TENANT_NOT_FOUND) for an unknown tenant."""

    @abc.abstractmethod
    async def retired_verifier_identities(
        self, tenant_id: str, now: int
    ) -> list[VerifierIdentityRecord]:
        """The tenant's retired identities still usable at `now`, newest first."""

    @abc.abstractmethod
    async def create_presentation(self, record: PresentationRecord) -> PresentationRecord:
        """Inserts the transaction; with a request_id the tenant used before, returns the
        transaction stored under it instead."""

    @abc.abstractmethod
    async def get_presentation(
        self, tenant_id: str, transaction_id: str
    ) -> PresentationRecord | None: ...

    @abc.abstractmethod
    async def mark_presentation_retrieved(
        self, tenant_id: str, transaction_id: str, enc_values: Sequence[str], now: int
    ) -> PresentationRecord | None:
        """PENDING or RETRIEVED and not expired -> RETRIEVED with the `enc_values` the
        request object now advertises; None otherwise (answered, final or expired)."""

    @abc.abstractmethod
    async def claim_presentation_response(
        self, tenant_id: str, transaction_id: str, now: int
    ) -> PresentationRecord | None:
        """PENDING or RETRIEVED and not expired -> RESPONDED, atomically: None when another
        response was claimed first (on any instance), or the request expired."""

    @abc.abstractmethod
    async def finish_presentation(
        self, tenant_id: str, transaction_id: str, outcome: PresentationOutcome, now: int
    ) -> PresentationRecord | None:
        """RESPONDED -> `outcome.state` with its results, the encryption key removed; None
        when it was not RESPONDED."""

    @abc.abstractmethod
    async def purge_presentations(self, expired_before: int) -> int:
        """Deletes the transactions that expired before `expired_before`, results and all;
        returns how many."""
