"""The compile cache behind `TemplateEnvironment`: each template part compiled once per
(tenant_id, template_id, version, part), kept LRU, failures cached too."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass

from jinja2.exceptions import TemplateSyntaxError

from eudi_connect.reasons import Reason

from ._compile import OutputMode, PolicyViolation, Prepared, prepare
from ._sandbox import ClaimsSandbox, LiteralTooLarge
from .errors import TemplateRenderError

#: (tenant_id, template_id, version, part): part is "claims" for a credential template,
#: "subject", "text" or "html" for the pieces of a notification template.
CacheKey = tuple[str | None, str, int, str]


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
class Compiled:
    """A cache entry: the compiled template, or why it does not compile. Failures are
    cached too, so a broken stored template costs one parse, not one per request."""

    source: str
    prepared: Prepared | None
    failure: tuple[Reason, str, dict[str, str]] | None  # reason, message, metadata


class CompileCache:
    """An LRU of `Compiled` entries. Lookups take no lock (a hit only reorders); the lock is
    held to compile, install and evict, never to render."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[CacheKey, Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self.compiles = 0
        self._hits = 0
        self._invalidated = 0
        self._evicted = 0
        self._loaded = 0

    def stats(self) -> CacheStats:
        """Entries and counters (approximate under threads)."""
        return CacheStats(
            entries=len(self._entries),
            hits=self._hits,
            compiles=self.compiles,
            invalidated=self._invalidated,
            evicted=self._evicted,
            loaded=self._loaded,
        )

    def peek(self, key: CacheKey) -> Compiled | None:
        """The entry under `key`, if any, without counting a hit or reordering."""
        return self._entries.get(key)

    def versions(self, tenant_id: str | None, template_id: str) -> set[tuple[int, str]]:
        """(version, part) of every cached entry of one template."""
        with self._lock:
            return {
                (key[2], key[3])
                for key in self._entries
                if key[0] == tenant_id and key[1] == template_id
            }

    def invalidate(self, tenant_id: str | None, template_id: str) -> int:
        """Drops every cached version and part of one template; returns how many."""
        with self._lock:
            keys = [k for k in self._entries if k[0] == tenant_id and k[1] == template_id]
            for key in keys:
                del self._entries[key]
            self._invalidated += len(keys)
        return len(keys)

    def install(self, entries: Iterable[tuple[CacheKey, Compiled]]) -> None:
        """Caches entries compiled elsewhere."""
        with self._lock:
            for key, compiled in entries:
                self._entries[key] = compiled
                self._entries.move_to_end(key)
                self._loaded += 1
            self._evict()

    def compiled(
        self, key: CacheKey, source: str, sandbox: ClaimsSandbox, output: OutputMode
    ) -> Compiled:
        """The entry for `source` under `key`, compiling it on a miss."""
        compiled = self._entries.get(key)
        # A changed source under an unchanged version (a store bug) must not serve stale code.
        if compiled is not None and compiled.source == source:
            self._hits += 1
            with suppress(KeyError):  # evicted or invalidated by another thread meanwhile
                self._entries.move_to_end(key)
            return compiled
        with self._lock:
            compiled = self._entries.get(key)
            if compiled is None or compiled.source != source:
                self.compiles += 1
                compiled = compile_part(key, source, sandbox, output)
                self._entries[key] = compiled
            else:
                self._hits += 1
            self._entries.move_to_end(key)
            self._evict()
        return compiled

    def _evict(self) -> None:
        while len(self._entries) > self._max_entries:  # the caller holds the lock
            self._entries.popitem(last=False)
            self._evicted += 1


def compile_part(
    key: CacheKey, source: str, sandbox: ClaimsSandbox, output: OutputMode
) -> Compiled:
    """Compiles one part; a source that does not compile gives an entry saying why."""
    tenant_id, template_id, version, part = key
    filename = filename_of(tenant_id, template_id, part, version)
    label = f"template {template_id!r}"
    try:
        return Compiled(source, prepare(sandbox, source, filename, output=output), None)
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
    return Compiled(source, None, (reason, f"{label}{where}: {message}", metadata))


def filename_of(tenant_id: str | None, template_id: str, part: str, version: int | None) -> str:
    """What tracebacks call a compiled part (checked templates have no version yet)."""
    tenant = tenant_id if tenant_id is not None else "builtin"
    where = f"{tenant}/{template_id}" + (f" v{version}" if version is not None else "")
    return f"<template {where} {part}>"


def prepared_or_raise(compiled: Compiled) -> Prepared:
    """The compiled template, or the TemplateRenderError saying why it does not compile."""
    if compiled.failure is not None:
        reason, message, metadata = compiled.failure
        raise TemplateRenderError(message, reason=reason, metadata=metadata)
    assert compiled.prepared is not None  # one of the two is always set
    return compiled.prepared
