"""Templates every tenant has without creating them: the EU Digital Identity PID."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from eudi_connect.core.mdoc.mappings import MDL_DOCTYPE, PID_DOCTYPE

from .credential import CredentialTemplate

_DAY = 24 * 60 * 60

# Person Identification Data in its SD-JWT VC encoding (ARF PID Rulebook). Every {{ }} output
# is JSON-encoded by the environment; the filters check the subject's types and formats.
# Required subject fields: family_name, given_name, birthdate (YYYY-MM-DD), nationalities
# (non-empty list of ISO 3166-1 alpha-2 codes), place_of_birth ({"locality": ..., optional
# "country": alpha-2}), issuing_country (alpha-2) and issuing_authority.
_PID_CLAIMS = """\
{
  "family_name": {{ family_name | as_str }},
  "given_name": {{ given_name | as_str }},
  "birthdate": {{ birthdate | iso_date }},
  "age_equal_or_over": {"18": {{ birthdate | age_over(18) }}},
  "nationalities": {{ nationalities | country_codes }},
  "place_of_birth": {
    "locality": {{ place_of_birth.locality | as_str }}
    {%- if place_of_birth.country is defined %},
    "country": {{ place_of_birth.country | country_code }}
    {%- endif %}
  },
  "issuing_country": {{ issuing_country | country_code }},
  "issuing_authority": {{ issuing_authority | as_str }}
}
"""

PID = CredentialTemplate(
    template_id="pid",
    vct="urn:eudi:pid:1",
    claims_template=_PID_CLAIMS,
    # Each claim and each nationality can be shown alone; place_of_birth is disclosable as a
    # whole and member by member, so a holder can prove a country of birth without the town.
    # issuing_country and issuing_authority stay visible: verifiers need them to judge trust.
    disclosable=(
        "family_name",
        "given_name",
        "birthdate",
        "age_equal_or_over.18",
        "nationalities[]",
        "place_of_birth",
        "place_of_birth.locality",
        "place_of_birth.country",
    ),
    # PIDs are issued as batches of one-time-use copies (one per presentation, for
    # unlinkability), which wallets top up well before they run out; 30 days keeps a lost or
    # cloned copy useful only briefly without forcing daily re-issuance. Revocation via the
    # status list covers the rest, so a year is allowed for wallets that cannot refresh often.
    default_validity_seconds=30 * _DAY,
    max_validity_seconds=365 * _DAY,
    mdoc_doc_type=PID_DOCTYPE,
    data_schema=(
        "family_name",
        "given_name",
        "birthdate",
        "nationalities",
        "place_of_birth",
        "issuing_country",
        "issuing_authority",
    ),
)

#: A subject the PID template accepts; the README shows it, tests render it.
PID_EXAMPLE_SUBJECT: Mapping[str, Any] = MappingProxyType(
    {
        "family_name": "Mustermann",
        "given_name": "Erika",
        "birthdate": "1964-08-12",
        "nationalities": ["DE"],
        "place_of_birth": {"locality": "Berlin", "country": "DE"},
        "issuing_country": "DE",
        "issuing_authority": "DE",
    }
)

# The ISO/IEC 18013-5 mobile driving licence (section 7.2.1 data elements, without the
# portrait and signature images). Required subject fields: family_name, given_name,
# birthdate, issue_date, expiry_date (YYYY-MM-DD), issuing_country (alpha-2),
# issuing_authority, document_number and driving_privileges (a list of
# {"vehicle_category_code", optional "issue_date", "expiry_date"}).
_MDL_CLAIMS = """\
{
  "family_name": {{ family_name | as_str }},
  "given_name": {{ given_name | as_str }},
  "birth_date": {{ birthdate | iso_date }},
  "age_equal_or_over": {"18": {{ birthdate | age_over(18) }}},
  "issue_date": {{ issue_date | iso_date }},
  "expiry_date": {{ expiry_date | iso_date }},
  "issuing_country": {{ issuing_country | country_code }},
  "issuing_authority": {{ issuing_authority | as_str }},
  "document_number": {{ document_number | as_str }},
  "driving_privileges": [
    {%- for privilege in driving_privileges %}
    {"vehicle_category_code": {{ privilege.vehicle_category_code | as_str }}
      {%- if privilege.issue_date is defined %},
      "issue_date": {{ privilege.issue_date | iso_date }}{% endif %}
      {%- if privilege.expiry_date is defined %},
      "expiry_date": {{ privilege.expiry_date | iso_date }}{% endif %}}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
  ]
}
"""

MDL = CredentialTemplate(
    template_id="mdl",
    vct="urn:eudi:mdl:1",
    claims_template=_MDL_CLAIMS,
    # Everything about the person can be shown alone; the document's own data stays visible.
    disclosable=(
        "family_name",
        "given_name",
        "birth_date",
        "age_equal_or_over.18",
        "document_number",
        "driving_privileges",
    ),
    default_validity_seconds=30 * _DAY,
    max_validity_seconds=365 * _DAY,
    data_schema=(
        "family_name",
        "given_name",
        "birthdate",
        "issue_date",
        "expiry_date",
        "issuing_country",
        "issuing_authority",
        "document_number",
        "driving_privileges",
    ),
    mdoc_doc_type=MDL_DOCTYPE,
)

#: A subject the mDL template accepts.
MDL_EXAMPLE_SUBJECT: Mapping[str, Any] = MappingProxyType(
    {
        "family_name": "Mustermann",
        "given_name": "Erika",
        "birthdate": "1964-08-12",
        "issue_date": "2024-01-15",
        "expiry_date": "2039-01-14",
        "issuing_country": "DE",
        "issuing_authority": "Landratsamt Musterstadt",
        "document_number": "B072RRE2I55",
        "driving_privileges": [
            {"vehicle_category_code": "B", "issue_date": "1982-09-01"},
            {"vehicle_category_code": "AM", "issue_date": "1982-09-01"},
        ],
    }
)

BUILTIN_TEMPLATES: Mapping[str, CredentialTemplate] = MappingProxyType(
    {PID.template_id: PID, MDL.template_id: MDL}
)


def builtin_template(template_id: str) -> CredentialTemplate | None:
    """The built-in template with this id, or None."""
    return BUILTIN_TEMPLATES.get(template_id)
