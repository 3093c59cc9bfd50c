"""The claims of the built-in templates computed directly, for the subjects they accept.

A render through the sandbox (Jinja's generator, the streamed output, the JSON read back)
costs several times what the built-ins' few filters do. The built-ins are the service's own
sources, so their claims are computed here with the same filters, in the same order, into
the same shape. Only the common case is taken: every field present, of the expected type,
and an output surely within the size limit. For anything else (a missing or invalid field,
an unexpected type, a value near the limit) these return None and the template renders
through the sandbox as before, which reports the error, with its field, as it always did.
`tests/unit/test_builtin_claims.py` renders subjects both ways and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ._filters import age_in_years, as_str, country_code, country_codes, iso_date
from ._values import SubjectValueError
from .builtin import MDL, PID
from .credential import CredentialTemplate

#: The most a JSON string encoding can grow a string: every character as `\uXXXX`.
_JSON_GROWTH = 6
_ADULT_AGE = 18

_Direct = Callable[[Mapping[str, Any], date, int, int], "dict[str, Any] | None"]


def direct_claims(
    template: CredentialTemplate,
    subject: Mapping[str, Any],
    today: date,
    *,
    max_output_chars: int,
    max_loop_iterations: int,
) -> dict[str, Any] | None:
    """The claims `template` renders for `subject`, or None when the sandbox must render
    them (a tenant template, or a subject outside the common case)."""
    if template.tenant_id is not None:
        return None
    known = _DIRECT.get(template.template_id)
    if known is None or known[0] != template.claims_template:
        return None
    try:
        return known[1](subject, today, max_output_chars, max_loop_iterations)
    except (KeyError, TypeError, ValueError, SubjectValueError):
        return None


def _text_size(*values: str) -> int:
    """An upper bound of what the values take as JSON strings."""
    return sum(len(value) * _JSON_GROWTH + 2 for value in values)


def _pid(subject: Mapping[str, Any], today: date, limit: int, _loops: int) -> dict[str, Any] | None:
    place = subject["place_of_birth"]
    if type(place) is not dict:
        return None
    family_name = as_str(subject["family_name"])
    given_name = as_str(subject["given_name"])
    birthdate = iso_date(subject["birthdate"])
    adult = age_in_years(subject["birthdate"], today) >= _ADULT_AGE
    nationalities = country_codes(subject["nationalities"])
    place_of_birth = {"locality": as_str(place["locality"])}
    if "country" in place:
        place_of_birth["country"] = country_code(place["country"])
    issuing_country = country_code(subject["issuing_country"])
    issuing_authority = as_str(subject["issuing_authority"])
    size = len(PID.claims_template) + _text_size(
        family_name, given_name, place_of_birth["locality"], issuing_authority
    )
    if size + _text_size(*nationalities) > limit:
        return None
    return {
        "family_name": family_name,
        "given_name": given_name,
        "birthdate": birthdate,
        "age_equal_or_over": {"18": adult},
        "nationalities": nationalities,
        "place_of_birth": place_of_birth,
        "issuing_country": issuing_country,
        "issuing_authority": issuing_authority,
    }


def _mdl(subject: Mapping[str, Any], today: date, limit: int, loops: int) -> dict[str, Any] | None:
    family_name = as_str(subject["family_name"])
    given_name = as_str(subject["given_name"])
    birth_date = iso_date(subject["birthdate"])
    adult = age_in_years(subject["birthdate"], today) >= _ADULT_AGE
    issue_date = iso_date(subject["issue_date"])
    expiry_date = iso_date(subject["expiry_date"])
    issuing_country = country_code(subject["issuing_country"])
    issuing_authority = as_str(subject["issuing_authority"])
    document_number = as_str(subject["document_number"])
    privileges = subject["driving_privileges"]
    if type(privileges) is not list or len(privileges) > loops:
        return None
    # The loop body's text is written once per privilege: the whole source bounds it.
    size = len(MDL.claims_template) * (len(privileges) + 1)
    size += _text_size(family_name, given_name, issuing_authority, document_number)
    written = []
    for privilege in privileges:
        if type(privilege) is not dict:
            return None
        entry = {"vehicle_category_code": as_str(privilege["vehicle_category_code"])}
        size += _text_size(entry["vehicle_category_code"])
        if "issue_date" in privilege:
            entry["issue_date"] = iso_date(privilege["issue_date"])
        if "expiry_date" in privilege:
            entry["expiry_date"] = iso_date(privilege["expiry_date"])
        written.append(entry)
    if size > limit:
        return None
    return {
        "family_name": family_name,
        "given_name": given_name,
        "birth_date": birth_date,
        "age_equal_or_over": {"18": adult},
        "issue_date": issue_date,
        "expiry_date": expiry_date,
        "issuing_country": issuing_country,
        "issuing_authority": issuing_authority,
        "document_number": document_number,
        "driving_privileges": written,
    }


_DIRECT: dict[str, tuple[str, _Direct]] = {
    PID.template_id: (PID.claims_template, _pid),
    MDL.template_id: (MDL.claims_template, _mdl),
}
