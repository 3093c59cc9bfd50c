"""base64url and compact JSON: the two encodings every token here is built from.

base64url is RFC 4648 section 5 without padding, as JWS (RFC 7515 section 2), SD-JWT
disclosures (RFC 9901 section 4.2) and the mdoc credential string use it. Decoding is
strict: padding, the standard alphabet's `+` and `/`, whitespace or any other stray
character is an error, never skipped, and so are set bits in the last character that
encode no data (RFC 4648 section 3.5 lets a decoder refuse them), so one credential has
one encoding.

JSON comes in three forms, each where a specification or a stored value fixes it:

* `compact_json`: no whitespace, non-ASCII as is (UTF-8 once encoded), NaN and Infinity
  refused (not JSON, RFC 8259 section 6); what disclosures and issuer JWTs are made of;
* `json_bytes`: the same text in UTF-8 for JOSE headers and payloads, written as
  `json.dumps` writes it (circular values are an error; NaN is not refused here);
* `ascii_json`: compact with non-ASCII escaped, optionally with sorted keys: JWKS text
  handed to clients and the RFC 7638 thumbprint input.

Both base64url directions and `compact_json` sit on the per-disclosure path of issuance
and verification, so they call `binascii` and the C JSON encoder directly rather than the
layers of `base64` and `json.dumps`; the output is byte for byte theirs.
"""

from __future__ import annotations

import binascii
import json
import re
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

__all__ = [
    "ascii_json",
    "b64url_decode",
    "b64url_encode",
    "compact_json",
    "json_bytes",
]

_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")  # bytes.translate is far cheaper than str's
_BASE64URL_TEXT = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# After the full groups, a last character of 2 (3) carries 2 (4) data bits and the rest of
# its 6 bits must be zero: by the text's length mod 4, the characters that may end it.
_CANONICAL_LAST = {
    2: frozenset(c for i, c in enumerate(_ALPHABET) if not i & 0b001111),
    3: frozenset(c for i, c in enumerate(_ALPHABET) if not i & 0b000011),
}


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url of `data`."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decodes unpadded base64url strictly; ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError("base64url input must be text")
    if not _BASE64URL_TEXT.fullmatch(text) or len(text) % 4 == 1:
        if not text.isascii():
            raise ValueError("base64url input is not ASCII")
        raise ValueError("not unpadded base64url")
    canonical_last = _CANONICAL_LAST.get(len(text) % 4)
    if canonical_last is not None and text[-1] not in canonical_last:
        raise ValueError("not canonical base64url: the last character has unused bits set")
    padded = text.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


#: `json.dumps` with options builds an encoder per call, and `JSONEncoder.encode` still
#: builds its C encoder per call; both cost more than encoding a small claim. So the C
#: encoder is built once (no circular-reference markers: callers bound the depth of what
#: they encode), with the pure-Python encoder as the fallback where the accelerator is
#: missing.
_STRICT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_C_ENCODER = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False, False)
)
_JOSE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_ASCII = json.JSONEncoder(separators=(",", ":"))
_ASCII_SORTED = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def compact_json(value: Any) -> str:
    """Compact JSON text, non-ASCII as is; ValueError for NaN or Infinity, TypeError for a
    value JSON has no form for."""
    if _C_ENCODER is None:
        return _STRICT.encode(value)
    return "".join(_C_ENCODER(value, 0))


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of a JOSE header or payload, exactly as
    ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` writes it."""
    return _JOSE.encode(value).encode("utf-8")


def ascii_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON with non-ASCII escaped, as ``json.dumps(value, separators=(",", ":"))``
    writes it; with `sort_keys`, members in code point order (RFC 7638 section 3)."""
    return (_ASCII_SORTED if sort_keys else _ASCII).encode(value)
