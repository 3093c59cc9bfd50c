"""Tenant templates, in PostgreSQL: each write is one statement that locks the row it
checks, so compare-and-set holds across instances."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from eudi_connect.store.base import TemplateKind, TemplateRecord
from eudi_connect.store.checks import etag_mismatch, template_exists
from eudi_connect.store.postgres.access import PostgresAccess
from eudi_connect.store.rows import (
    SELECT_TEMPLATE,
    template_definition_json,
    template_record,
    written_template,
)

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


class PostgresTemplates(PostgresAccess):
    async def create_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        kind: TemplateKind,
        definition: Mapping[str, Any],
        description: str,
        created_at: int,
    ) -> TemplateRecord:
        definition_json = template_definition_json(definition)
        row = await self._fetch_one(
            _CREATE, tenant_id, template_id, kind, created_at, description, definition_json
        )
        if row is None:
            raise template_exists()
        return written_template(
            tenant_id,
            template_id,
            kind,
            definition_json,
            description,
            row[0],
            created_at,
            created_at,
        )

    async def get_template(self, tenant_id: str, template_id: str) -> TemplateRecord | None:
        row = await self._fetch_one(_LIVE, tenant_id, template_id)
        return None if row is None else template_record(row)

    async def get_template_version(self, tenant_id: str, template_id: str) -> int | None:
        row = await self._fetch_one(_LIVE_VERSION, tenant_id, template_id)
        return None if row is None else int(row[0])

    async def list_templates(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        kind: TemplateKind | None = None,
    ) -> list[TemplateRecord]:
        if limit < 1:
            return []
        rows = await self._fetch(_PAGE, tenant_id, after, kind, limit)
        return [template_record(row) for row in rows]

    async def update_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        definition: Mapping[str, Any],
        description: str,
        expected_version: int,
        updated_at: int,
    ) -> TemplateRecord | None:
        definition_json = template_definition_json(definition)
        row = await self._fetch_one(
            _UPDATE,
            tenant_id,
            template_id,
            expected_version,
            updated_at,
            description,
            definition_json,
        )
        if row is None:
            return None
        _, kind, created_at, version = row
        if version is None:
            raise etag_mismatch()
        return written_template(
            tenant_id,
            template_id,
            kind,
            definition_json,
            description,
            version,
            created_at,
            updated_at,
        )

    async def delete_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        expected_version: int | None,
        deleted_at: int,
    ) -> bool:
        row = await self._fetch_one(_DELETE, tenant_id, template_id, expected_version, deleted_at)
        if row is None:
            return False
        if not row[1]:
            raise etag_mismatch()
        return True
