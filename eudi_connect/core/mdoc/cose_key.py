"""P-256 public keys as COSE_Key maps (RFC 9052 section 7, RFC 9053 section 7.1.1).

The holder's key arrives as a JWK (the SD-JWT side speaks JWK) and goes into the MSO's
deviceKeyInfo as a COSE_Key; verification turns it back into a JWK for the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import (
    CheckedJwk,
    InvalidJwkError,
    checked_public_jwk,
    public_key_from_jwk,
)

#: COSE_Key labels and values: kty (1) EC2 (2), crv (-1) P-256 (1), x (-2), y (-3).
KTY = 1
KTY_EC2 = 2
EC2_CRV = -1
CRV_P256 = 1
EC2_X = -2
EC2_Y = -3
_P256_COORDINATE_BYTES = 32


def cose_key_from_jwk(jwk: Mapping[str, Any]) -> dict[int, int | bytes]:
    """Raises InvalidJwkError (an invalid argument) for anything but a P-256 public JWK.
    A `CheckedJwk` was checked when it was made, so its point is not checked again."""
    key = jwk if type(jwk) is CheckedJwk else checked_public_jwk(jwk)
    return {
        KTY: KTY_EC2,
        EC2_CRV: CRV_P256,
        EC2_X: b64url_decode(key["x"]),
        EC2_Y: b64url_decode(key["y"]),
    }


def jwk_from_cose_key(cose_key: Any) -> dict[str, str]:
    """The public JWK of a P-256 COSE_Key; ValueError for other key types or points."""
    if not isinstance(cose_key, dict):
        raise ValueError("COSE_Key must be a map")
    kty, crv = cose_key.get(KTY), cose_key.get(EC2_CRV)
    if type(kty) is not int or kty != KTY_EC2 or type(crv) is not int or crv != CRV_P256:
        raise ValueError("COSE_Key must be an EC2 key on P-256")
    x, y = cose_key.get(EC2_X), cose_key.get(EC2_Y)
    if not isinstance(x, bytes) or not isinstance(y, bytes):
        raise ValueError("COSE_Key x and y must be byte strings")
    if len(x) != _P256_COORDINATE_BYTES or len(y) != _P256_COORDINATE_BYTES:
        raise ValueError("COSE_Key x and y must be 32 bytes each")
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url_encode(x), "y": b64url_encode(y)}
    try:
        public_key_from_jwk(jwk)  # the point must be on the curve
    except InvalidJwkError as exc:
        raise ValueError(exc.message) from exc
    return jwk
