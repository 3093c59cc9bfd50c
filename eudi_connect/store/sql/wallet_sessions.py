"""The wallet-session methods of both SQL stores whose logic does not depend on the
database (`WalletSessionStore`): offer lookups, the two compare-and-set changes of an
offer, and what `claim_once` refuses.

Each backend supplies one read of an offer by a unique column (`_offer_by`), one locked
read-decide-write of an offer (`_change_offer`) and the claim's transaction (`_claim`),
which asks `KeyClaim.refusal` before it inserts any key.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from eudi_connect.store.rows import offer_redemption, offer_update
from eudi_connect.store.wallet_sessions import (
    COPIES_EXHAUSTED,
    PROOF_KEY_USED,
    AccessTokenRecord,
    OfferChange,
    OfferRecord,
    OnceValue,
)

#: The unique columns an offer is found by (each together with its tenant).
OfferKey = Literal["offer_id", "code_hash", "transaction_id", "notification_id"]
OFFER_KEYS: Final[tuple[OfferKey, ...]] = (
    "offer_id",
    "code_hash",
    "transaction_id",
    "notification_id",
)
#: What `_change_offer` writes, given the offer as it is now; None writes nothing.
OfferDecision = Callable[[OfferRecord], OfferRecord | None]


@dataclass(frozen=True)
class KeyClaim:
    """The holder keys one credential request claims for a configuration of an offer."""

    offer_id: str | None
    configuration_id: str
    thumbprints: Sequence[str]
    max_keys: int | None

    def refusal(self, *, offer_found: bool, claimed: int) -> str | None:
        """Why the keys cannot be claimed, judged under the offer's lock before any is
        inserted: the offer is not the tenant's, or they would pass `max_keys` with the
        `claimed` ones. A key claimed before is found by the insert itself."""
        if not offer_found:
            return PROOF_KEY_USED
        if self.max_keys is not None and claimed + len(self.thumbprints) > self.max_keys:
            return COPIES_EXHAUSTED
        return None


class SqlWalletSessions(abc.ABC):
    async def get_offer(self, tenant_id: str, offer_id: str) -> OfferRecord | None:
        return await self._offer_by("offer_id", offer_id, tenant_id)

    async def find_offer_by_code(self, tenant_id: str, code_hash: bytes) -> OfferRecord | None:
        return await self._offer_by("code_hash", code_hash, tenant_id)

    async def find_offer_by_transaction(
        self, tenant_id: str, transaction_id: str
    ) -> OfferRecord | None:
        return await self._offer_by("transaction_id", transaction_id, tenant_id)

    async def find_offer_by_notification(
        self, tenant_id: str, notification_id: str
    ) -> OfferRecord | None:
        return await self._offer_by("notification_id", notification_id, tenant_id)

    async def update_offer(
        self, tenant_id: str, offer_id: str, expected_version: int, change: OfferChange, now: int
    ) -> OfferRecord | None:
        def decide(current: OfferRecord) -> OfferRecord | None:
            return offer_update(current, expected_version, change, now)

        return await self._change_offer(tenant_id, offer_id, decide, None)

    async def redeem_offer(
        self, offer: OfferRecord, token: AccessTokenRecord, now: int
    ) -> OfferRecord | None:
        def decide(current: OfferRecord) -> OfferRecord | None:
            return offer_redemption(current, offer, now)

        return await self._change_offer(offer.tenant_id, offer.offer_id, decide, token)

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
        keys = KeyClaim(offer_id, configuration_id, tuple(key_thumbprints), max_keys)
        return await self._claim(tenant_id, values, now, keys)

    # --- what each backend supplies ------------------------------------------------------

    @abc.abstractmethod
    async def _offer_by(
        self, key: OfferKey, value: str | bytes, tenant_id: str
    ) -> OfferRecord | None:
        """The tenant's offer whose `key` column holds `value`."""

    @abc.abstractmethod
    async def _change_offer(
        self, tenant_id: str, offer_id: str, decide: OfferDecision, token: AccessTokenRecord | None
    ) -> OfferRecord | None:
        """In one transaction that holds the offer: reads it, writes what `decide` makes
        of it (compare-and-set on the version read; `decide` refuses a version other than
        the caller's) and stores `token`, if any; the offer written, None when there was
        nothing to write or another writer won."""

    @abc.abstractmethod
    async def _claim(
        self, tenant_id: str, values: Sequence[OnceValue], now: int, keys: KeyClaim
    ) -> str | None:
        """`claim_once` in one transaction: every value recorded and, when there are
        thumbprints, every key inserted after `keys.refusal` allowed them, or nothing."""
