"""Credential templates: the PID, the sandbox, the limits, the compile cache, validity."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    MDL_EXAMPLE_SUBJECT,
    PID_EXAMPLE_SUBJECT,
    CredentialTemplate,
    InvalidSubjectFieldError,
    InvalidTemplateError,
    MissingSubjectFieldError,
    TemplateEnvironment,
    TemplateRenderError,
    builtin_template,
)
from eudi_connect.core.templates.builtin import MDL
from eudi_connect.errors import EudiConnectError, InvalidArgumentError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = 24 * 60 * 60
PID = BUILTIN_TEMPLATES["pid"]

PID_EXAMPLE_CLAIMS = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birthdate": "1964-08-12",
    "age_equal_or_over": {"18": True},
    "nationalities": ["DE"],
    "place_of_birth": {"locality": "Berlin", "country": "DE"},
    "issuing_country": "DE",
    "issuing_authority": "DE",
}
PID_REQUIRED_FIELDS = (
    "family_name",
    "given_name",
    "birthdate",
    "nationalities",
    "place_of_birth",
    "issuing_country",
    "issuing_authority",
)


@pytest.fixture
def env() -> TemplateEnvironment:
    return TemplateEnvironment()


def pid_subject(**changes: Any) -> dict[str, Any]:
    subject = copy.deepcopy(dict(PID_EXAMPLE_SUBJECT))
    subject.update(changes)
    return subject


def make_template(source: str, **fields: Any) -> CredentialTemplate:
    values: dict[str, Any] = {
        "template_id": "t",
        "vct": "urn:example:t",
        "claims_template": source,
        "disclosable": (),
        "default_validity_seconds": DAY,
        "max_validity_seconds": 10 * DAY,
    }
    values.update(fields)
    return CredentialTemplate(**values)


def render_error(
    env: TemplateEnvironment, source: str, subject: dict[str, Any] | None = None
) -> EudiConnectError:
    with pytest.raises(EudiConnectError) as caught:
        env.render_claims(make_template(source), subject or {}, now=NOW)
    return caught.value


# -- the built-in PID -----------------------------------------------------------------------


def test_pid_renders_the_example_subject(env: TemplateEnvironment) -> None:
    """The PID template turns the README's example subject into the expected claims."""
    assert env.render_claims(PID, PID_EXAMPLE_SUBJECT, now=NOW) == PID_EXAMPLE_CLAIMS


def test_pid_is_registered_as_builtin() -> None:
    """`builtin_template` finds the PID by id, with its vct and disclosable paths."""
    pid = builtin_template("pid")
    assert pid is PID
    assert pid.vct == "urn:eudi:pid:1"
    assert pid.tenant_id is None
    assert "age_equal_or_over.18" in pid.disclosable
    assert "nationalities[]" in pid.disclosable
    assert not {"issuing_country", "issuing_authority"} & set(pid.disclosable)
    assert pid.mdoc_doc_type == "eu.europa.ec.eudi.pid.1"
    assert builtin_template("mdl") is MDL
    assert builtin_template("passport") is None


