"""Verification of SD-JWT VC presentations: round trips and every failure reason.

Attack inputs are forged by hand here (header, payload, disclosures, KB-JWT), without the
issuer under test, so each test controls exactly one defect.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

from eudi_connect.core.holder import decode_disclosures, make_presentation
from eudi_connect.core.jose import (
    SigningKey,
    b64url_encode,
    es256_sign,
    generate_p256_key,
    json_bytes,
    public_jwk,
)
from eudi_connect.core.sdjwt import (
    SdJwtVerificationError,
    StatusReference,
    VerificationFailureReason,
    VerifiedCredential,
    issue_sd_jwt_vc,
    parse_presentation,
    verify_presentation,
)
from tests.unit.sdjwt_fixtures import AUD, ISSUER, PID_CLAIMS, VCT

R = VerificationFailureReason
NOW = 1_700_000_000
NONCE = "n-0S6_WzA2Mj"
PID_DISCLOSABLE = [
    "given_name",
    "family_name",
    "birthdate",
    "nationalities[]",
    "place_of_birth",
    "place_of_birth.locality",
    "age_equal_or_over",
    "age_equal_or_over.18",
    "age_equal_or_over.65",
]

ISSUER_KEY = SigningKey("issuer-key-1", generate_p256_key())
HOLDER_KEY = generate_p256_key()
OTHER_KEY = generate_p256_key()
HOLDER_JWK = public_jwk(HOLDER_KEY.public_key())


# ---------------------------------------------------------------- helpers (no SUT code)


def jws(
    header: dict[str, Any], payload: dict[str, Any] | bytes, key: EllipticCurvePrivateKey
) -> str:
    """A compact JWS with exactly this header; `payload` may be raw bytes (invalid JSON, NaN)."""
    protected = b64url_encode(json_bytes(header))
    body = b64url_encode(payload if isinstance(payload, bytes) else json_bytes(payload))
    signature = es256_sign(key, f"{protected}.{body}".encode("ascii"))
    return f"{protected}.{body}.{b64url_encode(signature)}"


def disclosure(*contents: Any) -> tuple[str, str]:
    """An encoded Disclosure and its digest."""
    encoded = b64url_encode(json_bytes(list(contents)))
    return encoded, sha256_b64(encoded)


def sha256_b64(text: str) -> str:
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def base_payload(**claims: Any) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "vct": VCT,
        "cnf": {"jwk": HOLDER_JWK},
        "_sd_alg": "sha-256",
        **claims,
    }


def forge(payload: dict[str, Any] | bytes, disclosures: Sequence[str] = (), **header: Any) -> str:
    """An SD-JWT (no KB) signed by the issuer key, with the given payload and disclosures."""
    head = {"typ": "dc+sd-jwt", "alg": "ES256", "kid": ISSUER_KEY.kid, **header}
    token = jws(head, payload, ISSUER_KEY.private_key)
    return "~".join([token, *disclosures, ""])


def kb_jwt(
    sd_jwt: str,
    *,
    key: EllipticCurvePrivateKey = HOLDER_KEY,
    iat: int = NOW,
    nonce: Any = NONCE,
    aud: Any = AUD,
    sd_hash: str | None = None,
    typ: str = "kb+jwt",
    omit: tuple[str, ...] = (),
) -> str:
    claims = {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": sd_hash or sha256_b64(sd_jwt)}
    return jws(
        {"typ": typ, "alg": "ES256"}, {k: v for k, v in claims.items() if k not in omit}, key
    )


def issue(
    claims: dict[str, Any] = PID_CLAIMS, disclosable: list[str] = PID_DISCLOSABLE, **extra: Any
) -> str:
    arguments: dict[str, Any] = {
        "disclosable": disclosable,
        "signing_key": ISSUER_KEY,
        "issuer": ISSUER,
        "vct": VCT,
        "issued_at": NOW - 10,
        "expires_at": NOW + 3600,
        "holder_jwk": HOLDER_JWK,
        **extra,
    }
    return issue_sd_jwt_vc(claims, **arguments)


def verify(text: str, **policy: Any) -> VerifiedCredential:
    arguments: dict[str, Any] = {"issuer_key": ISSUER_KEY.private_key.public_key(), "now": NOW}
    arguments.update(policy)
    return verify_presentation(parse_presentation(text), **arguments)


def reason_of(text: str, **policy: Any) -> VerificationFailureReason:
    with pytest.raises(SdJwtVerificationError) as caught:
        verify(text, **policy)
    return caught.value.failure


def registered(claims: dict[str, Any]) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "vct": VCT,
        "cnf": {"jwk": HOLDER_JWK},
        **claims,
    }


# ---------------------------------------------------------------- round trips


def test_issued_credential_verifies_with_every_claim() -> None:
    """Issue then verify: the processed payload is the input claims plus registered claims."""
    result = verify(issue())
    assert result.claims == registered(PID_CLAIMS)
    assert "_sd" not in str(result.claims)


def test_verified_credential_reports_its_metadata() -> None:
    """Issuer, vct, kid, times, status, holder key and disclosed paths are reported."""
    status = StatusReference(uri="https://status.example/1", idx=9)
    result = verify(issue(status=status, not_before=NOW - 10))
    assert (result.issuer, result.vct, result.kid) == (ISSUER, VCT, "issuer-key-1")
    assert (result.issued_at, result.expires_at) == (NOW - 10, NOW + 3600)
    assert result.status == status
    assert result.holder_jwk == HOLDER_JWK
    assert result.key_binding_verified is False
    assert set(result.disclosed) >= {
        "given_name",
        "place_of_birth",
        "place_of_birth.locality",
        "nationalities[0]",
        "nationalities[1]",
        "age_equal_or_over.18",
    }


def test_subset_presentation_with_key_binding_verifies() -> None:
    """Issue, present two claims with a KB-JWT, verify with nonce and audience."""
    presentation = make_presentation(
        issue(),
        disclose=["given_name", "age_equal_or_over", "18"],
        holder_key=HOLDER_KEY,
        audience=AUD,
        nonce=NONCE,
        issued_at=NOW,
    )
    result = verify(presentation, expected_audience=AUD, expected_nonce=NONCE)
    assert result.key_binding_verified is True
    assert result.claims == registered(
        {
            "given_name": "Erika",
            "age_equal_or_over": {"18": True},
            "nationalities": [],
            "issuing_authority": "DE",
            "issuing_country": "DE",
        }
    )


def test_nested_disclosures_round_trip() -> None:
    """A parent disclosed without its child shows the parent's clear members only."""
    presentation = make_presentation(issue(), disclose=["place_of_birth"])
    assert verify(presentation).claims["place_of_birth"] == {"country": "DE"}


