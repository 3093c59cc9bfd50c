"""Stateless c_nonces (OpenID4VCI 1.0 section 7): made and checked without a store."""

from __future__ import annotations

import pytest

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.oid4vci.c_nonce import CNonces

NOW = 1_800_000_000
NONCES = CNonces(b"s" * 32, lifetime_seconds=300)


def test_a_nonce_is_good_for_its_issuer_until_it_expires() -> None:
    """expires_at is the making time plus the lifetime, for the issuer it was made for."""
    nonce = NONCES.issue("tenant-1", now=NOW)
    assert NONCES.expires_at(nonce, "tenant-1", now=NOW + 299) == NOW + 300
    assert NONCES.expires_at(nonce, "tenant-1", now=NOW + 300) is None
    assert NONCES.expires_at(nonce, "tenant-2", now=NOW) is None


def test_nonces_differ_and_another_secret_refuses_them() -> None:
    """Two nonces of the same second differ; an instance with another secret knows none."""
    first, second = NONCES.issue("t", now=NOW), NONCES.issue("t", now=NOW)
    assert first != second
    assert CNonces(b"o" * 32, lifetime_seconds=300).expires_at(first, "t", now=NOW) is None


@pytest.mark.parametrize(
    "forge",
    [
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # a bit of the MAC
        lambda raw: raw[:1] + (NOW + 10_000).to_bytes(8, "big") + raw[9:],  # a later time
        lambda raw: b"\x02" + raw[1:],  # another version
        lambda raw: raw[:-2],  # shortened
    ],
)
def test_a_changed_nonce_is_refused(forge: object) -> None:
    """Any change to a nonce, its time above all, makes it unknown."""
    raw = b64url_decode(NONCES.issue("t", now=NOW))
    changed = b64url_encode(forge(raw))  # type: ignore[operator]
    assert NONCES.expires_at(changed, "t", now=NOW) is None


@pytest.mark.parametrize("value", ["", "not base64!", "x" * 500, "AAAA"])
def test_junk_is_no_nonce(value: str) -> None:
    """Strings that are no nonce at all are refused without an exception."""
    assert NONCES.expires_at(value, "t", now=NOW) is None


def test_a_nonce_from_the_future_is_refused() -> None:
    """A nonce made more than a minute ahead of this clock is not accepted."""
    assert NONCES.expires_at(NONCES.issue("t", now=NOW + 120), "t", now=NOW) is None
