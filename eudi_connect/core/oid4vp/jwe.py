"""Encrypted responses (OpenID4VP 1.0 section 8.3): ECDH-ES on P-256 with AES-GCM.

A fresh key pair per request (HAIP section 5: ephemeral keys, `A128GCM` and `A256GCM`
both supported); the wallet encrypts the response to its public half as a compact JWE
(RFC 7516 section 7.1) with `alg` ECDH-ES, direct key agreement (RFC 7518 section 4.6):
the content key is Concat KDF over the shared secret, `enc`, `apu` and `apv`.

Written on `cryptography` directly, like our JWS: one `alg`, the `enc` values advertised
for the request and nothing else (checked before any key agreement), no `zip`, no
critical extensions, sizes bounded before decoding. Every refusal is a JweError with a
reason; the wallet is told `invalid_request`.
"""

from __future__ import annotations

import json
import secrets
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from eudi_connect.core.encoding import b64url_decode, b64url_encode, json_bytes
from eudi_connect.core.jose import (
    InvalidJwkError,
    generate_p256_key,
    jwk_thumbprint,
    private_jwk,
    private_key_from_jwk,
    public_jwk,
    public_key_from_jwk,
)
from eudi_connect.reasons import Reason

from ._errors import ProtocolError

ECDH_ES = "ECDH-ES"
#: RFC 7518 section 5.3: the content encryption algorithms and their key sizes.
ENC_KEY_BYTES = {"A128GCM": 16, "A256GCM": 32}
#: What a request advertises in `encrypted_response_enc_values_supported` (HAIP).
DEFAULT_ENC_VALUES = ("A128GCM", "A256GCM")
#: A response with an SD-JWT VC and an mdoc (at most 512 KiB) fits with room to spare.
MAX_JWE_BYTES = 2 * 1024 * 1024
MAX_HEADER_BYTES = 4096
MAX_PARTY_INFO_BYTES = 512
_IV_BYTES = 12
_TAG_BYTES = 16
_PUBLIC_MEMBERS = ("kty", "crv", "x", "y")


class JweError(ProtocolError):
    """A JWE this verifier does not decrypt: malformed, another algorithm, or tampered."""

    def __init__(self, reason: Reason, description: str) -> None:
        super().__init__(description, reason=reason)


@dataclass(frozen=True)
class ResponseEncryptionKey:
    """The verifier's key pair for one request's response; `kid` names it in the JWE."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> ResponseEncryptionKey:
        return cls(b64url_encode(secrets.token_bytes(12)), generate_p256_key())

    @classmethod
    def from_private_jwk(cls, jwk: Mapping[str, Any]) -> ResponseEncryptionKey:
        """The key as `private_jwk` stored it; InvalidJwkError if it is not one."""
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidJwkError("response encryption JWK needs a kid")
        return cls(kid, private_key_from_jwk(jwk))

    def public_jwk(self) -> dict[str, str]:
        """The `client_metadata.jwks` entry (section 5.1): `use` and `alg` set."""
        return {
            **public_jwk(self.private_key.public_key()),
            "kid": self.kid,
            "use": "enc",
            "alg": ECDH_ES,
        }

    def private_jwk(self) -> dict[str, str]:
        """For the store, which keeps it (encrypted) until the request is answered."""
        return {**private_jwk(self.private_key), "kid": self.kid}

    def thumbprint(self) -> bytes:
        """RFC 7638 SHA-256 thumbprint, as the mdoc session transcript holds it."""
        return b64url_decode(jwk_thumbprint(self.public_jwk()))


def _content_key(shared_secret: bytes, enc: str, apu: bytes, apv: bytes) -> bytes:
    """RFC 7518 section 4.6.2: Concat KDF (NIST SP 800-56A) with SHA-256.

    OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo, each a 32-bit
    big-endian length and its bytes; AlgorithmID is `enc` in direct key agreement and
    SuppPubInfo the key length in bits.
    """
    length = ENC_KEY_BYTES[enc]
    other_info = b"".join(
        struct.pack(">I", len(part)) + part for part in (enc.encode("ascii"), apu, apv)
    ) + struct.pack(">I", length * 8)
    kdf = ConcatKDFHash(algorithm=hashes.SHA256(), length=length, otherinfo=other_info)
    return kdf.derive(shared_secret)


def _part(text: str, name: str) -> bytes:
    try:
        return b64url_decode(text)
    except ValueError as exc:
        raise JweError(Reason.JWE_MALFORMED, f"JWE {name} is not base64url") from exc


def _party_info(header: Mapping[str, Any], name: str) -> bytes:
    value = header.get(name)
    if value is None:
        return b""
    if not isinstance(value, str) or len(value) > MAX_PARTY_INFO_BYTES:
        raise JweError(Reason.JWE_MALFORMED, f"JWE header {name} is not a short base64url string")
    return _part(value, f"header {name}")


def _check_header(
    header: Any, key: ResponseEncryptionKey, allowed_enc: Collection[str]
) -> ec.EllipticCurvePublicKey:
    """Every header rule before any key agreement; returns the wallet's ephemeral key."""
    if not isinstance(header, dict):
        raise JweError(Reason.JWE_MALFORMED, "JWE protected header is not a JSON object")
    if header.get("alg") != ECDH_ES:
        raise JweError(Reason.JWE_ALGORITHM_NOT_ALLOWED, f"JWE alg must be {ECDH_ES}")
    enc = header.get("enc")
    if enc not in allowed_enc or enc not in ENC_KEY_BYTES:
        allowed = ", ".join(e for e in allowed_enc if e in ENC_KEY_BYTES)
        raise JweError(Reason.JWE_ALGORITHM_NOT_ALLOWED, f"JWE enc must be one of {allowed}")
    if "zip" in header:
        raise JweError(Reason.JWE_ALGORITHM_NOT_ALLOWED, "compressed JWEs (zip) are not accepted")
    if "crit" in header:  # RFC 7516 section 4.1.13: we understand no extension
        raise JweError(Reason.JWE_MALFORMED, "JWE critical header extensions are not supported")
    if "kid" in header and header["kid"] != key.kid:
        raise JweError(Reason.JWE_KEY_MISMATCH, "JWE kid names another key than this request's")
    epk = header.get("epk")
    if not isinstance(epk, dict):
        raise JweError(Reason.JWE_MALFORMED, "JWE header has no epk (the wallet's ephemeral key)")
    try:
        return public_key_from_jwk(epk)
    except InvalidJwkError as exc:
        raise JweError(Reason.JWE_MALFORMED, f"JWE epk: {exc.message}") from exc


