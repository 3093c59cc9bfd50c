"""The slice of JOSE that SD-JWT VC needs: compact JWS with ES256, EC JWKs.

Written on `cryptography` directly: one algorithm (ES256, RFC 7518 section 3.4) with an
allow-list checked before any signature work keeps the attack surface small. The
encodings underneath (base64url, compact JSON) are `core.encoding`'s.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from eudi_connect.core.encoding import ascii_json, b64url_decode, b64url_encode, json_bytes
from eudi_connect.core.signer import SOFTWARE_BACKEND, Signer, SignerReference, public_point
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

ES256 = "ES256"
ALLOWED_ALGORITHMS = frozenset({ES256})
_P256_COORDINATE_BYTES = 32
_ES256_SIGNATURE_BYTES = 64


class MalformedJwsError(ValueError):
    """Text that is not a compact JWS with JSON-object header and payload."""


class InvalidJwkError(InvalidArgumentError):
    """A JWK that is not a usable P-256 public key."""

    default_reason = Reason.INVALID_JWK


def encode_x5c(ders: Sequence[bytes]) -> list[str]:
    """The `x5c` header value (RFC 7515 section 4.1.6): standard base64 DER, not base64url."""
    return [base64.b64encode(der).decode("ascii") for der in ders]


def generate_p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_P256_COORDINATE_BYTES, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_P256_COORDINATE_BYTES, "big")),
    }


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256) of an EC public JWK."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    return b64url_encode(hashlib.sha256(ascii_json(required, sort_keys=True).encode()).digest())


class CheckedJwk(dict[str, str]):
    """A P-256 public JWK, exactly kty, crv, x and y, whose point `checked_public_jwk`
    found on the curve: code that needs a valid point need not check this one again."""

    __slots__ = ()


def checked_public_jwk(jwk: Mapping[str, Any]) -> CheckedJwk:
    """`public_key_from_jwk`'s checks, and the key as a clean JWK (kid, alg and the like
    dropped; x and y in their one base64url form)."""
    x, y = _checked_point(jwk)
    return CheckedJwk(kty="EC", crv="P-256", x=b64url_encode(x), y=b64url_encode(y))


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """Loads a P-256 public JWK; refuses private parts, other curves and off-curve points."""
    x, y = _checked_point(jwk)
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)


def _checked_point(jwk: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The coordinates of a P-256 public JWK, once the point is known to be on the curve."""
    if not isinstance(jwk, Mapping):
        raise InvalidJwkError("JWK must be a JSON object")
    if "d" in jwk:
        raise InvalidJwkError("JWK contains private key material ('d'); send the public key only")
    if jwk.get("kty") != "EC":
        raise InvalidJwkError(f"JWK kty must be 'EC', got {jwk.get('kty')!r}")
    if jwk.get("crv") != "P-256":
        raise InvalidJwkError(f"JWK crv must be 'P-256', got {jwk.get('crv')!r}")
    try:
        x = b64url_decode(jwk["x"])
        y = b64url_decode(jwk["y"])
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidJwkError("JWK x and y must be base64url coordinates") from exc
    if len(x) != _P256_COORDINATE_BYTES or len(y) != _P256_COORDINATE_BYTES:
        raise InvalidJwkError("JWK x and y must be 32 bytes each for P-256")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError as exc:
        raise InvalidJwkError("JWK point is not on the P-256 curve") from exc
    return x, y


def private_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The JWK of a holder's private key, for files the holder keeps (never sent to us)."""
    d = private_key.private_numbers().private_value.to_bytes(_P256_COORDINATE_BYTES, "big")
    return {**public_jwk(private_key.public_key()), "d": b64url_encode(d)}


def private_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePrivateKey:
    """Loads a P-256 private JWK and checks that its public part matches."""
    public = public_key_from_jwk({k: v for k, v in jwk.items() if k != "d"})
    try:
        d = int.from_bytes(b64url_decode(jwk["d"]), "big")
        private_key = ec.derive_private_key(d, ec.SECP256R1())
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidJwkError("private JWK needs a valid 'd'") from exc
    if private_key.public_key().public_numbers() != public.public_numbers():
        raise InvalidJwkError("private JWK 'd' does not match its x and y")
    return private_key


