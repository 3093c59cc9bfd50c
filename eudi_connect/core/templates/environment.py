"""Renders templates in shared, precompiled Jinja2 sandboxes: credential templates to claims,
notification templates to a subject line and a text or HTML body.

A little over 400 lines on purpose: `TemplateEnvironment` is the one object handlers share,
and its render paths (claims, notifications, the worker-process install) read best side by
side; the pieces they use (limits, compiling, caching, JSON, errors) are modules of their own."""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from eudi_connect.reasons import Reason

from ._builtin_claims import direct_claims
from ._cache import (
    CacheStats,
    CompileCache,
    Compiled,
    filename_of,
    prepared_or_raise,
)
from ._check import check_source
from ._compile import OutputMode, Prepared, load_prepared
from ._filters import CLAIMS_FILTERS
from ._json import parse_claims
from ._limits import OutOfTime, end_budget, start_budget, too_large
from ._missing import every_missing_field
from ._render_errors import render_error
from ._sandbox import ClaimsSandbox
from .credential import CREDENTIAL_IMPLICIT_NAMES, CredentialTemplate
from .errors import MissingSubjectFieldError, TemplateRenderError
from .notification import NOTIFICATION_IMPLICIT_NAMES, NotificationFormat, NotificationTemplate

__all__ = [
    "CacheStats",
    "CompiledPart",
    "RenderedNotification",
    "TemplateEnvironment",
    "TemplateLimits",
    "TimeLimitReached",
]


@dataclass(frozen=True, slots=True)
class RenderedNotification:
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class TemplateLimits:
    """What a `TemplateEnvironment` was made with: `TemplateEnvironment(**asdict(limits))`
    makes an equal one (in a worker process, say)."""

    max_output_chars: int
    max_loop_iterations: int
    max_render_seconds: float
    max_cached_templates: int


class TimeLimitReached(Exception):
    """A render was given less CPU time than the template's own limit (`cpu_seconds`) and
    used it up. Not the template's fault: the caller chose the shorter limit, and decides
    what follows (render it where it may take longer, or refuse the call)."""


@dataclass(frozen=True, slots=True)
class CompiledPart:
    """One compiled part of a template in a form another process can load (`install`):
    the bytecode Jinja generated, or why the part does not compile. Picklable."""

    part: str  # "claims", or "subject", "text", "html"
    filename: str
    bytecode: bytes | None
    needs_budget: bool
    failure: tuple[Reason, str, dict[str, str]] | None  # reason, message, metadata


