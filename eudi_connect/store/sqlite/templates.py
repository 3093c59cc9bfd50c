"""Tenant templates, in SQLite: versions that only grow, tombstones for deleted ids."""

from __future__ import annotations

import sqlite3
from typing import Final

from eudi_connect.store.base import TemplateKind, TemplateRecord
from eudi_connect.store.checks import template_exists
from eudi_connect.store.rows import SELECT_TEMPLATE, template_record
from eudi_connect.store.sql.templates import LiveTemplate, SqlTemplates, TemplateWrite
from eudi_connect.store.sqlite.access import Row, SqliteAccess
from eudi_connect.store.sqlite.error_map import record_error

_LIVE: Final = SELECT_TEMPLATE + "WHERE tenant_id = ? AND template_id = ? AND deleted_at IS NULL"
# One primary-key lookup; the definition is neither decoded nor returned.
_LIVE_VERSION: Final = (
    "SELECT version FROM templates WHERE tenant_id = ? AND template_id = ? AND deleted_at IS NULL"
)
# Numbered parameters: ?1 tenant, ?2 after, ?3 kind or NULL, ?4 limit.
_PAGE: Final = (
    SELECT_TEMPLATE + "WHERE tenant_id = ?1 AND deleted_at IS NULL AND (?3 IS NULL OR kind = ?3) "
    "ORDER BY template_id LIMIT ?4"
)
_PAGE_AFTER: Final = (
    SELECT_TEMPLATE + "WHERE tenant_id = ?1 AND deleted_at IS NULL AND template_id > ?2 "
    "AND (?3 IS NULL OR kind = ?3) ORDER BY template_id LIMIT ?4"
)
_STATE: Final = (
    "SELECT version, deleted_at, kind, created_at FROM templates "
    "WHERE tenant_id = ? AND template_id = ?"
)
# Numbered parameters: ?1 tenant, ?2 id, ?3 version, ?4 kind, ?5 created_at (also
# updated_at), ?6 description, ?7 definition.
_INSERT: Final = (
    "INSERT INTO templates (tenant_id, template_id, version, deleted_at, kind, created_at, "
    "updated_at, description, definition) VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?5, ?6, ?7)"
)
_REVIVE: Final = (
    "UPDATE templates SET version = ?3, deleted_at = NULL, kind = ?4, created_at = ?5, "
    "updated_at = ?5, description = ?6, definition = ?7 "
    "WHERE tenant_id = ?1 AND template_id = ?2 AND deleted_at IS NOT NULL"
)
_UPDATE: Final = (
    "UPDATE templates SET version = version + 1, updated_at = ?, description = ?, "
    "definition = ? WHERE tenant_id = ? AND template_id = ? AND version = ? "
    "AND deleted_at IS NULL"
)
# The tombstone keeps id, kind and version; the content goes.
_DELETE: Final = (
    "UPDATE templates SET version = version + 1, deleted_at = ?1, updated_at = ?1, "
    "description = '', definition = '{}' "
    "WHERE tenant_id = ?2 AND template_id = ?3 AND version = ?4 AND deleted_at IS NULL"
)


class SqliteTemplates(SqlTemplates, SqliteAccess):
    async def _insert_template(self, write: TemplateWrite, kind: TemplateKind) -> int:
        def work(conn: sqlite3.Connection) -> int:
            state = conn.execute(_STATE, (write.tenant_id, write.template_id)).fetchone()
            if state is not None and state[1] is None:
                raise template_exists()
            version = 1 if state is None else int(state[0]) + 1
            values = (write.tenant_id, write.template_id, version, kind, write.at)
            try:
                conn.execute(
                    _INSERT if state is None else _REVIVE,
                    (*values, write.description, write.definition_json),
                )
            except sqlite3.IntegrityError as error:
                raise record_error(error, exists=template_exists) from error
            return version

        return await self._write(work)

    async def get_template(self, tenant_id: str, template_id: str) -> TemplateRecord | None:
        row = await self._fetch_one(_LIVE, (tenant_id, template_id))
        return None if row is None else template_record(row)

    async def get_template_version(self, tenant_id: str, template_id: str) -> int | None:
        row = await self._fetch_point(_LIVE_VERSION, (tenant_id, template_id))
        return None if row is None else int(row[0])

    async def _template_page(
        self, tenant_id: str, after: str | None, kind: TemplateKind | None, limit: int
    ) -> list[Row]:
        # SQLite compares TEXT bytewise as UTF-8, which orders like Python's str.
        sql = _PAGE if after is None else _PAGE_AFTER
        return await self._fetch(sql, (tenant_id, after, kind, limit))

    async def _replace_template(
        self, write: TemplateWrite, expected_version: int
    ) -> tuple[LiveTemplate, bool] | None:
        def work(conn: sqlite3.Connection) -> tuple[LiveTemplate, bool] | None:
            state = conn.execute(_STATE, (write.tenant_id, write.template_id)).fetchone()
            if state is None or state[1] is not None:
                return None
            live = LiveTemplate(version=state[0], kind=state[2], created_at=state[3])
            if live.version != expected_version:
                return live, False
            conn.execute(
                _UPDATE,
                (
                    write.at,
                    write.description,
                    write.definition_json,
                    write.tenant_id,
                    write.template_id,
                    live.version,
                ),
            )
            return live, True

        return await self._write(work)

    async def _remove_template(
        self, tenant_id: str, template_id: str, expected_version: int | None, deleted_at: int
    ) -> bool | None:
        def work(conn: sqlite3.Connection) -> bool | None:
            state = conn.execute(_STATE, (tenant_id, template_id)).fetchone()
            if state is None or state[1] is not None:
                return None
            version = state[0]
            if expected_version is not None and version != expected_version:
                return False
            conn.execute(_DELETE, (deleted_at, tenant_id, template_id, version))
            return True

        return await self._write(work)
