"""Elliptic-curve key pairs for holders, DPoP, wallet instances and wallet providers.

Public keys travel as JWKs (RFC 7517, EC members of RFC 7518 §6.2) and, in an mdoc, as
COSE_Keys (RFC 9052 §7, EC2 members of RFC 9053 §7.1); thumbprints follow RFC 7638.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK

from tests.wallet.encoding import b64url_decode, b64url_encode

# JOSE curve name -> (pyca curve, JWS algorithm of RFC 7518 §3.4, coordinate length, COSE crv).
_CURVES: dict[str, tuple[type[ec.EllipticCurve], str, int, int]] = {
    "P-256": (ec.SECP256R1, "ES256", 32, 1),
    "P-384": (ec.SECP384R1, "ES384", 48, 2),
    "P-521": (ec.SECP521R1, "ES512", 66, 3),
}
_COSE_KTY_EC2 = 2
_COSE_KTY, _COSE_CRV, _COSE_X, _COSE_Y = 1, -1, -2, -3


@dataclass(frozen=True, eq=False)
class KeyPair:
    """One EC private key with the views the protocols need (JWK, COSE_Key, thumbprint)."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, curve: str = "P-256") -> KeyPair:
        """A fresh key on `curve` (a JOSE curve name: P-256, P-384 or P-521)."""
        return cls(ec.generate_private_key(_CURVES[curve][0]()))

    @property
    def curve(self) -> str:
        """The JOSE name of the key's curve."""
        for jose_name, (pyca, *_rest) in _CURVES.items():
            if isinstance(self.private_key.curve, pyca):
                return jose_name
        raise ValueError(f"unsupported curve {self.private_key.curve.name}")

    @property
    def alg(self) -> str:
        """The JWS algorithm this key signs with (RFC 7518 §3.4)."""
        return _CURVES[self.curve][1]

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def _coordinates(self) -> tuple[bytes, bytes]:
        size = _CURVES[self.curve][2]
        numbers = self.public_key.public_numbers()
        return numbers.x.to_bytes(size, "big"), numbers.y.to_bytes(size, "big")

    def public_jwk(self) -> dict[str, str]:
        """The public JWK with exactly the required EC members (kty, crv, x, y)."""
        x, y = self._coordinates()
        return {"kty": "EC", "crv": self.curve, "x": b64url_encode(x), "y": b64url_encode(y)}

    def private_jwk(self) -> dict[str, str]:
        """The JWK with `d`: only for tests that put a private key where none may be."""
        size = _CURVES[self.curve][2]
        d = self.private_key.private_numbers().private_value.to_bytes(size, "big")
        return {**self.public_jwk(), "d": b64url_encode(d)}

    def thumbprint(self) -> str:
        """RFC 7638 §3: SHA-256 over the required members in lexicographic order, no spaces."""
        canonical = json.dumps(self.public_jwk(), sort_keys=True, separators=(",", ":"))
        return b64url_encode(hashlib.sha256(canonical.encode()).digest())

    def cose_key(self) -> dict[int, Any]:
        """The public key as a COSE_Key map (RFC 9053 §7.1.1), as an mdoc's deviceKey."""
        x, y = self._coordinates()
        return {
            _COSE_KTY: _COSE_KTY_EC2,
            _COSE_CRV: _CURVES[self.curve][3],
            _COSE_X: x,
            _COSE_Y: y,
        }

    def jwcrypto_key(self) -> Any:
        """The private key as a jwcrypto JWK, for signing."""
        return JWK.from_pyca(self.private_key)

    def matches_jwk(self, jwk: Mapping[str, Any]) -> bool:
        """True when `jwk` is this key's public key (compared member by member)."""
        mine = self.public_jwk()
        return all(jwk.get(name) == value for name, value in mine.items()) and "d" not in jwk

    def matches_cose_key(self, cose_key: Mapping[Any, Any]) -> bool:
        """True when `cose_key` is this key's public key as an EC2 COSE_Key."""
        mine = self.cose_key()
        return all(cose_key.get(label) == value for label, value in mine.items()) and (
            -4 not in cose_key
        )


def jwk_to_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """An EC public key from its JWK (for verifying what the server signed)."""
    if jwk.get("kty") != "EC" or jwk.get("crv") not in _CURVES:
        raise ValueError("not an EC JWK on a supported curve")
    curve = _CURVES[str(jwk["crv"])][0]()
    x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
    y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
    return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
