"""A render that lacks subject fields names all of them at once, and the fields the
template never reads, and names nothing a subject may leave out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    PID_EXAMPLE_SUBJECT,
    CredentialTemplate,
    MissingSubjectFieldError,
    TemplateEnvironment,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PID = BUILTIN_TEMPLATES["pid"]
MDL = BUILTIN_TEMPLATES["mdl"]


def template(source: str, *schema: str) -> CredentialTemplate:
    return CredentialTemplate(
        template_id="t",
        vct="urn:example:t",
        claims_template=source,
        disclosable=(),
        default_validity_seconds=86_400,
        max_validity_seconds=86_400,
        data_schema=schema,
    )


def refusal(credential: CredentialTemplate, subject: dict[str, Any]) -> MissingSubjectFieldError:
    environment = TemplateEnvironment()
    environment.check_credential(credential)
    with pytest.raises(MissingSubjectFieldError) as caught:
        environment.render_claims(credential, subject, now=NOW)
    assert caught.value.reason == "SUBJECT_FIELD_MISSING"
    return caught.value


def test_an_empty_subject_names_every_pid_field_in_template_order() -> None:
    """All seven PID fields are named, the first one still in `field`."""
    error = refusal(PID, {})
    fields = (
        "family_name,given_name,birthdate,nationalities,place_of_birth,issuing_country,"
        "issuing_authority"
    )
    assert error.metadata == {"field": "family_name", "fields": fields}
    assert error.message == (
        "subject fields 'family_name', 'given_name', 'birthdate', 'nationalities', "
        "'place_of_birth', 'issuing_country', 'issuing_authority' are required by template "
        "'pid'"
    )


def test_nested_fields_are_named_by_their_path() -> None:
    """An object without its member is named down to the member; a missing list element
    by its index."""
    subject = {**PID_EXAMPLE_SUBJECT, "place_of_birth": {"country": "DE"}}
    del subject["issuing_authority"]
    assert refusal(PID, subject).metadata["fields"] == "place_of_birth.locality,issuing_authority"
    source = '{"first": {{ names[0] }}, "city": {{ address["city"] }}}'
    error = refusal(template(source, "names", "address"), {"names": [], "address": {}})
    assert error.metadata["fields"] == "names[0],address.city"


def test_reads_a_subject_may_skip_are_not_named() -> None:
    """Fields read only in a branch, a loop body, after `and`, in one arm of `if else`,
    under `default` or in an `is defined` test are optional: only the others are named."""
    source = (
        '{"a": {{ a }}, "b": {{ b | default("-") }}, "c": {{ c if d is defined else 1 }},'
        ' "e": {{ e is defined }}, "f": {{ f and m }}'
        '{% if h is defined %}, "h": {{ h }}{% endif %}'
        '{% for item in items %}, "i": {{ item.name ~ j }}{% endfor %},'
        ' "k": {{ subject.k }}, "n": {{ today.year }}}'
    )
    credential = template(source, "a", "b", "c", "d", "e", "f", "m", "h", "items", "j")
    error = refusal(credential, {})
    assert error.metadata["fields"] == "a,f,items,k"


def test_what_the_template_computes_is_not_taken_for_subject_fields() -> None:
    """A variable set in the template and a key computed at render time are not followed;
    the render's own first field is named whatever the analysis finds."""
    source = '{% set x = a %}{"x": {{ x }}, "y": {{ b[c] }}, "z": {{ d }}}'
    error = refusal(template(source, "a", "b", "c", "d"), {"b": {}, "c": "k"})
    assert error.metadata["field"] == "a"
    assert error.metadata["fields"] == "a,d"


def test_fields_the_template_does_not_read_are_named_with_their_likely_name() -> None:
    """Subject fields outside data_schema are named, with a did-you-mean from the schema."""
    subject = dict(PID_EXAMPLE_SUBJECT)
    subject["birth_date"] = subject.pop("birthdate")
    subject["nickname"] = "E"
    error = refusal(PID, subject)
    assert error.metadata == {
        "field": "birthdate",
        "fields": "birthdate",
        "unread_fields": "birth_date,nickname",
    }
    assert error.message == (
        "subject field 'birthdate' is required by template 'pid'; it does not read the "
        "subject field(s) 'birth_date' (did you mean 'birthdate'?), 'nickname'"
    )


def test_a_template_reading_the_whole_subject_names_no_unread_field() -> None:
    """`subject` used whole may read any field, so none is called unread; fields it names
    as `subject.x` count as read."""
    whole = template('{"all": {{ subject }}, "a": {{ a }}}', "a")
    assert "unread_fields" not in refusal(whole, {"zzz": 1}).metadata
    named = template('{"a": {{ a }}, "b": {{ subject.b }}}', "a")
    error = refusal(named, {"b": 1, "zzz": 1})
    assert error.metadata["unread_fields"] == "zzz"


def test_the_lists_are_bounded() -> None:
    """However many unread fields a subject has, a bounded number is named, with a count
    of the rest."""
    subject = {f"extra_{index}": index for index in range(50)}
    error = refusal(PID, subject)
    listed = error.metadata["unread_fields"].split(",")
    assert 0 < len(listed) <= 20
    assert error.message.endswith(f" and {50 - len(listed)} more")


def test_mdl_names_its_fields_and_privilege_members() -> None:
    """The mDL: every top-level field of an empty subject; a privilege without its
    category code by its path."""
    assert refusal(MDL, {}).metadata["fields"].split(",") == list(MDL.data_schema)
    subject = {
        "family_name": "M",
        "given_name": "E",
        "birthdate": "1964-08-12",
        "issue_date": "2024-01-15",
        "expiry_date": "2039-01-14",
        "issuing_country": "DE",
        "issuing_authority": "X",
        "document_number": "1",
        "driving_privileges": [{}],
    }
    error = refusal(MDL, subject)
    assert error.metadata["fields"] == "driving_privileges[0].vehicle_category_code"
