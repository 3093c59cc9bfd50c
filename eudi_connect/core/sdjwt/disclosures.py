"""Disclosures: salted `[salt, name, value]` / `[salt, value]` arrays and their digests.

RFC 9901 section 4.2. Encoding is compact JSON in UTF-8 (one of the forms section 4.2.1
allows; no canonical form is needed because the digest covers the encoded string).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

#: Returns a fresh salt for each call; injected so tests can be byte-exact.
SaltSource = Callable[[], str]

_SALT_BYTES = 16  # 128 bits, the entropy RFC 9901 section 9.3 recommends

#: Compact UTF-8 JSON without NaN or Infinity (not JSON, RFC 8259 section 6). `json.dumps`
#: with options builds an encoder per call, and `JSONEncoder.encode` still builds its C
#: encoder per call; both cost more than encoding a small claim. So the C encoder is built
#: once (no circular-reference markers: issuance bounds the claim depth itself), with the
#: pure-Python encoder as the fallback where the C accelerator is missing.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


_C_ENCODER = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False, False)
)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64url(data: bytes) -> str:
    """Unpadded base64url; the same output as `jose.b64url_encode`, with fewer layers.

    Issuance encodes about three values per disclosure, so the layers of `base64` show.
    """
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def random_salt() -> str:
    """base64url of 16 bytes from the OS CSPRNG (RFC 9901 section 9.3)."""
    return secrets.token_urlsafe(_SALT_BYTES)


def random_salts(batch: int = 8) -> Iterator[str]:
    """Endless fresh salts, as `random_salt` makes them, drawing from the OS in batches.

    One `os.urandom` call per batch instead of one per disclosure; each salt still gets
    its own 16 bytes, so uniqueness and entropy are those of `random_salt`.
    """
    while True:
        block = os.urandom(_SALT_BYTES * batch)
        for start in range(0, len(block), _SALT_BYTES):
            yield b64url(block[start : start + _SALT_BYTES])


def encode_json(value: Any) -> str:
    """Compact UTF-8-ready JSON text; raises ValueError for NaN, TypeError for non-JSON."""
    if _C_ENCODER is None:
        return _JSON.encode(value)
    return "".join(_C_ENCODER(value, 0))


def _json_value(value: Any) -> str:
    # Strings are the common claim value; the C string encoder skips the generic dispatch.
    return encode_basestring(value) if type(value) is str else encode_json(value)


def object_disclosure(salt: str, name: str, value: Any) -> str:
    """Disclosure for an object property (RFC 9901 section 4.2.1)."""
    text = f"[{encode_basestring(salt)},{encode_basestring(name)},{_json_value(value)}]"
    return b64url(text.encode("utf-8"))


def array_element_disclosure(salt: str, value: Any) -> str:
    """Disclosure for an array element (RFC 9901 section 4.2.2)."""
    return b64url(f"[{encode_basestring(salt)},{_json_value(value)}]".encode())


def disclosure_digest(disclosure: str) -> str:
    """base64url SHA-256 over the ASCII of the encoded Disclosure (RFC 9901 section 4.2.3)."""
    return b64url(hashlib.sha256(disclosure.encode("ascii")).digest())


def sd_hash(sd_jwt: str) -> str:
    """A KB-JWT's `sd_hash`: base64url SHA-256 over `<jwt>~<d1>~...~` (RFC 9901 section 4.3.1)."""
    return b64url(hashlib.sha256(sd_jwt.encode("utf-8")).digest())


@dataclass(frozen=True)
class Disclosure:
    """A decoded Disclosure; `name` is None for an array element."""

    encoded: str
    salt: str
    name: str | None
    value: Any
    digest: str


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


#: Built once for the same reason as the encoder; NaN and Infinity are refused on input too.
_DECODER = json.JSONDecoder(parse_constant=_no_constants)
_BASE64URL_TEXT = re.compile(r"[A-Za-z0-9_-]*")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")  # bytes.translate is far cheaper than str's


def _b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url, as `jose.b64url_decode`, for the per-disclosure hot path."""
    if not isinstance(text, str) or not _BASE64URL_TEXT.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    padded = text.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


def _decode_checked(encoded: str) -> list[Any]:
    """The JSON array of a Disclosure, with the shape RFC 9901 section 7.1 requires.

    A two-element array (salt, value) or a three-element one (salt, name, value) with a
    string salt and name; anything else raises ValueError.
    """
    try:
        content = _DECODER.decode(_b64url_decode(encoded).decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("disclosure nests too deeply") from exc
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    if type(content) is not list or not 2 <= len(content) <= 3:
        raise ValueError("disclosure is not a JSON array of two or three elements")
    if type(content[0]) is not str:
        raise ValueError("disclosure salt is not a string")
    if len(content) == 3 and type(content[1]) is not str:
        raise ValueError("disclosure claim name is not a string")
    return content


def decode_contents(encoded: str) -> tuple[str | None, Any]:
    """Claim name (None for an array element) and value; a plain tuple for the verifier's loop."""
    content = _decode_checked(encoded)
    return (None, content[1]) if len(content) == 2 else (content[1], content[2])


def decode_disclosure(encoded: str) -> Disclosure:
    """Decodes one Disclosure with its salt and digest; raises ValueError when it is not one."""
    content = _decode_checked(encoded)
    name, value = (None, content[1]) if len(content) == 2 else (content[1], content[2])
    return Disclosure(encoded, content[0], name, value, disclosure_digest(encoded))