def test_array_element_disclosures_reveal_chosen_elements() -> None:
    """Undisclosed array elements are removed; disclosed ones keep their order."""
    credential = issue()
    german = next(d for d in decode_disclosures(credential) if d.name is None and d.value == "DE")
    result = verify(credential.replace(f"~{german.encoded}~", "~"))
    assert result.claims["nationalities"] == ["FR"]


def test_omitting_every_disclosure_is_valid() -> None:
    """A holder may send no disclosures at all; only clear claims remain."""
    jwt = issue().split("~")[0]
    result = verify(jwt + "~")
    assert result.claims == registered(
        {"nationalities": [], "issuing_authority": "DE", "issuing_country": "DE"}
    )
    assert result.disclosed == ()


def test_disclosure_order_does_not_matter() -> None:
    """Child disclosures may come before or after their parent."""
    jwt, *disclosures, _ = issue().split("~")
    result = verify("~".join([jwt, *reversed(disclosures), ""]))
    assert result.claims == registered(PID_CLAIMS)


def test_decoy_digests_are_ignored() -> None:
    """Digests without a disclosure (decoys, RFC 9901 section 4.2.5) are dropped silently."""
    given, given_digest = disclosure("salt-1", "given_name", "Erika")
    payload = base_payload(
        _sd=sorted([given_digest, sha256_b64("decoy")]), list=[{"...": sha256_b64("decoy-2")}, 1]
    )
    result = verify(forge(payload, [given]))
    assert result.claims == registered({"given_name": "Erika", "list": [1]})


