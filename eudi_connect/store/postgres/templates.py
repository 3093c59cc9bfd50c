"""Tenant templates, in PostgreSQL: each write is one statement that locks the row it
checks, so compare-and-set holds across instances."""

from __future__ import annotations

from typing import Final

from eudi_connect.store.base import TemplateKind, TemplateRecord
from eudi_connect.store.checks import template_exists
from eudi_connect.store.postgres.access import PostgresAccess, Row
from eudi_connect.store.rows import SELECT_TEMPLATE, template_record
from eudi_connect.store.sql.templates import LiveTemplate, SqlTemplates, TemplateWrite

_LIVE: Final = SELECT_TEMPLATE + "WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL"
# Answered from the covering index templates_live.
_LIVE_VERSION: Final = (
    "SELECT version FROM templates WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL"
)
# $2 is NULL for the first page; $3 NULL for every kind.
_PAGE: Final = (
    SELECT_TEMPLATE + "WHERE tenant_id = $1 AND deleted_at IS NULL "
    "AND ($2::text IS NULL OR template_id > $2::text) "
    "AND ($3::text IS NULL OR kind = $3::text) "
    "ORDER BY template_id LIMIT $4"
)
# A new id is inserted; a tombstone is revived with its version + 1; a live template is
# left alone (no row returned). The row lock of ON CONFLICT makes this race-free.
_CREATE: Final = (
    "INSERT INTO templates AS t (tenant_id, template_id, version, deleted_at, kind, "
    "created_at, updated_at, description, definition) "
    "VALUES ($1, $2, 1, NULL, $3, $4, $4, $5, $6) "
    "ON CONFLICT (tenant_id, template_id) DO UPDATE SET version = t.version + 1, "
    "deleted_at = NULL, kind = EXCLUDED.kind, created_at = EXCLUDED.created_at, "
    "updated_at = EXCLUDED.updated_at, description = EXCLUDED.description, "
    "definition = EXCLUDED.definition WHERE t.deleted_at IS NOT NULL "
    "RETURNING version"
)
# Compare-and-set in one statement, as a status change: lock the live row, update it when
# its version is the expected one, and report what was there.
_UPDATE: Final = (
    "WITH current AS (SELECT version, kind, created_at FROM templates "
    "  WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL FOR UPDATE), "
    "updated AS (UPDATE templates AS t SET version = t.version + 1, updated_at = $4, "
    "  description = $5, definition = $6 FROM current "
    "  WHERE t.tenant_id = $1 AND t.template_id = $2 AND current.version = $3 "
    "  RETURNING t.version) "
    "SELECT current.version, current.kind, current.created_at, "
    "(SELECT version FROM updated) FROM current"
)
# The tombstone keeps id, kind and version; the content goes.
_DELETE: Final = (
    "WITH current AS (SELECT version FROM templates "
    "  WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL FOR UPDATE), "
    "deleted AS (UPDATE templates AS t SET version = t.version + 1, deleted_at = $4, "
    "  updated_at = $4, description = '', definition = '{}' FROM current "
    "  WHERE t.tenant_id = $1 AND t.template_id = $2 "
    "  AND ($3::bigint IS NULL OR current.version = $3::bigint) RETURNING 1) "
    "SELECT current.version, EXISTS (SELECT 1 FROM deleted) FROM current"
)


class PostgresTemplates(SqlTemplates, PostgresAccess):
    async def _insert_template(self, write: TemplateWrite, kind: TemplateKind) -> int:
        row = await self._fetch_one(
            _CREATE,
            write.tenant_id,
            write.template_id,
            kind,
            write.at,
            write.description,
            write.definition_json,
        )
        if row is None:
            raise template_exists()
        return int(row[0])

    async def get_template(self, tenant_id: str, template_id: str) -> TemplateRecord | None:
        row = await self._fetch_one(_LIVE, tenant_id, template_id)
        return None if row is None else template_record(row)

    async def get_template_version(self, tenant_id: str, template_id: str) -> int | None:
        row = await self._fetch_one(_LIVE_VERSION, tenant_id, template_id)
        return None if row is None else int(row[0])

    async def _template_page(
        self, tenant_id: str, after: str | None, kind: TemplateKind | None, limit: int
    ) -> list[Row]:
        return await self._fetch(_PAGE, tenant_id, after, kind, limit)

    async def _replace_template(
        self, write: TemplateWrite, expected_version: int
    ) -> tuple[LiveTemplate, bool] | None:
        row = await self._fetch_one(
            _UPDATE,
            write.tenant_id,
            write.template_id,
            expected_version,
            write.at,
            write.description,
            write.definition_json,
        )
        if row is None:
            return None
        version, kind, created_at, new_version = row
        return LiveTemplate(version, kind, created_at), new_version is not None

    async def _remove_template(
        self, tenant_id: str, template_id: str, expected_version: int | None, deleted_at: int
    ) -> bool | None:
        row = await self._fetch_one(_DELETE, tenant_id, template_id, expected_version, deleted_at)
        return None if row is None else bool(row[1])
