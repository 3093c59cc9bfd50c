"""Issuer keys, in SQLite: one active key per tenant, retired keys kept."""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.base import IssuerKeyRecord
from eudi_connect.store.checks import check_new_issuer_key, issuer_key_exists, issuer_key_not_found
from eudi_connect.store.rows import SELECT_ISSUER_KEY, issuer_key_record, issuer_key_values
from eudi_connect.store.sql.statements import ISSUER_KEYS
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_SQL: Final = ISSUER_KEYS.in_sqlite()

_KEYS_NEWEST_FIRST: Final = (
    SELECT_ISSUER_KEY + "WHERE tenant_id = ? ORDER BY created_at DESC, rowid DESC"
)
_INSERT_KEY: Final = (
    "INSERT INTO issuer_keys (kid, tenant_id, private_key_encrypted, public_jwk, created_at, "
    "retired_at, certificate) VALUES (?, ?, ?, ?, ?, NULL, ?)"
)


class SqliteIssuerKeys(SqliteAccess):
    async def ensure_active_issuer_key(self, candidate: IssuerKeyRecord) -> IssuerKeyRecord:
        check_new_issuer_key(candidate)

        def work(conn: sqlite3.Connection) -> IssuerKeyRecord:
            row = conn.execute(_SQL.active_key, (candidate.tenant_id,)).fetchone()
            if row is not None:
                return issuer_key_record(row)
            _insert_key(conn, candidate)
            return candidate

        return await self._write(work)

    async def rotate_issuer_key(self, new_key: IssuerKeyRecord, retired_at: int) -> None:
        check_new_issuer_key(new_key)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_SQL.retire_active_key, (retired_at, new_key.tenant_id))
            _insert_key(conn, new_key)

        await self._write(work)

    async def list_issuer_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        rows = await self._fetch_few(_KEYS_NEWEST_FIRST, (tenant_id,))
        return [issuer_key_record(row) for row in rows]

    async def set_issuer_key_certificate(self, kid: str, certificate: bytes) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            conn.execute(_SQL.set_certificate, (certificate, kid))
            row = conn.execute(_SQL.certificate, (kid,)).fetchone()
            if row is None:
                raise issuer_key_not_found()
            return bytes(row[0])

        return await self._write(work)


def _insert_key(conn: sqlite3.Connection, key: IssuerKeyRecord) -> None:
    try:
        conn.execute(_INSERT_KEY, issuer_key_values(key))
    except sqlite3.IntegrityError as error:
        raise record_error(error, exists=issuer_key_exists) from error
