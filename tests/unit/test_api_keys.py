"""Tenant API keys: shape, parsing, hashing and comparison."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, cast

import pytest

from eudi_connect.core.api_keys import (
    API_KEY_PREFIX,
    check_expiry,
    check_key_id,
    check_label,
    generate_api_key,
    hash_secret,
    parse_api_key,
    parse_duration,
    parse_timestamp,
    secret_matches,
)
from eudi_connect.core.jose import b64url_decode
from eudi_connect.errors import InvalidArgumentError, UnauthenticatedError

KEY_ID = "0123456789abcdef"
SECRET = "A" * 42 + "w"  # 43 base64url characters: 32 bytes
VALID = f"ek_{KEY_ID}.{SECRET}"


def test_generated_key_parses_back_and_matches_its_hash() -> None:
    """A new key's plaintext splits into its key_id and a secret that matches the hash."""
    new = generate_api_key()
    key_id, secret = parse_api_key(new.plaintext)
    assert new.plaintext.startswith(API_KEY_PREFIX)
    assert key_id == new.key_id
    assert len(key_id) == 16
    assert len(b64url_decode(secret)) == 32
    assert secret_matches(secret, new.secret_hash)


def test_generated_keys_are_unique() -> None:
    """Two keys share neither id nor secret."""
    first, second = generate_api_key(), generate_api_key()
    assert first.key_id != second.key_id
    assert first.plaintext != second.plaintext


def test_new_key_repr_hides_the_secret() -> None:
    """repr (as logged by accident) shows the key_id, never the plaintext or its secret."""
    new = generate_api_key()
    _, secret = parse_api_key(new.plaintext)
    text = repr(new)
    assert new.key_id in text
    assert new.plaintext not in text
    assert secret not in text


def test_valid_key_splits_into_id_and_secret() -> None:
    """A well-formed key yields (key_id, secret)."""
    assert parse_api_key(VALID) == (KEY_ID, SECRET)


MALFORMED = {
    "empty": "",
    "prefix-only": "ek_",
    "no-prefix": f"{KEY_ID}.{SECRET}",
    "other-prefix": f"sk_{KEY_ID}.{SECRET}",
    "upper-prefix": f"EK_{KEY_ID}.{SECRET}",
    "no-dot": f"ek_{KEY_ID}{SECRET}",
    "two-dots": f"ek_{KEY_ID}.{SECRET}.x",
    "upper-hex-id": f"ek_{KEY_ID.upper()}.{SECRET}",
    "short-id": f"ek_{KEY_ID[:-1]}.{SECRET}",
    "short-secret": f"ek_{KEY_ID}.{SECRET[:-1]}",
    "long-secret": f"ek_{KEY_ID}.{SECRET}A",
    "padded-secret": f"ek_{KEY_ID}.{SECRET}=",
    "standard-base64-secret": f"ek_{KEY_ID}.{'+' * 43}",
    "trailing-newline": VALID + "\n",
    "leading-space": " " + VALID,
    "bearer-scheme": "Bearer " + VALID,
    "non-ascii-digits": f"ek_{'٠' * 16}.{SECRET}",
    "too-long": VALID + "A" * 300,
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_keys_are_refused(text: str) -> None:
    """Anything but ek_<16 hex>.<43 base64url> is API_KEY_INVALID."""
    with pytest.raises(UnauthenticatedError) as caught:
        parse_api_key(text)
    assert caught.value.reason == "API_KEY_INVALID"


def test_non_text_key_is_refused() -> None:
    """Bytes from a binary metadata header are refused like any malformed key."""
    with pytest.raises(UnauthenticatedError) as caught:
        parse_api_key(cast(Any, VALID.encode()))
    assert caught.value.reason == "API_KEY_INVALID"


def test_refusal_never_echoes_the_key() -> None:
    """The error text holds neither the presented key nor its secret part."""
    presented = f"ek_{KEY_ID}.{SECRET}!"
    with pytest.raises(UnauthenticatedError) as caught:
        parse_api_key(presented)
    assert SECRET not in str(caught.value)
    assert SECRET not in caught.value.message


def test_hash_is_sha256_of_the_secret() -> None:
    """The stored hash is the 32-byte SHA-256 of the secret's text."""
    assert hash_secret(SECRET) == hashlib.sha256(SECRET.encode()).digest()


@pytest.mark.parametrize(
    ("candidate", "stored"),
    [
        ("B" * 42 + "w", hash_secret(SECRET)),
        (SECRET, hash_secret(SECRET)[:-1]),
        (SECRET, b""),
    ],
    ids=["wrong-secret", "truncated-hash", "empty-hash"],
)
def test_wrong_secret_or_hash_does_not_match(candidate: str, stored: bytes) -> None:
    """A different secret, or a damaged stored hash, never matches."""
    assert not secret_matches(candidate, stored)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check goes through hmac.compare_digest, not ==, for right and wrong secrets."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    stored = hash_secret(SECRET)
    assert secret_matches(SECRET, stored)
    assert not secret_matches("B" * 43, stored)
    assert calls == [(stored, stored), (hash_secret("B" * 43), stored)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600),
        ("45s", 45),
        ("30m", 1800),
        ("12h", 43_200),
        ("90d", 7_776_000),
        ("2w", 1_209_600),
    ],
)
def test_durations_in_each_unit(text: str, seconds: int) -> None:
    """An expiry given as a duration counts in its unit; a bare number is seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "5y", "soon", "1.5h", "9" * 11])
def test_bad_durations_are_invalid_argument(text: str) -> None:
    """Anything but a positive whole number with an optional unit is refused."""
    with pytest.raises(InvalidArgumentError) as refused:
        parse_duration(text)
    assert refused.value.reason == "API_KEY_EXPIRY_INVALID"


def test_timestamps_without_a_zone_are_utc_and_expiry_must_be_ahead() -> None:
    """ISO 8601 dates and date-times parse (UTC when no zone); past or far expiries fail."""
    assert parse_timestamp("2030-01-01") == 1_893_456_000
    assert parse_timestamp("2030-01-01T01:00:00+01:00") == 1_893_456_000
    assert parse_timestamp("2030-01-01T00:00:00Z") == 1_893_456_000
    assert check_expiry(None, now=5) is None
    assert check_expiry(6, now=5) == 6
    for bad in (5, 4, 5 + 101 * 366 * 86_400):
        with pytest.raises(InvalidArgumentError):
            check_expiry(bad, now=5)
    with pytest.raises(InvalidArgumentError):
        parse_timestamp("tomorrow")


def test_labels_and_key_ids_are_checked() -> None:
    """Labels are trimmed, at most 100 printable characters; key ids are 16 hex."""
    assert check_label("  ci runner  ") == "ci runner"
    for bad in ("x" * 101, "line\nbreak", "bell\a"):
        with pytest.raises(InvalidArgumentError):
            check_label(bad)
    assert check_key_id(KEY_ID) == KEY_ID
    for bad in ("0123456789ABCDEF", "0123", "../../etc"):
        with pytest.raises(InvalidArgumentError):
            check_key_id(bad)