def test_key_binding_jwt_is_checked_even_when_not_required() -> None:
    """A KB-JWT the verifier did not ask for is checked: a broken one is refused."""
    sd_jwt = issue()
    assert reason_of(sd_jwt + kb_jwt(sd_jwt, key=OTHER_KEY)) == R.KEY_BINDING_INVALID


@pytest.mark.parametrize(
    "expected",
    [{}, {"expected_audience": AUD}, {"expected_nonce": NONCE}, {"require_key_binding": True}],
)
def test_key_binding_without_audience_and_nonce_is_not_reported_verified(
    expected: dict[str, Any],
) -> None:
    """A valid KB-JWT not held to both an audience and a nonce could be another verifier's:
    it is not reported as verified."""
    presentation = make_presentation(
        issue(), holder_key=HOLDER_KEY, audience=AUD, nonce=NONCE, issued_at=NOW
    )
    assert verify(presentation, **expected).key_binding_verified is False
    both = verify(presentation, expected_audience=AUD, expected_nonce=NONCE)
    assert both.key_binding_verified is True


def test_clock_skew_tolerates_small_drift() -> None:
    """Within the skew, an expired-by-seconds or not-yet-valid-by-seconds credential passes."""
    credential = issue(issued_at=NOW + 30, expires_at=NOW - 30, not_before=NOW + 30)
    assert verify(credential, clock_skew_seconds=60).issuer == ISSUER


def test_expected_vct_accepts_the_right_type() -> None:
    """An expected vct equal to the credential's passes."""
    assert verify(issue(), expected_vct=VCT).vct == VCT


# ---------------------------------------------------------------- issuer signature


def test_tampered_payload_is_bad_signature() -> None:
    """Changing a clear claim after signing breaks the issuer signature."""
    credential = issue()
    header, body, _ = credential.split("~")[0].split(".")
    forged_body = b64url_encode(json_bytes({**base_payload(), "issuing_country": "FR"}))
    tampered = credential.replace(f"{header}.{body}.", f"{header}.{forged_body}.")
    assert reason_of(tampered) == R.BAD_SIGNATURE


def test_wrong_issuer_key_is_bad_signature() -> None:
    """A credential checked against another key fails as BAD_SIGNATURE."""
    assert reason_of(issue(), issuer_key=OTHER_KEY.public_key()) == R.BAD_SIGNATURE


def test_tampered_signature_is_bad_signature() -> None:
    """A signature of the wrong length or value fails as BAD_SIGNATURE."""
    credential = issue()
    jwt = credential.split("~")[0]
    assert reason_of(credential.replace(jwt, jwt[:-4] + "AAAA")) == R.BAD_SIGNATURE
    assert reason_of(credential.replace(jwt, jwt + "AAAA")) == R.BAD_SIGNATURE


def test_signature_is_checked_before_anything_else() -> None:
    """An expired credential with a bad signature reports the signature."""
    credential = issue(expires_at=NOW - 1000)
    assert reason_of(credential, issuer_key=OTHER_KEY.public_key()) == R.BAD_SIGNATURE


def test_hand_built_presentation_with_alg_none_is_refused() -> None:
    """verify_presentation re-checks alg, so skipping the parser does not skip the allow-list."""
    parsed = parse_presentation(issue())
    forged = dataclasses.replace(parsed, header={**parsed.header, "alg": "none"}, signature=b"")
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_presentation(forged, issuer_key=ISSUER_KEY.private_key.public_key(), now=NOW)
    assert caught.value.failure == R.ALGORITHM_NOT_ALLOWED


# ---------------------------------------------------------------- validity window


def test_expired_credential() -> None:
    """A credential past exp plus skew is EXPIRED."""
    assert reason_of(issue(expires_at=NOW - 61)) == R.EXPIRED
    assert reason_of(issue(expires_at=NOW), clock_skew_seconds=0) == R.EXPIRED


