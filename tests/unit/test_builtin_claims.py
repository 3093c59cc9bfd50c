"""The built-ins' claims computed directly are exactly what their templates render."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eudi_connect.core.templates import (
    MDL_EXAMPLE_SUBJECT,
    PID_EXAMPLE_SUBJECT,
    CredentialTemplate,
    TemplateEnvironment,
    direct_claims,
)
from eudi_connect.core.templates.builtin import MDL, PID
from eudi_connect.errors import EudiConnectError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

_texts = st.one_of(
    st.text(min_size=1, max_size=20),
    st.sampled_from(["Mustermann", 'Zoë "Q" \\ O\'Brien', " ", "", "\x00\n\t", "\ud800"]),
)
_dates = st.one_of(
    st.dates().map(lambda day: day.isoformat()),
    st.sampled_from(["1964-08-12", "2008-03-01", "2008-03-02", "2030-01-01", "1964-8-12"]),
    st.sampled_from(["19640812", "2023-02-29", "", "not a date"]),
)
_countries = st.sampled_from(["DE", "FR", "de", "DEU", "", "D1"])
_anything = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.booleans())


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a good-looking value, sometimes one of the wrong type."""
    return st.one_of(values, values, values, _anything, st.lists(values, max_size=2))


_place = st.one_of(
    st.fixed_dictionaries({"locality": _maybe(_texts)}, optional={"country": _maybe(_countries)}),
    _maybe(_texts),
)
_pid_subjects = st.fixed_dictionaries(
    {},
    optional={
        "family_name": _maybe(_texts),
        "given_name": _maybe(_texts),
        "birthdate": _maybe(_dates),
        "nationalities": st.one_of(st.lists(_maybe(_countries), max_size=3), _maybe(_countries)),
        "place_of_birth": _place,
        "issuing_country": _maybe(_countries),
        "issuing_authority": _maybe(_texts),
        "extra": _texts,
    },
)
_privileges = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"vehicle_category_code": _maybe(_texts)},
            optional={"issue_date": _maybe(_dates), "expiry_date": _maybe(_dates)},
        ),
        _anything,
    ),
    max_size=3,
)
_mdl_subjects = st.fixed_dictionaries(
    {},
    optional={
        "family_name": _maybe(_texts),
        "given_name": _maybe(_texts),
        "birthdate": _maybe(_dates),
        "issue_date": _maybe(_dates),
        "expiry_date": _maybe(_dates),
        "issuing_country": _maybe(_countries),
        "issuing_authority": _maybe(_texts),
        "document_number": _maybe(_texts),
        "driving_privileges": st.one_of(_privileges, _maybe(_texts)),
    },
)


def _outcome(environment: TemplateEnvironment, template: CredentialTemplate, subject: Any) -> Any:
    try:
        return environment.render_claims(template, subject, now=NOW)
    except EudiConnectError as error:
        return (type(error), error.reason, error.message, dict(error.metadata))


def _assert_same(template: CredentialTemplate, subject: dict[str, Any], limit: int) -> None:
    environment = TemplateEnvironment(max_output_chars=limit)
    # The same source as a tenant's template always renders through the sandbox.
    through_sandbox = replace(template, tenant_id="tenant-1")
    assert _outcome(environment, template, subject) == _outcome(
        environment, through_sandbox, subject
    )


@settings(max_examples=120, deadline=None)
@given(_pid_subjects)
def test_pid_claims_and_errors_match_the_template(subject: dict[str, Any]) -> None:
    """Every PID subject gets the claims, or the error, its template renders."""
    _assert_same(PID, subject, 64 * 1024)


@settings(max_examples=100, deadline=None)
@given(_mdl_subjects)
def test_mdl_claims_and_errors_match_the_template(subject: dict[str, Any]) -> None:
    """Every mDL subject gets the claims, or the error, its template renders."""
    _assert_same(MDL, subject, 64 * 1024)


def test_the_examples_take_the_direct_path() -> None:
    """The example subjects are the common case: their claims are computed directly."""
    for template, subject in ((PID, PID_EXAMPLE_SUBJECT), (MDL, MDL_EXAMPLE_SUBJECT)):
        direct = direct_claims(
            template, subject, NOW.date(), max_output_chars=65536, max_loop_iterations=1000
        )
        assert direct is not None
        assert direct == TemplateEnvironment().render_claims(
            replace(template, tenant_id="tenant-1"), subject, now=NOW
        )


@pytest.mark.parametrize("length", [100, 400, 1000, 2000])
def test_values_near_the_size_limit_get_the_template_outcome(length: int) -> None:
    """A subject whose claims come near the output limit ends as the template ends."""
    subject = {**PID_EXAMPLE_SUBJECT, "family_name": "\x01" * length}
    _assert_same(PID, subject, 1500)


def test_a_tenant_copy_of_a_builtin_is_never_computed_directly() -> None:
    """A tenant's template with a built-in's id and source renders through the sandbox."""
    tenant_copy = replace(PID, tenant_id="tenant-1")
    assert (
        direct_claims(
            tenant_copy,
            PID_EXAMPLE_SUBJECT,
            NOW.date(),
            max_output_chars=65536,
            max_loop_iterations=1000,
        )
        is None
    )
