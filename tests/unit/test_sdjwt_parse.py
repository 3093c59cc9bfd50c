"""Parsing presentations: syntax, header allow-lists, and robustness on arbitrary input."""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eudi_connect.core.encoding import b64url_encode, json_bytes
from eudi_connect.core.jose import SigningKey, es256_sign, generate_p256_key, public_jwk
from eudi_connect.core.sdjwt import (
    SdJwtVerificationError,
    issue_sd_jwt_vc,
    make_presentation,
    parse_presentation,
    verify_presentation,
)
from eudi_connect.core.verdicts import VerificationFailureReason

R = VerificationFailureReason
NOW = 1_700_000_000
ISSUER_KEY = SigningKey("k-1", generate_p256_key())
HOLDER_KEY = generate_p256_key()
CREDENTIAL = issue_sd_jwt_vc(
    {"given_name": "Erika", "nationalities": ["DE", "FR"], "address": {"locality": "Köln"}},
    disclosable=["given_name", "nationalities[]", "address", "address.locality"],
    signing_key=ISSUER_KEY,
    issuer="https://issuer.example",
    vct="urn:eudi:pid:1",
    issued_at=NOW,
    expires_at=NOW + 3600,
    holder_jwk=public_jwk(HOLDER_KEY.public_key()),
)
PRESENTATION = make_presentation(
    CREDENTIAL, holder_key=HOLDER_KEY, audience="aud", nonce="nonce", issued_at=NOW
)
PAYLOAD = {"iss": "https://issuer.example", "iat": NOW, "exp": NOW + 60, "vct": "urn:x"}


def token_with_header(header: dict[str, Any], signature: bytes | None = None) -> str:
    protected = b64url_encode(json_bytes(header))
    body = b64url_encode(json_bytes(PAYLOAD))
    if signature is None:
        signature = es256_sign(ISSUER_KEY.private_key, f"{protected}.{body}".encode())
    return f"{protected}.{body}.{b64url_encode(signature)}~"


def reason_of(text: Any, **options: Any) -> VerificationFailureReason:
    with pytest.raises(SdJwtVerificationError) as caught:
        parse_presentation(text, **options)
    return caught.value.failure


def test_parse_splits_the_parts() -> None:
    """The issuer JWT, disclosures in order and the KB-JWT are separated."""
    parsed = parse_presentation(PRESENTATION)
    jwt, *disclosures, key_binding = PRESENTATION.split("~")
    assert parsed.issuer_jwt == jwt
    assert parsed.disclosures == tuple(disclosures)
    assert parsed.key_binding_jwt == key_binding
    assert parsed.kid == "k-1"
    assert parsed.issuer == "https://issuer.example"
    assert parsed.header["typ"] == "dc+sd-jwt"
    assert parsed.payload["vct"] == "urn:eudi:pid:1"
    assert parsed.sd_jwt == PRESENTATION[: PRESENTATION.rindex("~") + 1]


def test_sd_jwt_without_key_binding_has_none() -> None:
    """A trailing `~` means no KB-JWT."""
    assert parse_presentation(CREDENTIAL).key_binding_jwt is None


def test_kid_and_issuer_are_none_when_absent_or_not_strings() -> None:
    """Properties never return non-strings from untrusted headers."""
    parsed = parse_presentation(token_with_header({"typ": "dc+sd-jwt", "alg": "ES256", "kid": 5}))
    assert parsed.kid is None
    assert parse_presentation(token_with_header({"typ": "dc+sd-jwt", "alg": "ES256"})).kid is None


@pytest.mark.parametrize(
    ("alg", "signature"),
    [
        ("none", b""),
        ("HS256", b"\x00" * 32),
        ("RS256", b"\x00" * 256),
        ("ES384", b"\x00" * 96),
        (None, b"\x00" * 64),
        (["ES256"], b"\x00" * 64),
    ],
)
def test_algorithms_outside_the_allow_list(alg: Any, signature: bytes) -> None:
    """alg none, HMAC and anything but ES256 is ALGORITHM_NOT_ALLOWED, before any crypto."""
    header = {"typ": "dc+sd-jwt", "kid": "k-1"} | ({} if alg is None else {"alg": alg})
    assert reason_of(token_with_header(header, signature)) == R.ALGORITHM_NOT_ALLOWED


def test_alg_none_with_empty_signature_is_refused() -> None:
    """The classic unsecured JWT (`header.payload.` with alg none) is refused."""
    header = b64url_encode(json_bytes({"typ": "dc+sd-jwt", "alg": "none"}))
    body = b64url_encode(json_bytes(PAYLOAD))
    assert reason_of(f"{header}.{body}.~") == R.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize("typ", ["JWT", "example+sd-jwt", "kb+jwt", "DC+SD-JWT", None, ["x"]])
def test_wrong_typ(typ: Any) -> None:
    """Only dc+sd-jwt (and the legacy vc+sd-jwt) are SD-JWT VCs (SD-JWT VC section 3.2.1)."""
    header = {"alg": "ES256"} | ({} if typ is None else {"typ": typ})
    assert reason_of(token_with_header(header)) == R.WRONG_TYPE