def test_not_before_in_the_future() -> None:
    """A credential whose nbf is beyond now plus skew is NOT_YET_VALID."""
    assert reason_of(issue(not_before=NOW + 61)) == R.NOT_YET_VALID


def test_issued_in_the_future() -> None:
    """An iat beyond now plus skew is NOT_YET_VALID."""
    assert reason_of(issue(issued_at=NOW + 61)) == R.NOT_YET_VALID


@pytest.mark.parametrize("raw_exp", [b'"tomorrow"', b"true", b"NaN", b"Infinity", b"[1]", b"1e999"])
def test_non_numeric_dates_are_malformed(raw_exp: bytes) -> None:
    """exp must be a finite number; NaN would otherwise never expire."""
    body = json_bytes(base_payload())[:-1] + b',"exp":' + raw_exp + b"}"
    assert reason_of(forge(body)) == R.MALFORMED


def test_huge_integer_dates_are_compared_not_crashed() -> None:
    """A 400-digit exp is a valid (far future) NumericDate; a 400-digit nbf is not yet valid."""
    body = json_bytes(base_payload())[:-1] + b',"exp":1' + b"0" * 400 + b"}"
    assert verify(forge(body)).expires_at == 10**400
    body = json_bytes(base_payload())[:-1] + b',"nbf":1' + b"0" * 400 + b"}"
    assert reason_of(forge(body)) == R.NOT_YET_VALID
    sd_jwt = issue()
    key_binding = kb_jwt(sd_jwt, iat=10**400)
    assert reason_of(sd_jwt + key_binding) == R.KEY_BINDING_INVALID


# ---------------------------------------------------------------- payload shape


def test_missing_vct_is_malformed() -> None:
    """An SD-JWT VC without vct is not one."""
    payload = base_payload()
    del payload["vct"]
    assert reason_of(forge(payload)) == R.MALFORMED


def test_unexpected_vct_is_wrong_type() -> None:
    """A credential of another type than the verifier expects is WRONG_TYPE."""
    assert reason_of(issue(), expected_vct="urn:other:1") == R.WRONG_TYPE


@pytest.mark.parametrize("alg", ["sha-512", "SHA-256", None, 5])
def test_unsupported_sd_alg_is_malformed(alg: Any) -> None:
    """Only sha-256 digests are accepted (RFC 9901 section 4.1.1)."""
    assert reason_of(forge(base_payload(_sd_alg=alg))) == R.MALFORMED


def test_missing_sd_alg_defaults_to_sha256() -> None:
    """Without _sd_alg, sha-256 is assumed."""
    given, given_digest = disclosure("s", "given_name", "Erika")
    payload = base_payload(_sd=[given_digest])
    del payload["_sd_alg"]
    assert verify(forge(payload, [given])).claims["given_name"] == "Erika"


@pytest.mark.parametrize(
    "change",
    [
        {"iss": None},
        {"iss": 7},
        {"status": "revoked"},
        {"status": {"status_list": {"idx": -1, "uri": "https://s"}}},
        {"status": {"status_list": {"idx": True, "uri": "https://s"}}},
        {"status": {"status_list": {"idx": 1}}},
        {"status": {"other_mechanism": {}}},
        {"cnf": "key"},
        {"cnf": {"jwk": "key"}},
        {"_sd": "digest"},
        {"_sd": [1, 2]},
    ],
)
def test_ill_shaped_registered_claims_are_malformed(change: dict[str, Any]) -> None:
    """Registered and SD claims of the wrong shape are MALFORMED, never a crash."""
    payload = {k: v for k, v in {**base_payload(), **change}.items() if v is not None}
    assert reason_of(forge(payload)) == R.MALFORMED


# ---------------------------------------------------------------- disclosures


