"""Renders templates in shared, precompiled Jinja2 sandboxes: credential templates to claims,
notification templates to a subject line and a text or HTML body."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.utils import missing

from eudi_connect.errors import EudiConnectError
from eudi_connect.reasons import Reason

from ._check import check_source
from ._filters import CLAIMS_FILTERS
from ._missing import every_missing_field
from ._sandbox import (
    MAX_INT_BITS,
    ClaimsSandbox,
    LimitExceeded,
    LiteralTooLarge,
    OutOfTime,
    OutputMode,
    PolicyViolation,
    Prepared,
    SubjectValueError,
    UndefinedValue,
    end_budget,
    find_path,
    int_too_large,
    load_prepared,
    prepare,
    start_budget,
    template_line,
    too_large,
)
from .credential import (
    CREDENTIAL_IMPLICIT_NAMES,
    RESERVED_CLAIMS,
    RESERVED_NESTED_CLAIMS,
    CredentialTemplate,
)
from .errors import (
    InvalidSubjectFieldError,
    MissingSubjectFieldError,
    TemplateRenderError,
)
from .notification import NOTIFICATION_IMPLICIT_NAMES, NotificationFormat, NotificationTemplate

#: (tenant_id, template_id, version, part): part is "claims" for a credential template,
#: "subject", "text" or "html" for the pieces of a notification template.
_CacheKey = tuple[str | None, str, int, str]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of the compile cache since the environment was made."""

    entries: int
    hits: int
    compiles: int  # misses: each one a compilation
    invalidated: int  # entries dropped by `invalidate`
    evicted: int  # entries dropped because the cache was full
    loaded: int = 0  # entries compiled elsewhere and installed (`install`)


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


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A cache entry: the compiled template, or why it does not compile. Failures are
    cached too, so a broken stored template costs one parse, not one per request."""

    source: str
    prepared: Prepared | None
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
        self._max_cached = max_cached_templates
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
        self._cache: OrderedDict[_CacheKey, _Compiled] = OrderedDict()
        self._lock = threading.Lock()  # held only to compile and evict, never to render
        self.limits = TemplateLimits(
            max_output_chars=max_output_chars,
            max_loop_iterations=max_loop_iterations,
            max_render_seconds=max_render_seconds,
            max_cached_templates=max_cached_templates,
        )
        self._compiles = 0
        self._hits = 0
        self._invalidated = 0
        self._evicted = 0
        self._loaded = 0

    def compile_count(self) -> int:
        """How many times a template source was compiled (cache misses); for tests, metrics."""
        return self._compiles

    def cache_stats(self) -> CacheStats:
        """Entries and counters of the compile cache (approximate under threads)."""
        return CacheStats(
            entries=len(self._cache),
            hits=self._hits,
            compiles=self._compiles,
            invalidated=self._invalidated,
            evicted=self._evicted,
            loaded=self._loaded,
        )

    def cached_versions(self, tenant_id: str | None, template_id: str) -> set[tuple[int, str]]:
        """(version, part) of every cached entry of one template."""
        with self._lock:
            return {
                (key[2], key[3])
                for key in self._cache
                if key[0] == tenant_id and key[1] == template_id
            }

    def invalidate(self, tenant_id: str | None, template_id: str) -> int:
        """Drops every cached version and part of one template; other templates stay
        compiled. Returns how many entries were dropped."""
        with self._lock:
            keys = [k for k in self._cache if k[0] == tenant_id and k[1] == template_id]
            for key in keys:
                del self._cache[key]
            self._invalidated += len(keys)
        return len(keys)

    def compile(self, template: CredentialTemplate) -> None:
        """Compiles and caches `template` now, raising TemplateRenderError if it cannot
        compile; lets a template be checked when it is created rather than first used."""
        _prepared_or_raise(self._compiled(template))

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
            filename = _filename_of(template.tenant_id, template.template_id, part, None)
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
            self._compiled_source(key, source, sandbox, output)

    def compiled_parts(
        self, template: CredentialTemplate | NotificationTemplate
    ) -> tuple[CompiledPart, ...]:
        """Every part of `template` compiled here (through the cache, failures included),
        for `install` in another process."""
        result = []
        for part, source, sandbox, output in self._parts(template):
            key = (template.tenant_id, template.template_id, template.version, part)
            compiled = self._compiled_source(key, source, sandbox, output)
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
        with self._lock:
            for piece in parts:
                source, sandbox = sources[piece.part]
                prepared = None
                if piece.bytecode is not None:
                    prepared = load_prepared(
                        sandbox, piece.bytecode, piece.filename, needs_budget=piece.needs_budget
                    )
                key = (template.tenant_id, template.template_id, template.version, piece.part)
                self._cache[key] = _Compiled(source, prepared, piece.failure)
                self._cache.move_to_end(key)
                self._loaded += 1
            self._evict()

    def is_compiled(self, template: CredentialTemplate | NotificationTemplate) -> bool:
        """Whether every part of `template` is in the cache (a render compiles nothing)."""
        for part, source, _, _ in self._parts(template):
            compiled = self._cache.get(
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
        prepared = _prepared_or_raise(compiled)
        today = (now if now is not None else datetime.now(UTC)).date()
        try:
            text = self._run(prepared, template.template_id, subject, today, cpu_seconds)
        except MissingSubjectFieldError as error:  # name every field lacking, not the first
            raise every_missing_field(error, template, subject) from error
        return _parse_claims(text, template.template_id)

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
            raise _render_error(template_id, data, prepared, exc) from exc
        except Exception as exc:
            raise _render_error(template_id, data, prepared, exc) from exc
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
        compiled = self._compiled_source(key, source, sandbox, "text")
        return self._run(
            _prepared_or_raise(compiled), template.template_id, data, today, cpu_seconds
        )

    def _compiled(self, template: CredentialTemplate) -> _Compiled:
        key = (template.tenant_id, template.template_id, template.version, "claims")
        return self._compiled_source(key, template.claims_template, self._sandbox, "json")

    def _compiled_source(
        self, key: _CacheKey, source: str, sandbox: ClaimsSandbox, output: OutputMode
    ) -> _Compiled:
        compiled = self._cache.get(key)
        # A changed source under an unchanged version (a store bug) must not serve stale code.
        if compiled is not None and compiled.source == source:
            self._hits += 1
            with suppress(KeyError):  # evicted or invalidated by another thread meanwhile
                self._cache.move_to_end(key)
            return compiled
        with self._lock:
            compiled = self._cache.get(key)
            if compiled is None or compiled.source != source:
                compiled = self._compile(key, source, sandbox, output)
                self._cache[key] = compiled
            else:
                self._hits += 1
            self._cache.move_to_end(key)
            self._evict()
        return compiled

    def _evict(self) -> None:
        while len(self._cache) > self._max_cached:  # the caller holds the lock
            self._cache.popitem(last=False)
            self._evicted += 1

    def _compile(
        self, key: _CacheKey, source: str, sandbox: ClaimsSandbox, output: OutputMode
    ) -> _Compiled:
        self._compiles += 1
        tenant_id, template_id, version, part = key
        filename = _filename_of(tenant_id, template_id, part, version)
        label = f"template {template_id!r}"
        try:
            return _Compiled(source, prepare(sandbox, source, filename, output=output), None)
        except PolicyViolation as exc:
            reason, message, line = Reason.TEMPLATE_SANDBOX_VIOLATION, str(exc), exc.lineno
        except LiteralTooLarge as exc:  # stored before such literals were refused
            reason, message, line = Reason.TEMPLATE_LIMIT_EXCEEDED, exc.message or "", exc.lineno
        except TemplateSyntaxError as exc:
            reason, message, line = Reason.TEMPLATE_SYNTAX_ERROR, exc.message or "", exc.lineno
        except (RecursionError, SyntaxError):
            # Jinja's parser, or Python compiling its output, gave up on the nesting depth.
            reason, message, line = Reason.TEMPLATE_SYNTAX_ERROR, "nested too deeply", None
        where = f" line {line}" if line else ""
        metadata = {"line": str(line)} if line else {}
        return _Compiled(source, None, (reason, f"{label}{where}: {message}", metadata))

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


def _filename_of(tenant_id: str | None, template_id: str, part: str, version: int | None) -> str:
    """What tracebacks call a compiled part (checked templates have no version yet)."""
    tenant = tenant_id if tenant_id is not None else "builtin"
    where = f"{tenant}/{template_id}" + (f" v{version}" if version is not None else "")
    return f"<template {where} {part}>"


def _prepared_or_raise(compiled: _Compiled) -> Prepared:
    if compiled.failure is not None:
        reason, message, metadata = compiled.failure
        raise TemplateRenderError(message, reason=reason, metadata=metadata)
    assert compiled.prepared is not None  # one of the two is always set
    return compiled.prepared


def _render_error(
    template_id: str,
    subject: Mapping[str, Any],
    prepared: Prepared,
    exc: Exception,
) -> EudiConnectError:
    """Maps what went wrong inside the sandbox to a domain error. Messages name fields and
    template lines, never subject values."""
    label = f"template {template_id!r}"
    if isinstance(exc, SubjectValueError):
        if exc.field is None:
            return InvalidSubjectFieldError(
                f"a subject value is invalid for {label}: {exc.problem}"
            )
        return InvalidSubjectFieldError(
            f"subject field {exc.field!r} is invalid for {label}: {exc.problem}",
            metadata={"field": exc.field},
        )
    if isinstance(exc, UndefinedValue):
        error = _undefined_error(label, subject, exc)
        if error is not None:
            return error
    line = template_line(exc, prepared.filename)
    where = f" at line {line}" if line else ""
    metadata = {"line": str(line)} if line else {}
    if isinstance(exc, SecurityError):
        return TemplateRenderError(
            f"{label} was stopped by the sandbox{where}: {exc.message}",
            reason=Reason.TEMPLATE_SANDBOX_VIOLATION,
            metadata=metadata,
        )
    if isinstance(exc, LimitExceeded):
        return TemplateRenderError(f"{label}{where}: {exc}", reason=exc.reason, metadata=metadata)
    # Jinja's own messages describe the template; other exceptions' texts may quote subject
    # values (int("Müller")), so only their type is reported.
    detail = exc.message if isinstance(exc, TemplateError) else None
    return TemplateRenderError(
        f"{label} failed to render{where}: {detail or type(exc).__name__}", metadata=metadata
    )


def _undefined_error(
    label: str, subject: Mapping[str, Any], exc: UndefinedValue
) -> EudiConnectError | None:
    """Names the deepest missing subject field, or None if the value was not subject data."""
    name, obj = exc.name, exc.obj
    if obj is missing:
        # A top-level name: the template's only source of free variables is the subject.
        if not isinstance(name, str):
            return None
        field = name
    else:
        base = find_path(subject, obj)
        if base is None:
            return None
        if not isinstance(obj, Mapping | list | tuple):
            return InvalidSubjectFieldError(
                f"subject field {base!r} is invalid for {label}: expected an object or a list",
                metadata={"field": base},
            )
        if isinstance(name, int):
            field = f"{base}[{name}]"
        else:
            field = f"{base}.{name}" if base else str(name)
    return MissingSubjectFieldError(
        f"subject field {field!r} is required by {label}", metadata={"field": field}
    )


# -- output parsing --------------------------------------------------------------------------


class _BadClaims(ValueError):
    def __init__(
        self, message: str, *, reason: Reason = Reason.TEMPLATE_RENDER_FAILED, claim: str = ""
    ):
        super().__init__(message)
        self.reason = reason
        self.claim = claim


def _claims_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _BadClaims(f"rendered the claim {key!r} twice", claim=key)
            seen.add(key)
    if not RESERVED_NESTED_CLAIMS.isdisjoint(result):
        claim = min(RESERVED_NESTED_CLAIMS.intersection(result))
        raise _BadClaims(
            f"rendered the reserved name {claim!r}",
            reason=Reason.TEMPLATE_RESERVED_CLAIM,
            claim=claim,
        )
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadClaims("rendered a number outside the range of JSON numbers")
    return value


def _no_constant(text: str) -> Any:
    raise _BadClaims(f"rendered {text}, which is not JSON")


def _bounded_int(text: str) -> int:
    # Python refuses to convert more than 4,300 digits; the sandbox's bound comes first.
    if int_too_large(text):
        raise _BadClaims(
            f"rendered an integer larger than {MAX_INT_BITS} bits",
            reason=Reason.TEMPLATE_LIMIT_EXCEEDED,
        )
    return int(text)


_CLAIMS_DECODER = json.JSONDecoder(
    object_pairs_hook=_claims_object,
    parse_float=_finite_float,
    parse_int=_bounded_int,
    parse_constant=_no_constant,
)


def _parse_claims(text: str, template_id: str) -> dict[str, Any]:
    label = f"template {template_id!r}"
    try:
        claims = _CLAIMS_DECODER.decode(text)
    except _BadClaims as exc:
        metadata = {"claim": exc.claim} if exc.claim else {}
        raise TemplateRenderError(f"{label} {exc}", reason=exc.reason, metadata=metadata) from None
    except json.JSONDecodeError as exc:
        raise TemplateRenderError(
            f"{label} did not render valid JSON: {exc.msg} "
            f"(output line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise TemplateRenderError(f"{label} rendered JSON nested too deeply") from None
    if not isinstance(claims, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(claims), "a number"
        )
        raise TemplateRenderError(f"{label} rendered {kind}, not a JSON object")
    reserved = RESERVED_CLAIMS.intersection(claims)
    if reserved:
        claim = min(reserved)
        raise TemplateRenderError(
            f"{label} rendered {claim!r}, a claim the issuer sets itself",
            reason=Reason.TEMPLATE_RESERVED_CLAIM,
            metadata={"claim": claim},
        )
    return claims
