"""mdoc issuance: the CBOR bytes that interop depends on, checked without the verifier.

Tags, canonical map order, the COSE_Sign1 layout and the MSO digests are read from the
bytes with plain `cbor2` and `cryptography`, so a bug shared by issuer and verifier in
this package cannot hide here.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import (
    InvalidJwkError,
    SigningKey,
    generate_p256_key,
    private_jwk,
    public_jwk,
)
from eudi_connect.core.mdoc import (
    PID_DOCTYPE,
    PID_NAMESPACE,
    IssuedMdoc,
    MdocIssuanceError,
    ValidityInfo,
    issue_mdoc,
)
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.errors import ConfigurationError
from tests.unit.mdoc_fixtures import SIGNED, issuer_certificate

VALIDITY = ValidityInfo(SIGNED, SIGNED, SIGNED + timedelta(days=30))
ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": date(1984, 1, 26),
    "age_over_18": True,
    "nationality": ["DE"],
    "place_of_birth": {"locality": "Berlin", "country": "DE"},
    "issuing_authority": "DE",
    "sex": 2,
    "height_m": 1.75,
    "portrait": b"\xff\xd8\xff\xe0",
    "captured_at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2))),
}
TDATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@pytest.fixture(scope="module")
def issuer_key() -> SigningKey:
    return SigningKey("issuer-1", generate_p256_key())


@pytest.fixture(scope="module")
def certificate(issuer_key: SigningKey) -> bytes:
    return issuer_certificate(issuer_key, "Example PID Provider")


@pytest.fixture(scope="module")
def holder_key() -> ec.EllipticCurvePrivateKey:
    return generate_p256_key()


def _issue(
    issuer_key: SigningKey,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
    **overrides: Any,
) -> IssuedMdoc:
    arguments: dict[str, Any] = {
        "doc_type": PID_DOCTYPE,
        "holder_jwk": public_jwk(holder_key.public_key()),
        "validity": VALIDITY,
        "signing_key": issuer_key,
        "certificate_chain": [certificate],
        "status": StatusReference(uri="https://issuer.example/status/1", idx=42),
    }
    arguments.update(overrides)
    namespaces = arguments.pop("namespaces", {PID_NAMESPACE: ELEMENTS})
    return issue_mdoc(namespaces, **arguments)


@pytest.fixture(scope="module")
def issued(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> IssuedMdoc:
    return _issue(issuer_key, certificate, holder_key)


#: Keeps tdate and full-date tags as tags, so tests see what is on the wire.
KEEP_TAGS = {
    0: lambda value, immutable: cbor2.CBORTag(0, value),
    1004: lambda value, immutable: cbor2.CBORTag(1004, value),
}


def _issuer_signed(mdoc: IssuedMdoc) -> dict[str, Any]:
    value = cbor2.loads(mdoc.issuer_signed)
    assert isinstance(value, dict)
    return value


def _mso_bytes(mdoc: IssuedMdoc) -> bytes:
    payload = cbor2.loads(_issuer_signed(mdoc)["issuerAuth"][2])
    assert isinstance(payload, cbor2.CBORTag)
    assert payload.tag == 24
    assert isinstance(payload.value, bytes)
    return payload.value


def _items(mdoc: IssuedMdoc) -> list[cbor2.CBORTag]:
    items = _issuer_signed(mdoc)["nameSpaces"][PID_NAMESPACE]
    assert isinstance(items, list)
    return items


def _item_with(mdoc: IssuedMdoc, identifier: str) -> bytes:
    for tagged in _items(mdoc):
        if cbor2.loads(tagged.value)["elementIdentifier"] == identifier:
            return bytes(tagged.value)
    raise AssertionError(f"no item {identifier}")


# --- IssuerSigned and its items --------------------------------------------------------------


def test_credential_is_unpadded_base64url_of_the_cbor(issued: IssuedMdoc) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", issued.credential)
    assert b64url_decode(issued.credential) == issued.issuer_signed
    assert set(_issuer_signed(issued)) == {"nameSpaces", "issuerAuth"}


def test_every_item_is_tag_24_wrapped_bytes_on_the_wire(issued: IssuedMdoc) -> None:
    items = _items(issued)
    assert len(items) == len(ELEMENTS)
    for tagged in items:
        assert isinstance(tagged, cbor2.CBORTag)
        assert tagged.tag == 24
        encoded = cbor2.dumps(tagged)
        assert encoded[:2] == b"\xd8\x18"  # tag 24 in its one-byte-argument form
        assert encoded in issued.issuer_signed


def test_items_hold_exactly_the_four_members_and_a_long_random(issued: IssuedMdoc) -> None:
    randoms = set()
    for tagged in _items(issued):
        item = cbor2.loads(tagged.value)
        assert set(item) == {"digestID", "random", "elementIdentifier", "elementValue"}
        assert isinstance(item["random"], bytes)
        assert len(item["random"]) >= 16
        randoms.add(item["random"])
    assert len(randoms) == len(ELEMENTS)


def test_digest_ids_are_unique_random_and_below_2_31(issued: IssuedMdoc) -> None:
    ids = [cbor2.loads(tagged.value)["digestID"] for tagged in _items(issued)]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, int) and 0 <= i < 2**31 for i in ids)
    assert sorted(ids) != list(range(len(ids)))  # not a counter that leaks claim order


def test_birth_date_is_a_tag_1004_full_date_string(issued: IssuedMdoc) -> None:
    item = _item_with(issued, "birth_date")
    assert bytes.fromhex("d903ec") + cbor2.dumps("1984-01-26") in item
    assert cbor2.loads(item, semantic_decoders=KEEP_TAGS)["elementValue"] == cbor2.CBORTag(
        1004, "1984-01-26"
    )


def test_datetime_elements_become_utc_tdates_without_fractions(issued: IssuedMdoc) -> None:
    value = cbor2.loads(_item_with(issued, "captured_at"), semantic_decoders=KEEP_TAGS)
    assert value["elementValue"] == cbor2.CBORTag(0, "2024-05-06T05:08:09Z")


def test_other_element_values_keep_their_cbor_types(issued: IssuedMdoc) -> None:
    for name in ("family_name", "age_over_18", "nationality", "place_of_birth", "sex", "portrait"):
        assert cbor2.loads(_item_with(issued, name))["elementValue"] == ELEMENTS[name]
    assert math.isclose(cbor2.loads(_item_with(issued, "height_m"))["elementValue"], 1.75)


# --- COSE_Sign1 ----------------------------------------------------------------------------


def test_issuer_auth_is_an_untagged_cose_sign1_with_es256_and_x5chain(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    issuer_auth = _issuer_signed(issued)["issuerAuth"]
    assert isinstance(issuer_auth, list)
    assert len(issuer_auth) == 4
    protected, unprotected, payload, signature = issuer_auth
    assert protected == b"\xa1\x01\x26"  # bstr of {1: -7}
    assert unprotected == {33: certificate}
    assert isinstance(payload, bytes)
    assert len(signature) == 64


def test_signature_is_r_s_over_the_signature1_structure(
    issued: IssuedMdoc, issuer_key: SigningKey
) -> None:
    protected, _, payload, signature = _issuer_signed(issued)["issuerAuth"]
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    issuer_key.private_key.public_key().verify(der, to_be_signed, ec.ECDSA(hashes.SHA256()))


def test_several_certificates_go_into_x5chain_as_an_array(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    other = b"\x30\x03\x02\x01\x01"  # the issuer checks only the first (its own) certificate
    mdoc = _issue(issuer_key, certificate, holder_key, certificate_chain=[certificate, other])
    assert _issuer_signed(mdoc)["issuerAuth"][1] == {33: [certificate, other]}


# --- Mobile Security Object ----------------------------------------------------------------


def test_mso_holds_version_algorithm_doctype_device_key_and_status(
    issued: IssuedMdoc, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    mso = cbor2.loads(_mso_bytes(issued))
    numbers = holder_key.public_key().public_numbers()
    assert mso["version"] == "1.0"
    assert mso["digestAlgorithm"] == "SHA-256"
    assert mso["docType"] == PID_DOCTYPE
    assert mso["deviceKeyInfo"] == {
        "deviceKey": {
            1: 2,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    }
    assert mso["status"] == {"status_list": {"idx": 42, "uri": "https://issuer.example/status/1"}}


def test_value_digests_are_sha256_of_each_tag_24_item(issued: IssuedMdoc) -> None:
    digests = cbor2.loads(_mso_bytes(issued))["valueDigests"]
    assert set(digests) == {PID_NAMESPACE}
    expected = {
        cbor2.loads(tagged.value)["digestID"]: hashlib.sha256(cbor2.dumps(tagged)).digest()
        for tagged in _items(issued)
    }
    assert digests[PID_NAMESPACE] == expected


def test_validity_info_values_are_tag_0_tdates_without_fractions(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    offset = timezone(timedelta(hours=-5))
    validity = ValidityInfo(
        signed=datetime(2025, 3, 1, 7, 0, 0, 999999, tzinfo=offset),
        valid_from=datetime(2025, 3, 1, 7, 0, 1, 500, tzinfo=offset),
        valid_until=datetime(2025, 4, 1, 7, 0, 0, tzinfo=offset),
        expected_update=datetime(2025, 3, 20, tzinfo=UTC),
    )
    mdoc = _issue(issuer_key, certificate, holder_key, validity=validity)
    info = cbor2.loads(_mso_bytes(mdoc), semantic_decoders=KEEP_TAGS)["validityInfo"]
    assert info == {
        "signed": cbor2.CBORTag(0, "2025-03-01T12:00:00Z"),
        "validFrom": cbor2.CBORTag(0, "2025-03-01T12:00:01Z"),
        "validUntil": cbor2.CBORTag(0, "2025-04-01T12:00:00Z"),
        "expectedUpdate": cbor2.CBORTag(0, "2025-03-20T00:00:00Z"),
    }
    assert all(TDATE.fullmatch(tag.value) for tag in info.values())
    assert mdoc.validity.valid_from == datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)


def _assert_length_first_keys(value: Any) -> None:
    if isinstance(value, dict):
        encoded = [cbor2.dumps(key) for key in value]  # wire order: cbor2 keeps it
        assert encoded == sorted(encoded, key=lambda key: (len(key), key))
        for item in value.values():
            _assert_length_first_keys(item)
    elif isinstance(value, list):
        for item in value:
            _assert_length_first_keys(item)


def test_mso_encoding_is_canonical(issued: IssuedMdoc) -> None:
    mso_bytes = _mso_bytes(issued)
    decoded = cbor2.loads(mso_bytes, semantic_decoders=KEEP_TAGS)
    assert cbor2.dumps(decoded, canonical=True) == mso_bytes
    _assert_length_first_keys(decoded)
    assert list(decoded) == [  # shorter keys first, bytewise among equal lengths
        "status",
        "docType",
        "version",
        "validityInfo",
        "valueDigests",
        "deviceKeyInfo",
        "digestAlgorithm",
    ]


def test_mso_omits_status_when_none_is_given(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    mdoc = _issue(issuer_key, certificate, holder_key, status=None)
    assert "status" not in cbor2.loads(_mso_bytes(mdoc))


def test_an_injected_random_source_makes_issuance_reproducible(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    def counter_source() -> Any:
        state = {"n": 0}

        def take(size: int) -> bytes:
            state["n"] += 1
            return hashlib.sha256(state["n"].to_bytes(8, "big")).digest()[:size]

        return take

    first = _issue(issuer_key, certificate, holder_key, random_bytes=counter_source())
    second = _issue(issuer_key, certificate, holder_key, random_bytes=counter_source())
    assert _items(first) == _items(second)
    assert _mso_bytes(first) == _mso_bytes(second)


# --- refused input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2025, 1, 1), "timezone-aware"),
        (float("nan"), "finite"),
        (2**64, "64 bits"),
        ({1.5: "x"}, "map keys"),
        ({"a": {True: 1}}, "map keys"),
        ({"nested"}, "unsupported"),
        ([[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]], "deeper"),
    ],
)
def test_element_values_that_cannot_round_trip_are_refused(
    issuer_key: SigningKey,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
    value: Any,
    message: str,
) -> None:
    with pytest.raises(MdocIssuanceError, match=message):
        _issue(issuer_key, certificate, holder_key, namespaces={PID_NAMESPACE: {"x": value}})


@pytest.mark.parametrize(
    "namespaces",
    [{}, {PID_NAMESPACE: {}}, {"": {"a": 1}}, {PID_NAMESPACE: {"": 1}}],
)
def test_empty_or_nameless_namespaces_are_refused(
    issuer_key: SigningKey,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
    namespaces: dict[str, Any],
) -> None:
    with pytest.raises(MdocIssuanceError):
        _issue(issuer_key, certificate, holder_key, namespaces=namespaces)


def test_a_validity_window_that_ends_before_it_starts_is_refused(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    backwards = ValidityInfo(SIGNED, SIGNED, SIGNED - timedelta(seconds=1))
    with pytest.raises(MdocIssuanceError, match="valid_from < valid_until"):
        _issue(issuer_key, certificate, holder_key, validity=backwards)


def test_holder_keys_must_be_public_p256_jwks(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(InvalidJwkError):
        _issue(issuer_key, certificate, holder_key, holder_jwk=private_jwk(holder_key))
    with pytest.raises(InvalidJwkError):
        _issue(issuer_key, certificate, holder_key, holder_jwk={"kty": "OKP", "crv": "Ed25519"})


def test_a_certificate_for_another_key_is_a_configuration_error(
    certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    stranger = SigningKey("other", generate_p256_key())
    with pytest.raises(ConfigurationError, match="not for signing key other"):
        _issue(stranger, certificate, holder_key)


def test_a_random_source_that_repeats_itself_is_refused(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(ValueError, match="repeating"):
        _issue(issuer_key, certificate, holder_key, random_bytes=lambda size: b"\x00" * size)


def test_the_holder_jwk_kid_and_alg_do_not_reach_the_cose_key(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    jwk = {**public_jwk(holder_key.public_key()), "kid": "h1", "alg": "ES256"}
    mdoc = _issue(issuer_key, certificate, holder_key, holder_jwk=jwk)
    device_key = cbor2.loads(_mso_bytes(mdoc))["deviceKeyInfo"]["deviceKey"]
    assert set(device_key) == {1, -1, -2, -3}
    assert b64url_encode(device_key[-2]) == jwk["x"]
