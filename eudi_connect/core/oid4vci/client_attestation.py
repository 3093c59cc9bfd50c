"""Wallet attestations at the token endpoint: OAuth 2.0 Attestation-Based Client
Authentication (draft-ietf-oauth-attestation-based-client-auth), as OpenID4VCI 1.0
Appendix E and HAIP use it.

The wallet sends two JWTs in HTTP headers: the Client Attestation, signed by its wallet
provider, which binds the wallet instance's key (`cnf.jwk`) to its `client_id` (`sub`);
and the Client Attestation PoP, signed with that key, naming this authorization server.
The caller keeps the PoP's `jti` to refuse a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.jose import InvalidJwkError, public_key_from_jwk
from eudi_connect.core.oid4vci._errors import ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci._signed_jwt import (
    check_issued_recently,
    check_signature,
    numeric_claim,
    parse_typed,
    string_claim,
)
from eudi_connect.core.oid4vci.key_proof import AttestationTrust, attestation_signer

ATTESTATION_HEADER = "OAuth-Client-Attestation"
POP_HEADER = "OAuth-Client-Attestation-PoP"
ATTESTATION_TYP = "oauth-client-attestation+jwt"
POP_TYP = "oauth-client-attestation-pop+jwt"
_BAD = WalletErrorCode.INVALID_CLIENT


@dataclass(frozen=True)
class AttestedClient:
    client_id: str
    wallet_provider: str  # the attestation's iss
    wallet_name: str | None
    pop_jti: str
    expires_at: int
    status: Mapping[str, Any] | None


def verify_client_attestation(
    attestation: str | None,
    pop: str | None,
    *,
    authorization_server: str,
    trust: AttestationTrust,
    now: int,
    max_pop_age_seconds: int = 300,
    clock_skew_seconds: int = 5,
) -> AttestedClient:
    """Both headers checked; raises ProtocolError(invalid_client) on any failure."""
    if attestation is None or pop is None:
        raise ProtocolError(
            _BAD, f"wallet attestation needs the {ATTESTATION_HEADER} and {POP_HEADER} headers"
        )
    attested = parse_typed(attestation, typ=ATTESTATION_TYP, code=_BAD, what="wallet attestation")
    try:
        signer = attestation_signer(attested, trust, now=now, what="wallet attestation")
    except ProtocolError as exc:
        raise ProtocolError(_BAD, "wallet attestation is not from a trusted provider") from exc
    check_signature(attested, signer, code=_BAD, what="wallet attestation")
    claims = attested.payload
    provider = string_claim(claims, "iss", code=_BAD, what="wallet attestation")
    client_id = string_claim(claims, "sub", code=_BAD, what="wallet attestation")
    expires_at = numeric_claim(claims, "exp", code=_BAD, what="wallet attestation")
    if expires_at is None or expires_at <= now - clock_skew_seconds:
        raise ProtocolError(_BAD, "wallet attestation has expired or has no exp")
    not_before = numeric_claim(claims, "nbf", code=_BAD, what="wallet attestation")
    if not_before is not None and not_before > now + clock_skew_seconds:
        raise ProtocolError(_BAD, "wallet attestation is not valid yet")
    instance_key = _instance_key(claims)

    proof = parse_typed(pop, typ=POP_TYP, code=_BAD, what="wallet attestation PoP")
    check_signature(proof, instance_key, code=_BAD, what="wallet attestation PoP")
    pop_claims = proof.payload
    if pop_claims.get("aud") != authorization_server:
        raise ProtocolError(_BAD, "wallet attestation PoP aud must be this issuer")
    if "iss" in pop_claims and pop_claims["iss"] != client_id:
        raise ProtocolError(_BAD, "wallet attestation PoP iss must be the attested client_id")
    jti = string_claim(pop_claims, "jti", code=_BAD, what="wallet attestation PoP")
    check_issued_recently(
        pop_claims,
        now=now,
        max_age_seconds=max_pop_age_seconds,
        clock_skew_seconds=clock_skew_seconds,
        code=_BAD,
        what="wallet attestation PoP",
    )
    name = claims.get("wallet_name")
    status = claims.get("status")
    return AttestedClient(
        client_id=client_id,
        wallet_provider=provider,
        wallet_name=name if isinstance(name, str) else None,
        pop_jti=jti,
        expires_at=expires_at,
        status=status if isinstance(status, Mapping) else None,
    )


def _instance_key(claims: Mapping[str, Any]) -> EllipticCurvePublicKey:
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, Mapping) else None
    if not isinstance(jwk, Mapping):
        raise ProtocolError(_BAD, "wallet attestation needs cnf.jwk")
    try:
        return public_key_from_jwk(jwk)
    except InvalidJwkError as exc:
        raise ProtocolError(_BAD, f"wallet attestation cnf.jwk: {exc.message}") from exc
