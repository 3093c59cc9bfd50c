"""JWTs the wallet signs: DPoP proofs (RFC 9449 §4.2) and OpenID4VCI key proofs (Appendix F.1).

Signing and verifying go through jwcrypto, a JOSE library independent of the service. Each
builder takes `claims` / `header` (added or replaced) and `drop` / `drop_header` (removed), so
a test can break exactly one rule of a proof and leave the rest correct.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from tests.wallet.encoding import b64url_decode, b64url_encode
from tests.wallet.keys import KeyPair

DPOP_TYP = "dpop+jwt"
KEY_PROOF_TYP = "openid4vci-proof+jwt"


def _compact_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def edit_members(
    base: Mapping[str, Any], replace: Mapping[str, Any] | None, drop: Collection[str]
) -> dict[str, Any]:
    """`base` with `replace` merged in and the `drop` names removed (for breaking one rule)."""
    edited = {**base, **(replace or {})}
    for name in drop:
        edited.pop(name, None)
    return edited


def sign_jwt(key: KeyPair, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """A compact JWS over `claims` with `header` as the protected header (`alg` defaults to
    the key's)."""
    protected = {"alg": key.alg, **header}
    jws = JWS(_compact_json(claims).encode())
    jws.add_signature(key.jwcrypto_key(), alg=None, protected=_compact_json(protected))
    token: str = jws.serialize(compact=True)
    return token


def unsigned_jwt(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """An `alg: none` JWT (RFC 7519 §6) with an empty signature: for refusal tests only."""
    head = b64url_encode(_compact_json({"alg": "none", **header}).encode())
    return f"{head}.{b64url_encode(_compact_json(claims).encode())}."


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, without verifying it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWS header and payload must be JSON objects")
    return header, claims


def verify_jwt(token: str, public_jwk: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verifies a compact JWS with jwcrypto against `public_jwk`; returns header and claims.

    jwcrypto's default algorithm list excludes `none` and MACs, as RFC 8725 §3.1 asks.
    """
    jws = JWS()
    jws.deserialize(token)
    jws.verify(JWK(**dict(public_jwk)))
    return decode_jwt(token)


def access_token_hash(access_token: str) -> str:
    """The `ath` claim: base64url of the SHA-256 of the token's ASCII (RFC 9449 §4.2)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def target_uri(url: str) -> str:
    """The `htu` claim: the request's target URI without query and fragment (RFC 9449 §4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def new_jti() -> str:
    """A unique JWT identifier with 128 bits of randomness (RFC 9449 §11.1 asks for ≥ 96)."""
    return secrets.token_urlsafe(16)


def dpop_proof(
    key: KeyPair,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    jti: str | None = None,
    issued_at: int | None = None,
    claims: Mapping[str, Any] | None = None,
    drop: Collection[str] = (),
    header: Mapping[str, Any] | None = None,
    drop_header: Collection[str] = (),
) -> str:
    """A DPoP proof JWT (RFC 9449 §4.2).

    Header: `typ` dpop+jwt, `alg`, the public `jwk`. Claims: `jti`, `htm`, `htu`, `iat`;
    `ath` when presenting `access_token` (§7.1); `nonce` when the server supplied one (§8, §9).
    """
    base_header = {"typ": DPOP_TYP, "alg": key.alg, "jwk": key.public_jwk()}
    base_claims: dict[str, Any] = {
        "jti": jti if jti is not None else new_jti(),
        "htm": method.upper(),
        "htu": target_uri(url),
        "iat": issued_at if issued_at is not None else int(time.time()),
    }
    if access_token is not None:
        base_claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        base_claims["nonce"] = nonce
    return sign_jwt(
        key, edit_members(base_header, header, drop_header), edit_members(base_claims, claims, drop)
    )


def jwt_key_proof(
    key: KeyPair,
    *,
    audience: str,
    nonce: str | None,
    issuer: str | None = None,
    issued_at: int | None = None,
    key_attestation: str | None = None,
    claims: Mapping[str, Any] | None = None,
    drop: Collection[str] = (),
    header: Mapping[str, Any] | None = None,
    drop_header: Collection[str] = (),
) -> str:
    """A `jwt` proof of possession for the Credential Request (OpenID4VCI Appendix F.1).

    Header: `typ` openid4vci-proof+jwt, `alg`, the public `jwk` (never with `kid` or `x5c`),
    and `key_attestation` when given. Claims: `aud` the Credential Issuer Identifier, `iat`,
    `nonce` the `c_nonce` when the issuer has a Nonce Endpoint, and `iss` the `client_id`
    only when the token was not obtained anonymously (leave `issuer` None then).
    """
    base_header: dict[str, Any] = {"typ": KEY_PROOF_TYP, "alg": key.alg, "jwk": key.public_jwk()}
    if key_attestation is not None:
        base_header["key_attestation"] = key_attestation
    base_claims: dict[str, Any] = {
        "aud": audience,
        "iat": issued_at if issued_at is not None else int(time.time()),
    }
    if nonce is not None:
        base_claims["nonce"] = nonce
    if issuer is not None:
        base_claims["iss"] = issuer
    return sign_jwt(
        key, edit_members(base_header, header, drop_header), edit_members(base_claims, claims, drop)
    )