def test_legacy_typ_is_accepted() -> None:
    """vc+sd-jwt, the typ before draft -06, still parses."""
    parsed = parse_presentation(token_with_header({"typ": "vc+sd-jwt", "alg": "ES256"}))
    assert parsed.header["typ"] == "vc+sd-jwt"


def test_crit_header_is_refused() -> None:
    """We honour no JWS extensions, so any crit header is refused (RFC 7515 section 4.1.11)."""
    header = {"typ": "dc+sd-jwt", "alg": "ES256", "crit": ["exp"], "exp": 1}
    assert reason_of(token_with_header(header)) == R.MALFORMED


@pytest.mark.parametrize(
    "text",
    [
        "",
        "~",
        "~~",
        "~~~",
        "no-tilde-at-all",
        "a.b.c",
        "a.b.c~",
        "a.b~",
        "....~",
        "eyJ.eyJ.sig~",
        CREDENTIAL[:-1] + "~~",  # an empty disclosure
        CREDENTIAL[: len(CREDENTIAL) // 2],  # truncated
        CREDENTIAL.replace("~", "~ ", 1),  # a space in a disclosure
        CREDENTIAL + "not-a-jwt",  # trailing junk as KB-JWT
        CREDENTIAL + "a.b",  # KB-JWT with two parts
        CREDENTIAL.replace(".", "", 1),  # issuer JWT with two parts
        "\x00\x01\x02~",
        "é~",
    ],
)
def test_garbage_is_malformed(text: str) -> None:
    """Anything that is not SD-JWT syntax is MALFORMED."""
    assert reason_of(text) == R.MALFORMED


def test_random_bytes_are_malformed() -> None:
    """Random bytes, read as text, are MALFORMED."""
    for _ in range(50):
        assert reason_of(os.urandom(200).decode("latin-1")) == R.MALFORMED


def test_non_text_is_malformed() -> None:
    """A non-string argument is refused as MALFORMED rather than crashing."""
    assert reason_of(None) == R.MALFORMED
    assert reason_of(CREDENTIAL.encode()) == R.MALFORMED


def test_too_long_presentation_is_malformed() -> None:
    """Inputs beyond max_length are refused before any work."""
    assert reason_of(CREDENTIAL, max_length=len(CREDENTIAL) - 1) == R.MALFORMED
    assert parse_presentation(CREDENTIAL, max_length=len(CREDENTIAL)).issuer_jwt


def verify_text(text: str) -> None:
    verify_presentation(
        parse_presentation(text),
        issuer_key=ISSUER_KEY.private_key.public_key(),
        now=NOW,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_only_raises_verification_errors(text: str) -> None:
    """parse and verify on any text either succeed or raise SdJwtVerificationError."""
    with contextlib.suppress(SdJwtVerificationError):
        verify_text(text)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(PRESENTATION) - 1),
    st.integers(min_value=0, max_value=40),
    st.text(alphabet='~.-_=+/AaZz019{}[]"\\ é', max_size=6),
)
def test_mutated_presentations_only_raise_verification_errors(
    start: int, length: int, replacement: str
) -> None:
    """Splicing junk into a real presentation never escapes as another exception."""
    text = PRESENTATION[:start] + replacement + PRESENTATION[start + length :]
    with contextlib.suppress(SdJwtVerificationError):
        verify_text(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["_sd", "...", "iss", "cnf", "jwk", "x", "status", "status_list", "idx", "uri"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@settings(max_examples=120, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["_sd", "_sd_alg", "cnf", "status", "vct", "iss", "exp", "iat", "x"]),
        json_values,
    ),
    st.lists(
        st.tuples(st.text(max_size=3), st.sampled_from(["x", "_sd", "..."]), json_values).map(list)
        | st.tuples(st.text(max_size=3), json_values).map(list)
        | json_values,
        max_size=4,
    ),
)
def test_signed_arbitrary_payloads_only_raise_verification_errors(
    payload: dict[str, Any], disclosure_contents: list[Any]
) -> None:
    """Validly signed but arbitrary payloads and disclosures never crash the verifier."""
    disclosures = [b64url_encode(json_bytes(c)) for c in disclosure_contents]
    digests = [b64url_encode(hashlib.sha256(d.encode()).digest()) for d in disclosures]
    if digests:  # reference them, so that processing (not only matching) is exercised
        payload = {**payload, "_sd": digests}
    header = b64url_encode(json_bytes({"typ": "dc+sd-jwt", "alg": "ES256"}))
    body = b64url_encode(json_bytes(payload))
    signature = es256_sign(ISSUER_KEY.private_key, f"{header}.{body}".encode())
    text = "~".join([f"{header}.{body}.{b64url_encode(signature)}", *disclosures, ""])
    with contextlib.suppress(SdJwtVerificationError):
        verify_text(text)
