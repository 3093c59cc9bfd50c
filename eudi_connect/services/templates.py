"""Where templates come from on the issuance hot path, and how renders are timed.

`CredentialTemplates` is the read side: built-ins first (from code, never the store), then
the tenant's templates from the store, parsed once per version and kept in process. The
write side and the render API are `services/template_admin.py:TemplateService`; the forms a
template is stored and addressed in are `services/template_codec.py`.

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

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.util.types import AttributeValue

from eudi_connect.core.templates import (
    CredentialTemplate,
    TemplateEnvironment,
    builtin_template,
)
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.monitoring.performance_metrics import OperationTimer, measure_operation_time
from eudi_connect.reasons import Reason
from eudi_connect.services.render_pool import RenderPool
from eudi_connect.services.rendering import AnyTemplate, RenderFormat
from eudi_connect.services.template_codec import (
    check_template_id,
    template_not_found,
    template_of,
)
from eudi_connect.services.template_runner import TemplateRunner
from eudi_connect.store.base import Store, TemplateKind, TemplateRecord

#: The operation name renders are timed under (``operation.time``).
RENDER_OPERATION = "template.render"


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
            raise template_not_found(template_id)
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
            raise template_not_found(template_id)
        entry = self._entries.get(key)  # another task may have refreshed it meanwhile
        if entry is not None and entry.template.version == version:
            entry.checked_at = now
            self._entries.move_to_end(key)
            return entry.template
        record = await self._store.get_template(tenant_id, template_id)
        if record is None:  # deleted between the two reads
            self._forget_if_known(key)
            raise template_not_found(template_id)
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
