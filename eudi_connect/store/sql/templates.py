"""The template methods of both SQL stores (`Store.create_template` and the rest).

The decisions are made here: the definition is encoded once, a stale version becomes
TEMPLATE_ETAG_MISMATCH, and the record handed back is built from what was written. Each
backend supplies the conditional writes themselves (`_insert_template`,
`_replace_template`, `_remove_template`), atomic in its own way: SQLite inside its one
writer, PostgreSQL in one statement that locks the row it checks.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eudi_connect.store.base import TemplateKind, TemplateRecord
from eudi_connect.store.checks import etag_mismatch
from eudi_connect.store.rows import (
    Row,
    template_definition_json,
    template_record,
    written_template,
)


@dataclass(frozen=True)
class TemplateWrite:
    """One create or update as a backend receives it: the definition is JSON text already
    and `at` is the time of the write (created_at of a create, updated_at of an update)."""

    tenant_id: str
    template_id: str
    description: str
    definition_json: str
    at: int

    def record(self, kind: TemplateKind, version: int, created_at: int) -> TemplateRecord:
        """The template as this write left it."""
        return written_template(
            self.tenant_id,
            self.template_id,
            kind,
            self.definition_json,
            self.description,
            version,
            created_at,
            self.at,
        )


@dataclass(frozen=True)
class LiveTemplate:
    """What a conditional write found in the live row before it wrote (or did not)."""

    version: int
    kind: TemplateKind
    created_at: int


class SqlTemplates(abc.ABC):
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
        write = TemplateWrite(
            tenant_id, template_id, description, template_definition_json(definition), created_at
        )
        version = await self._insert_template(write, kind)
        return write.record(kind, version, created_at)

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
        rows = await self._template_page(tenant_id, after, kind, limit)
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
        write = TemplateWrite(
            tenant_id, template_id, description, template_definition_json(definition), updated_at
        )
        found = await self._replace_template(write, expected_version)
        if found is None:
            return None
        live, replaced = found
        if not replaced:
            raise etag_mismatch()
        return write.record(live.kind, live.version + 1, live.created_at)

    async def delete_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        expected_version: int | None,
        deleted_at: int,
    ) -> bool:
        removed = await self._remove_template(tenant_id, template_id, expected_version, deleted_at)
        if removed is None:
            return False
        if not removed:
            raise etag_mismatch()
        return True

    # --- what each backend supplies ------------------------------------------------------

    @abc.abstractmethod
    async def _insert_template(self, write: TemplateWrite, kind: TemplateKind) -> int:
        """Inserts the template, or revives its tombstone with the tombstone's version + 1;
        returns the version written. TEMPLATE_EXISTS when a live one has the id."""

    @abc.abstractmethod
    async def _template_page(
        self, tenant_id: str, after: str | None, kind: TemplateKind | None, limit: int
    ) -> Sequence[Row]:
        """`SELECT_TEMPLATE` rows of the page `Store.list_templates` describes."""

    @abc.abstractmethod
    async def _replace_template(
        self, write: TemplateWrite, expected_version: int
    ) -> tuple[LiveTemplate, bool] | None:
        """Replaces the live template's content when its version is `expected_version`,
        bumping the version; the live row as found and whether it was replaced, None
        when there is no live template."""

    @abc.abstractmethod
    async def _remove_template(
        self, tenant_id: str, template_id: str, expected_version: int | None, deleted_at: int
    ) -> bool | None:
        """Turns the live template into a tombstone (version + 1) when its version is
        `expected_version` (any, for None): True when it did, False when the version
        differs, None when there is no live template."""