def test_mdl_builtin_renders_and_passes_its_schema() -> None:
    """The mDL renders its example subject with dates checked, and names its docType."""
    env = TemplateEnvironment()
    env.check_credential(MDL)
    claims = env.render_claims(MDL, MDL_EXAMPLE_SUBJECT)
    assert claims["birth_date"] == "1964-08-12"
    assert claims["driving_privileges"][0] == {
        "vehicle_category_code": "B",
        "issue_date": "1982-09-01",
    }
    assert MDL.mdoc_doc_type == "org.iso.18013.5.1.mDL"
    broken = {**MDL_EXAMPLE_SUBJECT, "expiry_date": "14.01.2039"}
    with pytest.raises(InvalidSubjectFieldError):
        env.render_claims(MDL, broken)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mdoc_doc_type": "has space"}, "mdoc_doc_type"),
        ({"mdoc_doc_type": "x" * 300}, "mdoc_doc_type"),
        ({"mdoc_doc_type": "", "mdoc_namespace": "org.example"}, "mdoc_namespace"),
    ],
)
def test_bad_mdoc_names_are_refused(fields: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        replace(
            PID,
            mdoc_doc_type=fields.get("mdoc_doc_type", PID.mdoc_doc_type),
            mdoc_namespace=fields.get("mdoc_namespace", ""),
        )
    assert caught.value.metadata["field"] == field


def test_pid_country_of_birth_is_optional(env: TemplateEnvironment) -> None:
    """Without place_of_birth.country the claim object holds the locality alone."""
    subject = pid_subject(place_of_birth={"locality": "Berlin"})
    claims = env.render_claims(PID, subject, now=NOW)
    assert claims["place_of_birth"] == {"locality": "Berlin"}


def test_pid_keeps_non_ascii_text(env: TemplateEnvironment) -> None:
    """Names outside ASCII come through unchanged."""
    subject = pid_subject(family_name="Ørsted-Müller", given_name="Zoë")
    claims = env.render_claims(PID, subject, now=NOW)
    assert (claims["family_name"], claims["given_name"]) == ("Ørsted-Müller", "Zoë")


@pytest.mark.parametrize(
    ("birthdate", "today", "adult"),
    [
        ("2007-06-02", "2025-06-01", False),  # the day before the 18th birthday
        ("2007-06-01", "2025-06-01", True),  # the 18th birthday
        ("2007-05-31", "2025-06-01", True),
        ("2007-12-31", "2025-12-30", False),
        ("2007-01-01", "2025-01-01", True),
        ("2008-02-29", "2026-02-28", False),  # born on a leap day: 18 on 1 March
        ("2008-02-29", "2026-03-01", True),
        ("2008-02-29", "2028-02-29", True),
        ("2025-06-01", "2025-06-01", False),  # born today
    ],
)
def test_pid_age_over_18_around_birthdays(
    env: TemplateEnvironment, birthdate: str, today: str, adult: bool
) -> None:
    """age_equal_or_over.18 flips exactly on the 18th birthday, computed from `now`."""
    now = datetime.fromisoformat(today).replace(hour=23, tzinfo=UTC)
    claims = env.render_claims(PID, pid_subject(birthdate=birthdate), now=now)
    assert claims["age_equal_or_over"] == {"18": adult}


@pytest.mark.parametrize("field", PID_REQUIRED_FIELDS)
def test_pid_missing_field_is_named(env: TemplateEnvironment, field: str) -> None:
    """Each required subject field, when absent, is reported by name."""
    subject = pid_subject()
    del subject[field]
    with pytest.raises(MissingSubjectFieldError) as caught:
        env.render_claims(PID, subject, now=NOW)
    assert caught.value.reason == "SUBJECT_FIELD_MISSING"
    assert caught.value.metadata == {"field": field, "fields": field}
    assert isinstance(caught.value, InvalidArgumentError)


def test_pid_missing_nested_field_names_the_deepest(env: TemplateEnvironment) -> None:
    """A missing place_of_birth.locality is named with its full path."""
    subject = pid_subject(place_of_birth={"country": "DE"})
    with pytest.raises(MissingSubjectFieldError) as caught:
        env.render_claims(PID, subject, now=NOW)
    assert caught.value.metadata == {
        "field": "place_of_birth.locality",
        "fields": "place_of_birth.locality",
    }


@pytest.mark.parametrize(
    "birthdate",
    [19640812.0, "12.08.1964", "19640812", "1964-02-30", "1964-8-12", None, ["1964-08-12"]],
)
def test_pid_wrongly_typed_birthdate(env: TemplateEnvironment, birthdate: object) -> None:
    """A birthdate that is not an ISO calendar date is refused, naming the field."""
    with pytest.raises(InvalidSubjectFieldError) as caught:
        env.render_claims(PID, pid_subject(birthdate=birthdate), now=NOW)
    assert caught.value.reason == "SUBJECT_FIELD_INVALID"
    assert caught.value.metadata == {"field": "birthdate"}


def test_pid_birthdate_in_the_future(env: TemplateEnvironment) -> None:
    """A birthdate after `today` is refused rather than giving a negative age."""
    with pytest.raises(InvalidSubjectFieldError) as caught:
        env.render_claims(PID, pid_subject(birthdate="2025-06-02"), now=NOW)
    assert caught.value.metadata == {"field": "birthdate"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"nationalities": "DE"}, "nationalities"),
        ({"nationalities": []}, "nationalities"),
        ({"nationalities": ["DE", "fr"]}, "nationalities[1]"),
        ({"issuing_country": "DEU"}, "issuing_country"),
        ({"family_name": 42.0}, "family_name"),
        ({"given_name": "  "}, "given_name"),
        ({"place_of_birth": "Berlin"}, "place_of_birth"),
        (
            {"place_of_birth": {"locality": "Berlin", "country": "Germany"}},
            "place_of_birth.country",
        ),
    ],
)
def test_pid_wrongly_typed_fields(
    env: TemplateEnvironment, changes: dict[str, Any], field: str
) -> None:
    """Subject values of the wrong type or format are refused with the field's path."""
    with pytest.raises(InvalidSubjectFieldError) as caught:
        env.render_claims(PID, pid_subject(**changes), now=NOW)
    assert caught.value.reason == "SUBJECT_FIELD_INVALID"
    assert caught.value.metadata == {"field": field}


