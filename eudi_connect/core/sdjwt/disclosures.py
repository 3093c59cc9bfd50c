"""Disclosures: salted `[salt, name, value]` / `[salt, value]` arrays and their digests.

RFC 9901 section 4.2. Encoding is compact JSON in UTF-8 (one of the forms section 4.2.1
allows; no canonical form is needed because the digest covers the encoded string).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from eudi_connect.core.encoding import b64url_decode, b64url_encode, compact_json

#: Returns a fresh salt for each call; injected so tests can be byte-exact.
SaltSource = Callable[[], str]

_SALT_BYTES = 16  # 128 bits, the entropy RFC 9901 section 9.3 recommends


def random_salt() -> str:
    """base64url of 16 bytes from the OS CSPRNG (RFC 9901 section 9.3)."""
    return secrets.token_urlsafe(_SALT_BYTES)


#: Salts drawn from the OS per refill of a thread's pool: one `os.urandom` call serves
#: this many disclosures.
_POOL_SALTS = 256


class _SaltPool(threading.local):
    """Each thread's unused salts; a thread never serves another's, so no lock is needed."""

    def __init__(self) -> None:
        self.salts: Iterator[str] = iter(())


_pool = _SaltPool()


def _forget_pool_in_child() -> None:
    # A forked child inherits the parent's unused salts; serving them again in both
    # processes would give two credentials the same salt, so the child starts afresh.
    global _pool
    _pool = _SaltPool()


os.register_at_fork(after_in_child=_forget_pool_in_child)


#: A pooled salt has 18 random bytes (144 bits, above the 128 RFC 9901 section 9.3
#: recommends): 18 bytes are exactly 24 base64url characters, so a whole pool's bytes are
#: encoded in one call and cut into salts, none of them padded.
_POOLED_SALT_BYTES = 18
_POOLED_SALT_CHARS = _POOLED_SALT_BYTES * 4 // 3


def _refill(pool: _SaltPool) -> Iterator[str]:
    text = b64url_encode(os.urandom(_POOLED_SALT_BYTES * _POOL_SALTS))
    step = _POOLED_SALT_CHARS
    pool.salts = iter([text[start : start + step] for start in range(0, len(text), step)])
    return pool.salts


def pooled_salt() -> str:
    """A fresh salt of 18 bytes of its own from the OS CSPRNG, served from a per-thread
    pool filled by one `os.urandom` call per `_POOL_SALTS`: the issuer's default source,
    one system call and one encoding per many disclosures instead of one each."""
    pool = _pool
    salt = next(pool.salts, None)
    return salt if salt is not None else next(_refill(pool))


def json_value(value: Any) -> str:
    """Compact JSON of a claim value, as `compact_json` writes it.

    Text, integers and booleans, nearly every claim, are written here without the
    encoder's generic dispatch; anything else goes through `compact_json`.
    """
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return compact_json(value)


def object_disclosure(salt: str, name: str, value: Any) -> str:
    """Disclosure for an object property (RFC 9901 section 4.2.1)."""
    return written_object_disclosure(salt, name, json_value(value))


def written_object_disclosure(salt: str, name: str, value_json: str) -> str:
    """`object_disclosure` of a value whose compact JSON is already written."""
    text = f"[{encode_basestring(salt)},{encode_basestring(name)},{value_json}]"
    return b64url_encode(text.encode("utf-8"))


def array_element_disclosure(salt: str, value: Any) -> str:
    """Disclosure for an array element (RFC 9901 section 4.2.2)."""
    return written_array_element_disclosure(salt, json_value(value))


def written_array_element_disclosure(salt: str, value_json: str) -> str:
    """`array_element_disclosure` of a value whose compact JSON is already written."""
    return b64url_encode(f"[{encode_basestring(salt)},{value_json}]".encode())


def disclosure_digest(disclosure: str) -> str:
    """base64url SHA-256 over the ASCII of the encoded Disclosure (RFC 9901 section 4.2.3)."""
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def sd_hash(sd_jwt: str) -> str:
    """A KB-JWT's `sd_hash`: base64url SHA-256 over `<jwt>~<d1>~...~` (RFC 9901 section 4.3.1)."""
    return b64url_encode(hashlib.sha256(sd_jwt.encode("utf-8")).digest())


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


#: Built once, as `compact_json`'s encoder is; NaN and Infinity are refused on input too.
_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _decode_checked(encoded: str) -> list[Any]:
    """The JSON array of a Disclosure, with the shape RFC 9901 section 7.1 requires.

    A two-element array (salt, value) or a three-element one (salt, name, value) with a
    string salt and name; anything else raises ValueError.
    """
    try:
        content = _DECODER.decode(b64url_decode(encoded).decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("disclosure nests too deeply") from exc
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
