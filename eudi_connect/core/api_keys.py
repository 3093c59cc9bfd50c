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
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.errors import InvalidArgumentError, UnauthenticatedError
from eudi_connect.reasons import Reason

API_KEY_PREFIX = "ek_"
MAX_API_KEY_LENGTH = 256
_KEY_ID_BYTES = 8  # 16 hex characters
_SECRET_BYTES = 32
MAX_LABEL_LENGTH = 100
# An expiry further out than this is a typo, not a plan (and keeps times in 64 bits).
MAX_KEY_LIFETIME_SECONDS = 100 * 366 * 86_400
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}", re.ASCII)
_DURATION_RE = re.compile(r"([0-9]{1,10})([smhdw]?)", re.ASCII)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400}
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
        raise UnauthenticatedError("API key is malformed", reason=Reason.API_KEY_INVALID)
    match = _API_KEY_RE.fullmatch(text)
    if match is None:
        raise UnauthenticatedError("API key is malformed", reason=Reason.API_KEY_INVALID)
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


def check_key_id(key_id: str) -> str:
    """A key id as `generate_api_key` makes them (16 lowercase hex), or INVALID_ARGUMENT."""
    if not _KEY_ID_RE.fullmatch(key_id):
        raise InvalidArgumentError(
            "an API key id is 16 lowercase hexadecimal characters", reason=Reason.API_KEY_ID_INVALID
        )
    return key_id


def check_label(label: str) -> str:
    """A key's label: what an operator reads in `keys list`; printable, at most 100
    characters, surrounding white space dropped."""
    label = label.strip()
    if len(label) > MAX_LABEL_LENGTH or any(unicodedata.category(c).startswith("C") for c in label):
        raise InvalidArgumentError(
            f"an API key label is at most {MAX_LABEL_LENGTH} printable characters",
            reason=Reason.API_KEY_LABEL_INVALID,
        )
    return label


def parse_duration(text: str) -> int:
    """Seconds from `90d`, `12h`, `30m`, `45s`, `2w` or a bare number of seconds."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise InvalidArgumentError(
            f"{text[:40]!r} is not a duration such as 90d, 12h, 30m or 3600",
            reason=Reason.API_KEY_EXPIRY_INVALID,
        )
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_timestamp(text: str) -> int:
    """Unix seconds from an ISO 8601 date or date-time; one without a zone is UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"{text[:40]!r} is not an ISO 8601 date or date-time, such as 2026-12-31T23:59:59Z",
            reason=Reason.API_KEY_EXPIRY_INVALID,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def check_expiry(expires_at: int | None, *, now: int) -> int | None:
    """An expiry time must lie in the future, and within a century."""
    if expires_at is None:
        return None
    if expires_at <= now:
        raise InvalidArgumentError(
            "an API key's expiry must lie in the future", reason=Reason.API_KEY_EXPIRY_INVALID
        )
    if expires_at - now > MAX_KEY_LIFETIME_SECONDS:
        raise InvalidArgumentError(
            "an API key's expiry must lie within 100 years", reason=Reason.API_KEY_EXPIRY_INVALID
        )
    return expires_at
