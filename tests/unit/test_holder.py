"""The holder helper: decoding disclosures and building presentations (RFC 9901 section 7.2)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import (
    SigningKey,
    es256_verify,
    generate_p256_key,
    public_jwk,
    split_jws,
)
from eudi_connect.core.sdjwt import (
    Disclosure,
    decode_disclosures,
    issue_sd_jwt_vc,
    make_presentation,
    parse_presentation,
    verify_presentation,
)

NOW = 1_700_000_000
ISSUER_KEY = SigningKey("k-1", generate_p256_key())
HOLDER_KEY = generate_p256_key()
CLAIMS: dict[str, Any] = {
    "given_name": "Erika",
    "nationalities": ["DE", "FR"],
    "citizenships": ["DE"],
    "place_of_birth": {"locality": "Berlin", "country": "DE"},
    "address": {"locality": "Köln", "postal_code": "51147"},
}
DISCLOSABLE = [
    "given_name",
    "nationalities[]",
    "citizenships",
    "citizenships[]",
    "place_of_birth",
    "place_of_birth.locality",
    "address.locality",
]


def issue(claims: dict[str, Any] = CLAIMS, disclosable: list[str] = DISCLOSABLE) -> str:
    return issue_sd_jwt_vc(
        claims,
        disclosable=disclosable,
        signing_key=ISSUER_KEY,
        issuer="https://issuer.example",
        vct="urn:x:1",
        issued_at=NOW,
        expires_at=NOW + 60,
        holder_jwk=public_jwk(HOLDER_KEY.public_key()),
    )


def processed(presentation: str) -> dict[str, Any]:
    result = verify_presentation(
        parse_presentation(presentation),
        issuer_key=ISSUER_KEY.private_key.public_key(),
        now=NOW,
    )
    return {k: v for k, v in result.claims.items() if k not in {"iss", "iat", "exp", "vct", "cnf"}}


def test_decode_disclosures_lists_every_disclosure() -> None:
    """Each disclosure decodes to salt, name (None for array elements), value and digest."""
    credential = issue()
    decoded = decode_disclosures(credential)
    assert [d.encoded for d in decoded] == credential.split("~")[1:-1]
    assert all(isinstance(d, Disclosure) for d in decoded)
    by_value = {(d.name, str(d.value)) for d in decoded}
    assert ("given_name", "Erika") in by_value
    assert (None, "FR") in by_value
    for d in decoded:
        assert d.digest == b64url_encode(hashlib.sha256(d.encoded.encode()).digest())


@pytest.mark.parametrize("text", ["no tilde", "a.b.c~!!~", "a.b.c~WyJzIl0~", "a.b.c~d~kb.jwt.sig"])
def test_decode_disclosures_refuses_garbage(text: str) -> None:
    """Malformed credentials, bad disclosures and SD-JWT+KB inputs raise ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - several messages, one contract
        decode_disclosures(text)


def test_disclose_none_reveals_everything() -> None:
    """With disclose=None every disclosure is kept and the claims come back whole."""
    credential = issue()
    assert make_presentation(credential) == credential
    assert processed(make_presentation(credential)) == CLAIMS


def test_disclose_empty_reveals_only_clear_claims() -> None:
    """An empty selection keeps no disclosure."""
    presentation = make_presentation(issue(), disclose=[])
    assert presentation.count("~") == 1
    assert processed(presentation) == {"nationalities": [], "address": {"postal_code": "51147"}}


def test_names_match_at_any_depth() -> None:
    """A nested claim name is matched wherever it occurs, if its container is visible."""
    presentation = make_presentation(issue(), disclose=["locality"])
    assert processed(presentation)["address"] == {"locality": "Köln", "postal_code": "51147"}
    assert "place_of_birth" not in processed(presentation)


