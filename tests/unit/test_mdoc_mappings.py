"""The built-in PID and mDL mappings from flat template claims to mdoc elements."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from eudi_connect.core.mdoc import (
    BUILTIN_MAPPINGS,
    MDL_DOCTYPE,
    MDL_MAPPING,
    MDL_NAMESPACE,
    PID_DOCTYPE,
    PID_MAPPING,
    PID_NAMESPACE,
    MdocIssuanceError,
    to_mdoc_namespaces,
)
from eudi_connect.core.templates.builtin import PID, PID_EXAMPLE_SUBJECT
from eudi_connect.core.templates.environment import TemplateEnvironment


def test_doctypes_and_namespaces_are_the_published_ones() -> None:
    assert (PID_DOCTYPE, PID_NAMESPACE) == ("eu.europa.ec.eudi.pid.1", "eu.europa.ec.eudi.pid.1")
    assert (MDL_DOCTYPE, MDL_NAMESPACE) == ("org.iso.18013.5.1.mDL", "org.iso.18013.5.1")
    assert BUILTIN_MAPPINGS == {PID_DOCTYPE: PID_MAPPING, MDL_DOCTYPE: MDL_MAPPING}


def test_pid_template_claims_become_pid_rulebook_elements() -> None:
    claims = TemplateEnvironment().render_claims(
        PID, PID_EXAMPLE_SUBJECT, now=datetime(2025, 6, 1, tzinfo=UTC)
    )
    namespaces = to_mdoc_namespaces(
        PID_MAPPING, claims, issuance_date=date(2025, 1, 2), expiry_date=date(2030, 1, 1)
    )
    assert namespaces == {
        PID_NAMESPACE: {
            "family_name": "Mustermann",
            "given_name": "Erika",
            "birth_date": date(1964, 8, 12),
            "age_over_18": True,
            "nationality": ["DE"],
            "place_of_birth": {"locality": "Berlin", "country": "DE"},
            "issuing_country": "DE",
            "issuing_authority": "DE",
            "issuance_date": date(2025, 1, 2),
            "expiry_date": date(2030, 1, 1),
        }
    }


def test_pid_address_is_spread_over_resident_elements() -> None:
    claims = {
        "address": {"street_address": "Heidestraße 17", "locality": "Köln", "country": "DE"},
        "date_of_expiry": "2031-12-31",
    }
    assert to_mdoc_namespaces(PID_MAPPING, claims)[PID_NAMESPACE] == {
        "resident_street": "Heidestraße 17",
        "resident_city": "Köln",
        "resident_country": "DE",
        "expiry_date": date(2031, 12, 31),
    }


def test_claims_already_carrying_administrative_dates_keep_them() -> None:
    elements = to_mdoc_namespaces(
        PID_MAPPING, {"date_of_issuance": "2024-01-01"}, issuance_date=date(2025, 1, 1)
    )[PID_NAMESPACE]
    assert elements == {"issuance_date": date(2024, 1, 1)}


def test_mdl_dates_are_converted_also_inside_driving_privileges() -> None:
    claims = {
        "family_name": "Doe",
        "birth_date": "1990-02-03",
        "document_number": "D1234567",
        "driving_privileges": [
            {"vehicle_category_code": "B", "issue_date": "2010-05-06", "expiry_date": "2030-05-06"}
        ],
    }
    elements = to_mdoc_namespaces(
        MDL_MAPPING, claims, issuance_date=date(2025, 1, 1), expiry_date=date(2035, 1, 1)
    )[MDL_NAMESPACE]
    assert elements == {
        "family_name": "Doe",
        "birth_date": date(1990, 2, 3),
        "document_number": "D1234567",
        "driving_privileges": [
            {
                "vehicle_category_code": "B",
                "issue_date": date(2010, 5, 6),
                "expiry_date": date(2030, 5, 6),
            }
        ],
        "issue_date": date(2025, 1, 1),
        "expiry_date": date(2035, 1, 1),
    }


@pytest.mark.parametrize("text", ["1990-02-30", "19900203", "1990-2-3", "2024-W01-1"])
def test_date_elements_must_be_calendar_dates_in_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(MdocIssuanceError, match="birth_date"):
        to_mdoc_namespaces(MDL_MAPPING, {"birth_date": text})


def test_age_claims_need_numeric_ages() -> None:
    with pytest.raises(MdocIssuanceError, match="ages"):
        to_mdoc_namespaces(PID_MAPPING, {"age_equal_or_over": {"adult": True}})