def test_pid_text_cannot_inject_claims(env: TemplateEnvironment) -> None:
    """A name containing JSON syntax stays one string value and adds no claims."""
    sneaky = 'x", "iss": "evil", "admin": true, "y": "'
    claims = env.render_claims(PID, pid_subject(family_name=sneaky), now=NOW)
    assert claims["family_name"] == sneaky
    assert claims.keys() == PID_EXAMPLE_CLAIMS.keys()


def test_render_does_not_modify_the_subject(env: TemplateEnvironment) -> None:
    """Rendering leaves the caller's subject mapping exactly as it was."""
    subject = pid_subject()
    before = copy.deepcopy(subject)
    env.render_claims(PID, subject, now=NOW)
    assert subject == before


# -- custom templates -------------------------------------------------------------------------


def test_as_int_turns_struct_floats_into_integers(env: TemplateEnvironment) -> None:
    """Numbers arrive as floats from a protobuf Struct; `as_int` makes whole ones integers."""
    template = make_template('{"year": {{ year | as_int }}, "raw": {{ year }}}')
    claims = env.render_claims(template, {"year": 1990.0}, now=NOW)
    assert claims == {"year": 1990, "raw": 1990.0}
    assert type(claims["year"]) is int


def test_as_int_refuses_fractions(env: TemplateEnvironment) -> None:
    """`as_int` refuses a number with a fractional part, naming the field."""
    error = render_error(env, '{"year": {{ year | as_int }}}', {"year": 1990.5})
    assert error.reason == "SUBJECT_FIELD_INVALID"
    assert error.metadata == {"field": "year"}


def test_template_sees_today_and_subject(env: TemplateEnvironment) -> None:
    """`today` is the date of `now`; `subject` reaches fields whose names are not identifiers."""
    source = (
        '{"today": {{ today }}, "age": {{ "2000-06-02" | age_in_years(today) }},'
        ' "odd": {{ subject["odd-name"] }}}'
    )
    claims = env.render_claims(make_template(source), {"odd-name": "x"}, now=NOW)
    assert claims == {"today": "2025-06-01", "age": 24, "odd": "x"}


def test_loop_variable_errors_name_the_array(env: TemplateEnvironment) -> None:
    """A bad element met through a loop variable is reported under the array's path."""
    source = (
        '{"codes": [{% for c in codes %}{{ c | country_code }}'
        "{% if not loop.last %},{% endif %}{% endfor %}]}"
    )
    error = render_error(env, source, {"codes": ["DE", "xx"]})
    assert error.reason == "SUBJECT_FIELD_INVALID"
    assert error.metadata == {"field": "codes[]"}


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ x ", "TEMPLATE_SYNTAX_ERROR"),
        ('{"a": {{ 1 | no_such_filter }}}', "TEMPLATE_SYNTAX_ERROR"),
        ('{"a": }', "TEMPLATE_RENDER_FAILED"),
        ("[1, 2]", "TEMPLATE_RENDER_FAILED"),
        ('{"a": 1, "a": 2}', "TEMPLATE_RENDER_FAILED"),
        ('{"a": NaN}', "TEMPLATE_RENDER_FAILED"),
        ('{"a": {{ 1 / 0 }}}', "TEMPLATE_RENDER_FAILED"),
        ('{"a": {{ today.no_such_attribute }}}', "TEMPLATE_RENDER_FAILED"),
        ('{"iss": "https://evil.example"}', "TEMPLATE_RESERVED_CLAIM"),
        ('{"cnf": {}}', "TEMPLATE_RESERVED_CLAIM"),
        ('{"a": {"_sd": []}}', "TEMPLATE_RESERVED_CLAIM"),
    ],
)
def test_bad_template_output_is_refused(env: TemplateEnvironment, source: str, reason: str) -> None:
    """Templates that do not compile or do not render one JSON object of claims fail."""
    error = render_error(env, source)
    assert isinstance(error, TemplateRenderError)
    assert error.reason == reason


