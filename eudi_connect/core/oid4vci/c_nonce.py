"""c_nonce values (OpenID4VCI 1.0 section 7) that cost no state to hand out.

The Nonce Endpoint is open to anyone, so a nonce that were a stored row would let any
client grow the store at will. A nonce here is the time it was made, 16 random bytes and
an HMAC over both and the issuer's identifier: any instance that shares the secret can
tell one of its own, and its age, without a lookup. What makes it single-use is the
Credential Endpoint recording it once, when a proof that carries it is accepted; until
then nothing about it is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from eudi_connect.core.encoding import b64url_decode, b64url_encode

_VERSION = b"\x01"
_TIME_BYTES, _RANDOM_BYTES, _MAC_BYTES = 8, 16, 16
_LENGTH = len(_VERSION) + _TIME_BYTES + _RANDOM_BYTES + _MAC_BYTES


class CNonces:
    def __init__(self, secret: bytes, *, lifetime_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("the c_nonce secret must have at least 16 bytes")
        if lifetime_seconds <= 0:
            raise ValueError("lifetime_seconds must be positive")
        # Its own key, so a c_nonce never verifies as anything else made from the secret.
        self._key = hmac.new(secret, b"oid4vci c_nonce key", hashlib.sha256).digest()
        self.lifetime_seconds = lifetime_seconds

    def _mac(self, issuer: str, body: bytes) -> bytes:
        message = issuer.encode("utf-8") + b"\x00" + body
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, issuer: str, *, now: int) -> str:
        """A new c_nonce of `issuer` (a Credential Issuer identifier or a tenant id)."""
        body = _VERSION + now.to_bytes(_TIME_BYTES, "big") + secrets.token_bytes(_RANDOM_BYTES)
        return b64url_encode(body + self._mac(issuer, body))

    def expires_at(self, nonce: str, issuer: str, *, now: int) -> int | None:
        """When `nonce` stops being good: None when it is not one of `issuer`'s, or when
        it has expired (or claims to come from the future)."""
        if not isinstance(nonce, str) or len(nonce) > 2 * _LENGTH:
            return None
        try:
            raw = b64url_decode(nonce)
        except ValueError:
            return None
        if len(raw) != _LENGTH or raw[:1] != _VERSION:
            return None
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(issuer, body)):
            return None
        made = int.from_bytes(body[1 : 1 + _TIME_BYTES], "big")
        expires = made + self.lifetime_seconds
        if made > now + 60 or expires <= now:
            return None
        return expires
