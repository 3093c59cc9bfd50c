"""What the wallet protocols persist: credential offers, access tokens, the records that
make one-time values one-time (DPoP and attestation PoP jti, c_nonces once used, the keys
an offer issued to), and each tenant's wallet policy.

Every instance of the service reads and writes these through the store, so a wallet may
reach a different instance at each step of a flow. Secrets that are only ever compared
(access tokens) are stored as SHA-256 hashes; an offer keeps its own JSON, pre-authorized
code included, because `credential_offer_uri` serves it. c_nonces are stateless until
used (`core.oid4vci.c_nonce`), so handing one out writes nothing.

Changes to an offer are compare-and-set on its `version`: two instances that race on one
offer (two token requests with one code, two credential requests with one token) see
exactly one winner, and the loser re-reads.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

OfferStateName = Literal[
    "OFFERED",
    "TOKEN_ISSUED",
    "DEFERRED",
    "CREDENTIALS_ISSUED",
    "ACCEPTED",
    "FAILED",
    "DELETED",
    "EXPIRED",
]
#: States after which nothing about an offer changes any more.
FINAL_OFFER_STATES: frozenset[str] = frozenset({"ACCEPTED", "FAILED", "DELETED", "EXPIRED"})
#: Scopes of one-time values: DPoP proof jti, wallet attestation PoP jti, c_nonce.
OnceScope = Literal["dpop", "client_attestation", "c_nonce"]
#: What `claim_once` reports for a key the offer issued to before, and for keys beyond
#: the copies the offer has left.
PROOF_KEY_USED = "proof_key"
COPIES_EXHAUSTED = "copies"


@dataclass(frozen=True)
class OfferedItem:
    """One credential configuration of an offer."""

    configuration_id: str
    template_id: str
    format: str


@dataclass(frozen=True)
class OfferRecord:
    offer_id: str
    tenant_id: str
    request_id: str | None
    state: OfferStateName
    items: tuple[OfferedItem, ...]
    subject: Mapping[str, Any] | None  # None while a deferred offer waits for its data
    deferred: bool
    max_copies: int  # per configuration
    validity_seconds: int | None
    offer_json: str
    code_hash: bytes = field(repr=False)  # SHA-256 of the pre-authorized code
    tx_code: str | None = field(repr=False)
    tx_code_attempts_left: int
    created_at: int
    expires_at: int
    updated_at: int
    version: int = 1
    credential_ids: tuple[str, ...] = ()
    # Copies already issued, by configuration id.
    copies_issued: Mapping[str, int] = field(default_factory=dict)
    failure_reason: str = ""
    transaction_id: str | None = None  # deferred issuance, once the wallet asked
    notification_id: str | None = None  # once credentials were issued
    # The configuration and holder keys of the pending deferred request (public JWKs).
    deferred_request: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AccessTokenRecord:
    token_hash: bytes = field(repr=False)
    tenant_id: str
    offer_id: str
    dpop_jkt: str  # RFC 7638 thumbprint of the DPoP key the token is bound to
    client_id: str | None  # the attested wallet, None with anonymous access
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class OnceValue:
    """A value to record once, for as long as it could be presented again."""

    scope: OnceScope
    value: str
    expires_at: int


@dataclass(frozen=True)
class WalletPolicyRecord:
    """A tenant's wallet policy as the JSON document `services.wallet_policy` writes."""

    tenant_id: str
    document: Mapping[str, Any]
    updated_at: int


@dataclass(frozen=True)
class OfferChange:
    """The fields a compare-and-set update sets. None leaves a field as it is; for
    `transaction_id` and `deferred_request`, an empty value clears it."""

    state: OfferStateName | None = None
    subject: Mapping[str, Any] | None = None
    tx_code_attempts_left: int | None = None
    add_credential_ids: Sequence[str] = ()
    copies_issued: Mapping[str, int] | None = None
    failure_reason: str | None = None
    transaction_id: str | None = None
    notification_id: str | None = None
    deferred_request: Mapping[str, Any] | None = None


class WalletSessionStore(abc.ABC):
    """The wallet-protocol half of the Store interface."""

    @abc.abstractmethod
    async def create_offer(self, offer: OfferRecord) -> OfferRecord:
        """Inserts the offer; with a request_id the tenant used before, returns the offer
        stored under it instead (idempotent creation, AIP-155)."""

    @abc.abstractmethod
    async def get_offer(self, tenant_id: str, offer_id: str) -> OfferRecord | None: ...

    @abc.abstractmethod
    async def find_offer_by_code(self, tenant_id: str, code_hash: bytes) -> OfferRecord | None:
        """The offer whose pre-authorized code hashes to `code_hash`."""

    @abc.abstractmethod
    async def find_offer_by_transaction(
        self, tenant_id: str, transaction_id: str
    ) -> OfferRecord | None: ...

    @abc.abstractmethod
    async def find_offer_by_notification(
        self, tenant_id: str, notification_id: str
    ) -> OfferRecord | None: ...

    @abc.abstractmethod
    async def update_offer(
        self, tenant_id: str, offer_id: str, expected_version: int, change: OfferChange, now: int
    ) -> OfferRecord | None:
        """Applies `change` when the stored version is `expected_version` (and bumps it,
        setting updated_at = now); None when another writer got there first."""

    @abc.abstractmethod
    async def redeem_offer(
        self, offer: OfferRecord, token: AccessTokenRecord, now: int
    ) -> OfferRecord | None:
        """One transaction: offer OFFERED at `offer.version` -> TOKEN_ISSUED, and the token
        stored. None when the code was redeemed (or the offer changed) meanwhile."""

    @abc.abstractmethod
    async def get_access_token(self, token_hash: bytes) -> AccessTokenRecord | None: ...

    @abc.abstractmethod
    async def remember_once(
        self, tenant_id: str, scope: OnceScope, value: str, expires_at: int, now: int
    ) -> bool:
        """Records a one-time value; False when it was recorded before and has not expired
        (a replay)."""

    @abc.abstractmethod
    async def claim_once(
        self,
        tenant_id: str,
        values: Sequence[OnceValue],
        now: int,
        *,
        offer_id: str | None = None,
        configuration_id: str = "",
        key_thumbprints: Sequence[str] = (),
        max_keys: int | None = None,
    ) -> str | None:
        """One transaction: records every value and claims every key for the offer's
        credential configuration: no offer issues two credentials to one key, nor more
        than `max_keys` for one configuration, however many requests race. None when all
        was new; otherwise the scope of the first value recorded before and not expired,
        PROOF_KEY_USED or COPIES_EXHAUSTED, and nothing is recorded."""

    @abc.abstractmethod
    async def purge_wallet_sessions(self, now: int) -> int:
        """Deletes expired tokens and one-time values; returns how many."""

    @abc.abstractmethod
    async def get_wallet_policy(self, tenant_id: str) -> WalletPolicyRecord | None:
        """The tenant's wallet policy; None when it never set one (the defaults apply)."""

    @abc.abstractmethod
    async def put_wallet_policy(self, policy: WalletPolicyRecord) -> None:
        """Stores the tenant's wallet policy, replacing the one before."""