# -- the sandbox ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''['__class__'] }}",
        "{{ subject['__class__'] }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ namespace }}",
        "{{ config }}",
        "{{ request.environ }}",
        "{{ self._TemplateReference__context }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ '%s' % x }}",
        "{{ subject.update({'x': 2}) }}",
        "{{ xs.append(3) }}",
        "{{ xs.pop() }}",
        "{% set ns.x = 1 %}",
        "{% macro m() %}{% endmacro %}",
        "{% include 'other' %}",
        "{% import 'other' as o %}",
        "{% extends 'base' %}",
        "{% for x in xs recursive %}{{ loop(xs) }}{% endfor %}",
        "{{ 'x'.center(10) }}",
        "{{ x.to_bytes(8) }}",
    ],
)
def test_sandbox_escapes_are_refused(env: TemplateEnvironment, source: str) -> None:
    """Reaching for Python internals, host globals or mutation is a sandbox violation."""
    subject = {"x": 1, "xs": [1, 2]}
    error = render_error(env, source, subject)
    assert isinstance(error, TemplateRenderError)
    assert error.reason == "TEMPLATE_SANDBOX_VIOLATION"
    assert subject == {"x": 1, "xs": [1, 2]}


@pytest.mark.parametrize(
    "source", ["{{ x | attr('__class__') }}", "{{ 'x' | format() }}", "{{ 'x' | center(9) }}"]
)
def test_unsafe_jinja_filters_are_not_offered(env: TemplateEnvironment, source: str) -> None:
    """Filters that reach attributes or amplify output do not exist in the environment."""
    error = render_error(env, source, {"x": 1})
    assert isinstance(error, TemplateRenderError)
    assert error.reason == "TEMPLATE_SYNTAX_ERROR"


# -- limits -----------------------------------------------------------------------------------


def test_huge_range_fails_fast(env: TemplateEnvironment) -> None:
    """A ten-million-step loop is refused at range() before a single iteration."""
    started = time.thread_time()
    error = render_error(env, "{% for i in range(10**7) %}x{% endfor %}")
    assert error.reason == "TEMPLATE_LIMIT_EXCEEDED"
    assert time.thread_time() - started < 0.5


def test_output_over_the_limit_is_refused() -> None:
    """Output past max_output_chars stops the render with TEMPLATE_OUTPUT_TOO_LARGE."""
    env = TemplateEnvironment(max_output_chars=1_000)
    error = render_error(env, '{"a": "{% for i in range(500) %}0123456789{% endfor %}"}')
    assert error.reason == "TEMPLATE_OUTPUT_TOO_LARGE"


@pytest.mark.parametrize(
    "expression",
    [
        "('ab' * 30000) | list | length",
        "('ab' * 30000) | sort | first",
        "range(1000) | list | list | length",
        "('a,' * 2000).split(',') | unique | list | length",
        "('a,' * 2000).split(',') | select('eq', 'a') | list | length",
        "('a,' * 2000).split(',') | join | length",
    ],
)
def test_filters_walk_at_most_the_item_limit(expression: str) -> None:
    """A filter that does Python work per item refuses an input longer than the loop
    allowance at once, instead of running one long call past the render's deadline."""
    env = TemplateEnvironment(max_loop_iterations=1000)
    source = '{"n": {{ ' + expression + " }}}"
    if expression.startswith("range"):
        assert env.render_claims(make_template(source), {}, now=NOW) == {"n": 1000}
    else:
        assert render_error(env, source).reason == "TEMPLATE_LIMIT_EXCEEDED"


