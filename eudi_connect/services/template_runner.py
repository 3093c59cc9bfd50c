"""Where the work on tenants' templates runs: in the event loop while it is quick and rare,
in the render pool otherwise, so that one tenant's template never holds up another's calls.

* Checks (on create and update) and compiles always run in the pool: Jinja compiles about
  a kilobyte of source per 50 ms, so a 64 KB template costs seconds. The loop then loads the
  bytecode the pool sends back (about a millisecond) and keeps it in its compile cache.
* Each tenant template version's render cost is remembered (a moving average). Renders
  that cost less than sending them to the pool (`cheap_render_seconds`, 0.5 ms; the built-in
  PID takes about 0.3 ms) run in the loop. Dearer ones run in the loop only while the loop's
  render allowance lasts: `inline_share` of its time (10%), at most `inline_burst` (10 ms)
  at once, refilled as time passes; past it they go to the pool. Calls that each render a
  little do not add up to a loop that does nothing else.
* A render in the loop gets a short CPU limit (`inline_render_seconds`, 5 ms). A render
  that runs out of it is stopped, done again in the pool, and its template version is
  remembered as heavy: later renders go to the pool directly.
* Built-in templates are the service's own, small and cheap: they always render in the
  loop. The loop is given back (`asyncio.sleep(0)`) after each `yield_after_seconds` of
  renders.
* A batch may spend at most `call_seconds` of CPU in renders (loop and pool together);
  past that it is refused with RESOURCE_EXHAUSTED, reason RENDER_BUDGET_EXHAUSTED. Pool
  jobs hold `POOL_CHUNK_ITEMS` items, so other calls' jobs queue between a batch's chunks.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from eudi_connect.core.templates import CompiledPart, TemplateEnvironment, TimeLimitReached
from eudi_connect.errors import EudiConnectError, ResourceExhaustedError
from eudi_connect.reasons import Reason
from eudi_connect.services.render_pool import RenderPool
from eudi_connect.services.rendering import (
    AnyTemplate,
    ErrorCopy,
    RenderFormat,
    Rendering,
    RenderOutput,
    render_one,
)

INLINE_RENDER_SECONDS = 0.005
CHEAP_RENDER_SECONDS = 0.0005
INLINE_SHARE = 0.1
INLINE_BURST_SECONDS = 0.01
YIELD_AFTER_SECONDS = 0.002
#: CPU seconds one render batch may spend: 20 renders that each use their whole 0.1 s, or
#: thousands of ordinary ones (the PID takes about 0.3 ms).
DEFAULT_CALL_RENDER_SECONDS = 2.0
#: Items per job sent to the pool: few enough that other calls' jobs wait little between
#: two of a large batch's, enough that the round trip (about 0.3 ms) stays small.
POOL_CHUNK_ITEMS = 32
MAX_PROFILED_TEMPLATES = 4096
#: Weight of the newest render in a template's cost estimate.
_COST_WEIGHT = 0.25
_HEAVY = float("inf")

_Key = tuple[str | None, str, int]
_Result = dict[str, Any] | Rendering | EudiConnectError


def _key(template: AnyTemplate) -> _Key:
    return (template.tenant_id, template.template_id, template.version)


class _Allowance:
    """The CPU a call may still spend rendering; None: no limit beyond each render's own."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, seconds: float) -> None:
        if self.left is not None:
            self.left -= seconds

    def exhausted_error(self) -> ResourceExhaustedError:
        return ResourceExhaustedError(
            f"the renders of this call took more than its {self.limit:g} s of CPU time; "
            "send fewer items per call or simplify the template",
            reason=Reason.RENDER_BUDGET_EXHAUSTED,
            metadata={"limit_seconds": f"{self.limit:g}"},
        )


