"""Issuer keys: P-256 signing keys, encrypted at rest under one AES-256-GCM master key.

The database holds each tenant's issuer private key only as ``nonce || ciphertext || tag``
(AES-GCM, NIST SP 800-38D) with the key's ``kid`` as associated data, so a blob copied to
another row does not decrypt. The master key lives outside the database (an environment
variable or a 0600 file); a small "key check" blob stored with the database tells a
wrong master key apart from a corrupted key at startup, before any request is served.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import ES256, SigningKey, generate_p256_key, jwk_thumbprint, public_jwk
from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason

MASTER_KEY_ENV = "EUDI_CONNECT_MASTER_KEY"
MASTER_KEY_CHECK_PLAINTEXT = b"eudi-connect master key check v1"
# Associated data for the key check; it contains '/', which no base64url kid can, so a
# key check blob can never pass for an encrypted private key or the other way round.
_KEY_CHECK_AAD = b"eudi-connect/master-key-check"
_MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12  # the GCM nonce size that needs no extra hashing (SP 800-38D 8.2)
_TAG_BYTES = 16
_PUBLIC_JWK_MEMBERS = ("kty", "crv", "x", "y", "kid")


class MasterKey:
    """The AES-256-GCM key that wraps issuer private keys; never printed, never logged."""

    __slots__ = ("_aead", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != _MASTER_KEY_BYTES:
            raise ConfigurationError(
                f"master key must be {_MASTER_KEY_BYTES} bytes", reason=Reason.INVALID_MASTER_KEY
            )
        self._key = bytes(key)
        self._aead = AESGCM(self._key)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(_MASTER_KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Parses 32 bytes in base64url, padded (44 characters) or not (43).

        Only the canonical encoding is accepted, so one key has exactly one spelling and a
        mistyped last character is caught instead of silently decoding to the same bytes.
        """
        invalid = ConfigurationError(
            f"master key must be {_MASTER_KEY_BYTES} random bytes in base64url "
            "(43 characters, or 44 with '=' padding)",
            reason=Reason.INVALID_MASTER_KEY,
        )
        if not isinstance(text, str):
            raise invalid
        unpadded = text
        if text.endswith("="):
            if len(text) % 4:
                raise invalid
            unpadded = text.rstrip("=")
            if len(text) - len(unpadded) > 2:
                raise invalid
        try:
            raw = b64url_decode(unpadded)
        except ValueError:
            raise invalid from None  # never chain: the cause would quote the secret text
        if len(raw) != _MASTER_KEY_BYTES or b64url_encode(raw) != unpadded:
            raise invalid
        return cls(raw)

    def to_text(self) -> str:
        return b64url_encode(self._key)

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """Returns ``nonce(12) || ciphertext || tag(16)``; a random nonce per call.

        Random 96-bit nonces are safe for far more than the number of keys this service
        will ever wrap (SP 800-38D 8.3 bounds it at 2^32 invocations per key).
        """
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> bytes:
        """Inverse of `encrypt`; any wrong key, tampering or wrong ``aad`` fails the same way.

        GCM cannot tell these apart, and the likely cause in operation is a master key that
        is not the one the data was written with, hence the reason code.
        """
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise ConfigurationError(
                "encrypted data is truncated; it was not written by this service",
                reason=Reason.MASTER_KEY_MISMATCH,
            )
        try:
            return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise ConfigurationError(
                "cannot decrypt with this master key: the key differs from the one the data "
                "was encrypted with, or the data was altered",
                reason=Reason.MASTER_KEY_MISMATCH,
            ) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return secrets.compare_digest(self._key, other._key)

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"


def load_master_key(*, env_value: str | None, key_file: Path) -> MasterKey:
    """Finds the master key: ``EUDI_CONNECT_MASTER_KEY`` first, then ``key_file``.

    When neither exists, a new key is written to ``key_file`` (created exclusively, mode
    0600, so a concurrent starter or an existing file is never overwritten). An empty
    environment value counts as unset. Several servers sharing one database must share
    the key, so they should all set the environment variable.
    """
    if env_value is not None and env_value.strip():
        return _parse(env_value.strip(), source=MASTER_KEY_ENV)
    try:
        return _parse(key_file.read_text(encoding="ascii").strip(), source=str(key_file))
    except FileNotFoundError:
        pass
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigurationError(
            f"cannot read master key file {key_file}: {type(exc).__name__}",
            reason=Reason.INVALID_MASTER_KEY,
        ) from None
    master = MasterKey.generate()
    try:
        _create_key_file(key_file, master)
    except FileExistsError:
        # Another process created it between our read and our create: use theirs.
        return _parse(key_file.read_text(encoding="ascii").strip(), source=str(key_file))
    return master


def _parse(text: str, *, source: str) -> MasterKey:
    try:
        return MasterKey.from_text(text)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc.message}", reason=exc.reason) from None


def _create_key_file(key_file: Path, master: MasterKey) -> None:
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
        os.write(fd, (master.to_text() + "\n").encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        key_file.unlink(missing_ok=True)  # never leave a half-written key behind
        raise
    os.close(fd)


def make_key_check(master: MasterKey) -> bytes:
    """A blob stored with the database at creation, proving which master key it uses."""
    return master.encrypt(MASTER_KEY_CHECK_PLAINTEXT, aad=_KEY_CHECK_AAD)


def verify_key_check(master: MasterKey, blob: bytes) -> None:
    """Raises ``MASTER_KEY_MISMATCH`` unless ``master`` is the key that made ``blob``."""
    try:
        plaintext = master.decrypt(blob, aad=_KEY_CHECK_AAD)
    except ConfigurationError:
        plaintext = b""
    if not secrets.compare_digest(plaintext, MASTER_KEY_CHECK_PLAINTEXT):
        raise ConfigurationError(
            "the master key differs from the one the database was created with; set "
            f"{MASTER_KEY_ENV} (or the key file) to the original key",
            reason=Reason.MASTER_KEY_MISMATCH,
        )


def new_issuer_key() -> SigningKey:
    """A fresh P-256 issuer key whose ``kid`` is its RFC 7638 JWK thumbprint."""
    private_key = generate_p256_key()
    return SigningKey(jwk_thumbprint(public_jwk(private_key.public_key())), private_key)


def encrypt_private_key(master: MasterKey, key: SigningKey) -> bytes:
    """PKCS #8 DER of the private key, encrypted with the ``kid`` as associated data."""
    der = key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return master.encrypt(der, aad=key.kid.encode("utf-8"))


def decrypt_private_key(master: MasterKey, kid: str, blob: bytes) -> SigningKey:
    """Inverse of `encrypt_private_key`; a blob stored under another ``kid`` fails."""
    der = master.decrypt(blob, aad=kid.encode("utf-8"))
    private_key = serialization.load_der_private_key(der, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise ConfigurationError(
            f"stored issuer key {kid} is not a P-256 key", reason=Reason.INVALID_ISSUER_KEY
        )
    return SigningKey(kid, private_key)


def jwks(public_jwks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A JWK Set (RFC 7517 section 5) for verifiers: public members only, ES256, ``sig``.

    Members are copied from an allow-list, so a private ``d`` passed by mistake can never
    be published.
    """
    keys = []
    for jwk in public_jwks:
        if not jwk.get("kid"):
            raise ValueError("every published JWK needs a kid")
        public = {name: jwk[name] for name in _PUBLIC_JWK_MEMBERS if name in jwk}
        keys.append({**public, "alg": ES256, "use": "sig"})
    return {"keys": keys}
