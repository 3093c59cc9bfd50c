"""Issuance of SD-JWT VCs: the structure RFC 9901 section 4 and the SD-JWT VC draft ask for."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import (
    InvalidJwkError,
    SigningKey,
    es256_verify,
    generate_p256_key,
    public_jwk,
    split_jws,
)
from eudi_connect.core.sdjwt import issue_sd_jwt_vc, random_salt
from eudi_connect.core.sdjwt.disclosures import pooled_salt
from eudi_connect.core.verdicts import StatusReference
from tests.unit.sdjwt_fixtures import PID_CLAIMS

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey("issuer-key-1", generate_p256_key())


def counting_salts(prefix: str = "salt") -> Callable[[], str]:
    """A deterministic salt source: salt-0, salt-1, ..."""
    counter: Iterator[int] = itertools.count()
    return lambda: f"{prefix}-{next(counter)}"


def issue(key: SigningKey, claims: dict[str, Any], disclosable: list[str], **extra: Any) -> str:
    arguments: dict[str, Any] = {
        "disclosable": disclosable,
        "signing_key": key,
        "issuer": "https://issuer.example",
        "vct": "urn:eudi:pid:1",
        "issued_at": NOW,
        "expires_at": NOW + 3600,
        **extra,
    }
    return issue_sd_jwt_vc(claims, **arguments)


def decode(credential: str) -> tuple[dict[str, Any], dict[str, Any], list[list[Any]], list[str]]:
    """Header, payload, decoded disclosures and encoded disclosures, by hand (no SUT code)."""
    jwt, *encoded, last = credential.split("~")
    assert last == ""
    parts = split_jws(jwt)
    contents = [json.loads(b64url_decode(text)) for text in encoded]
    return parts.header, parts.payload, contents, encoded


def digest(disclosure: str) -> str:
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def test_header_is_typed_es256_with_kid(signing_key: SigningKey) -> None:
    """The protected header is exactly typ dc+sd-jwt, alg ES256 and the key's kid."""
    header, _, _, _ = decode(issue(signing_key, PID_CLAIMS, []))
    assert header == {"typ": "dc+sd-jwt", "alg": "ES256", "kid": "issuer-key-1"}


def test_signature_verifies_with_issuer_public_key(signing_key: SigningKey) -> None:
    """The issuer-signed JWT carries a valid ES256 signature by the signing key."""
    jwt = issue(signing_key, PID_CLAIMS, ["given_name"]).split("~")[0]
    parts = split_jws(jwt)
    public_key = signing_key.private_key.public_key()
    assert es256_verify(public_key, parts.signing_input, parts.signature)


def test_registered_claims_are_set_in_the_clear(signing_key: SigningKey) -> None:
    """iss, iat, exp, nbf, vct, cnf, status and _sd_alg appear in the payload as given."""
    holder = public_jwk(generate_p256_key().public_key())
    credential = issue(
        signing_key,
        {"given_name": "Erika"},
        ["given_name"],
        not_before=NOW - 5,
        status=StatusReference(uri="https://status.example/lists/1", idx=42),
        holder_jwk=holder,
    )
    _, payload, _, _ = decode(credential)
    assert payload["iss"] == "https://issuer.example"
    assert (payload["iat"], payload["nbf"], payload["exp"]) == (NOW, NOW - 5, NOW + 3600)
    assert payload["vct"] == "urn:eudi:pid:1"
    assert payload["cnf"] == {"jwk": holder}
    assert payload["status"] == {
        "status_list": {"idx": 42, "uri": "https://status.example/lists/1"}
    }
    assert payload["_sd_alg"] == "sha-256"
    assert "given_name" not in payload


def test_optional_registered_claims_are_left_out(signing_key: SigningKey) -> None:
    """Without nbf, status or a holder key, the payload has no nbf, status or cnf."""
    _, payload, _, _ = decode(issue(signing_key, {"a": 1}, []))
    assert not {"nbf", "status", "cnf", "_sd"} & payload.keys()


