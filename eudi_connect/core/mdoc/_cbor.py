"""CBOR as ISO/IEC 18013-5 uses it: the tags, canonical encoding and a guarded decoder.

Encoding is canonical (RFC 7049 section 3.9, length-first map keys, which `cbor2` produces
with `canonical=True`) so that the bytes we sign and hash are reproducible. Decoding treats
its input as hostile: sizes, nesting, duplicate keys, indefinite lengths and every tag
outside the few mdocs use are refused, and only `MalformedCborError` escapes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import cbor2

#: RFC 8949 section 3.4.1: date/time string (`tdate`).
TAG_TDATE = 0
#: RFC 8949 section 3.4.2: epoch-based date/time; read for interop, never written.
TAG_EPOCH_DATETIME = 1
#: RFC 9052 section 4.2: a tagged COSE_Sign1; 18013-5 sends it untagged, some send it tagged.
TAG_COSE_SIGN1 = 18
#: RFC 8949 section 3.4.5.1: embedded CBOR data item (`#6.24(bstr .cbor X)`).
TAG_ENCODED_CBOR = 24
#: RFC 8943: RFC 3339 full-date string (`full-date`).
TAG_FULL_DATE = 1004

#: Nesting an element value may have; the verifier's decoding cap leaves room for it.
MAX_ELEMENT_DEPTH = 16
_MIN_INT = -(2**64)
_MAX_INT = 2**64 - 1

#: Tags `cbor2` would decode into Python objects of its own (bignums, decimals, regular
#: expressions, MIME messages, shared references that can build cycles, sets, addresses).
#: None of them belongs in an mdoc, and some cost time or memory to build.
_REFUSED_BUILTIN_TAGS = (
    2,
    3,
    4,
    5,
    25,
    28,
    29,
    30,
    35,
    36,
    37,
    52,
    54,
    100,
    256,
    258,
    260,
    261,
    55799,
)
#: Tags `cbor2` leaves as `CBORTag` that mdoc structures (not element values) contain.
STRUCTURE_TAGS = frozenset({TAG_COSE_SIGN1, TAG_ENCODED_CBOR})
_LEAF_TYPES = (str, bytes, int, float, bool, date, type(None))  # datetime is a date


class MalformedCborError(ValueError):
    """Bytes that are not one well-formed CBOR item of the shapes and tags mdocs use."""


def encode(value: Any) -> bytes:
    """Canonical CBOR of values already made CBOR-ready (tags chosen by the helpers here)."""
    return cbor2.dumps(value, canonical=True)


def encode_in_order(entries: dict[str, Any]) -> bytes:
    """`encode` of a map whose text keys are already in RFC 7049 section 3.9 order and
    whose values are all `is_plain`: `cbor2`'s plain mode then writes the same bytes as its
    canonical one (lengths and integers take their shortest form either way) at about a
    quarter of the cost, canonical mode sorting every map by encoding each key."""
    return cbor2.dumps(entries)


def is_plain(value: Any) -> bool:
    """Whether `value` encodes the same in `cbor2`'s plain and canonical modes: text,
    bytes, integers, booleans, null, a tag of text (a date) or a list of text. Floats are
    not (canonical mode shortens them), nor maps (it sorts them)."""
    kind = type(value)
    if kind is str or kind is bytes or kind is int or kind is bool or value is None:
        return True
    if kind is cbor2.CBORTag:
        return type(value.value) is str
    if kind is list:
        return all(type(item) is str for item in value)
    return False


def embedded(encoded_item: bytes) -> cbor2.CBORTag:
    """`#6.24(bstr)`: 18013-5 hashes and signs items in this wrapped form."""
    return cbor2.CBORTag(TAG_ENCODED_CBOR, encoded_item)


def encode_embedded(encoded_item: bytes) -> bytes:
    """`encode(embedded(encoded_item))`, written directly: the tag 24 head (0xd8 0x18),
    the byte string's head in its shortest form (RFC 8949 section 3), the bytes."""
    length = len(encoded_item)
    if length < 24:  # RFC 8949 section 3: short lengths sit in the head
        head = bytes((0x40 | length,))
    elif length < 0x100:
        head = bytes((0x58, length))
    elif length < 0x10000:
        head = b"\x59" + length.to_bytes(2, "big")
    elif length < 0x100000000:
        head = b"\x5a" + length.to_bytes(4, "big")
    else:
        head = b"\x5b" + length.to_bytes(8, "big")
    return b"\xd8\x18" + head + encoded_item


