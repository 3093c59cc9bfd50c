"""The wallet-protocol half of the store (`WalletSessionStore`), in SQLite.

Writes run in the store's one writer (group commit); the conditional ones read and write
in one function, so the writer's lock makes each compare-and-set atomic. Point reads by a
unique key go through the event loop's own reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

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
from eudi_connect.store.sqlite.access import SqliteAccess, insert_or_existing
from eudi_connect.store.wallet_sessions import (
    PROOF_KEY_USED,
    AccessTokenRecord,
    OfferRecord,
    OnceScope,
    OnceValue,
    WalletPolicyRecord,
)

_SQL: Final = WALLET_SESSIONS.in_sqlite()
_OFFER_BY: Final = {key: SELECT_OFFER + f"WHERE {key} = ? AND tenant_id = ?" for key in OFFER_KEYS}


class SqliteWalletSessions(SqlWalletSessions, SqliteAccess):
    async def create_offer(self, offer: OfferRecord) -> OfferRecord:
        def work(conn: sqlite3.Connection) -> OfferRecord:
            row = insert_or_existing(
                conn,
                _SQL.insert_offer,
                offer_values(offer),
                _SQL.offer_by_request,
                (offer.tenant_id, offer.request_id),
            )
            return offer if row is None else offer_record(row)

        return await self._write(work)

    async def _offer_by(
        self, key: OfferKey, value: str | bytes, tenant_id: str
    ) -> OfferRecord | None:
        row = await self._fetch_point(_OFFER_BY[key], (value, tenant_id))
        return None if row is None else offer_record(row)

    async def _change_offer(
        self, tenant_id: str, offer_id: str, decide: OfferDecision, token: AccessTokenRecord | None
    ) -> OfferRecord | None:
        def work(conn: sqlite3.Connection) -> OfferRecord | None:
            row = conn.execute(_OFFER_BY["offer_id"], (offer_id, tenant_id)).fetchone()
            if row is None:
                return None
            current = offer_record(row)
            updated = decide(current)
            if updated is None:
                return None
            conn.execute(
                _SQL.update_offer,
                (*offer_change_values(updated), tenant_id, offer_id, current.version),
            )
            if token is not None:
                conn.execute(_SQL.insert_token, token_values(token))
            return updated

        return await self._write(work)

    async def get_access_token(self, token_hash: bytes) -> AccessTokenRecord | None:
        row = await self._fetch_point(_SQL.token, (token_hash,))
        return None if row is None else token_record(row)

    async def remember_once(
        self, tenant_id: str, scope: OnceScope, value: str, expires_at: int, now: int
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return _record_once(conn, tenant_id, OnceValue(scope, value, expires_at), now)

        return await self._write(work)

    async def _claim(
        self, tenant_id: str, values: Sequence[OnceValue], now: int, keys: KeyClaim
    ) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            conn.execute("SAVEPOINT claim_once")
            refused = _claim_in(conn, tenant_id, values, now, keys)
            if refused is not None:
                conn.execute("ROLLBACK TO claim_once")
            conn.execute("RELEASE claim_once")
            return refused

        return await self._write(work, rows=len(values) + len(keys.thumbprints))

    async def purge_wallet_sessions(self, now: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            removed = 0
            for table in EXPIRING_TABLES:
                removed += conn.execute(
                    f"DELETE FROM {table} WHERE expires_at <= ?",  # noqa: S608 constant names
                    (now,),
                ).rowcount
            return removed

        return await self._write(work)

    async def get_wallet_policy(self, tenant_id: str) -> WalletPolicyRecord | None:
        row = await self._fetch_point(_SQL.policy, (tenant_id,))
        return None if row is None else policy_record(row)

    async def put_wallet_policy(self, policy: WalletPolicyRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_SQL.put_policy, policy_values(policy))

        await self._write(work)


def _record_once(conn: sqlite3.Connection, tenant_id: str, once: OnceValue, now: int) -> bool:
    # An expired record of the same value no longer counts: replace it.
    conn.execute(
        "DELETE FROM wallet_once WHERE tenant_id = ? AND scope = ? AND value = ? "
        "AND expires_at <= ?",
        (tenant_id, once.scope, once.value, now),
    )
    return bool(
        conn.execute(
            "INSERT INTO wallet_once (tenant_id, scope, value, expires_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (tenant_id, once.scope, once.value, once.expires_at),
        ).rowcount
    )


def _claim_in(
    conn: sqlite3.Connection,
    tenant_id: str,
    values: Sequence[OnceValue],
    now: int,
    keys: KeyClaim,
) -> str | None:
    """What `claim_once` refuses, if anything; the caller rolls back when it does. The
    writer holds the write lock (BEGIN IMMEDIATE), so the count cannot change under it."""
    for once in values:
        if not _record_once(conn, tenant_id, once, now):
            return once.scope
    if not keys.thumbprints:
        return None
    owner = conn.execute(
        "SELECT 1 FROM credential_offers WHERE offer_id = ? AND tenant_id = ?",
        (keys.offer_id, tenant_id),
    ).fetchone()
    claimed = 0
    if keys.max_keys is not None:
        (claimed,) = conn.execute(
            _SQL.claimed_keys, (keys.offer_id, keys.configuration_id)
        ).fetchone()
    refused = keys.refusal(offer_found=owner is not None, claimed=claimed)
    if refused is not None:
        return refused
    try:
        conn.executemany(
            "INSERT INTO offer_proof_keys (offer_id, key_thumb, configuration_id) VALUES (?, ?, ?)",
            [(keys.offer_id, thumb, keys.configuration_id) for thumb in keys.thumbprints],
        )
    except sqlite3.IntegrityError:
        return PROOF_KEY_USED
    return None
