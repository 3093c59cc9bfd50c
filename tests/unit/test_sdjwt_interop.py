"""Interoperability with an independent implementation: sd-jwt-python (OpenWallet Foundation).

Its verifier must accept what we issue and present, from nothing but our issuer's public JWK;
and our verifier must accept what its issuer and holder produce. It does not check the
issuer JWT's `typ`, so nothing needs configuring for `dc+sd-jwt` on that side; on the
issuing side its default `typ` is set to `dc+sd-jwt` through its header parameter.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from eudi_connect.core.jose import SigningKey, generate_p256_key, public_jwk
from eudi_connect.core.sdjwt import (
    issue_sd_jwt_vc,
    make_presentation,
    parse_presentation,
    verify_presentation,
)
from tests.unit.sdjwt_fixtures import AUD, ISSUER, PID_CLAIMS, VCT

NONCE = "5kbmLe9tM6s"
ISSUER_KEY = SigningKey("issuer-key-1", generate_p256_key())
HOLDER_KEY = generate_p256_key()
DISCLOSABLE = [
    "given_name",
    "family_name",
    "birthdate",
    "nationalities[]",
    "place_of_birth",
    "place_of_birth.locality",
    "age_equal_or_over.18",
    "age_equal_or_over.65",
]


def jwcrypto_key(jwk: dict[str, Any]) -> JWK:
    return JWK.from_json(json.dumps(jwk))


def their_verifier(text: str, **kwargs: Any) -> dict[str, Any]:
    """Runs sd-jwt-python's verifier with only our published issuer JWK."""
    published = ISSUER_KEY.public_jwk()

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        assert issuer == ISSUER
        assert header["kid"] == published["kid"]
        return jwcrypto_key(published)

    payload: dict[str, Any] = SDJWTVerifier(text, issuer_key, **kwargs).get_verified_payload()
    return payload


def our_credential() -> str:
    now = int(time.time())
    return issue_sd_jwt_vc(
        PID_CLAIMS,
        disclosable=DISCLOSABLE,
        signing_key=ISSUER_KEY,
        issuer=ISSUER,
        vct=VCT,
        issued_at=now,
        expires_at=now + 3600,
        holder_jwk=public_jwk(HOLDER_KEY.public_key()),
    )


def test_they_verify_our_credential() -> None:
    """sd-jwt-python verifies our issued SD-JWT VC and recovers every claim."""
    payload = their_verifier(our_credential())
    assert {k: payload[k] for k in PID_CLAIMS} == PID_CLAIMS
    assert payload["vct"] == VCT
    assert payload["cnf"] == {"jwk": public_jwk(HOLDER_KEY.public_key())}
    assert "_sd" not in json.dumps(payload)


def test_they_verify_our_presentation_with_key_binding() -> None:
    """sd-jwt-python verifies our SD-JWT+KB, including signature, nonce, aud and sd_hash."""
    presentation = make_presentation(
        our_credential(),
        disclose=["given_name", "age_equal_or_over", "18", "nationalities"],
        holder_key=HOLDER_KEY,
        audience=AUD,
        nonce=NONCE,
    )
    payload = their_verifier(presentation, expected_aud=AUD, expected_nonce=NONCE)
    assert payload["given_name"] == "Erika"
    assert payload["age_equal_or_over"] == {"18": True}
    assert payload["nationalities"] == ["DE", "FR"]
    assert "family_name" not in payload


def test_they_reject_our_presentation_for_another_nonce() -> None:
    """Their verifier refuses our KB-JWT for a different nonce, as ours would."""
    presentation = make_presentation(
        our_credential(), holder_key=HOLDER_KEY, audience=AUD, nonce=NONCE
    )
    with pytest.raises(ValueError, match="nonce"):
        their_verifier(presentation, expected_aud=AUD, expected_nonce="other")


def test_we_verify_their_credential_and_presentation() -> None:
    """Our verifier accepts an SD-JWT VC issued, and an SD-JWT+KB presented, by sd-jwt-python."""
    now = int(time.time())
    issuer_jwk = JWK.from_pyca(ISSUER_KEY.private_key)
    holder_jwk = JWK.from_pyca(HOLDER_KEY)
    user_claims = {
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
        "vct": VCT,
        SDObj("given_name"): "Erika",
        SDObj("family_name"): "Mustermann",
        "nationalities": [SDObj("DE"), "FR"],
        SDObj("place_of_birth"): {SDObj("locality"): "Berlin", "country": "DE"},
    }
    issued = SDJWTIssuer(
        user_claims,
        issuer_jwk,
        holder_key=holder_jwk,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": ISSUER_KEY.kid},
    ).sd_jwt_issuance
    result = verify_presentation(
        parse_presentation(issued), issuer_key=ISSUER_KEY.private_key.public_key(), now=now
    )
    assert result.claims["place_of_birth"] == {"locality": "Berlin", "country": "DE"}
    assert result.claims["nationalities"] == ["DE", "FR"]

    holder = SDJWTHolder(issued)
    holder.create_presentation(
        {"given_name": True, "place_of_birth": {"locality": True}},
        nonce=NONCE,
        aud=AUD,
        holder_key=holder_jwk,
        sign_alg="ES256",
    )
    result = verify_presentation(
        parse_presentation(holder.sd_jwt_presentation),
        issuer_key=ISSUER_KEY.private_key.public_key(),
        now=int(time.time()),
        expected_audience=AUD,
        expected_nonce=NONCE,
    )
    assert result.key_binding_verified
    assert result.claims["given_name"] == "Erika"
    assert "family_name" not in result.claims
    assert result.claims["place_of_birth"] == {"locality": "Berlin", "country": "DE"}
    assert result.claims["nationalities"] == ["FR"]
