"""What the SD-JWT VC unit tests share: an example PID's claims and the parties' names."""

from __future__ import annotations

from typing import Any

ISSUER = "https://issuer.example"
VCT = "urn:eudi:pid:1"
AUD = "https://verifier.example"
#: A PID in its SD-JWT VC encoding, nested objects and arrays included. Never mutated.
PID_CLAIMS: dict[str, Any] = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1963-08-12",
    "nationalities": ["DE", "FR"],
    "place_of_birth": {"locality": "Berlin", "country": "DE"},
    "age_equal_or_over": {"18": True, "65": False},
    "issuing_authority": "DE",
    "issuing_country": "DE",
}