def test_nested_loops_share_one_iteration_budget() -> None:
    """Loops inside loops draw from one allowance, so their product is bounded."""
    env = TemplateEnvironment(max_loop_iterations=100)
    source = "{% for a in range(50) %}{% for b in range(50) %}{% endfor %}{% endfor %}{}"
    assert render_error(env, source).reason == "TEMPLATE_LIMIT_EXCEEDED"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 'x' * 10**9 }}", "TEMPLATE_OUTPUT_TOO_LARGE"),
        ("{% set a = ['x' * 60000] * 10000 %}{{ a }}", "TEMPLATE_OUTPUT_TOO_LARGE"),
        ("{% set a = ['x' * 60000] * 100 %}{{ a | join }}", "TEMPLATE_OUTPUT_TOO_LARGE"),
        ("{% set a = ['x' * 60000] * 10000 %}{{ a | join }}", "TEMPLATE_LIMIT_EXCEEDED"),
        ("{% set a = ['x' * 60000] * 10000 %}{{ '' ~ a }}", "TEMPLATE_OUTPUT_TOO_LARGE"),
        (
            "{% set a = 'x' * 60000 %}{% set b = a ~ a %}{{ b | length }}",
            "TEMPLATE_OUTPUT_TOO_LARGE",
        ),
        (
            "{% set a = 'x' * 60000 %}{% set b = a + a %}{{ b | length }}",
            "TEMPLATE_OUTPUT_TOO_LARGE",
        ),
        ("{{ 2 ** 1000000 }}", "TEMPLATE_LIMIT_EXCEEDED"),
        ("{{ 10**300 * 10**300 * 10**300 * 10**300 }}", "TEMPLATE_LIMIT_EXCEEDED"),
    ],
)
def test_amplification_is_refused_before_allocating(
    env: TemplateEnvironment, source: str, reason: str
) -> None:
    """Operators and filters that would build huge values fail before building them."""
    assert render_error(env, source).reason == reason


def test_render_deadline_stops_collection_work() -> None:
    """With no CPU time allowed, a template that sorts fails; one without such work renders."""
    env = TemplateEnvironment(max_render_seconds=0)
    assert render_error(env, '{"a": {{ xs | sort }}}', {"xs": [2, 1]}).reason == (
        "TEMPLATE_LIMIT_EXCEEDED"
    )
    assert env.render_claims(PID, PID_EXAMPLE_SUBJECT, now=NOW) == PID_EXAMPLE_CLAIMS


# -- the compile cache ------------------------------------------------------------------------


def test_compile_cache_hits(env: TemplateEnvironment) -> None:
    """A thousand renders of one template compile it once."""
    for _ in range(1_000):
        env.render_claims(PID, PID_EXAMPLE_SUBJECT, now=NOW)
    assert env.compile_count() == 1


def test_invalidate_drops_exactly_one_template(env: TemplateEnvironment) -> None:
    """Invalidating one template recompiles it alone; others, and other tenants', stay cached."""
    first = make_template('{"a": 1}', template_id="first", tenant_id="acme")
    first_v2 = make_template('{"a": 2}', template_id="first", tenant_id="acme", version=2)
    second = make_template('{"b": 1}', template_id="second", tenant_id="acme")
    other_tenant = make_template('{"a": 1}', template_id="first", tenant_id="globex")
    everything = (first, first_v2, second, other_tenant, PID)
    for template in everything:
        env.render_claims(template, PID_EXAMPLE_SUBJECT, now=NOW)
    assert env.compile_count() == 5

    env.invalidate("acme", "first")
    for template in everything:
        env.render_claims(template, PID_EXAMPLE_SUBJECT, now=NOW)
    assert env.compile_count() == 7  # first and first_v2, nothing else


def test_version_bump_recompiles(env: TemplateEnvironment) -> None:
    """A new version of a template compiles anew and renders its new source."""
    v1 = make_template('{"v": 1}', tenant_id="acme")
    v2 = make_template('{"v": 2}', tenant_id="acme", version=2)
    assert env.render_claims(v1, {}, now=NOW) == {"v": 1}
    assert env.render_claims(v2, {}, now=NOW) == {"v": 2}
    assert env.compile_count() == 2


def test_changed_source_under_the_same_version_is_not_served_stale(
    env: TemplateEnvironment,
) -> None:
    """A different source under an unchanged version recompiles rather than rendering old code."""
    assert env.render_claims(make_template('{"v": 1}'), {}, now=NOW) == {"v": 1}
    assert env.render_claims(make_template('{"v": 2}'), {}, now=NOW) == {"v": 2}