class TemplateEnvironment:
    """One precompiled, sandboxed Jinja2 environment shared by all handlers (plus a second,
    autoescaping one for HTML notification bodies).

    Templates compile once per (tenant_id, template_id, version, part) and stay cached (LRU,
    `max_cached_templates` entries) until `invalidate`. Each render runs under limits that
    bound what an untrusted template can cost: `max_output_chars` for the output and any value
    built on the way, `max_loop_iterations` for all loops together, and `max_render_seconds`
    of CPU time, checked at every call, operator, collection filter and loop step.

    Thread-safe; a render never awaits, so it is also safe to share across asyncio tasks.
    """

    def __init__(
        self,
        *,
        max_output_chars: int = 64 * 1024,
        max_loop_iterations: int = 1_000,
        max_render_seconds: float = 0.1,
        max_cached_templates: int = 1_024,
    ) -> None:
        if min(max_output_chars, max_loop_iterations, max_cached_templates) < 1:
            raise ValueError("template environment limits must be positive")
        if max_render_seconds < 0:
            raise ValueError("max_render_seconds must not be negative")
        self._max_output_chars = max_output_chars
        self._max_loop_iterations = max_loop_iterations
        self._max_render_seconds = max_render_seconds
        self._sandbox = ClaimsSandbox(
            max_text_chars=max_output_chars, max_loop_iterations=max_loop_iterations
        )
        self._sandbox.filters = dict(CLAIMS_FILTERS)
        # HTML notification bodies: the same sandbox, but every {{ }} output is escaped.
        self._html_sandbox = ClaimsSandbox(
            max_text_chars=max_output_chars,
            max_loop_iterations=max_loop_iterations,
            autoescape=True,
        )
        self._html_sandbox.filters = dict(CLAIMS_FILTERS)
        self._cache = CompileCache(max_cached_templates)
        self.limits = TemplateLimits(
            max_output_chars=max_output_chars,
            max_loop_iterations=max_loop_iterations,
            max_render_seconds=max_render_seconds,
            max_cached_templates=max_cached_templates,
        )

    def compile_count(self) -> int:
        """How many times a template source was compiled (cache misses); for tests, metrics."""
        return self._cache.compiles

    def cache_stats(self) -> CacheStats:
        """Entries and counters of the compile cache (approximate under threads)."""
        return self._cache.stats()

    def cached_versions(self, tenant_id: str | None, template_id: str) -> set[tuple[int, str]]:
        """(version, part) of every cached entry of one template."""
        return self._cache.versions(tenant_id, template_id)

    def invalidate(self, tenant_id: str | None, template_id: str) -> int:
        """Drops every cached version and part of one template; other templates stay
        compiled. Returns how many entries were dropped."""
        return self._cache.invalidate(tenant_id, template_id)

    def compile(self, template: CredentialTemplate) -> None:
        """Compiles and caches `template` now, raising TemplateRenderError if it cannot
        compile; lets a template be checked when it is created rather than first used."""
        prepared_or_raise(self._compiled(template))

    def check_credential(self, template: CredentialTemplate) -> None:
        """Refuses (InvalidTemplateError) a claims source that does not parse, breaks the
        sandbox policy, names an unknown filter or reads a variable missing from the
        template's `data_schema`; errors carry the line and column. Nothing is cached."""
        self.checked_parts(template)

    def check_notification(self, template: NotificationTemplate) -> None:
        """`check_credential` for each source of a notification template."""
        self.checked_parts(template)

    def checked_parts(
        self, template: CredentialTemplate | NotificationTemplate
    ) -> tuple[CompiledPart, ...]:
        """Checks every source of `template` as `check_credential` does and returns what
        they compiled to, for `install` here or in another process. Nothing is cached."""
        implicit = (
            CREDENTIAL_IMPLICIT_NAMES
            if isinstance(template, CredentialTemplate)
            else NOTIFICATION_IMPLICIT_NAMES
        )
        compiled = []
        for part, source, sandbox, output in self._parts(template):
            filename = filename_of(template.tenant_id, template.template_id, part, None)
            prepared = check_source(
                sandbox,
                source,
                field=_FIELD_OF_PART[part],
                output=output,
                declared=template.data_schema,
                implicit=implicit,
                filename=filename,
            )
            compiled.append(
                CompiledPart(part, filename, prepared.bytecode(), prepared.needs_budget, None)
            )
        return tuple(compiled)

    def precompile(self, template: CredentialTemplate | NotificationTemplate) -> None:
        """Compiles every part of `template` into the cache now (failures are cached too)."""
        for part, source, sandbox, output in self._parts(template):
            key = (template.tenant_id, template.template_id, template.version, part)
            self._cache.compiled(key, source, sandbox, output)

    def compiled_parts(
        self, template: CredentialTemplate | NotificationTemplate
    ) -> tuple[CompiledPart, ...]:
        """Every part of `template` compiled here (through the cache, failures included),
        for `install` in another process."""
        result = []
        for part, source, sandbox, output in self._parts(template):
            key = (template.tenant_id, template.template_id, template.version, part)
            compiled = self._cache.compiled(key, source, sandbox, output)
            prepared = compiled.prepared
            result.append(
                CompiledPart(
                    part,
                    prepared.filename if prepared is not None else "",
                    prepared.bytecode() if prepared is not None else None,
                    prepared is not None and prepared.needs_budget,
                    compiled.failure,
                )
            )
        return tuple(result)

    def install(
        self,
        template: CredentialTemplate | NotificationTemplate,
        parts: Sequence[CompiledPart],
    ) -> None:
        """Caches parts compiled elsewhere (`checked_parts`, `compiled_parts`) under this
        template's key, so that rendering it here compiles nothing. The parts must come from
        this service's own processes: bytecode is code."""
        sources = {part: (source, sandbox) for part, source, sandbox, _ in self._parts(template)}
        entries = []
        for piece in parts:
            source, sandbox = sources[piece.part]
            prepared = None
            if piece.bytecode is not None:
                prepared = load_prepared(
                    sandbox, piece.bytecode, piece.filename, needs_budget=piece.needs_budget
                )
            key = (template.tenant_id, template.template_id, template.version, piece.part)
            entries.append((key, Compiled(source, prepared, piece.failure)))
        self._cache.install(entries)

    def is_compiled(self, template: CredentialTemplate | NotificationTemplate) -> bool:
        """Whether every part of `template` is in the cache (a render compiles nothing)."""
        for part, source, _, _ in self._parts(template):
            compiled = self._cache.peek(
                (template.tenant_id, template.template_id, template.version, part)
            )
            if compiled is None or compiled.source != source:
                return False
        return True

    def _parts(
        self, template: CredentialTemplate | NotificationTemplate
    ) -> list[tuple[str, str, ClaimsSandbox, OutputMode]]:
        """(part, source, sandbox, output mode) of each source the template renders."""
        if isinstance(template, CredentialTemplate):
            return [("claims", template.claims_template, self._sandbox, "json")]
        parts: list[tuple[str, str, ClaimsSandbox, OutputMode]] = [
            ("subject", template.subject_template, self._sandbox, "text")
        ]
        if template.text_template:
            parts.append(("text", template.text_template, self._sandbox, "text"))
        if template.html_template:
            parts.append(("html", template.html_template, self._html_sandbox, "text"))
        return parts

    def render_notification(
        self,
        template: NotificationTemplate,
        data: Mapping[str, Any],
        format: NotificationFormat,
        *,
        now: datetime | None = None,
        cpu_seconds: float | None = None,
    ) -> RenderedNotification:
        """The subject line (one line of plain text: line breaks become spaces, so it is safe
        as a mail header) and the body in `format` (HTML escaped) for `data`. `cpu_seconds`
        as for `render_claims` (each of the two parts gets it)."""
        body_source = template.body_source(format)
        if not body_source:
            raise TemplateRenderError(
                f"template {template.template_id!r} has no {format.value} body",
                reason=Reason.TEMPLATE_FORMAT_UNAVAILABLE,
                metadata={"format": format.value},
            )
        today = (now if now is not None else datetime.now(UTC)).date()
        subject = self._render_part(
            template, "subject", template.subject_template, data, today, cpu_seconds
        )
        body = self._render_part(template, format.value, body_source, data, today, cpu_seconds)
        return RenderedNotification(" ".join(subject.split()), body)

    def render_claims(
        self,
        template: CredentialTemplate,
        subject: Mapping[str, Any],
        *,
        now: datetime | None = None,
        cpu_seconds: float | None = None,
    ) -> dict[str, Any]:
        """The claims object `template` renders for `subject`.

        The template sees every subject field as a variable, the whole mapping as `subject`
        (for fields whose names are not identifiers, or that `subject`/`today` shadow) and
        `today`, the date of `now` (default: the current UTC date). `cpu_seconds` shortens
        the render's time limit; running out of a shortened limit raises TimeLimitReached.
        """
        compiled = self._compiled(template)
        prepared = prepared_or_raise(compiled)
        today = (now if now is not None else datetime.now(UTC)).date()
        if template.tenant_id is None:  # a built-in: its claims computed directly if it can
            claims = direct_claims(
                template,
                subject,
                today,
                max_output_chars=self._max_output_chars,
                max_loop_iterations=self._max_loop_iterations,
            )
            if claims is not None:
                return claims
        try:
            text = self._run(prepared, template.template_id, subject, today, cpu_seconds)
        except MissingSubjectFieldError as error:  # name every field lacking, not the first
            raise every_missing_field(error, template, subject) from error
        return parse_claims(text, template.template_id)

    # -- internals -----------------------------------------------------------------------------

    def _run(
        self,
        prepared: Prepared,
        template_id: str,
        data: Mapping[str, Any],
        today: date,
        cpu_seconds: float | None = None,
    ) -> str:
        """Renders under the per-render budget; sandbox failures become domain errors."""
        seconds = self._max_render_seconds
        shortened = cpu_seconds is not None and cpu_seconds < seconds
        if shortened:
            seconds = max(cpu_seconds or 0.0, 0.0)
        token = (
            start_budget(seconds=seconds, loop_iterations=self._max_loop_iterations)
            if prepared.needs_budget
            else None
        )
        try:
            return self._render_text(prepared, data, today, time.thread_time() + seconds)
        except MemoryError:
            raise
        except OutOfTime as exc:
            if shortened:
                raise TimeLimitReached(f"template {template_id!r} needs more time") from None
            raise render_error(template_id, data, prepared, exc) from exc
        except Exception as exc:
            raise render_error(template_id, data, prepared, exc) from exc
        finally:
            if token is not None:
                end_budget(token)

    def _render_part(
        self,
        template: NotificationTemplate,
        part: str,
        source: str,
        data: Mapping[str, Any],
        today: date,
        cpu_seconds: float | None,
    ) -> str:
        key = (template.tenant_id, template.template_id, template.version, part)
        sandbox = self._html_sandbox if part == "html" else self._sandbox
        compiled = self._cache.compiled(key, source, sandbox, "text")
        return self._run(
            prepared_or_raise(compiled), template.template_id, data, today, cpu_seconds
        )

    def _compiled(self, template: CredentialTemplate) -> Compiled:
        key = (template.tenant_id, template.template_id, template.version, "claims")
        return self._cache.compiled(key, template.claims_template, self._sandbox, "json")

    def _render_text(
        self, prepared: Prepared, subject: Mapping[str, Any], today: date, deadline: float
    ) -> str:
        """Streams the output so an oversized render stops at the limit, not after it. The
        deadline is also checked here, every few outputs: a template with no loops or calls
        (no budget of its own) costs in proportion to its size, which is still a cost."""
        limit = self._max_output_chars
        size = 0
        parts: list[str] = []
        chunks = cast(
            "Generator[str, None, None]",
            prepared.template.generate(subject, subject=subject, today=today),
        )
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large("the rendered output", limit)
                parts.append(chunk)
                if len(parts) % _OUTPUTS_PER_DEADLINE_CHECK == 0 and time.thread_time() >= deadline:
                    raise OutOfTime()
        finally:
            chunks.close()
        return "".join(parts)


#: How often (in outputs written) a render checks its deadline between the sandbox's checks.
_OUTPUTS_PER_DEADLINE_CHECK = 64

#: The template field each part's source comes from.
_FIELD_OF_PART = {
    "claims": "claims_template",
    "subject": "subject_template",
    "text": "text_template",
    "html": "html_template",
}