def utc_seconds(moment: datetime) -> datetime:
    """UTC, whole seconds: 18013-5 tdates carry neither fractions nor local offsets."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def tdate(moment: datetime) -> cbor2.CBORTag:
    return cbor2.CBORTag(TAG_TDATE, utc_seconds(moment).strftime("%Y-%m-%dT%H:%M:%SZ"))


def full_date(day: date) -> cbor2.CBORTag:
    return cbor2.CBORTag(TAG_FULL_DATE, day.isoformat())


def element_value(value: Any, depth: int = 0) -> Any:
    """An element value made CBOR-ready: dates tagged as 18013-5 wants, the rest checked.

    Refuses what a verifier could not read back as the same value (naive datetimes, NaN,
    integers beyond 64 bits, odd map keys) with ValueError.
    """
    if depth > MAX_ELEMENT_DEPTH:
        raise ValueError(f"element value nests deeper than {MAX_ELEMENT_DEPTH}")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _MIN_INT <= value <= _MAX_INT:
            raise ValueError("integer does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("float must be finite")
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, datetime):  # before date: a datetime is a date
        return tdate(value)
    if isinstance(value, date):
        return full_date(value)
    if isinstance(value, list | tuple):
        return [element_value(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        out: dict[str | int, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise ValueError("map keys in element values must be text or integers")
            out[key] = element_value(item, depth + 1)
        return out
    raise ValueError(f"unsupported element value type {type(value).__name__}")


def _refuse_tag(value: Any, immutable: bool) -> Any:
    raise ValueError("tag not allowed in an mdoc")


def _thawed(value: Any) -> Any:
    """`cbor2` decodes the content of tags it does not know as tuples and frozendicts."""
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    return value


def _tag_hook(passed_tags: frozenset[int]) -> Callable[[cbor2.CBORTag, bool], Any]:
    def keep_or_refuse(tag: cbor2.CBORTag, immutable: bool) -> Any:
        if tag.tag in passed_tags:
            return cbor2.CBORTag(tag.tag, _thawed(tag.value))
        raise ValueError("tag not allowed here")

    return keep_or_refuse


_SEMANTIC_DECODERS = dict.fromkeys(_REFUSED_BUILTIN_TAGS, _refuse_tag)


def decode(data: bytes, *, max_depth: int, passed_tags: frozenset[int] = STRUCTURE_TAGS) -> Any:
    """Exactly one CBOR item from `data`, or MalformedCborError.

    The result holds only maps with text or integer keys, arrays, text, bytes, integers,
    floats, booleans, null, dates, datetimes and `CBORTag`s of `passed_tags`; element values
    are decoded with none, so callers never meet a `cbor2` type in claims.
    """
    if not isinstance(data, bytes):
        raise MalformedCborError("CBOR input must be bytes")
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(
        stream,
        tag_hook=_tag_hook(passed_tags),
        semantic_decoders=_SEMANTIC_DECODERS,
        max_depth=max_depth,
        allow_indefinite=False,
        allow_duplicate_keys=False,
    )
    try:
        value = decoder.decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise MalformedCborError(f"not well-formed CBOR: {exc}") from exc
    if stream.tell() != len(data):
        raise MalformedCborError("trailing bytes after the CBOR item")
    _check_shapes(value, max_depth, passed_tags)
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """What `decode(..., max_depth=...)` would have enforced, for an item decoded with more.

    One decode serves input that may be one of two structures of different depths.
    """
    _check_shapes(value, max_depth, STRUCTURE_TAGS)


def _check_shapes(value: Any, depth_left: int, passed_tags: frozenset[int]) -> None:
    """Second line of defence behind the decoder options: only the types named in `decode`."""
    if depth_left < 0:
        raise MalformedCborError("CBOR nests too deeply")
    if isinstance(value, _LEAF_TYPES):
        return
    if isinstance(value, list):
        for item in value:
            _check_shapes(item, depth_left - 1, passed_tags)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise MalformedCborError("map keys must be text or integers")
            _check_shapes(item, depth_left - 1, passed_tags)
    elif isinstance(value, cbor2.CBORTag) and value.tag in passed_tags:
        _check_shapes(value.value, depth_left - 1, passed_tags)
    else:
        raise MalformedCborError(f"unexpected CBOR item of type {type(value).__name__}")