def test_altered_disclosure_is_digest_mismatch() -> None:
    """A disclosure re-encoded with another value matches no signed digest."""
    credential = issue()
    jwt, _, *rest = credential.split("~")
    forged, _ = disclosure("salt", "given_name", "Mallory")
    assert reason_of("~".join([jwt, forged, *rest])) == R.DIGEST_MISMATCH


def test_disclosure_from_another_credential_is_digest_mismatch() -> None:
    """Disclosures cannot be moved between credentials."""
    other = issue().split("~")[1]
    assert reason_of(issue().replace("~", f"~{other}~", 1)) == R.DIGEST_MISMATCH


def test_child_without_its_parent_is_digest_mismatch() -> None:
    """A nested disclosure whose parent is withheld dangles (RFC 9901 section 4.2.6)."""
    locality, locality_digest = disclosure("s1", "locality", "Berlin")
    parent, parent_digest = disclosure("s2", "place_of_birth", {"_sd": [locality_digest]})
    payload = base_payload(_sd=[parent_digest])
    assert verify(forge(payload, [parent, locality])).claims["place_of_birth"] == {
        "locality": "Berlin"
    }
    assert reason_of(forge(payload, [locality])) == R.DIGEST_MISMATCH


def test_repeated_disclosure_is_duplicate() -> None:
    """Sending the same disclosure twice is DUPLICATE_DISCLOSURE."""
    jwt, first, *rest = issue().split("~")
    assert reason_of("~".join([jwt, first, first, *rest])) == R.DUPLICATE_DISCLOSURE


def test_digest_twice_in_payload_is_duplicate() -> None:
    """A digest listed twice in the signed payload is DUPLICATE_DISCLOSURE (section 7.1 step 4)."""
    given, given_digest = disclosure("s", "given_name", "Erika")
    assert reason_of(forge(base_payload(_sd=[given_digest, given_digest]), [given])) == (
        R.DUPLICATE_DISCLOSURE
    )
    decoy = sha256_b64("decoy")
    assert reason_of(forge(base_payload(_sd=[decoy], x={"_sd": [decoy]}))) == (
        R.DUPLICATE_DISCLOSURE
    )


def test_digest_in_payload_and_in_a_disclosure_is_duplicate() -> None:
    """The same digest reached twice, once through a disclosure, is DUPLICATE_DISCLOSURE."""
    child, child_digest = disclosure("s1", "locality", "Berlin")
    parent, parent_digest = disclosure("s2", "place", {"_sd": [child_digest]})
    payload = base_payload(_sd=sorted([parent_digest, child_digest]))
    assert reason_of(forge(payload, [parent, child])) == R.DUPLICATE_DISCLOSURE


@pytest.mark.parametrize(
    "encoded",
    [
        b64url_encode(b"not json"),
        b64url_encode(b'{"salt": "s"}'),
        b64url_encode(b'["only-salt"]'),
        b64url_encode(b'["s", "a", 1, "extra"]'),
        b64url_encode(b'[1, "name", "value"]'),
        b64url_encode(b'["s", 2, "value"]'),
        b64url_encode(b'["s", "n", NaN]'),
        b64url_encode(b"\xff\xfe"),
        b64url_encode(b"[" * 5000 + b"]" * 5000),
    ],
)
def test_undecodable_disclosures_are_malformed(encoded: str) -> None:
    """Each disclosure must be base64url JSON [salt, name, value] or [salt, value]."""
    assert reason_of(forge(base_payload(), [encoded])) == R.MALFORMED


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_disclosed_reserved_names_are_malformed(name: str) -> None:
    """A disclosure may not name _sd or ... (RFC 9901 section 7.1, 3.3.2.2)."""
    encoded, digest = disclosure("s", name, ["x"])
    assert reason_of(forge(base_payload(_sd=[digest]), [encoded])) == R.MALFORMED


@pytest.mark.parametrize("name", ["exp", "iss", "cnf", "vct", "status", "nbf"])
def test_disclosed_validity_claims_are_malformed(name: str) -> None:
    """Validity and binding claims must stay in the clear (SD-JWT VC section 3.2.2.2)."""
    payload = base_payload()
    payload.pop(name, None)
    encoded, digest = disclosure("s", name, NOW + 10**6)
    assert reason_of(forge({**payload, "_sd": [digest]}, [encoded])) == R.MALFORMED