@dataclass(frozen=True)
class SigningKey:
    """A software `Signer`: the private key in this process, under the `kid` that
    verifiers find its public half under."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate_chain: tuple[bytes, ...] = field(default=(), repr=False)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return {**public_jwk(self.private_key.public_key()), "kid": self.kid, "alg": ES256}

    def sign(self, data: bytes) -> bytes:
        return _es256_sign_here(self.private_key, data)

    def reference(self) -> SignerReference:
        der = self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return SignerReference(
            kid=self.kid,
            backend=SOFTWARE_BACKEND,
            public_point=public_point(self.public_key()),
            software_der=der,
            certificate_chain=self.certificate_chain,
        )


#: ECDSA over a SHA-256 digest, made once: the algorithm objects are immutable, and
#: building them for every signature costs about a sixth of the signature itself. The
#: digest is hashlib's (CPython's OpenSSL binding), cheaper for a short input than a
#: hash context through `cryptography`; the signature is the same ES256 one.
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_PREHASHED_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))


def _es256_sign_here(private_key: ec.EllipticCurvePrivateKey, signing_input: bytes) -> bytes:
    digest = hashlib.sha256(signing_input).digest()
    return raw_signature(private_key.sign(digest, _ECDSA_PREHASHED_SHA256))


def raw_signature(der: bytes) -> bytes:
    """r || s, 32 bytes each, of a DER ECDSA-Sig-Value (RFC 3279 section 2.2.3) on P-256.

    A P-256 signature is SEQUENCE { INTEGER r, INTEGER s } with short lengths, each
    integer at most 33 bytes (a leading zero when its top bit is set); read by hand, with
    the ASN.1 decoder for anything else.
    """
    r_length = der[3] if len(der) > 4 else 0
    s_at = 4 + r_length
    if (
        der[0] == 0x30
        and der[1] == len(der) - 2
        and der[2] == 0x02
        and 0 < r_length <= 33
        and s_at + 2 <= len(der)
        and der[s_at] == 0x02
        and 0 < der[s_at + 1] <= 33
        and s_at + 2 + der[s_at + 1] == len(der)
    ):
        r = der[4:s_at].lstrip(b"\x00")
        s = der[s_at + 2 :].lstrip(b"\x00")
        if len(r) <= 32 and len(s) <= 32:
            return r.rjust(32, b"\x00") + s.rjust(32, b"\x00")
    r_value, s_value = decode_dss_signature(der)
    return r_value.to_bytes(32, "big") + s_value.to_bytes(32, "big")


def es256_sign(key: ec.EllipticCurvePrivateKey | Signer, signing_input: bytes) -> bytes:
    """Signs and returns the JWS form of the signature: r || s, 32 bytes each.

    `key` is a private key of this process (a holder's, a test's) or any issuer `Signer`.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _es256_sign_here(key, signing_input)
    return key.sign(signing_input)


def es256_verify(
    public_key: ec.EllipticCurvePublicKey, signing_input: bytes, signature: bytes
) -> bool:
    if len(signature) != _ES256_SIGNATURE_BYTES:
        return False
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, signing_input, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def sign_jws(
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    private_key: ec.EllipticCurvePrivateKey | Signer,
) -> str:
    """Compact JWS (RFC 7515 section 7.1) with ES256; `alg` is set here, never by callers."""
    protected = b64url_encode(json_bytes({**header, "alg": ES256}))
    body = b64url_encode(json_bytes(payload))
    signing_input = f"{protected}.{body}".encode("ascii")
    return f"{protected}.{body}.{b64url_encode(es256_sign(private_key, signing_input))}"


@dataclass(frozen=True)
class JwsParts:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def split_jws(token: str) -> JwsParts:
    """Decodes a compact JWS without verifying it; raises MalformedJwsError."""
    if not isinstance(token, str):
        raise MalformedJwsError("JWS must be text")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJwsError("JWS must have three dot-separated parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJwsError("JWS parts are not base64url-encoded JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise MalformedJwsError("JWS header and payload must be JSON objects")
    return JwsParts(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)