def test_credential_ends_with_tilde_and_has_no_key_binding(signing_key: SigningKey) -> None:
    """An issued SD-JWT is `<jwt>~<d1>~...~<dN>~` (RFC 9901 section 4)."""
    credential = issue(signing_key, PID_CLAIMS, ["given_name", "family_name"])
    assert credential.endswith("~")
    assert credential.count("~") == 3


def test_top_level_disclosures_hide_claims_behind_sorted_digests(signing_key: SigningKey) -> None:
    """Each disclosable claim leaves the payload; its digest is in a sorted _sd array."""
    disclosable = ["given_name", "family_name", "birthdate", "issuing_authority"]
    _, payload, contents, encoded = decode(issue(signing_key, PID_CLAIMS, disclosable))
    assert not set(disclosable) & payload.keys()
    assert payload["_sd"] == sorted(payload["_sd"])
    assert set(payload["_sd"]) == {digest(text) for text in encoded}
    assert {(c[1], json.dumps(c[2])) for c in contents} == {
        (name, json.dumps(PID_CLAIMS[name])) for name in disclosable
    }
    assert payload["issuing_country"] == "DE"


def test_each_disclosure_has_a_fresh_salt(signing_key: SigningKey) -> None:
    """No two disclosures share a salt, with the default salt source."""
    _, _, contents, _ = decode(issue(signing_key, PID_CLAIMS, list(PID_CLAIMS)))
    salts = [c[0] for c in contents]
    assert len(set(salts)) == len(salts) == len(PID_CLAIMS)


def test_default_salts_carry_at_least_128_bits(signing_key: SigningKey) -> None:
    """Salts are base64url of at least 16 random bytes (RFC 9901 section 9.3): the
    issuer's pooled salts 18, a lone `random_salt` 16."""
    _, _, contents, _ = decode(issue(signing_key, PID_CLAIMS, list(PID_CLAIMS)))
    for salt, *_ in contents:
        assert len(b64url_decode(salt)) == 18
    assert len(b64url_decode(random_salt())) == 16


def test_salts_differ_between_credentials(signing_key: SigningKey) -> None:
    """Two issuances of the same claims use different salts, so digests do not link them."""
    first = decode(issue(signing_key, PID_CLAIMS, ["given_name"]))[1]["_sd"]
    second = decode(issue(signing_key, PID_CLAIMS, ["given_name"]))[1]["_sd"]
    assert first != second


def test_injected_salts_make_disclosures_byte_exact(signing_key: SigningKey) -> None:
    """With an injected salt source, disclosures are compact UTF-8 JSON, byte for byte."""
    credential = issue(
        signing_key,
        {"family_name": "Möbius", "n": [1]},
        ["family_name", "n[]"],
        salt=counting_salts(),
    )
    _, payload, _, encoded = decode(credential)
    assert encoded == [
        b64url_encode('["salt-0","family_name","Möbius"]'.encode()),
        b64url_encode(b'["salt-1",1]'),
    ]
    assert payload["_sd"] == [digest(encoded[0])]
    assert payload["n"] == [{"...": digest(encoded[1])}]


def test_nested_member_disclosure_keeps_parent_in_clear(signing_key: SigningKey) -> None:
    """`place_of_birth.locality` hides only the member; the parent object stays visible."""
    _, payload, contents, encoded = decode(
        issue(signing_key, PID_CLAIMS, ["place_of_birth.locality"])
    )
    assert payload["place_of_birth"] == {"country": "DE", "_sd": [digest(encoded[0])]}
    assert contents[0][1:] == ["locality", "Berlin"]


def test_parent_and_child_disclosable_nest_recursively(signing_key: SigningKey) -> None:
    """Listing parent and child builds the child first; the parent's value holds its _sd."""
    _, payload, contents, encoded = decode(
        issue(signing_key, PID_CLAIMS, ["place_of_birth", "place_of_birth.locality"])
    )
    assert "place_of_birth" not in payload
    child, parent = contents
    assert child[1:] == ["locality", "Berlin"]
    assert parent[1] == "place_of_birth"
    assert parent[2] == {"country": "DE", "_sd": [digest(encoded[0])]}
    assert payload["_sd"] == [digest(encoded[1])]


