"""Tenant API keys: ``ek_<key_id>.<secret>``, of which only a hash of the secret is stored.

The ``key_id`` is a public handle that finds the row without a scan; the secret is 256
random bits, checked against its stored SHA-256 in constant time. A leaked database
therefore yields no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from eudi_connect.core.jose import b64url_encode
from eudi_connect.errors import UnauthenticatedError

API_KEY_PREFIX = "ek_"
MAX_API_KEY_LENGTH = 256
_KEY_ID_BYTES = 8  # 16 hex characters
_SECRET_BYTES = 32
# Strict shape: 16 lowercase hex, a dot, 43 base64url characters (32 bytes, unpadded).
_API_KEY_RE = re.compile(
    re.escape(API_KEY_PREFIX) + r"([0-9a-f]{16})\.([A-Za-z0-9_-]{43})", re.ASCII
)


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: ``plaintext`` is shown to the caller once and never stored."""

    key_id: str
    secret_hash: bytes = field(repr=False)
    plaintext: str = field(repr=False)


def generate_api_key() -> NewApiKey:
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = b64url_encode(secrets.token_bytes(_SECRET_BYTES))
    return NewApiKey(
        key_id=key_id,
        secret_hash=hash_secret(secret),
        plaintext=f"{API_KEY_PREFIX}{key_id}.{secret}",
    )


def parse_api_key(text: str) -> tuple[str, str]:
    """Splits a presented key into ``(key_id, secret)``; any other shape is refused.

    The message never repeats the input: a mistyped key is still mostly a secret.
    """
    if not isinstance(text, str) or len(text) > MAX_API_KEY_LENGTH:
        raise UnauthenticatedError("API key is malformed", reason="API_KEY_INVALID")
    match = _API_KEY_RE.fullmatch(text)
    if match is None:
        raise UnauthenticatedError("API key is malformed", reason="API_KEY_INVALID")
    return match.group(1), match.group(2)


def hash_secret(secret: str) -> bytes:
    """SHA-256 of the secret: a fast hash is the right tool here, a password hash is not.

    Slow hashes (Argon2, scrypt, bcrypt) exist to make guessing low-entropy passwords
    expensive. These secrets are 256 uniformly random bits, which no guessing can reach,
    so a slow hash would add milliseconds to every RPC and no security.
    """
    return hashlib.sha256(secret.encode("utf-8")).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    """Compares in constant time, so response timing says nothing about the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
