"""base64url and compact JSON (core.encoding): the bytes of the standard library's encoders,
and strict decoding."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eudi_connect.core import encoding
from eudi_connect.core.encoding import (
    ascii_json,
    b64url_decode,
    b64url_encode,
    compact_json,
    json_bytes,
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.binary(max_size=100))
def test_b64url_is_the_unpadded_urlsafe_alphabet_and_round_trips(data: bytes) -> None:
    """Encoding gives the bytes of `base64.urlsafe_b64encode` without padding; decoding
    gives the data back."""
    expected = base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    assert b64url_encode(data) == expected
    assert b64url_decode(expected) == data


@pytest.mark.parametrize(
    "text",
    ["a", "abcde", "AA==", "AA=", "ab+c", "ab/c", "ab c", "ab\nc", "AAAA\n", "ab.c", "é", "~~~"],
)
def test_b64url_decode_refuses_padding_and_stray_characters(text: str) -> None:
    """Padding, the standard alphabet, whitespace and impossible lengths are errors."""
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)


@pytest.mark.parametrize("text", ["AB", "AP", "AAB", "AAC", "_-_-AAD", "a2V5Ab"])
def test_b64url_decode_refuses_unused_bits_in_the_last_character(text: str) -> None:
    """A last character whose bits beyond the data are set is a second spelling of the same
    bytes: refused, so a signature or disclosure has exactly one encoding."""
    with pytest.raises(ValueError, match="canonical base64url"):
        b64url_decode(text)


@pytest.mark.parametrize("data", [b"\x00", b"\xff", b"\x00\x00", b"\xff\xff", b"key", b"keys!"])
def test_b64url_decode_accepts_the_canonical_last_character(data: bytes) -> None:
    """What b64url_encode writes, whatever the length, decodes back."""
    assert b64url_decode(b64url_encode(data)) == data


def test_b64url_decode_refuses_what_is_not_text() -> None:
    """Bytes or other objects are refused rather than decoded."""
    for value in (b"AAAA", None, 5):
        with pytest.raises(ValueError, match="must be text"):
            b64url_decode(value)  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.text(alphabet="ABCab01-_+/= \n.é", max_size=12))
def test_b64url_decode_accepts_exactly_the_unpadded_alphabet(text: str) -> None:
    """Accepted text is the canonical base64url alphabet alone (what encoding its bytes gives
    back); it decodes as the standard library does."""
    unpadded = all(c.isascii() and (c.isalnum() or c in "-_") for c in text) and len(text) % 4 != 1
    if unpadded:
        canonical = b64url_encode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        unpadded = canonical == text
    try:
        decoded = b64url_decode(text)
    except ValueError:
        assert not unpadded
    else:
        assert unpadded
        assert decoded == base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@settings(max_examples=300)
@given(JSON_VALUES)
def test_json_forms_are_the_bytes_of_json_dumps(value: Any) -> None:
    """Each form is the output of `json.dumps` with the options it stands for."""
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert compact_json(value) == compact
    assert json_bytes(value) == compact.encode("utf-8")
    assert ascii_json(value) == json.dumps(value, separators=(",", ":"))
    assert ascii_json(value, sort_keys=True) == json.dumps(
        value, separators=(",", ":"), sort_keys=True
    )


def test_compact_json_refuses_what_json_cannot_carry() -> None:
    """NaN and Infinity are not JSON (RFC 8259 section 6); other objects have no form."""
    for number in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="JSON compliant"):
            compact_json({"x": number})
    with pytest.raises(TypeError, match="not a JSON value"):
        compact_json({"x": object()})


def test_pure_python_json_fallback_gives_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the C accelerator the encoder falls back to json's, with identical output."""
    value = {"b": [1, 2.5, None, True], "a": 'Möbius \u2028 "q"', "c": {"d": -0.0}}
    fast = compact_json(value)
    monkeypatch.setattr(encoding, "_C_ENCODER", None)
    assert compact_json(value) == fast
    assert fast == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