def test_disclosed_claim_already_in_clear_is_malformed() -> None:
    """A disclosure may not overwrite a claim present in the clear at the same level."""
    encoded, digest = disclosure("s", "issuing_country", "FR")
    payload = base_payload(issuing_country="DE", _sd=[digest])
    assert reason_of(forge(payload, [encoded])) == R.MALFORMED


def test_two_disclosures_with_one_name_are_malformed() -> None:
    """Two disclosures for the same claim name at one level are MALFORMED."""
    first, first_digest = disclosure("s1", "given_name", "Erika")
    second, second_digest = disclosure("s2", "given_name", "Eve")
    payload = base_payload(_sd=sorted([first_digest, second_digest]))
    assert reason_of(forge(payload, [first, second])) == R.MALFORMED


def test_disclosure_kinds_must_match_their_place() -> None:
    """Array-element disclosures under _sd, or property disclosures in arrays, are MALFORMED."""
    element, element_digest = disclosure("s1", "DE")
    assert reason_of(forge(base_payload(_sd=[element_digest]), [element])) == R.MALFORMED
    prop, prop_digest = disclosure("s2", "country", "DE")
    payload = base_payload(nationalities=[{"...": prop_digest}])
    assert reason_of(forge(payload, [prop])) == R.MALFORMED


def test_long_disclosure_chain_is_malformed_not_a_crash() -> None:
    """Disclosures nested a hundred deep hit the depth bound, not the interpreter stack."""
    inner: dict[str, Any] = {"leaf": True}
    chain: list[str] = []
    for level in range(100):
        encoded, digest = disclosure(f"s{level}", "n", inner)
        chain.append(encoded)
        inner = {"_sd": [digest]}
    assert reason_of(forge(base_payload(**inner), chain)) == R.MALFORMED


# ---------------------------------------------------------------- key binding


def presented(**kb: Any) -> str:
    """The full credential with a KB-JWT built by hand."""
    sd_jwt = issue()
    return sd_jwt + kb_jwt(sd_jwt, **kb)


def test_hand_built_key_binding_verifies() -> None:
    """The forging helpers agree with the verifier when nothing is wrong."""
    result = verify(presented(), expected_audience=AUD, expected_nonce=NONCE)
    assert result.key_binding_verified is True


@pytest.mark.parametrize(
    "policy",
    [{"require_key_binding": True}, {"expected_nonce": NONCE}, {"expected_audience": AUD}],
)
def test_missing_key_binding_when_required(policy: dict[str, Any]) -> None:
    """Asking for key binding, a nonce or an audience makes a KB-JWT mandatory."""
    assert reason_of(issue(), **policy) == R.KEY_BINDING_REQUIRED


def test_wrong_nonce() -> None:
    """A KB-JWT with another nonce is NONCE_MISMATCH."""
    assert reason_of(presented(nonce="replayed"), expected_nonce=NONCE) == R.NONCE_MISMATCH


def test_wrong_audience() -> None:
    """A KB-JWT for another verifier is AUDIENCE_MISMATCH."""
    assert reason_of(presented(aud="https://evil.example"), expected_audience=AUD) == (
        R.AUDIENCE_MISMATCH
    )
    assert reason_of(presented(aud=[AUD]), expected_audience=AUD) == R.AUDIENCE_MISMATCH


def test_key_binding_by_another_key() -> None:
    """A KB-JWT not signed by cnf.jwk is KEY_BINDING_INVALID."""
    assert reason_of(presented(key=OTHER_KEY), require_key_binding=True) == (R.KEY_BINDING_INVALID)