def decrypt_jwe(
    token: str,
    key: ResponseEncryptionKey,
    *,
    allowed_enc: Collection[str] = DEFAULT_ENC_VALUES,
    max_bytes: int = MAX_JWE_BYTES,
) -> bytes:
    """The plaintext of a compact JWE encrypted to `key`; JweError otherwise."""
    if not isinstance(token, str) or not token.isascii():
        raise JweError(Reason.JWE_MALFORMED, "JWE must be ASCII text")
    if len(token) > max_bytes:
        raise JweError(Reason.JWE_TOO_LARGE, f"JWE is larger than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 5:
        raise JweError(Reason.JWE_MALFORMED, "JWE must have five dot-separated parts")
    protected, encrypted_key, iv_text, ciphertext_text, tag_text = parts
    if len(protected) > MAX_HEADER_BYTES:
        raise JweError(Reason.JWE_MALFORMED, f"JWE header is larger than {MAX_HEADER_BYTES} bytes")
    try:
        header = json.loads(_part(protected, "header"))
    except (ValueError, RecursionError) as exc:
        raise JweError(Reason.JWE_MALFORMED, "JWE protected header is not JSON") from exc
    wallet_key = _check_header(header, key, allowed_enc)
    if encrypted_key:
        raise JweError(Reason.JWE_MALFORMED, "ECDH-ES direct key agreement has no encrypted key")
    iv, tag = _part(iv_text, "iv"), _part(tag_text, "tag")
    ciphertext = _part(ciphertext_text, "ciphertext")
    if len(iv) != _IV_BYTES or len(tag) != _TAG_BYTES:
        raise JweError(Reason.JWE_MALFORMED, "AES-GCM needs a 96-bit iv and a 128-bit tag")
    shared = key.private_key.exchange(ec.ECDH(), wallet_key)
    content_key = _content_key(
        shared, header["enc"], _party_info(header, "apu"), _party_info(header, "apv")
    )
    try:
        return AESGCM(content_key).decrypt(iv, ciphertext + tag, protected.encode("ascii"))
    except InvalidTag as exc:
        raise JweError(
            Reason.JWE_DECRYPTION_FAILED, "JWE does not decrypt with this request's key"
        ) from exc


def decrypt_response(
    token: str, key: ResponseEncryptionKey, *, allowed_enc: Collection[str] = DEFAULT_ENC_VALUES
) -> dict[str, Any]:
    """Section 8.3: the JSON object of authorization response parameters inside the JWE."""
    plaintext = decrypt_jwe(token, key, allowed_enc=allowed_enc)
    try:
        payload = json.loads(plaintext)
    except (ValueError, RecursionError) as exc:
        raise JweError(Reason.JWE_MALFORMED, "JWE payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise JweError(Reason.JWE_MALFORMED, "JWE payload is not a JSON object")
    return payload


def encrypt_jwe(
    plaintext: bytes,
    recipient_jwk: Mapping[str, Any],
    *,
    enc: str = "A256GCM",
    apu: bytes = b"",
    apv: bytes = b"",
) -> str:
    """What a wallet sends: a compact ECDH-ES JWE to `recipient_jwk` (its `kid` copied).

    For the test wallet and the command line; the service itself only decrypts.
    """
    if enc not in ENC_KEY_BYTES:
        raise ValueError(f"enc must be one of {', '.join(ENC_KEY_BYTES)}")
    recipient = public_key_from_jwk({k: recipient_jwk.get(k) for k in _PUBLIC_MEMBERS})
    ephemeral = generate_p256_key()
    header: dict[str, Any] = {"alg": ECDH_ES, "enc": enc, "epk": public_jwk(ephemeral.public_key())}
    if isinstance(recipient_jwk.get("kid"), str):
        header["kid"] = recipient_jwk["kid"]
    if apu:
        header["apu"] = b64url_encode(apu)
    if apv:
        header["apv"] = b64url_encode(apv)
    protected = b64url_encode(json_bytes(header))
    content_key = _content_key(ephemeral.exchange(ec.ECDH(), recipient), enc, apu, apv)
    iv = secrets.token_bytes(_IV_BYTES)
    sealed = AESGCM(content_key).encrypt(iv, plaintext, protected.encode("ascii"))
    ciphertext, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    return ".".join(
        (protected, "", b64url_encode(iv), b64url_encode(ciphertext), b64url_encode(tag))
    )
