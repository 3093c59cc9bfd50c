"""Wallet-side JWTs for the OpenID4VCI unit tests, made with an independent JOSE library
(jwcrypto) from the specifications' text, never with the service's own encoder."""

from __future__ import annotations

import json
from typing import Any

from jwcrypto import jwk, jws


def new_key() -> jwk.JWK:
    return jwk.JWK.generate(kty="EC", crv="P-256")


def public_jwk(key: jwk.JWK) -> dict[str, Any]:
    exported: dict[str, Any] = json.loads(key.export_public())
    return {name: exported[name] for name in ("kty", "crv", "x", "y")}


def sign(key: jwk.JWK, header: dict[str, Any], claims: dict[str, Any]) -> str:
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(key, alg=header.get("alg", "ES256"), protected=json.dumps(header))
    compact: str = token.serialize(compact=True)
    return compact