class TemplateRunner:
    def __init__(
        self,
        environment: TemplateEnvironment,
        pool: RenderPool,
        *,
        inline_render_seconds: float = INLINE_RENDER_SECONDS,
        cheap_render_seconds: float = CHEAP_RENDER_SECONDS,
        inline_share: float = INLINE_SHARE,
        inline_burst_seconds: float = INLINE_BURST_SECONDS,
        yield_after_seconds: float = YIELD_AFTER_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.environment = environment
        self.pool = pool
        self._inline_render = inline_render_seconds
        self._cheap = cheap_render_seconds
        self._share = inline_share
        self._burst = inline_burst_seconds
        self._tokens = inline_burst_seconds
        self._refilled_at = monotonic()
        self._monotonic = monotonic
        self._yield_after = yield_after_seconds
        # CPU seconds a render of each template version costs (_HEAVY: too much for the loop).
        self._costs: OrderedDict[_Key, float] = OrderedDict()
        self._compiling: dict[_Key, asyncio.Future[None]] = {}
        self._since_yield = 0.0
        self.pool_renders = 0  # items rendered in the pool (tests, benchmarks)

    def is_heavy(self, template: AnyTemplate) -> bool:
        """Whether renders of this template version go straight to the pool."""
        return self._costs.get(_key(template)) == _HEAVY

    async def check(self, template: AnyTemplate) -> tuple[CompiledPart, ...]:
        """Checks a template about to be stored (in the pool); what it compiled to, for
        `install` once the store has given it its version."""
        return await self.pool.check(template)

    def install(self, template: AnyTemplate, parts: Sequence[CompiledPart]) -> None:
        self.environment.install(template, parts)

    async def prepare(self, template: AnyTemplate) -> None:
        """Makes sure every part of `template` is compiled here, compiling it in the pool if
        not. Built-ins are the service's own small sources: they compile here on first use."""
        if template.tenant_id is None or self.environment.is_compiled(template):
            return
        key = _key(template)
        compiling = self._compiling.get(key)
        if compiling is None:
            compiling = asyncio.ensure_future(self._compile(template))
            self._compiling[key] = compiling
            compiling.add_done_callback(lambda _: self._compiling.pop(key, None))
        # Shielded: a caller that gives up does not cancel the compile others wait for.
        await asyncio.shield(compiling)

    async def _compile(self, template: AnyTemplate) -> None:
        self.environment.install(template, await self.pool.compile(template))

    async def claims(self, template: AnyTemplate, subject: Mapping[str, Any]) -> dict[str, Any]:
        """The claims a credential template renders for `subject` (issuance)."""
        if template.tenant_id is None:
            return await self._builtin_claims(template, subject)
        await self.prepare(template)
        allowance = _Allowance(None)
        result: _Result | None = None
        if self._inline_allowed(template):
            result = await self._render_here(template, "json", subject, "claims", allowance)
        if result is None:
            (result,) = await self._render_in_pool(template, "json", [subject], "claims", allowance)
        if isinstance(result, EudiConnectError):
            raise result
        return cast("dict[str, Any]", result)

    async def _builtin_claims(
        self, template: AnyTemplate, subject: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A built-in renders here, always (see the module docstring), and with no CPU-time
        accounting: it has no cost estimate to keep and no allowance to spend, and reading
        the thread's CPU clock is a system call that costs about as much as its render. Its
        wall time counts towards giving the loop back, which is at least its CPU time."""
        if self._since_yield >= self._yield_after:
            self._since_yield = 0.0
            await asyncio.sleep(0)
        started = time.perf_counter()
        try:
            claims = render_one(self.environment, template, "json", subject, output="claims")
        finally:
            self._since_yield += time.perf_counter() - started
        return cast("dict[str, Any]", claims)

    async def renderings(
        self,
        template: AnyTemplate,
        format: RenderFormat,
        items: Sequence[Mapping[str, Any] | EudiConnectError],
        *,
        call_seconds: float | None = DEFAULT_CALL_RENDER_SECONDS,
    ) -> list[Rendering | EudiConnectError]:
        """One result per item, in order (an item that is already an error keeps it); the
        call fails with RENDER_BUDGET_EXHAUSTED once its renders pass `call_seconds`."""
        await self.prepare(template)
        allowance = _Allowance(call_seconds)
        results: list[_Result | None] = [
            item if isinstance(item, EudiConnectError) else None for item in items
        ]
        todo = [index for index, result in enumerate(results) if result is None]
        done = 0
        while done < len(todo) and self._inline_allowed(template):
            data = cast("Mapping[str, Any]", items[todo[done]])
            rendered = await self._render_here(template, format, data, "rendering", allowance)
            if rendered is None:
                break
            results[todo[done]] = rendered
            done += 1
        rest = todo[done:]
        pooled = await self._render_in_pool(
            template,
            format,
            [cast("Mapping[str, Any]", items[index]) for index in rest],
            "rendering",
            allowance,
        )
        for index, result in zip(rest, pooled, strict=True):
            results[index] = result
        return cast("list[Rendering | EudiConnectError]", results)

    def _inline_allowed(self, template: AnyTemplate) -> bool:
        """Whether the next render of `template` may run in the loop: a built-in, a cheap
        tenant template, or one not known to be heavy while the loop's allowance lasts."""
        if template.tenant_id is None:
            return True
        cost = self._costs.get(_key(template))
        if cost is not None and cost <= self._cheap:
            return True
        if cost == _HEAVY:
            return False
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * self._share)
        self._refilled_at = now
        return self._tokens > 0

    async def _render_here(
        self,
        template: AnyTemplate,
        format: RenderFormat,
        data: Mapping[str, Any],
        output: RenderOutput,
        allowance: _Allowance,
    ) -> _Result | None:
        """One render in the loop under the inline limit; None when it needs the pool (and
        the template is now known as heavy)."""
        if self._since_yield >= self._yield_after:
            self._since_yield = 0.0
            await asyncio.sleep(0)
        limit = self._inline_render
        by_allowance = allowance.left is not None and allowance.left <= limit
        if by_allowance:
            limit = max(allowance.left or 0.0, 0.0)
        started = time.thread_time()
        result: _Result | None
        try:
            result = render_one(
                self.environment, template, format, data, output=output, cpu_seconds=limit
            )
        except TimeLimitReached:
            result = None
        except EudiConnectError as error:
            result = error
        spent = time.thread_time() - started
        self._since_yield += spent
        allowance.spend(spent)
        if template.tenant_id is not None:
            if spent > self._cheap:
                self._tokens = max(self._tokens - spent, -self._burst)
            if result is None and by_allowance:
                raise allowance.exhausted_error()
            self._record_cost(template, _HEAVY if result is None else spent)
        return result

    async def _render_in_pool(
        self,
        template: AnyTemplate,
        format: RenderFormat,
        items: Sequence[Mapping[str, Any]],
        output: RenderOutput,
        allowance: _Allowance,
    ) -> list[_Result]:
        """`items` rendered in the pool, a chunk per job, in order."""
        results: list[_Result] = []
        for start in range(0, len(items), POOL_CHUNK_ITEMS):
            outcome = await self.pool.render(
                template,
                format,
                items[start : start + POOL_CHUNK_ITEMS],
                output=output,
                cpu_seconds=allowance.left,
            )
            allowance.spend(outcome.cpu_seconds)
            self.pool_renders += len(outcome.results)
            if outcome.results and not outcome.exhausted and template.tenant_id is not None:
                cost = outcome.cpu_seconds / len(outcome.results)
                self._record_cost(template, _HEAVY if cost >= self._inline_render else cost)
            results.extend(r.error() if isinstance(r, ErrorCopy) else r for r in outcome.results)
            if outcome.exhausted:
                raise allowance.exhausted_error()
        return results

    def _record_cost(self, template: AnyTemplate, seconds: float) -> None:
        """Folds one render's cost into its template's estimate; heavy stays heavy."""
        key = _key(template)
        known = self._costs.get(key)
        if known is None or seconds == _HEAVY:
            self._costs[key] = seconds
        elif known != _HEAVY:
            self._costs[key] = known + (seconds - known) * _COST_WEIGHT
        self._costs.move_to_end(key)
        while len(self._costs) > MAX_PROFILED_TEMPLATES:
            self._costs.popitem(last=False)

    def close(self) -> None:
        self.pool.close()
