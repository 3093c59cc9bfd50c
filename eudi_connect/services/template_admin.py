"""The write side of templates and the render API: create, update (optimistic concurrency
on an etag), delete, list, render one or many. Lookups for issuance are
`services/templates.py:CredentialTemplates`, which this service keeps current."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    CompiledPart,
    CredentialTemplate,
    NotificationFormat,
    builtin_template,
)
from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    EudiConnectError,
    FailedPreconditionError,
    InvalidArgumentError,
)
from eudi_connect.reasons import Reason
from eudi_connect.services.rendering import AnyTemplate, RenderFormat, Rendering
from eudi_connect.services.template_codec import (
    check_template_id,
    decode_page_token,
    definition_of,
    encode_page_token,
    etag_of,
    kind_of,
    template_not_found,
    template_of,
    version_of_etag,
)
from eudi_connect.services.template_runner import DEFAULT_CALL_RENDER_SECONDS
from eudi_connect.services.templates import CredentialTemplates, render_timer
from eudi_connect.store.base import Store, TemplateKind, TemplateRecord

MAX_DESCRIPTION_LENGTH = 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_RENDER_BATCH_ITEMS = 1000

_TEMPLATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)

_BUILTIN_DESCRIPTIONS = {
    "pid": "EU Digital Identity Person Identification Data (ARF PID Rulebook), SD-JWT VC",
}


@dataclass(frozen=True)
class TemplateDraft:
    """What a client asks to store: the template (its version and tenant are ignored)."""

    template: AnyTemplate
    description: str = ""


@dataclass(frozen=True)
class StoredTemplate:
    template: AnyTemplate
    description: str
    builtin: bool
    created_at: int  # 0 for built-ins
    updated_at: int

    @property
    def template_id(self) -> str:
        return self.template.template_id

    @property
    def kind(self) -> TemplateKind:
        return kind_of(self.template)

    @property
    def version(self) -> int:
        return self.template.version

    @property
    def etag(self) -> str:
        return etag_of(self.template.version)

    @classmethod
    def from_record(cls, record: TemplateRecord) -> StoredTemplate:
        return cls(
            template=template_of(record),
            description=record.description,
            builtin=False,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @classmethod
    def from_builtin(cls, template: CredentialTemplate) -> StoredTemplate:
        description = _BUILTIN_DESCRIPTIONS.get(template.template_id, "")
        return cls(template, description, builtin=True, created_at=0, updated_at=0)


@dataclass(frozen=True)
class TemplatePage:
    templates: list[StoredTemplate]
    next_page_token: str


class TemplateService:
    """Creates, changes, lists and renders a tenant's templates. Sources are checked
    before anything is written (syntax, sandbox policy, variables against `data_schema`),
    so a refused request leaves nothing behind. Checks and slow renders run off the event
    loop (`CredentialTemplates.runner`); a render batch may spend at most
    `call_render_seconds` of CPU."""

    def __init__(
        self,
        store: Store,
        templates: CredentialTemplates,
        *,
        clock: Callable[[], float] = time.time,
        call_render_seconds: float = DEFAULT_CALL_RENDER_SECONDS,
    ) -> None:
        self._store = store
        self._templates = templates
        self._runner = templates.runner
        self._clock = clock
        self._call_seconds = call_render_seconds

    # -- management -------------------------------------------------------------------------

    async def create(self, tenant_id: str, draft: TemplateDraft) -> StoredTemplate:
        template_id = draft.template.template_id
        if not _TEMPLATE_ID.fullmatch(template_id):
            raise InvalidArgumentError(
                "template_id must be 1 to 128 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit",
                reason=Reason.TEMPLATE_ID_INVALID,
                metadata={"field": "template_id"},
            )
        if template_id in BUILTIN_TEMPLATES:
            raise AlreadyExistsError(
                f"'{template_id}' is a built-in template; choose another id",
                reason=Reason.TEMPLATE_ID_RESERVED,
                metadata={"template_id": template_id},
            )
        compiled = await self._check(draft)
        record = await self._store.create_template(
            tenant_id,
            template_id,
            kind=kind_of(draft.template),
            definition=definition_of(draft.template),
            description=draft.description,
            created_at=int(self._clock()),
        )
        self._remember(record, compiled)
        return StoredTemplate.from_record(record)

    async def get(self, tenant_id: str, template_id: str) -> StoredTemplate:
        """The template as stored now (read from the store, not from a cache)."""
        check_template_id(template_id)
        builtin = builtin_template(template_id)
        if builtin is not None:
            return StoredTemplate.from_builtin(builtin)
        record = await self._store.get_template(tenant_id, template_id)
        if record is None:
            raise template_not_found(template_id)
        return StoredTemplate.from_record(record)

    async def list_templates(
        self,
        tenant_id: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        kind: TemplateKind | None = None,
    ) -> TemplatePage:
        """The built-ins and the tenant's templates ordered by id, a page at a time."""
        if page_size < 0:
            raise InvalidArgumentError(
                "page_size must not be negative", reason=Reason.PAGE_SIZE_INVALID
            )
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = decode_page_token(page_token, kind) if page_token else None
        rows = await self._store.list_templates(tenant_id, after=after, limit=size + 1, kind=kind)
        builtins = [
            StoredTemplate.from_builtin(template)
            for template_id, template in BUILTIN_TEMPLATES.items()
            if (after is None or template_id > after) and kind in (None, "credential")
        ]
        merged = sorted(
            [*builtins, *(StoredTemplate.from_record(row) for row in rows)],
            key=lambda stored: stored.template_id,
        )
        page = merged[:size]
        more = len(merged) > size
        token = encode_page_token(page[-1].template_id, kind) if more and page else ""
        return TemplatePage(page, token)

    async def update(self, tenant_id: str, draft: TemplateDraft, *, etag: str) -> StoredTemplate:
        """Replaces the content of the template at `etag`; ABORTED when it changed since."""
        template_id = draft.template.template_id
        check_template_id(template_id)
        self._refuse_builtin(template_id, "updated")
        if not etag:
            raise InvalidArgumentError(
                "etag is required: read the template and pass its etag",
                reason=Reason.ETAG_MISSING,
            )
        expected = version_of_etag(etag)
        current = await self._store.get_template(tenant_id, template_id)
        if current is None:
            raise template_not_found(template_id)
        if current.kind != kind_of(draft.template):
            raise InvalidArgumentError(
                f"template '{template_id}' is a {current.kind} template; its kind cannot change",
                reason=Reason.TEMPLATE_KIND_IMMUTABLE,
                metadata={"kind": current.kind},
            )
        if current.version != expected:
            raise _stale(template_id, current.version)
        compiled = await self._check(draft)
        record = await self._store.update_template(
            tenant_id,
            template_id,
            definition=definition_of(draft.template),
            description=draft.description,
            expected_version=expected,
            updated_at=int(self._clock()),
        )
        if record is None:  # deleted since it was read
            raise template_not_found(template_id)
        self._remember(record, compiled)
        return StoredTemplate.from_record(record)

    async def delete(self, tenant_id: str, template_id: str, *, etag: str = "") -> None:
        check_template_id(template_id)
        self._refuse_builtin(template_id, "deleted")
        expected = version_of_etag(etag) if etag else None
        deleted = await self._store.delete_template(
            tenant_id, template_id, expected_version=expected, deleted_at=int(self._clock())
        )
        self._templates.forget(tenant_id, template_id)
        if not deleted:
            raise template_not_found(template_id)

    # -- rendering --------------------------------------------------------------------------

    async def render(
        self,
        tenant_id: str,
        template_id: str,
        data: Mapping[str, Any],
        *,
        format: RenderFormat | None = None,
    ) -> Rendering:
        template = await self._templates.resolve(tenant_id, template_id)
        chosen = _format_for(template, format)
        with render_timer(kind_of(template), chosen):
            (result,) = await self._runner.renderings(
                template, chosen, [data], call_seconds=self._call_seconds
            )
        if isinstance(result, EudiConnectError):
            raise result
        return result

    async def render_many(
        self,
        tenant_id: str,
        template_id: str,
        items: Sequence[Mapping[str, Any] | EudiConnectError],
        *,
        format: RenderFormat | None = None,
    ) -> list[Rendering | EudiConnectError]:
        """One result per item, in order; an item that fails gets its error in place. The
        template is looked up once; errors about it (unknown, wrong format) fail the call,
        and so do renders that together pass the call's CPU allowance (RESOURCE_EXHAUSTED,
        RENDER_BUDGET_EXHAUSTED)."""
        if len(items) > MAX_RENDER_BATCH_ITEMS:
            raise InvalidArgumentError(
                f"a render batch may hold at most {MAX_RENDER_BATCH_ITEMS} items",
                reason=Reason.BATCH_TOO_LARGE,
                metadata={"limit": str(MAX_RENDER_BATCH_ITEMS)},
            )
        template = await self._templates.resolve(tenant_id, template_id)
        chosen = _format_for(template, format)
        with render_timer(kind_of(template), chosen, items=len(items)):
            return await self._runner.renderings(
                template, chosen, items, call_seconds=self._call_seconds
            )

    # -- internals --------------------------------------------------------------------------

    async def _check(self, draft: TemplateDraft) -> tuple[CompiledPart, ...]:
        """Refuses a draft that cannot be stored; what its sources compiled to otherwise."""
        if len(draft.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidArgumentError(
                f"description is longer than {MAX_DESCRIPTION_LENGTH} characters",
                reason=Reason.TEMPLATE_INVALID,
                metadata={"field": "description"},
            )
        return await self._runner.check(draft.template)

    def _remember(self, record: TemplateRecord, compiled: Sequence[CompiledPart]) -> None:
        """Keeps the stored version as current, compiled: its first render compiles nothing."""
        template = self._templates.remember(record)
        if template.version == record.version:
            self._runner.install(template, compiled)

    @staticmethod
    def _refuse_builtin(template_id: str, what: str) -> None:
        if template_id in BUILTIN_TEMPLATES:
            raise FailedPreconditionError(
                f"'{template_id}' is a built-in template and cannot be {what}",
                reason=Reason.TEMPLATE_READ_ONLY,
                metadata={"template_id": template_id},
            )


def _format_for(template: AnyTemplate, format: RenderFormat | None) -> RenderFormat:
    if isinstance(template, CredentialTemplate):
        if format not in (None, "json"):
            raise InvalidArgumentError(
                "credential templates render JSON only",
                reason=Reason.TEMPLATE_FORMAT_UNSUPPORTED,
                metadata={"format": str(format)},
            )
        return "json"
    if format == "json":
        raise InvalidArgumentError(
            "notification templates render TEXT or HTML",
            reason=Reason.TEMPLATE_FORMAT_UNSUPPORTED,
            metadata={"format": "json"},
        )
    chosen: RenderFormat = format or "text"
    if not template.body_source(NotificationFormat(chosen)):
        raise FailedPreconditionError(
            f"template '{template.template_id}' has no {chosen} body",
            reason=Reason.TEMPLATE_FORMAT_UNAVAILABLE,
            metadata={"format": chosen},
        )
    return chosen


def _stale(template_id: str, version: int) -> AbortedError:
    return AbortedError(
        f"template '{template_id}' changed since it was read; read it again",
        reason=Reason.TEMPLATE_ETAG_MISMATCH,
        metadata={"current_etag": etag_of(version)},
    )