def test_sd_hash_over_a_different_presentation() -> None:
    """A KB-JWT moved onto a presentation with other disclosures is KEY_BINDING_INVALID."""
    credential = issue()
    full = make_presentation(
        credential, holder_key=HOLDER_KEY, audience=AUD, nonce=NONCE, issued_at=NOW
    )
    key_binding = full.rsplit("~", 1)[1]
    subset = make_presentation(credential, disclose=["given_name"])
    assert reason_of(subset + key_binding, require_key_binding=True) == R.KEY_BINDING_INVALID


def test_sd_hash_must_be_present() -> None:
    """A KB-JWT without sd_hash is KEY_BINDING_INVALID."""
    assert reason_of(presented(omit=("sd_hash",))) == R.KEY_BINDING_INVALID


@pytest.mark.parametrize("iat", [NOW - 300 - 61, NOW + 61])
def test_key_binding_outside_freshness_window(iat: int) -> None:
    """A KB-JWT older than the maximum age, or from the future, is KEY_BINDING_INVALID."""
    assert reason_of(presented(iat=iat), require_key_binding=True) == R.KEY_BINDING_INVALID


def test_key_binding_age_is_configurable() -> None:
    """A longer maximum age accepts an older KB-JWT."""
    text = presented(iat=NOW - 600)
    result = verify(
        text, expected_audience=AUD, expected_nonce=NONCE, max_key_binding_age_seconds=900
    )
    assert result.key_binding_verified is True


def test_key_binding_wrong_typ() -> None:
    """A KB-JWT must be typed kb+jwt (RFC 9901 section 4.3)."""
    assert reason_of(presented(typ="JWT")) == R.KEY_BINDING_INVALID


def test_key_binding_without_cnf() -> None:
    """A KB-JWT on a credential with no holder key cannot be checked: KEY_BINDING_INVALID."""
    payload = base_payload()
    del payload["cnf"]
    sd_jwt = forge(payload)
    assert reason_of(sd_jwt + kb_jwt(sd_jwt), require_key_binding=True) == (R.KEY_BINDING_INVALID)


def test_key_binding_with_unusable_cnf_key() -> None:
    """A cnf.jwk that is not a P-256 public key makes the KB-JWT KEY_BINDING_INVALID."""
    sd_jwt = forge(base_payload(cnf={"jwk": {"kty": "RSA", "n": "x", "e": "AQAB"}}))
    assert reason_of(sd_jwt + kb_jwt(sd_jwt)) == R.KEY_BINDING_INVALID


@pytest.mark.parametrize("missing", ["nonce", "aud", "iat"])
def test_key_binding_requires_its_claims(missing: str) -> None:
    """iat, aud and nonce are required in every KB-JWT, even when not compared."""
    assert reason_of(presented(omit=(missing,))) == R.KEY_BINDING_INVALID


def test_invalid_key_binding_fails_even_when_not_required() -> None:
    """A KB-JWT that is present is never ignored, even if the policy did not ask for one."""
    assert reason_of(presented(key=OTHER_KEY)) == R.KEY_BINDING_INVALID


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
def test_key_binding_disallowed_alg(alg: str) -> None:
    """The KB-JWT's alg is allow-listed like the issuer's."""
    sd_jwt = issue()
    good = kb_jwt(sd_jwt)
    header = b64url_encode(json_bytes({"typ": "kb+jwt", "alg": alg}))
    forged = header + good[good.index(".") :]
    assert reason_of(sd_jwt + forged) == R.ALGORITHM_NOT_ALLOWED


def test_key_binding_with_undecodable_payload_is_malformed() -> None:
    """A KB-JWT whose parts are not base64url JSON is MALFORMED."""
    sd_jwt = issue()
    assert reason_of(sd_jwt + "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln") == R.MALFORMED


def test_kb_jwt_from_holder_has_required_shape() -> None:
    """The holder's KB-JWT carries typ kb+jwt, ES256, and iat/aud/nonce/sd_hash."""
    text = make_presentation(
        issue(), holder_key=HOLDER_KEY, audience=AUD, nonce=NONCE, issued_at=NOW
    )
    result = verify(text, expected_audience=AUD, expected_nonce=NONCE, require_key_binding=True)
    assert result.key_binding_verified
