"""Encrypted Authorization Responses (OpenID4VP 1.0 §8.3), with jwcrypto.

The wallet picks the verifier's key from `client_metadata.jwks`: one whose `use` is absent
or `enc`, whose `alg` it supports (ECDH-ES, RFC 7518 §4.6) on a curve it supports; the JWE
`alg` is that key's `alg`, its `kid` goes into the header, and `enc` is the first of
`encrypted_response_enc_values_supported` it supports (A128GCM when the verifier lists
none). The payload is the response parameters as a JSON object (an unsigned, encrypted JWT).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK

from tests.wallet.encoding import b64url_encode
from tests.wallet.errors import WalletError

SUPPORTED_ALGS = ("ECDH-ES",)
SUPPORTED_CURVES = ("P-256", "P-384", "P-521")
SUPPORTED_ENCS = ("A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512")
DEFAULT_ENC = "A128GCM"
_REQUIRED_EC_MEMBERS = ("crv", "kty", "x", "y")


def select_encryption_key(client_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The verifier's key to encrypt to, by §8.3's rules, or `WalletError`."""
    jwks = client_metadata.get("jwks")
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise WalletError("encryption_key_missing", "client_metadata has no jwks")
    for key in keys:
        if not isinstance(key, Mapping) or key.get("use", "enc") != "enc":
            continue
        if key.get("alg") in SUPPORTED_ALGS and key.get("crv") in SUPPORTED_CURVES:
            return dict(key)
    raise WalletError("encryption_key_missing", "no ECDH-ES encryption key the wallet supports")


def select_enc(client_metadata: Mapping[str, Any]) -> str:
    """The content encryption: the verifier's first supported value, A128GCM by default."""
    offered = client_metadata.get("encrypted_response_enc_values_supported", [DEFAULT_ENC])
    for value in offered if isinstance(offered, list) else []:
        if value in SUPPORTED_ENCS:
            return str(value)
    raise WalletError("enc_unsupported", f"none of {offered!r} is supported")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> bytes:
    """RFC 7638 §3: SHA-256 over the required EC members in lexicographic order (the raw
    bytes, as the mdoc handover wants them)."""
    canonical = json.dumps({m: jwk[m] for m in _REQUIRED_EC_MEMBERS}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def encrypt_response(
    payload: Mapping[str, Any],
    jwk: Mapping[str, Any],
    *,
    enc: str = DEFAULT_ENC,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWE of `payload` to `jwk` (its `alg`, its `kid`); `header` adds members
    (e.g. apu/apv) or replaces them."""
    protected: dict[str, Any] = {"alg": jwk.get("alg", "ECDH-ES"), "enc": enc}
    if "kid" in jwk:
        protected["kid"] = jwk["kid"]
    protected.update(header or {})
    public = {m: v for m, v in jwk.items() if m != "d"}
    token = JWE(
        json.dumps(dict(payload), separators=(",", ":")).encode(),
        protected=json.dumps(protected, separators=(",", ":")),
    )
    token.add_recipient(JWK(**public))
    serialized: str = token.serialize(compact=True)
    return serialized


def thumbprint_text(jwk: Mapping[str, Any]) -> str:
    """The thumbprint as base64url, as JOSE writes it."""
    return b64url_encode(jwk_thumbprint(jwk))