def test_child_of_a_withheld_parent_is_dropped() -> None:
    """`locality` inside a withheld `place_of_birth` is not sent: it would dangle."""
    credential = issue()
    presentation = make_presentation(credential, disclose=["locality"])
    locality_in_birth = next(
        d for d in decode_disclosures(credential) if d.name == "locality" and d.value == "Berlin"
    )
    assert locality_in_birth.encoded not in presentation.split("~")


def test_parent_and_child_together() -> None:
    """Naming parent and child reveals both levels."""
    presentation = make_presentation(issue(), disclose=["place_of_birth", "locality"])
    assert processed(presentation)["place_of_birth"] == {"locality": "Berlin", "country": "DE"}


def test_parent_alone_shows_its_clear_members() -> None:
    """Naming only the parent reveals it with its always-visible members."""
    presentation = make_presentation(issue(), disclose=["place_of_birth"])
    assert processed(presentation)["place_of_birth"] == {"country": "DE"}


def test_array_elements_follow_their_claim() -> None:
    """Element disclosures are kept when the array's claim is chosen, dropped otherwise."""
    credential = issue()
    assert processed(make_presentation(credential, disclose=["nationalities"]))[
        "nationalities"
    ] == ["DE", "FR"]
    assert processed(make_presentation(credential, disclose=["given_name"]))["nationalities"] == []
    chosen = processed(make_presentation(credential, disclose=["citizenships"]))
    assert chosen["citizenships"] == ["DE"]


def test_key_binding_jwt_shape() -> None:
    """With a holder key the KB-JWT is typ kb+jwt, ES256, with iat/aud/nonce/sd_hash."""
    presentation = make_presentation(
        issue(),
        disclose=["given_name"],
        holder_key=HOLDER_KEY,
        audience="aud",
        nonce="n",
        issued_at=NOW,
    )
    sd_jwt, key_binding = presentation.rsplit("~", 1)
    parts = split_jws(key_binding)
    assert parts.header == {"typ": "kb+jwt", "alg": "ES256"}
    assert parts.payload == {
        "iat": NOW,
        "aud": "aud",
        "nonce": "n",
        "sd_hash": b64url_encode(hashlib.sha256((sd_jwt + "~").encode()).digest()),
    }
    assert es256_verify(HOLDER_KEY.public_key(), parts.signing_input, parts.signature)


def test_key_binding_iat_defaults_to_now() -> None:
    """Without issued_at, the KB-JWT's iat is the current time."""
    before = int(time.time())
    presentation = make_presentation(issue(), holder_key=HOLDER_KEY, audience="a", nonce="n")
    iat = split_jws(presentation.rsplit("~", 1)[1]).payload["iat"]
    assert before <= iat <= int(time.time())


def test_key_binding_needs_audience_and_nonce() -> None:
    """A KB-JWT without aud or nonce would be invalid (RFC 9901 section 4.3), so it is refused."""
    with pytest.raises(ValueError, match="audience and a nonce"):
        make_presentation(issue(), holder_key=HOLDER_KEY, audience="a")


def test_presentation_input_is_refused() -> None:
    """A holder receives SD-JWTs, never SD-JWT+KB (RFC 9901 section 7.2)."""
    presented = make_presentation(issue(), holder_key=HOLDER_KEY, audience="a", nonce="n")
    with pytest.raises(ValueError, match="KB-JWT"):
        make_presentation(presented)


def test_unsupported_digest_algorithm_is_refused() -> None:
    """The holder only handles sha-256 digests."""
    credential = issue()
    jwt = credential.split("~")[0]
    header, _, signature = jwt.split(".")
    body = b64url_encode(b'{"_sd_alg":"sha-512"}')
    with pytest.raises(ValueError, match="sha-256"):
        make_presentation(credential.replace(jwt, f"{header}.{body}.{signature}"))


def test_malformed_issuer_jwt_is_refused() -> None:
    """A credential whose JWT does not decode raises ValueError."""
    with pytest.raises(ValueError, match="issuer-signed JWT"):
        make_presentation("not-a-jwt~")
