"""The shortcuts of mdoc issuance: items encoded with exactly the bytes of cbor2's
canonical mode, and device keys made from holder keys checked once."""

from __future__ import annotations

import hashlib
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
from eudi_connect.core.mdoc.cose_key import cose_key_from_jwk
from eudi_connect.core.mdoc.items import digest_of, encode_item

#: RFC 8943 full-date and RFC 8949 encoded CBOR data item.
TAG_FULL_DATE, TAG_ENCODED_CBOR = 1004, 24

_element_values = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=10).map(lambda day: cbor2.CBORTag(TAG_FULL_DATE, day)),
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
    assert tagged.tag == TAG_ENCODED_CBOR
    assert tagged.value == _canonical_item(digest_id, random, identifier, value)


@pytest.mark.parametrize("length", [0, 1, 23, 24, 255, 256, 65_535, 65_536])
def test_item_digests_cover_tag_24_as_cbor2_encodes_it(length: int) -> None:
    """An item's digest is SHA-256 over tag 24 and its bytes as cbor2 writes them."""
    data = bytes(range(256)) * (length // 256) + bytes(length % 256)
    tagged = cbor2.CBORTag(TAG_ENCODED_CBOR, data)
    assert digest_of(tagged) == hashlib.sha256(cbor2.dumps(tagged, canonical=True)).digest()


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
