"""The wallet-protocol half of the store (`WalletSessionStore`), in PostgreSQL.

Compare-and-set updates are one UPDATE ... WHERE version = $n, so two instances that
race on one offer see one winner; multi-statement changes run in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eudi_connect.store.postgres.access import PostgresAccess, insert_or_existing
from eudi_connect.store.rows import (
    EXPIRING_TABLES,
    SELECT_OFFER,
    offer_change_values,
    offer_record,
    offer_values,
    policy_record,
    policy_values,
    token_record,
    token_values,
)
from eudi_connect.store.sql.statements import WALLET_SESSIONS
from eudi_connect.store.sql.wallet_sessions import (
    OFFER_KEYS,
    KeyClaim,
    OfferDecision,
    OfferKey,
    SqlWalletSessions,
)
from eudi_connect.store.wallet_sessions import (
    PROOF_KEY_USED,
    AccessTokenRecord,
    OfferRecord,
    OnceScope,
    OnceValue,
    WalletPolicyRecord,
)

_SQL: Final = WALLET_SESSIONS
_OFFER_BY: Final = {
    key: SELECT_OFFER + f"WHERE {key} = $1 AND tenant_id = $2" for key in OFFER_KEYS
}
_OFFER_FOR_UPDATE: Final = _OFFER_BY["offer_id"] + " FOR UPDATE"
# A fresh value is inserted; an expired record of the same value is taken over; a live one
# leaves the row as it is and returns nothing (a replay).
_RECORD_ONCE: Final = (
    "INSERT INTO wallet_once (tenant_id, scope, value, expires_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, scope, value) DO UPDATE "
    "SET expires_at = EXCLUDED.expires_at WHERE wallet_once.expires_at <= $5 "
    "RETURNING 1"
)


class PostgresWalletSessions(SqlWalletSessions, PostgresAccess):
    async def create_offer(self, offer: OfferRecord) -> OfferRecord:
        async with self._transaction() as connection:
            row = await insert_or_existing(
                connection,
                _SQL.insert_offer,
                offer_values(offer),
                _SQL.offer_by_request,
                offer.tenant_id,
                offer.request_id,
            )
        return offer if row is None else offer_record(tuple(row))

    async def _offer_by(
        self, key: OfferKey, value: str | bytes, tenant_id: str
    ) -> OfferRecord | None:
        row = await self._fetch_one(_OFFER_BY[key], value, tenant_id)
        return None if row is None else offer_record(tuple(row))

    async def _change_offer(
        self, tenant_id: str, offer_id: str, decide: OfferDecision, token: AccessTokenRecord | None
    ) -> OfferRecord | None:
        async with self._transaction() as connection:
            row = await connection.fetchrow(_OFFER_FOR_UPDATE, offer_id, tenant_id)
            if row is None:
                return None
            current = offer_record(tuple(row))
            updated = decide(current)
            if updated is None:
                return None
            status = await connection.execute(
                _SQL.update_offer,
                *offer_change_values(updated),
                tenant_id,
                offer_id,
                current.version,
            )
            if not status.endswith(" 1"):
                return None
            if token is not None:
                await connection.execute(_SQL.insert_token, *token_values(token))
            return updated

    async def get_access_token(self, token_hash: bytes) -> AccessTokenRecord | None:
        row = await self._fetch_one(_SQL.token, token_hash)
        return None if row is None else token_record(tuple(row))

    async def remember_once(
        self, tenant_id: str, scope: OnceScope, value: str, expires_at: int, now: int
    ) -> bool:
        row = await self._fetch_one(_RECORD_ONCE, tenant_id, scope, value, expires_at, now)
        return row is not None

    async def _claim(
        self, tenant_id: str, values: Sequence[OnceValue], now: int, keys: KeyClaim
    ) -> str | None:
        try:
            async with self._transaction() as connection:
                for once in values:
                    row = await connection.fetchrow(
                        _RECORD_ONCE, tenant_id, once.scope, once.value, once.expires_at, now
                    )
                    if row is None:
                        raise _ClaimRefused(once.scope)
                if keys.thumbprints:
                    await _claim_keys(connection, tenant_id, keys)
        except _ClaimRefused as refused:
            return refused.what
        return None

    async def purge_wallet_sessions(self, now: int) -> int:
        removed = 0
        async with self._connection() as connection:
            for table in EXPIRING_TABLES:
                status = await connection.execute(
                    f"DELETE FROM {table} WHERE expires_at <= $1",  # noqa: S608 constant names
                    now,
                )
                removed += int(status.rsplit(" ", 1)[-1])
        return removed

    async def get_wallet_policy(self, tenant_id: str) -> WalletPolicyRecord | None:
        row = await self._fetch_one(_SQL.policy, tenant_id)
        return None if row is None else policy_record(tuple(row))

    async def put_wallet_policy(self, policy: WalletPolicyRecord) -> None:
        async with self._connection() as connection:
            await connection.execute(_SQL.put_policy, *policy_values(policy))


async def _claim_keys(connection: Any, tenant_id: str, keys: KeyClaim) -> None:
    # The offer's row lock serializes claims on one offer across instances, so the
    # count below cannot change before this transaction commits.
    owner = await connection.fetchrow(
        "SELECT 1 FROM credential_offers WHERE offer_id = $1 AND tenant_id = $2 FOR UPDATE",
        keys.offer_id,
        tenant_id,
    )
    claimed = 0
    if keys.max_keys is not None:
        claimed = await connection.fetchval(_SQL.claimed_keys, keys.offer_id, keys.configuration_id)
    refused = keys.refusal(offer_found=owner is not None, claimed=claimed)
    if refused is not None:
        raise _ClaimRefused(refused)
    inserted = await connection.fetch(
        "INSERT INTO offer_proof_keys (offer_id, key_thumb, configuration_id) "
        "SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING RETURNING key_thumb",
        keys.offer_id,
        list(keys.thumbprints),
        keys.configuration_id,
    )
    if len(inserted) != len(keys.thumbprints):
        raise _ClaimRefused(PROOF_KEY_USED)  # one was claimed before: undo the lot


class _ClaimRefused(Exception):
    """Rolls the claim's transaction back; never leaves this module."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
