"""The shortcuts of mdoc issuance: items encoded with exactly the bytes of cbor2's
canonical mode, and device keys made from holder keys checked once."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import (
    CheckedJwk,
    InvalidJwkError,
    checked_public_jwk,
    generate_p256_key,
    public_jwk,
)
from eudi_connect.core.mdoc import _cbor
from eudi_connect.core.mdoc.cose_key import cose_key_from_jwk
from eudi_connect.core.mdoc.items import encode_item

_element_values = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=10).map(lambda day: cbor2.CBORTag(_cbor.TAG_FULL_DATE, day)),
    st.lists(st.text(max_size=8), max_size=5),
    st.dictionaries(st.text(max_size=12), st.text(max_size=8), max_size=5),
    st.lists(st.floats(allow_nan=False), max_size=3),
)


def _canonical_item(digest_id: int, random: bytes, identifier: str, value: Any) -> bytes:
    item = {
        "digestID": digest_id,
        "random": random,
        "elementIdentifier": identifier,
        "elementValue": value,
    }
    return cbor2.dumps(item, canonical=True)


@given(
    st.integers(min_value=0, max_value=2**31 - 1),
    st.binary(min_size=16, max_size=32),
    st.text(min_size=1, max_size=30),
    _element_values,
)
def test_items_encode_as_canonical_cbor(
    digest_id: int, random: bytes, identifier: str, value: Any
) -> None:
    """An IssuerSignedItem holds the canonical encoding of its map, whatever its value."""
    tagged = encode_item(digest_id, random, identifier, value)
    assert tagged.tag == _cbor.TAG_ENCODED_CBOR
    assert tagged.value == _canonical_item(digest_id, random, identifier, value)


@pytest.mark.parametrize("length", [0, 1, 23, 24, 255, 256, 65_535, 65_536])
def test_embedded_bytes_encode_as_cbor2_does(length: int) -> None:
    """Tag 24 around a byte string of any length has cbor2's bytes, head and all."""
    data = bytes(range(256)) * (length // 256) + bytes(length % 256)
    expected = cbor2.dumps(cbor2.CBORTag(_cbor.TAG_ENCODED_CBOR, data), canonical=True)
    assert _cbor.encode_embedded(data) == expected


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("text", True),
        (b"bytes", True),
        (7, True),
        (True, True),
        (None, True),
        (cbor2.CBORTag(_cbor.TAG_FULL_DATE, "2024-01-15"), True),
        (["DE", "FR"], True),
        (1.5, False),
        ({"b": "x", "a": "y"}, False),
        ([1.5], False),
        (cbor2.CBORTag(_cbor.TAG_FULL_DATE, {"a": 1.5}), False),
    ],
)
def test_plain_values_are_those_canonical_mode_leaves_alone(value: Any, plain: bool) -> None:
    """Only values whose plain encoding is their canonical one count as plain."""
    assert _cbor.is_plain(value) is plain
    if plain:
        assert cbor2.dumps(value) == cbor2.dumps(value, canonical=True)


def test_a_checked_jwk_gives_the_device_key_a_plain_jwk_gives() -> None:
    """A JWK checked once becomes the same COSE device key as the same JWK unchecked."""
    jwk = public_jwk(generate_p256_key().public_key())
    checked = checked_public_jwk({**jwk, "kid": "holder-1", "alg": "ES256"})
    assert type(checked) is CheckedJwk
    assert checked == jwk  # kid and alg dropped, kty, crv, x and y kept in that order
    assert list(checked) == ["kty", "crv", "x", "y"]
    assert cose_key_from_jwk(checked) == cose_key_from_jwk(jwk)


def test_checking_a_jwk_refuses_a_point_off_the_curve() -> None:
    """A JWK whose point is not on P-256 never becomes a CheckedJwk."""
    jwk = public_jwk(generate_p256_key().public_key())
    off_curve = {**jwk, "y": b64url_encode(bytes(31) + b"\x01")}
    with pytest.raises(InvalidJwkError) as caught:
        checked_public_jwk(off_curve)
    assert caught.value.reason == "INVALID_JWK"
