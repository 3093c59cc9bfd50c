"""Where templates come from and how they are managed and rendered.

`CredentialTemplates` is the read side, on the issuance hot path: built-ins first (from
code, never the store), then the tenant's templates from the store, parsed once per version
and kept in process. `TemplateService` is the write side and the render API: create,
update (optimistic concurrency on an etag), delete, list, render one or many.

Cache and versions, across workers and instances: every stored template has a version that
the store bumps on each change (and on deletion; re-created ids continue it). The compile
cache of the shared `TemplateEnvironment` is keyed by (tenant, template, version, part) and
the in-process template cache holds the version it parsed. Each lookup of a tenant template
asks the store for the live version only (one indexed read, no JSON decoding) unless it
was checked less than `version_ttl_seconds` ago; a newer version is read, parsed and its
old compiled entries are dropped, so an update made through any instance is used by the
next issuance everywhere. Changes made through this process refresh its caches at once.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.util.types import AttributeValue

from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    MAX_VALIDITY_SECONDS,
    CompiledPart,
    CredentialTemplate,
    NotificationEvent,
    NotificationFormat,
    NotificationTemplate,
    TemplateEnvironment,
    builtin_template,
)
from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    EudiConnectError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from eudi_connect.monitoring.performance_metrics import OperationTimer, measure_operation_time
from eudi_connect.reasons import Reason
from eudi_connect.services.render_pool import RenderPool
from eudi_connect.services.rendering import AnyTemplate as AnyTemplate
from eudi_connect.services.rendering import RenderFormat as RenderFormat
from eudi_connect.services.rendering import Rendering as Rendering
from eudi_connect.services.template_runner import DEFAULT_CALL_RENDER_SECONDS, TemplateRunner
from eudi_connect.store.base import Store, TemplateKind, TemplateRecord

MAX_TEMPLATE_ID_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_RENDER_BATCH_ITEMS = 1000
#: The operation name renders are timed under (``operation.time``).
RENDER_OPERATION = "template.render"

_TEMPLATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)
_ETAG = re.compile(r'"v([1-9][0-9]{0,17})"', re.ASCII)

_BUILTIN_DESCRIPTIONS = {
    "pid": "EU Digital Identity Person Identification Data (ARF PID Rulebook), SD-JWT VC",
}


# --- timing hook ------------------------------------------------------------------------------


def render_timer(kind: TemplateKind, format: RenderFormat, *, items: int = 1) -> OperationTimer:
    """Times a render (or a batch of `items` renders of one template) as `template.render`
    in ``operation.time``, with the template kind, the format and the batch size."""
    return measure_operation_time(RENDER_OPERATION, _render_attributes(kind, format, items))


@functools.lru_cache(maxsize=256)
def _render_attributes(
    kind: TemplateKind, format: RenderFormat, items: int
) -> Mapping[str, AttributeValue]:
    # Made once per combination, not per render (readers copy it, never change it).
    return {"template.kind": kind, "template.format": format, "template.items": items}


# --- definitions: what the store keeps ----------------------------------------------------------


def etag_of(version: int) -> str:
    """The etag of a template version (a quoted string, as in HTTP)."""
    return f'"v{version}"'


def version_of_etag(etag: str) -> int:
    match = _ETAG.fullmatch(etag)
    if match is None:
        raise InvalidArgumentError(
            "etag is not one this service issued; read the template again",
            reason=Reason.ETAG_INVALID,
        )
    return int(match.group(1))


def kind_of(template: AnyTemplate) -> TemplateKind:
    return "credential" if isinstance(template, CredentialTemplate) else "notification"


def definition_of(template: AnyTemplate) -> dict[str, Any]:
    """The JSON document the store keeps for a template (ids and versions live in the row)."""
    if isinstance(template, CredentialTemplate):
        return {
            "vct": template.vct,
            "claims_template": template.claims_template,
            "disclosable": list(template.disclosable),
            "default_validity_seconds": template.default_validity_seconds,
            "max_validity_seconds": template.max_validity_seconds,
            "data_schema": list(template.data_schema),
            "mdoc_doc_type": template.mdoc_doc_type,
            "mdoc_namespace": template.mdoc_namespace,
        }
    return {
        "event": None if template.event is None else template.event.value,
        "subject_template": template.subject_template,
        "text_template": template.text_template,
        "html_template": template.html_template,
        "data_schema": list(template.data_schema),
    }


def template_of(record: TemplateRecord) -> AnyTemplate:
    """The template a stored row describes. Validity periods stored before they had an
    upper bound are read as the bound."""
    d = record.definition
    if record.kind == "credential":
        return CredentialTemplate(
            template_id=record.template_id,
            vct=d["vct"],
            claims_template=d["claims_template"],
            disclosable=tuple(d["disclosable"]),
            default_validity_seconds=min(d["default_validity_seconds"], MAX_VALIDITY_SECONDS),
            max_validity_seconds=min(d["max_validity_seconds"], MAX_VALIDITY_SECONDS),
            data_schema=tuple(d["data_schema"]),
            version=record.version,
            tenant_id=record.tenant_id,
            # Absent from definitions stored before templates could name a docType.
            mdoc_doc_type=d.get("mdoc_doc_type", ""),
            mdoc_namespace=d.get("mdoc_namespace", ""),
        )
    return NotificationTemplate(
        template_id=record.template_id,
        subject_template=d["subject_template"],
        text_template=d["text_template"],
        html_template=d["html_template"],
        event=None if d["event"] is None else NotificationEvent(d["event"]),
        data_schema=tuple(d["data_schema"]),
        version=record.version,
        tenant_id=record.tenant_id,
    )


def check_template_id(template_id: str) -> None:
    if not template_id:
        raise InvalidArgumentError("template_id is required", reason=Reason.TEMPLATE_ID_MISSING)
    if len(template_id) > MAX_TEMPLATE_ID_LENGTH:
        raise InvalidArgumentError(
            f"template_id is longer than {MAX_TEMPLATE_ID_LENGTH} characters",
            reason=Reason.TEMPLATE_ID_INVALID,
        )


def _template_not_found(template_id: str) -> NotFoundError:
    return NotFoundError(f"template '{template_id}' not found", reason=Reason.TEMPLATE_NOT_FOUND)


# --- the read side: lookups for issuance and rendering ----------------------------------------


@dataclass(slots=True)
class _Entry:
    template: AnyTemplate
    checked_at: float


class CredentialTemplates:
    """Finds templates for a tenant and renders credential claims.

    Built-ins (read-only, shared by every tenant) are answered from code without touching
    the store; a tenant cannot create a template with a built-in's id, so looking them up
    first gives the same answer as looking at the tenant's templates first. Tenant templates
    are parsed once per version and kept (LRU, `max_cached_templates`); each lookup checks
    the live version with the store unless it did so less than `version_ttl_seconds` ago.
    With the default 0 every instance uses a new version from the next request on, at the
    cost of one indexed read per issuance of a tenant template.

    Renders go through `runner`, which moves tenants' slow template work off the event loop
    into `pool` (by default one thread; the server gives it worker processes).
    """

    def __init__(
        self,
        environment: TemplateEnvironment | None = None,
        *,
        store: Store | None = None,
        version_ttl_seconds: float = 0.0,
        max_cached_templates: int = 4096,
        monotonic: Callable[[], float] = time.monotonic,
        pool: RenderPool | None = None,
    ) -> None:
        if version_ttl_seconds < 0 or max_cached_templates < 1:
            raise ValueError("version_ttl_seconds must be >= 0 and max_cached_templates >= 1")
        self.environment = environment or TemplateEnvironment()
        self.runner = TemplateRunner(
            self.environment, pool or RenderPool(0, self.environment.limits)
        )
        self._store = store
        self._ttl = version_ttl_seconds
        self._max_cached = max_cached_templates
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.store_version_reads = 0  # lookups that asked the store (tests, benchmarks)

    async def get(self, tenant_id: str, template_id: str) -> CredentialTemplate:
        """The credential template the tenant issues with under this id."""
        template = await self.resolve(tenant_id, template_id)
        if not isinstance(template, CredentialTemplate):
            raise InvalidArgumentError(
                f"template '{template_id}' is a notification template, not a credential template",
                reason=Reason.TEMPLATE_KIND_MISMATCH,
                metadata={"template_id": template_id, "kind": "notification"},
            )
        return template

    async def resolve(self, tenant_id: str, template_id: str) -> AnyTemplate:
        """The tenant's current template of either kind (a built-in or its own)."""
        check_template_id(template_id)
        builtin = builtin_template(template_id)
        if builtin is not None:
            return builtin
        if self._store is None:
            raise _template_not_found(template_id)
        key = (tenant_id, template_id)
        entry = self._entries.get(key)
        now = self._monotonic()
        if entry is not None and self._ttl > 0 and now - entry.checked_at < self._ttl:
            self._entries.move_to_end(key)
            return entry.template
        self.store_version_reads += 1
        version = await self._store.get_template_version(tenant_id, template_id)
        if version is None:
            self._forget_if_known(key)
            raise _template_not_found(template_id)
        entry = self._entries.get(key)  # another task may have refreshed it meanwhile
        if entry is not None and entry.template.version == version:
            entry.checked_at = now
            self._entries.move_to_end(key)
            return entry.template
        record = await self._store.get_template(tenant_id, template_id)
        if record is None:  # deleted between the two reads
            self._forget_if_known(key)
            raise _template_not_found(template_id)
        return self.remember(record, checked_at=now)

    def remember(self, record: TemplateRecord, *, checked_at: float | None = None) -> AnyTemplate:
        """Keeps the template of `record` as this tenant's current one (unless a newer version
        is already kept) and drops compiled entries of any other version."""
        template = template_of(record)
        key = (record.tenant_id, record.template_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.template.version > template.version:
                return entry.template  # a slower reader of an older row lost the race
            if entry is not None and entry.template.version != template.version:
                self.environment.invalidate(record.tenant_id, record.template_id)
            self._entries[key] = _Entry(
                template, self._monotonic() if checked_at is None else checked_at
            )
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_cached:
                (old_tenant, old_template), _ = self._entries.popitem(last=False)
                self.environment.invalidate(old_tenant, old_template)
        return template

    def forget(self, tenant_id: str, template_id: str) -> None:
        """Drops one template from both caches; the next lookup reads the store."""
        with self._lock:
            self._entries.pop((tenant_id, template_id), None)
        self.environment.invalidate(tenant_id, template_id)

    def _forget_if_known(self, key: tuple[str, str]) -> None:
        # Compiled entries exist only for templates kept here, so a lookup of an id that
        # was never found costs no scan of the compile cache.
        if key in self._entries:
            self.forget(*key)

    def cached_template_count(self) -> int:
        return len(self._entries)

    def render_claims(
        self, template: CredentialTemplate, subject: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Renders here and now, whatever it costs; calls on the event loop use `claims`."""
        with render_timer("credential", "json"):
            return self.environment.render_claims(template, subject)

    async def claims(
        self, template: CredentialTemplate, subject: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The claims `template` renders for `subject`, rendered where it cannot hold up
        other calls (see `TemplateRunner`)."""
        with render_timer("credential", "json"):
            return await self.runner.claims(template, subject)


# --- the write side and the render API --------------------------------------------------------


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
            raise _template_not_found(template_id)
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
        after = _read_page_token(page_token, kind) if page_token else None
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
        token = _page_token(page[-1].template_id, kind) if more and page else ""
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
            raise _template_not_found(template_id)
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
            raise _template_not_found(template_id)
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
            raise _template_not_found(template_id)

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


# AIP-158 page tokens: opaque to clients, bound to the filter they were made for.


def _page_token(after: str, kind: TemplateKind | None) -> str:
    payload = json.dumps({"a": after, "k": kind or ""}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _read_page_token(token: str, kind: TemplateKind | None) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after, token_kind = payload["a"], payload["k"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InvalidArgumentError(
            "page_token is not one this service issued", reason=Reason.PAGE_TOKEN_INVALID
        ) from None
    if not isinstance(after, str) or token_kind != (kind or ""):
        raise InvalidArgumentError(
            "page_token was made for other list parameters", reason=Reason.PAGE_TOKEN_INVALID
        )
    return after
