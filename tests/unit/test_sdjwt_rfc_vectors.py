"""RFC 9901's own examples, as data: disclosure digests, and the SD-JWT VC of appendix A.3.

The A.3 credential and presentation are verified with the issuer key of appendix A.5, so
these tests check signature, digests, recursive processing and the KB-JWT's sd_hash
against bytes produced by another implementation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eudi_connect.core.jose import public_key_from_jwk
from eudi_connect.core.sdjwt import (
    SdJwtVerificationError,
    decode_disclosures,
    disclosure_digest,
    make_presentation,
    parse_presentation,
    verify_presentation,
)
from eudi_connect.core.sdjwt.disclosures import (
    array_element_disclosure,
    decode_disclosure,
    object_disclosure,
)
from eudi_connect.core.verdicts import VerificationFailureReason

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sdjwt"
DISCLOSURES = json.loads((FIXTURES / "rfc9901_disclosures.json").read_text(encoding="utf-8"))
A3 = json.loads((FIXTURES / "rfc9901_a3.json").read_text(encoding="utf-8"))


def unwrap(name: str) -> str:
    """The RFC wraps long strings at 72 columns; the fixture keeps the lines as printed."""
    return "".join(line.strip() for line in (FIXTURES / name).read_text().splitlines())


ISSUED = unwrap(A3["issued_file"])
PRESENTED = unwrap(A3["presentation_file"])
ISSUER_KEY = public_key_from_jwk(A3["issuer_jwk"])
KB = A3["key_binding"]


@pytest.mark.parametrize("vector", DISCLOSURES["vectors"], ids=lambda v: v["where"])
def test_rfc_disclosure_digest(vector: dict[str, Any]) -> None:
    """The SHA-256 digest of each RFC disclosure is the one the RFC prints."""
    assert disclosure_digest(vector["disclosure"]) == vector["digest"]


@pytest.mark.parametrize("vector", DISCLOSURES["vectors"], ids=lambda v: v["where"])
def test_rfc_disclosure_decodes_to_its_contents(vector: dict[str, Any]) -> None:
    """Each RFC disclosure decodes to the salt, name and value the RFC lists."""
    decoded = decode_disclosure(vector["disclosure"])
    contents = vector["contents"]
    assert decoded.salt == contents[0]
    assert decoded.name == (contents[1] if len(contents) == 3 else None)
    assert decoded.value == contents[-1]
    assert decoded.digest == vector["digest"]


def test_rfc_compact_encoding_is_what_we_emit() -> None:
    """Given the RFC's salt and claim, our encoder yields the RFC's white-space-free string."""
    example = DISCLOSURES["encodings_of_one_claim"]
    salt, name, value = example["contents"]
    assert object_disclosure(salt, name, value) == example["compact"]


def test_rfc_encoding_variants_encode_one_claim() -> None:
    """The RFC's variant encodings all decode to the same claim, with different digests."""
    example = DISCLOSURES["encodings_of_one_claim"]
    encodings = [example["compact"], *example["others"]]
    for encoded in encodings:
        decoded = decode_disclosure(encoded)
        assert [decoded.salt, decoded.name, decoded.value] == example["contents"]
    assert len({disclosure_digest(e) for e in encodings}) == len(encodings)


def test_array_element_encoding_matches_rfc_shape() -> None:
    """Our array-element disclosure for the RFC's salt decodes to the RFC's two elements."""
    encoded = array_element_disclosure("lklxF5jMYlGTPUovMNIvCA", "FR")
    assert decode_disclosure(encoded).value == "FR"
    assert decode_disclosure(encoded).name is None


def test_rfc_a3_issued_sd_jwt_verifies_and_processes() -> None:
    """The A.3 PID verifies under the A.5 key and processes to the RFC's input claims."""
    parsed = parse_presentation(ISSUED)
    assert sorted(parsed.payload["_sd"]) == A3["top_level_digests"]
    result = verify_presentation(parsed, issuer_key=ISSUER_KEY, now=KB["iat"])
    assert result.claims == A3["processed_issued"]
    assert result.vct == A3["vct"]
    assert result.key_binding_verified is False
    assert len(result.disclosed) == len(parsed.disclosures)


def test_rfc_a3_presentation_with_key_binding_verifies() -> None:
    """The A.3 SD-JWT+KB verifies with the RFC's nonce and audience (sd_hash included)."""
    parsed = parse_presentation(PRESENTED)
    result = verify_presentation(
        parsed,
        issuer_key=ISSUER_KEY,
        now=KB["iat"],
        expected_nonce=KB["nonce"],
        expected_audience=KB["aud"],
        expected_vct=A3["vct"],
    )
    assert result.key_binding_verified is True
    assert result.claims == A3["processed_presentation"]
    assert parse_presentation(PRESENTED).key_binding_jwt is not None


def test_rfc_a3_presentation_rejects_other_nonce() -> None:
    """The RFC's KB-JWT is refused for a different transaction nonce."""
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_presentation(
            parse_presentation(PRESENTED),
            issuer_key=ISSUER_KEY,
            now=KB["iat"],
            expected_nonce="other",
        )
    assert caught.value.failure == VerificationFailureReason.NONCE_MISMATCH


def test_rfc_a3_presentation_kb_is_stale_years_later() -> None:
    """Checked at a later time, the RFC's KB-JWT is outside the freshness window."""
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_presentation(
            parse_presentation(PRESENTED), issuer_key=ISSUER_KEY, now=KB["iat"] + 3600
        )
    assert caught.value.failure == VerificationFailureReason.KEY_BINDING_INVALID


def test_holder_selects_the_rfc_a3_disclosures() -> None:
    """Our holder, asked for the RFC's choice of claims, picks exactly the RFC's disclosures."""
    presentation = make_presentation(ISSUED, disclose=["age_equal_or_over", "18", "nationalities"])
    chosen = set(presentation.split("~")[1:-1])
    assert chosen == set(PRESENTED.split("~")[1:-1])


def test_holder_decodes_rfc_a3_disclosures() -> None:
    """decode_disclosures reads all 27 disclosures of the A.3 PID, nested ones included."""
    decoded = decode_disclosures(ISSUED)
    assert len(decoded) == 27
    assert {d.name for d in decoded} >= {"age_equal_or_over", "18", "street_address"}
    assert next(d for d in decoded if d.name == "locality" and d.value == "Köln")
