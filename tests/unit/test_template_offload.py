"""Template work that leaves the event loop: bytecode compiled in one environment and loaded
in another, renders under a caller's shorter time limit, and the runner that decides where
each render runs (here with its thread pool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from eudi_connect.core.templates import (
    PID_EXAMPLE_SUBJECT,
    CredentialTemplate,
    InvalidTemplateError,
    NotificationFormat,
    NotificationTemplate,
    TemplateEnvironment,
    TemplateRenderError,
    TimeLimitReached,
    builtin_template,
)
from eudi_connect.errors import ResourceExhaustedError
from eudi_connect.services.render_pool import RenderPool
from eudi_connect.services.rendering import Rendering
from eudi_connect.services.template_runner import TemplateRunner

#: About 2 ms of CPU per loop step.
STEP = '{{ ("ab" * 500) | list | sort | unique | list | length }}'
SLOW = '{"n": [{% for i in range(1000) %}' + STEP + ",{% endfor %}0]}"


def credential(source: str, *, template_id: str = "t", tenant_id: str | None = "tenant") -> Any:
    return CredentialTemplate(
        template_id=template_id,
        vct="urn:example:t",
        claims_template=source,
        disclosable=(),
        default_validity_seconds=60,
        max_validity_seconds=60,
        data_schema=("name",),
        tenant_id=tenant_id,
    )


def test_parts_checked_elsewhere_render_here_without_compiling() -> None:
    """What one environment's check compiled, another loads and renders, compiling nothing."""
    notification = NotificationTemplate(
        template_id="n",
        subject_template="Hello {{ name }}",
        html_template="<p>{{ name }}</p>",
        data_schema=("name",),
        tenant_id="tenant",
    )
    here = TemplateEnvironment()
    for template in (credential('{"name": {{ name | as_str }}}'), notification):
        here.install(template, TemplateEnvironment().checked_parts(template))
        assert here.is_compiled(template)
    assert here.render_claims(credential('{"name": {{ name | as_str }}}'), {"name": "Ann"}) == {
        "name": "Ann"
    }
    rendered = here.render_notification(notification, {"name": "<A>"}, NotificationFormat.HTML)
    assert (rendered.subject, rendered.body) == ("Hello <A>", "<p>&lt;A&gt;</p>")
    assert (here.cache_stats().compiles, here.cache_stats().loaded) == (0, 3)


def test_a_check_elsewhere_refuses_as_a_check_here() -> None:
    """checked_parts raises the same InvalidTemplateError, with its position, as a check."""
    with pytest.raises(InvalidTemplateError) as caught:
        TemplateEnvironment().checked_parts(credential('{"n": {{ undeclared }}}'))
    assert caught.value.reason == "TEMPLATE_UNDEFINED_VARIABLE"
    assert caught.value.metadata["column"] == "10"


def test_a_broken_stored_template_loads_as_its_failure() -> None:
    """A part that does not compile travels as its failure and fails each render here."""
    broken = credential("{{ name }")
    here = TemplateEnvironment()
    here.install(broken, TemplateEnvironment().compiled_parts(broken))
    with pytest.raises(TemplateRenderError) as caught:
        here.render_claims(broken, {"name": "Ann"})
    assert caught.value.reason == "TEMPLATE_SYNTAX_ERROR"


def test_a_shortened_time_limit_is_the_callers() -> None:
    """Running out of a limit the caller shortened is TimeLimitReached; running out of the
    template's own limit is the template's TEMPLATE_LIMIT_EXCEEDED."""
    environment = TemplateEnvironment(max_render_seconds=0.05)
    slow = credential(SLOW)
    with pytest.raises(TimeLimitReached):
        environment.render_claims(slow, {}, cpu_seconds=0.005)
    with pytest.raises(TemplateRenderError) as caught:
        environment.render_claims(slow, {}, cpu_seconds=1.0)
    assert caught.value.reason == "TEMPLATE_LIMIT_EXCEEDED"


def test_a_template_without_loops_still_has_a_deadline() -> None:
    """A long template of plain outputs (no budget of its own) stops at the time limit."""
    long = credential('{"n": [' + ",".join(["{{ name }}"] * 5000) + "]}")
    environment = TemplateEnvironment()
    environment.compile(long)
    with pytest.raises(TimeLimitReached):
        environment.render_claims(long, {"name": 1}, cpu_seconds=0.0)
    assert len(environment.render_claims(long, {"name": 1})["n"]) == 5000


@pytest.fixture
async def runner() -> AsyncIterator[TemplateRunner]:
    environment = TemplateEnvironment()
    opened = TemplateRunner(environment, RenderPool(0, environment.limits))
    yield opened
    opened.close()


async def test_cheap_renders_stay_in_the_loop(runner: TemplateRunner) -> None:
    """The PID and a small tenant template render in the loop: nothing goes to the pool."""
    pid = builtin_template("pid")
    assert pid is not None
    claims = await runner.claims(pid, PID_EXAMPLE_SUBJECT)
    assert claims["family_name"] == PID_EXAMPLE_SUBJECT["family_name"]
    small = credential('{"name": {{ name }}}')
    await runner.prepare(small)
    assert await runner.claims(small, {"name": "Ann"}) == {"name": "Ann"}
    assert runner.pool_renders == 0


async def test_a_slow_template_moves_to_the_pool_and_stays_there(runner: TemplateRunner) -> None:
    """A render that needs more than the loop's slice is finished in the pool, with the
    template's own result, and later renders of that version go to the pool directly."""
    slow = credential(SLOW)
    for expected_pool_renders in (1, 2):
        with pytest.raises(TemplateRenderError) as caught:
            await runner.claims(slow, {})
        assert caught.value.reason == "TEMPLATE_LIMIT_EXCEEDED"
        assert runner.is_heavy(slow)
        assert runner.pool_renders == expected_pool_renders


async def test_a_batch_past_its_budget_is_refused(runner: TemplateRunner) -> None:
    """Renders that together pass the call's CPU allowance fail the call with
    RENDER_BUDGET_EXHAUSTED; within it, each item keeps its own result."""
    slow = credential(SLOW, template_id="slow")
    with pytest.raises(ResourceExhaustedError) as caught:
        await runner.renderings(slow, "json", [{}] * 50, call_seconds=0.3)
    assert caught.value.reason == "RENDER_BUDGET_EXHAUSTED"
    assert caught.value.metadata == {"limit_seconds": "0.3"}
    cheap = credential('{"name": {{ name }}}', template_id="cheap")
    results = await runner.renderings(cheap, "json", [{"name": "A"}, {}], call_seconds=0.3)
    assert isinstance(results[0], Rendering)
    assert results[0].content == '{"name":"A"}'
    assert not isinstance(results[1], Rendering)
    assert results[1].reason == "SUBJECT_FIELD_MISSING"