def test_broken_template_is_compiled_once(env: TemplateEnvironment) -> None:
    """A template that does not compile fails every time but is parsed only once."""
    broken = make_template("{% for %}")
    for _ in range(3):
        with pytest.raises(TemplateRenderError) as caught:
            env.render_claims(broken, {}, now=NOW)
        assert caught.value.reason == "TEMPLATE_SYNTAX_ERROR"
    assert env.compile_count() == 1


def test_compile_checks_a_template_up_front(env: TemplateEnvironment) -> None:
    """`compile` raises for a template that cannot compile and caches one that can."""
    with pytest.raises(TemplateRenderError) as caught:
        env.compile(make_template("{{ self }}"))
    assert caught.value.reason == "TEMPLATE_SANDBOX_VIOLATION"
    env.compile(PID)
    env.render_claims(PID, PID_EXAMPLE_SUBJECT, now=NOW)
    assert env.compile_count() == 2


def test_cache_evicts_the_least_recently_used() -> None:
    """Past max_cached_templates the least recently used template is dropped."""
    env = TemplateEnvironment(max_cached_templates=2)
    a, b, c = (make_template('{"x": 1}', template_id=name) for name in "abc")
    for template in (a, b, a, c, a):  # c evicts b, the least recently used
        env.render_claims(template, {}, now=NOW)
    assert env.compile_count() == 3
    env.render_claims(b, {}, now=NOW)
    assert env.compile_count() == 4


def test_concurrent_renders_share_one_compilation(env: TemplateEnvironment) -> None:
    """Renders on many threads at once give the same claims from a single compilation."""

    def render(_: int) -> dict[str, Any]:
        return env.render_claims(PID, PID_EXAMPLE_SUBJECT, now=NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(render, range(400)))
    assert all(claims == PID_EXAMPLE_CLAIMS for claims in results)
    assert env.compile_count() == 1


# -- the template definition ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, 30 * DAY), (0, 30 * DAY), (1, 1), (DAY, DAY), (365 * DAY, 365 * DAY)],
)
def test_validity_within_bounds(requested: int | None, expected: int) -> None:
    """No request (or 0) gives the default; a request within the maximum is kept."""
    assert PID.validity(requested) == expected


@pytest.mark.parametrize(
    ("requested", "bound"),
    [(-1, "min_validity_seconds"), (365 * DAY + 1, "max_validity_seconds")],
)
def test_validity_out_of_bounds(requested: int, bound: str) -> None:
    """A negative or over-long validity is refused, naming the bound it broke."""
    with pytest.raises(InvalidArgumentError) as caught:
        PID.validity(requested)
    assert caught.value.reason == "VALIDITY_OUT_OF_RANGE"
    assert bound in caught.value.metadata


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"template_id": ""}, "template_id"),
        ({"vct": " "}, "vct"),
        ({"claims_template": ""}, "claims_template"),
        ({"claims_template": "x" * (64 * 1024 + 1)}, "claims_template"),
        ({"disclosable": ("",)}, "disclosable"),
        ({"disclosable": ("a..b",)}, "disclosable"),
        ({"disclosable": ("a[",)}, "disclosable"),
        ({"disclosable": ("a[]x",)}, "disclosable"),
        ({"disclosable": ("iss",)}, "disclosable"),
        ({"disclosable": ("address._sd",)}, "disclosable"),
        ({"disclosable": ("a", "a")}, "disclosable"),
        ({"default_validity_seconds": 0}, "default_validity_seconds"),
        ({"default_validity_seconds": 20 * DAY}, "max_validity_seconds"),
        ({"version": 0}, "version"),
    ],
)
def test_invalid_template_definitions(fields: dict[str, Any], field: str) -> None:
    """A template that could never issue a credential is refused when it is defined."""
    with pytest.raises(InvalidTemplateError) as caught:
        make_template('{"a": 1}', **fields)
    assert caught.value.reason == "TEMPLATE_INVALID"
    assert caught.value.metadata == {"field": field}


def test_disclosable_accepts_the_issuer_path_syntax() -> None:
    """Member paths, array elements and paths through arrays are accepted, lists coerced."""
    paths = ["family_name", "place_of_birth.locality", "nationalities[]", "addresses[].street"]
    template = make_template('{"a": 1}', disclosable=paths)
    assert template.disclosable == tuple(paths)
