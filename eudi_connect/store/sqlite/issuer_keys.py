"""Issuer keys, in SQLite: one active key per tenant and purpose, retired keys kept; and
the tenants' key settings."""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord
from eudi_connect.store.checks import check_new_issuer_key, issuer_key_exists, issuer_key_not_found
from eudi_connect.store.rows import (
    SELECT_ISSUER_KEY,
    issuer_key_record,
    issuer_key_values,
    key_settings_record,
    key_settings_values,
)
from eudi_connect.store.sql.statements import ISSUER_KEYS
from eudi_connect.store.sqlite.access import SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_SQL: Final = ISSUER_KEYS.in_sqlite()
_KEYS_NEWEST_FIRST: Final = (
    SELECT_ISSUER_KEY + "WHERE tenant_id = ? ORDER BY created_at DESC, rowid DESC"
)
_SET_PUBLISHED_UNTIL: Final = "UPDATE issuer_keys SET published_until = ? WHERE kid = ?"


class SqliteIssuerKeys(SqliteAccess):
    async def ensure_active_issuer_key(self, candidate: IssuerKeyRecord) -> IssuerKeyRecord:
        check_new_issuer_key(candidate)

        def work(conn: sqlite3.Connection) -> IssuerKeyRecord:
            row = conn.execute(_SQL.active_key, (candidate.tenant_id, candidate.purpose)).fetchone()
            if row is not None:
                return issuer_key_record(row)
            _insert_key(conn, candidate)
            return candidate

        return await self._write(work)

    async def rotate_issuer_key(
        self, new_key: IssuerKeyRecord, retired_at: int, *, replacing: str | None = None
    ) -> bool:
        check_new_issuer_key(new_key)

        def work(conn: sqlite3.Connection) -> bool:
            if replacing is not None:
                row = conn.execute(_SQL.active_key, (new_key.tenant_id, new_key.purpose)).fetchone()
                if row is not None and row[0] != replacing:
                    return False
            conn.execute(_SQL.retire_active_key, (retired_at, new_key.tenant_id, new_key.purpose))
            _insert_key(conn, new_key)
            return True

        return await self._write(work)

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

    async def set_issuer_key_published_until(self, kid: str, published_until: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if conn.execute(_SET_PUBLISHED_UNTIL, (published_until, kid)).rowcount == 0:
                raise issuer_key_not_found()

        await self._write(work)

    async def last_credential_expiry(
        self, tenant_id: str, *, issued_from: int, issued_until: int
    ) -> int | None:
        row = await self._fetch_one(_SQL.last_expiry, (tenant_id, issued_from, issued_until))
        return None if row is None or row[0] is None else int(row[0])

    async def put_key_settings(self, settings: KeySettingsRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_SQL.put_settings, key_settings_values(settings))
            except sqlite3.IntegrityError as error:
                raise record_error(error, exists=issuer_key_exists) from error

        await self._write(work)

    async def list_key_settings(self, tenant_id: str | None = None) -> list[KeySettingsRecord]:
        if tenant_id is None:
            rows = await self._fetch(_SQL.all_settings, ())
        else:
            rows = await self._fetch_few(_SQL.settings_of, (tenant_id,))
        return [key_settings_record(row) for row in rows]


def _insert_key(conn: sqlite3.Connection, key: IssuerKeyRecord) -> None:
    try:
        conn.execute(_SQL.insert_key, issuer_key_values(key))
    except sqlite3.IntegrityError as error:
        raise record_error(error, exists=issuer_key_exists) from error