def test_array_elements_become_placeholders_in_place(signing_key: SigningKey) -> None:
    """`nationalities[]` replaces each element by {"...": digest} at its position."""
    _, payload, contents, encoded = decode(issue(signing_key, PID_CLAIMS, ["nationalities[]"]))
    assert payload["nationalities"] == [{"...": digest(text)} for text in encoded]
    assert [c[1:] for c in contents] == [["DE"], ["FR"]]
    assert all(len(c) == 2 for c in contents)


def test_array_and_whole_claim_can_both_be_disclosable(signing_key: SigningKey) -> None:
    """`nationalities` with `nationalities[]` hides the array, whose elements hide too."""
    _, payload, contents, encoded = decode(
        issue(signing_key, PID_CLAIMS, ["nationalities", "nationalities[]"])
    )
    assert "nationalities" not in payload
    assert contents[-1][1] == "nationalities"
    assert contents[-1][2] == [{"...": digest(text)} for text in encoded[:2]]


def test_members_of_array_elements_can_be_disclosable(signing_key: SigningKey) -> None:
    """`addresses[].street` hides that member inside every object of the array."""
    claims = {"addresses": [{"street": "A", "city": "X"}, {"street": "B", "city": "Y"}]}
    _, payload, contents, _ = decode(issue(signing_key, claims, ["addresses[].street"]))
    assert [set(item) for item in payload["addresses"]] == [{"city", "_sd"}, {"city", "_sd"}]
    assert [c[1:] for c in contents] == [["street", "A"], ["street", "B"]]


def test_numeric_looking_member_names_are_disclosable(signing_key: SigningKey) -> None:
    """`age_equal_or_over.18` addresses the member named "18", as in the PID."""
    _, payload, contents, _ = decode(issue(signing_key, PID_CLAIMS, ["age_equal_or_over.18"]))
    assert payload["age_equal_or_over"]["65"] is False
    assert contents[0][1:] == ["18", True]


def test_paths_to_absent_claims_are_skipped(signing_key: SigningKey) -> None:
    """Templates may name optional claims the subject does not have; nothing is emitted."""
    credential = issue(signing_key, {"a": {"b": 1}}, ["middle_name", "a.c", "x[]", "y.z"])
    assert credential.count("~") == 1
    assert decode(credential)[1]["a"] == {"b": 1}


@pytest.mark.parametrize(
    "path",
    [
        "iss",
        "iat",
        "exp",
        "nbf",
        "vct",
        "cnf",
        "status",
        "_sd",
        "_sd_alg",
        "...",
        "place_of_birth._sd",
        "place_of_birth....",
    ],
)
def test_reserved_names_cannot_be_disclosable(signing_key: SigningKey, path: str) -> None:
    """Registered and SD-JWT-internal claim names are refused as disclosable paths."""
    with pytest.raises(ValueError, match=r"cannot be selectively disclosed|invalid segment"):
        issue(signing_key, PID_CLAIMS, [path])


@pytest.mark.parametrize("path", ["", "a..b", "[]", "a[0]", ".a"])
def test_malformed_paths_are_refused(signing_key: SigningKey, path: str) -> None:
    """Empty segments and index syntax are not paths."""
    with pytest.raises(ValueError, match="disclosable path"):
        issue(signing_key, {"a": {"b": 1}}, [path])


@pytest.mark.parametrize("name", ["iss", "exp", "cnf", "_sd", "..."])
def test_claims_may_not_carry_reserved_top_level_names(signing_key: SigningKey, name: str) -> None:
    """Subject data cannot override registered claims or inject SD-JWT structure."""
    with pytest.raises(ValueError, match="reserved"):
        issue(signing_key, {name: "x"}, [])


