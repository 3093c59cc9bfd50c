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
    OFFER_COLUMNS,
    OFFER_UPDATE_COLUMNS,
    SELECT_OFFER,
    SELECT_POLICY,
    TOKEN_COLUMNS,
    offer_change_values,
    offer_record,
    offer_redemption,
    offer_update,
    offer_values,
    policy_record,
    policy_values,
    token_record,
    token_values,
)
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.wallet_sessions import (
    AccessTokenRecord,
    OfferChange,
    OfferRecord,
    OnceScope,
    WalletPolicyRecord,
)

_INSERT_OFFER: Final = (
    f"INSERT INTO credential_offers ({OFFER_COLUMNS}) VALUES ({', '.join('?' * 23)}) "  # noqa: S608
    "ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
)
_OFFER: Final = SELECT_OFFER + "WHERE offer_id = ? AND tenant_id = ?"
_UPDATE_OFFER: Final = (
    "UPDATE credential_offers SET "  # noqa: S608 constant columns
    + ", ".join(f"{column} = ?" for column in OFFER_UPDATE_COLUMNS)
    + " WHERE tenant_id = ? AND offer_id = ? AND version = ?"
)
_INSERT_TOKEN: Final = f"INSERT INTO access_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_TOKEN: Final = f"SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = ?"  # noqa: S608


class SqliteWalletSessions(SqliteAccess):
    async def create_offer(self, offer: OfferRecord) -> OfferRecord:
        def work(conn: sqlite3.Connection) -> OfferRecord:
            inserted = conn.execute(_INSERT_OFFER, offer_values(offer)).rowcount
            if inserted == 1:
                return offer
            row = conn.execute(
                SELECT_OFFER + "WHERE tenant_id = ? AND request_id = ?",
                (offer.tenant_id, offer.request_id),
            ).fetchone()
            return offer_record(row)

        return await self._write(work)

    async def get_offer(self, tenant_id: str, offer_id: str) -> OfferRecord | None:
        row = await self._fetch_point(_OFFER, (offer_id, tenant_id))
        return None if row is None else offer_record(row)

    async def find_offer_by_code(self, tenant_id: str, code_hash: bytes) -> OfferRecord | None:
        row = await self._fetch_point(
            SELECT_OFFER + "WHERE code_hash = ? AND tenant_id = ?", (code_hash, tenant_id)
        )
        return None if row is None else offer_record(row)

    async def find_offer_by_transaction(
        self, tenant_id: str, transaction_id: str
    ) -> OfferRecord | None:
        row = await self._fetch_point(
            SELECT_OFFER + "WHERE transaction_id = ? AND tenant_id = ?",
            (transaction_id, tenant_id),
        )
        return None if row is None else offer_record(row)

    async def find_offer_by_notification(
        self, tenant_id: str, notification_id: str
    ) -> OfferRecord | None:
        row = await self._fetch_point(
            SELECT_OFFER + "WHERE notification_id = ? AND tenant_id = ?",
            (notification_id, tenant_id),
        )
        return None if row is None else offer_record(row)

    async def update_offer(
        self, tenant_id: str, offer_id: str, expected_version: int, change: OfferChange, now: int
    ) -> OfferRecord | None:
        def work(conn: sqlite3.Connection) -> OfferRecord | None:
            row = conn.execute(_OFFER, (offer_id, tenant_id)).fetchone()
            if row is None:
                return None
            updated = offer_update(offer_record(row), expected_version, change, now)
            if updated is None:
                return None
            conn.execute(
                _UPDATE_OFFER,
                (*offer_change_values(updated), tenant_id, offer_id, expected_version),
            )
            return updated

        return await self._write(work)

    async def redeem_offer(
        self, offer: OfferRecord, token: AccessTokenRecord, now: int
    ) -> OfferRecord | None:
        def work(conn: sqlite3.Connection) -> OfferRecord | None:
            row = conn.execute(_OFFER, (offer.offer_id, offer.tenant_id)).fetchone()
            if row is None:
                return None
            updated = offer_redemption(offer_record(row), offer, now)
            if updated is None:
                return None
            conn.execute(
                _UPDATE_OFFER,
                (*offer_change_values(updated), offer.tenant_id, offer.offer_id, offer.version),
            )
            conn.execute(_INSERT_TOKEN, token_values(token))
            return updated

        return await self._write(work)

    async def get_access_token(self, token_hash: bytes) -> AccessTokenRecord | None:
        row = await self._fetch_point(_TOKEN, (token_hash,))
        return None if row is None else token_record(row)

    async def add_nonce(self, tenant_id: str, nonce_hash: bytes, expires_at: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO wallet_nonces (nonce_hash, tenant_id, expires_at) VALUES (?, ?, ?)",
                (nonce_hash, tenant_id, expires_at),
            )

        await self._write(work)

    async def consume_nonce(self, tenant_id: str, nonce_hash: bytes, now: int) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM wallet_nonces WHERE nonce_hash = ? AND tenant_id = ? "
                "RETURNING expires_at",
                (nonce_hash, tenant_id),
            ).fetchone()
            return row is not None and int(row[0]) > now

        return await self._write(work)

    async def remember_once(
        self, tenant_id: str, scope: OnceScope, value: str, expires_at: int, now: int
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            # An expired record of the same value no longer counts: replace it.
            conn.execute(
                "DELETE FROM wallet_once WHERE tenant_id = ? AND scope = ? AND value = ? "
                "AND expires_at <= ?",
                (tenant_id, scope, value, now),
            )
            return bool(
                conn.execute(
                    "INSERT INTO wallet_once (tenant_id, scope, value, expires_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (tenant_id, scope, value, expires_at),
                ).rowcount
            )

        return await self._write(work)

    async def claim_proof_keys(
        self, tenant_id: str, offer_id: str, key_thumbprints: Sequence[str]
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            owner = conn.execute(
                "SELECT 1 FROM credential_offers WHERE offer_id = ? AND tenant_id = ?",
                (offer_id, tenant_id),
            ).fetchone()
            if owner is None:
                return False
            conn.execute("SAVEPOINT claim_keys")
            try:
                conn.executemany(
                    "INSERT INTO offer_proof_keys (offer_id, key_thumb) VALUES (?, ?)",
                    [(offer_id, thumb) for thumb in key_thumbprints],
                )
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK TO claim_keys")
                conn.execute("RELEASE claim_keys")
                return False
            conn.execute("RELEASE claim_keys")
            return True

        return await self._write(work, rows=len(key_thumbprints))

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
        row = await self._fetch_point(SELECT_POLICY + "WHERE tenant_id = ?", (tenant_id,))
        return None if row is None else policy_record(row)

    async def put_wallet_policy(self, policy: WalletPolicyRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO wallet_policies (tenant_id, document, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant_id) DO UPDATE SET document = excluded.document, "
                "updated_at = excluded.updated_at",
                policy_values(policy),
            )

        await self._write(work)
