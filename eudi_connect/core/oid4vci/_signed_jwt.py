"""What every wallet-signed JWT here shares: explicit `typ`, an allowed asymmetric
`alg`, a signature, and an `iat` inside a window (RFC 8725 sections 3.1 and 3.11).

DPoP proofs, key proofs, key attestations and client attestations differ in where the
key comes from and in their claims; they all start here.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.jose import (
    ALLOWED_ALGORITHMS,
    InvalidJwkError,
    JwsParts,
    MalformedJwsError,
    es256_verify,
    public_key_from_jwk,
    split_jws,
)
from eudi_connect.core.oid4vci._errors import ProtocolError, WalletErrorCode

#: Longest JWT accepted from a wallet: proofs and attestations are a few KB at most.
MAX_JWT_LENGTH = 16 * 1024


def parse_typed(token: Any, *, typ: str, code: WalletErrorCode, what: str) -> JwsParts:
    """Splits a compact JWS and checks its `typ` and `alg` before any signature work."""
    if not isinstance(token, str) or not token:
        raise ProtocolError(code, f"{what} must be a compact JWT string")
    if len(token) > MAX_JWT_LENGTH:
        raise ProtocolError(code, f"{what} is longer than {MAX_JWT_LENGTH} characters")
    try:
        jws = split_jws(token)
    except MalformedJwsError as exc:
        raise ProtocolError(code, f"{what} is not a JWT: {exc}") from exc
    if jws.header.get("typ") != typ:
        raise ProtocolError(code, f"{what} typ must be {typ!r}")
    alg = jws.header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise ProtocolError(
            code, f"{what} alg must be one of {sorted(ALLOWED_ALGORITHMS)}, not {alg!r}"
        )
    if "crit" in jws.header:
        # RFC 7515 section 4.1.11: we understand no extension, so none may be critical.
        raise ProtocolError(code, f"{what} has a crit header this service does not support")
    return jws


def header_jwk_key(
    jws: JwsParts, *, code: WalletErrorCode, what: str
) -> tuple[EllipticCurvePublicKey, dict[str, Any]]:
    """The public key in the `jwk` header and the JWK itself, members other than the
    key's own dropped. A private key or a key next to `kid`/`x5c` is refused."""
    jwk = jws.header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise ProtocolError(code, f"{what} needs its public key in the jwk header")
    for other in ("kid", "x5c", "trust_chain"):
        if other in jws.header:
            raise ProtocolError(code, f"{what} must not carry {other} next to jwk")
    try:
        public_key = public_key_from_jwk(jwk)
    except InvalidJwkError as exc:
        raise ProtocolError(code, f"{what} jwk: {exc.message}") from exc
    return public_key, {name: jwk[name] for name in ("kty", "crv", "x", "y")}


def check_signature(
    jws: JwsParts, public_key: EllipticCurvePublicKey, *, code: WalletErrorCode, what: str
) -> None:
    if not es256_verify(public_key, jws.signing_input, jws.signature):
        raise ProtocolError(code, f"{what} signature does not verify")


def numeric_claim(
    claims: Mapping[str, Any], name: str, *, code: WalletErrorCode, what: str
) -> int | None:
    """A NumericDate claim (RFC 7519 section 2) as whole seconds, None when absent."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(code, f"{what} {name} must be a number of seconds")
    if abs(value) > 2**53:
        raise ProtocolError(code, f"{what} {name} is out of range")
    return int(value)


def check_issued_recently(
    claims: Mapping[str, Any],
    *,
    now: int,
    max_age_seconds: int,
    clock_skew_seconds: int,
    code: WalletErrorCode,
    what: str,
) -> int:
    """`iat` is required and lies within [now - max_age - skew, now + skew]."""
    issued_at = numeric_claim(claims, "iat", code=code, what=what)
    if issued_at is None:
        raise ProtocolError(code, f"{what} has no iat")
    if issued_at > now + clock_skew_seconds:
        raise ProtocolError(code, f"{what} iat is in the future")
    if issued_at < now - max_age_seconds - clock_skew_seconds:
        raise ProtocolError(code, f"{what} is too old (iat more than {max_age_seconds} s ago)")
    return issued_at


def string_claim(
    claims: Mapping[str, Any],
    name: str,
    *,
    code: WalletErrorCode,
    what: str,
    max_length: int = 1024,
) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(code, f"{what} needs a non-empty string {name}")
    if len(value) > max_length:
        raise ProtocolError(code, f"{what} {name} is longer than {max_length} characters")
    return value


def one_of(value: Any, allowed: Collection[str]) -> bool:
    return isinstance(value, str) and value in allowed
