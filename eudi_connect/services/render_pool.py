"""Worker processes that check, compile and render tenants' templates.

Why: a template is code a tenant wrote. Within the sandbox's limits one render may still
cost 0.1 s of CPU and one compile of a 64 KB source several seconds; on the event loop that
is 0.1 s (or seconds) during which no other tenant's call moves. Rendering under the GIL in
a thread does not help: pure-Python work keeps the loop waiting for the GIL. So that work
runs here, and the loop only sends the template and the data and receives the results (a
compiled template comes back as bytecode the loop's own environment loads in a millisecond).

With `processes=0` the same work runs in one thread of this process instead: for embedding
and tests, where starting a process costs more than it saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from eudi_connect.core.templates import (
    CompiledPart,
    TemplateEnvironment,
    TemplateLimits,
    TimeLimitReached,
)
from eudi_connect.errors import EudiConnectError, UnavailableError
from eudi_connect.reasons import Reason
from eudi_connect.services.rendering import (
    AnyTemplate,
    ErrorCopy,
    RenderFormat,
    Rendering,
    RenderOutput,
    render_one,
)
from eudi_connect.services.signing_pool import worker_initializer

_T = TypeVar("_T")

#: Render workers yield the CPU to the server's own processes: on a busy machine the
#: event loop, which every tenant's calls wait on, runs first.
WORKER_NICENESS = 19

# Per worker process (or, in thread mode, for the pool's thread): one environment per set
# of limits, each with its own compile cache.
_environments: dict[TemplateLimits, TemplateEnvironment] = {}


def _environment(limits: TemplateLimits) -> TemplateEnvironment:
    environment = _environments.get(limits)
    if environment is None:
        environment = _environments[limits] = TemplateEnvironment(**asdict(limits))
    return environment


@dataclass(frozen=True)
class ChunkOutcome:
    """What a worker did with a chunk of items: one result per item it rendered, in order
    (all of them, unless the call's CPU allowance ran out first), and the CPU it spent."""

    results: list[dict[str, Any] | Rendering | ErrorCopy]
    cpu_seconds: float
    exhausted: bool


def _start_worker(parent_pid: int) -> None:
    worker_initializer(parent_pid)
    with contextlib.suppress(OSError, AttributeError):  # os.nice: POSIX only
        os.nice(WORKER_NICENESS)


def _warm_up() -> None:
    """Imports everything in the worker before the first template needs it."""


def _check(limits: TemplateLimits, template: AnyTemplate) -> tuple[CompiledPart, ...] | ErrorCopy:
    try:
        return _environment(limits).checked_parts(template)
    except EudiConnectError as error:
        return ErrorCopy.of(error)


def _compile(limits: TemplateLimits, template: AnyTemplate) -> tuple[CompiledPart, ...]:
    return _environment(limits).compiled_parts(template)


def render_chunk(
    environment: TemplateEnvironment,
    template: AnyTemplate,
    format: RenderFormat,
    items: Sequence[Mapping[str, Any]],
    *,
    output: RenderOutput,
    cpu_seconds: float | None,
) -> ChunkOutcome:
    """Renders `items` in order until done or until they have used `cpu_seconds` (None:
    each render has only its own limit). Compiling is not counted: it happens once per
    template version, not per item."""
    environment.precompile(template)
    results: list[dict[str, Any] | Rendering | ErrorCopy] = []
    spent = 0.0
    for data in items:
        left = None if cpu_seconds is None else cpu_seconds - spent
        if left is not None and left <= 0:
            return ChunkOutcome(results, spent, exhausted=True)
        started = time.thread_time()
        try:
            results.append(
                render_one(environment, template, format, data, output=output, cpu_seconds=left)
            )
        except TimeLimitReached:
            return ChunkOutcome(results, spent + time.thread_time() - started, exhausted=True)
        except EudiConnectError as error:
            results.append(ErrorCopy.of(error))
        spent += time.thread_time() - started
    return ChunkOutcome(results, spent, exhausted=False)


def _render(
    limits: TemplateLimits,
    template: AnyTemplate,
    format: RenderFormat,
    items: Sequence[Mapping[str, Any]],
    output: RenderOutput,
    cpu_seconds: float | None,
) -> ChunkOutcome:
    return render_chunk(
        _environment(limits), template, format, items, output=output, cpu_seconds=cpu_seconds
    )


class RenderPool:
    """`processes` worker processes (0: one thread) for template checks, compiles and
    renders. A worker that dies (killed, out of memory) fails the calls it had with
    UNAVAILABLE and is replaced for the next ones."""

    def __init__(self, processes: int, limits: TemplateLimits) -> None:
        if processes < 0:
            raise ValueError("processes must not be negative")
        self.processes = processes
        self._limits = limits
        self._executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.processes == 0:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="template-worker")
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )

    async def start(self) -> None:
        """Starts the workers now rather than on the first template that needs one."""
        await self._run(_warm_up)

    async def check(self, template: AnyTemplate) -> tuple[CompiledPart, ...]:
        """`TemplateEnvironment.checked_parts` in a worker: raises what it raises."""
        outcome = await self._run(_check, self._limits, template)
        if isinstance(outcome, ErrorCopy):
            raise outcome.error()
        return outcome

    async def compile(self, template: AnyTemplate) -> tuple[CompiledPart, ...]:
        """`TemplateEnvironment.compiled_parts` in a worker."""
        return await self._run(_compile, self._limits, template)

    async def render(
        self,
        template: AnyTemplate,
        format: RenderFormat,
        items: Sequence[Mapping[str, Any]],
        *,
        output: RenderOutput,
        cpu_seconds: float | None,
    ) -> ChunkOutcome:
        """`render_chunk` in a worker."""
        return await self._run(
            _render, self._limits, template, format, list(items), output, cpu_seconds
        )

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
        except BrokenProcessPool:
            if self._executor is executor:
                self._executor = self._new_executor()
                executor.shutdown(wait=False, cancel_futures=True)
            raise UnavailableError(
                "a template worker process stopped; retry the call",
                reason=Reason.TEMPLATE_WORKER_STOPPED,
            ) from None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
