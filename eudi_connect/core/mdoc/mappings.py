"""Built-in doctypes: the EUDI PID and the ISO mDL, and their claims as mdoc elements.

Templates render one flat JSON claims object (SD-JWT VC names for the PID). The mdoc
encoding of the same credential names some elements differently and types dates as
`full-date`, so the mapping is data here: renames, flattened objects and date elements.
Sources: ARF PID Rulebook chapter 3 (PID), ISO/IEC 18013-5 section 7.2.1 (mDL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from .errors import MdocIssuanceError

PID_DOCTYPE = "eu.europa.ec.eudi.pid.1"
PID_NAMESPACE = "eu.europa.ec.eudi.pid.1"
MDL_DOCTYPE = "org.iso.18013.5.1.mDL"
MDL_NAMESPACE = "org.iso.18013.5.1"

#: SD-JWT VC's age claims (`age_equal_or_over: {"18": true}`) become `age_over_18` elements.
_AGE_OBJECT = "age_equal_or_over"
_AGE_ELEMENT_PREFIX = "age_over_"
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class MdocMapping:
    """How one credential type's flat claims become elements of one mdoc namespace."""

    doc_type: str
    namespace: str
    renames: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    #: Object claims spread over several elements: claim -> member -> element identifier.
    flattened: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _frozen({}))
    #: Elements (at any depth, e.g. inside driving_privileges) whose text is a full-date.
    date_elements: frozenset[str] = frozenset()
    issuance_date_element: str = "issuance_date"
    expiry_date_element: str = "expiry_date"


PID_MAPPING = MdocMapping(
    doc_type=PID_DOCTYPE,
    namespace=PID_NAMESPACE,
    renames=_frozen(
        {
            "birthdate": "birth_date",
            "nationalities": "nationality",
            "birth_family_name": "family_name_birth",
            "birth_given_name": "given_name_birth",
            "email": "email_address",
            "phone_number": "mobile_phone_number",
            "date_of_issuance": "issuance_date",
            "date_of_expiry": "expiry_date",
        }
    ),
    flattened=_frozen(
        {
            "address": _frozen(
                {
                    "formatted": "resident_address",
                    "country": "resident_country",
                    "region": "resident_state",
                    "locality": "resident_city",
                    "postal_code": "resident_postal_code",
                    "street_address": "resident_street",
                    "house_number": "resident_house_number",
                }
            )
        }
    ),
    date_elements=frozenset({"birth_date", "issuance_date", "expiry_date"}),
)

MDL_MAPPING = MdocMapping(
    doc_type=MDL_DOCTYPE,
    namespace=MDL_NAMESPACE,
    renames=_frozen({"birthdate": "birth_date"}),
    date_elements=frozenset({"birth_date", "issue_date", "expiry_date"}),
    issuance_date_element="issue_date",
)

BUILTIN_MAPPINGS: Mapping[str, MdocMapping] = _frozen(
    {PID_DOCTYPE: PID_MAPPING, MDL_DOCTYPE: MDL_MAPPING}
)


def _with_dates(name: str, value: Any, mapping: MdocMapping) -> Any:
    """Turns 'YYYY-MM-DD' text of date elements into dates, also inside nested objects."""
    if name in mapping.date_elements and isinstance(value, str):
        if not _FULL_DATE.fullmatch(value):
            raise MdocIssuanceError(f"element {name} must be a YYYY-MM-DD date")
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise MdocIssuanceError(f"element {name} is not a calendar date") from exc
    if isinstance(value, Mapping):
        return {key: _with_dates(key, item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_dates(name, item, mapping) for item in value]
    return value


def to_mdoc_namespaces(
    mapping: MdocMapping,
    claims: Mapping[str, Any],
    *,
    issuance_date: date | None = None,
    expiry_date: date | None = None,
) -> dict[str, dict[str, Any]]:
    """The `namespaces` argument of `issue_mdoc` for flat template claims.

    Claims without a rule keep their name. `issuance_date` and `expiry_date` (the
    administrative validity, not the MSO's) are added unless the claims carry them.
    """
    elements: dict[str, Any] = {}
    for name, value in claims.items():
        if name == _AGE_OBJECT and isinstance(value, Mapping):
            for age, over in value.items():
                if not (isinstance(age, str) and age.isascii() and age.isdigit()):
                    raise MdocIssuanceError(f"{_AGE_OBJECT} keys must be ages, not {age!r}")
                elements[f"{_AGE_ELEMENT_PREFIX}{age}"] = over
        elif name in mapping.flattened and isinstance(value, Mapping):
            members = mapping.flattened[name]
            for member, item in value.items():
                elements[members.get(member, f"{name}_{member}")] = item
        else:
            elements[mapping.renames.get(name, name)] = value
    if issuance_date is not None:
        elements.setdefault(mapping.issuance_date_element, issuance_date)
    if expiry_date is not None:
        elements.setdefault(mapping.expiry_date_element, expiry_date)
    return {mapping.namespace: {k: _with_dates(k, v, mapping) for k, v in elements.items()}}