@pytest.mark.parametrize(
    "claims",
    [
        {"address": {"_sd": ["forged-digest"]}},
        {"list": [{"...": "forged-digest"}]},
        {"deep": {"a": [{"b": {"_sd": []}}]}},
    ],
)
def test_sd_structure_in_clear_data_is_refused(signing_key: SigningKey, claims: Any) -> None:
    """A clear claim holding `_sd` or `...` could smuggle in unsigned claims, so it is refused."""
    with pytest.raises(ValueError, match="reserved"):
        issue(signing_key, claims, [])


def test_sd_structure_inside_disclosed_value_is_refused(signing_key: SigningKey) -> None:
    """The `_sd` check also covers values that go into disclosures."""
    with pytest.raises(ValueError, match="reserved"):
        issue(signing_key, {"address": {"_sd": ["x"]}}, ["address"])


def test_path_shape_must_match_the_data(signing_key: SigningKey) -> None:
    """`a[]` on a non-array or `a.b` on a non-object is a template error, not a silent leak."""
    with pytest.raises(ValueError, match="expects an array"):
        issue(signing_key, {"a": "text"}, ["a[]"])
    with pytest.raises(ValueError, match="expects an object"):
        issue(signing_key, {"a": "text"}, ["a.b"])


def test_too_deep_claims_are_refused(signing_key: SigningKey) -> None:
    """Claims nested beyond the bound are refused before verifiers would have to walk them."""
    value: Any = "leaf"
    for _ in range(40):
        value = {"n": value}
    with pytest.raises(ValueError, match="deeper"):
        issue(signing_key, {"deep": value}, [])


def test_repeating_salt_source_is_refused(signing_key: SigningKey) -> None:
    """A salt source that repeats violates RFC 9901 section 4.2.1 and is refused."""
    with pytest.raises(ValueError, match="same salt"):
        issue(signing_key, PID_CLAIMS, ["given_name", "family_name"], salt=lambda: "fixed")


def test_private_holder_key_is_refused(signing_key: SigningKey) -> None:
    """A holder JWK with a private part must never be embedded in a credential."""
    private = {**public_jwk(generate_p256_key().public_key()), "d": "secret"}
    with pytest.raises(InvalidJwkError):
        issue(signing_key, PID_CLAIMS, [], holder_jwk=private)


def test_nan_claim_values_are_refused(signing_key: SigningKey) -> None:
    """NaN is not JSON; issuing it would produce a credential other parsers reject."""
    with pytest.raises(ValueError, match="JSON"):
        issue(signing_key, {"score": float("nan")}, ["score"])


def test_input_claims_are_not_mutated(signing_key: SigningKey) -> None:
    """Issuance is pure: the caller's claim mapping is left as it was."""
    claims = json.loads(json.dumps(PID_CLAIMS))
    issue(signing_key, claims, ["place_of_birth.locality", "nationalities[]", "given_name"])
    assert claims == PID_CLAIMS


def test_default_salts_stay_unique_across_batches(signing_key: SigningKey) -> None:
    """More disclosures than one batch of OS randomness still get distinct salts."""
    claims = {"items": list(range(40))}
    _, _, contents, _ = decode(issue(signing_key, claims, ["items[]"]))
    assert len({c[0] for c in contents}) == 40


def test_pooled_salts_carry_18_random_bytes_each_and_never_repeat() -> None:
    """Pooled salts (the issuer's default) are 18 bytes, 144 bits, in canonical base64url,
    and distinct across several refills of the pool."""
    salts = [pooled_salt() for _ in range(1000)]
    assert all(len(b64url_decode(salt)) == 18 and len(salt) == 24 for salt in salts)
    assert len(set(salts)) == len(salts)


def test_pooled_salts_are_not_served_again_in_a_forked_child() -> None:
    """A forked child starts its own salt pool: the parent's unused salts never serve both."""
    pooled_salt()  # the parent's pool now holds unused salts
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        os.write(writer, pooled_salt().encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        in_child = pipe.read().decode()
    os.waitpid(child, 0)
    assert len(b64url_decode(in_child)) == 18
    assert in_child != pooled_salt()
