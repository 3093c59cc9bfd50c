"""Key proofs at the Credential Endpoint (OpenID4VCI 1.0 Appendix F) and key
attestations (Appendix D.1).

A `jwt` proof shows possession of one key, named in its `jwk` header; with a
`key_attestation` header it vouches for every key the attestation lists. An `attestation`
proof is the key attestation alone. Either way the caller gets the public keys to bind
credentials to and the nonces to consume; nonce and key reuse bookkeeping is its job.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.jose import InvalidJwkError, JwsParts, public_key_from_jwk
from eudi_connect.core.oid4vci._errors import ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci._signed_jwt import (
    check_issued_recently,
    check_signature,
    header_jwk_key,
    numeric_claim,
    parse_typed,
)
from eudi_connect.core.trust_material import x5c_signer_key
from eudi_connect.core.x509_chain import ChainError

PROOF_TYP = "openid4vci-proof+jwt"
KEY_ATTESTATION_TYP = "key-attestation+jwt"
#: More keys than this in one attestation is not a wallet but an attack on our signer.
MAX_ATTESTED_KEYS = 100
_BAD = WalletErrorCode.INVALID_PROOF

#: Attack potential resistance values (Appendix D.2), weakest first.
ATTACK_POTENTIAL_LEVELS = (
    "iso_18045_basic",
    "iso_18045_enhanced-basic",
    "iso_18045_moderate",
    "iso_18045_high",
)


@dataclass(frozen=True)
class AttestationTrust:
    """Whom a tenant trusts to sign key attestations: wallet providers' CA certificates
    (for `x5c`) and their keys by `kid`."""

    anchors: tuple[x509.Certificate, ...] = ()
    keys_by_kid: Mapping[str, EllipticCurvePublicKey] = field(default_factory=dict)


@dataclass(frozen=True)
class ProofPolicy:
    """What one credential configuration of one issuer asks of a key proof."""

    credential_issuer: str  # the `aud` every proof must name
    now: int
    client_id: str | None = None  # None: anonymous pre-authorized access, so no `iss`
    nonce_required: bool = True  # the issuer has a Nonce Endpoint (we always do)
    max_age_seconds: int = 300
    clock_skew_seconds: int = 5
    key_attestation_required: bool = False
    # False when the issuer trusts no wallet provider and requires no attestation: a
    # `key_attestation` header is then ignored and the proof binds its own key alone.
    evaluate_key_attestations: bool = True
    accepted_key_storage: Collection[str] = ()  # empty: any (or none) is fine
    accepted_user_authentication: Collection[str] = ()
    attestation_trust: AttestationTrust = field(default_factory=AttestationTrust)


@dataclass(frozen=True)
class KeyAttestation:
    attested_keys: tuple[dict[str, Any], ...]
    key_storage: tuple[str, ...]
    user_authentication: tuple[str, ...]
    issuer: str | None
    expires_at: int | None
    nonce: str | None
    status: Mapping[str, Any] | None  # the caller checks it (Token Status List)


@dataclass(frozen=True)
class ProvenKeys:
    keys: tuple[dict[str, Any], ...]  # public JWKs, one credential each
    nonces: tuple[str, ...]  # every c_nonce the proof carried: each must be one we issued
    attestation: KeyAttestation | None


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ProtocolError(_BAD, f"key attestation {name} must be a non-empty string array")
    return tuple(value)


def attestation_signer(
    jws: JwsParts, trust: AttestationTrust, *, now: int, what: str = "key attestation"
) -> EllipticCurvePublicKey:
    """The wallet provider's key that signed an attestation: by `x5c` under a trusted CA
    or by `kid` among trusted keys; never a key the attestation brings itself."""
    header = jws.header
    if "jwk" in header:
        raise ProtocolError(_BAD, f"a {what} must be signed by its wallet provider")
    if "x5c" in header:
        at = datetime.fromtimestamp(now, UTC)
        try:
            public_key, _ = x5c_signer_key(header["x5c"], trust.anchors, at=at)
        except ChainError as exc:
            raise ProtocolError(
                _BAD, f"{what} signer is not trusted ({exc.problem.value.lower()})"
            ) from exc
        return public_key
    kid = header.get("kid")
    key = trust.keys_by_kid.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise ProtocolError(_BAD, f"{what} signer is not a trusted wallet provider")
    return key


def _accepts(levels: tuple[str, ...], accepted: Collection[str], name: str) -> None:
    if accepted and not set(levels) & set(accepted):
        raise ProtocolError(
            _BAD, f"key attestation {name} does not meet this credential's requirement"
        )


def verify_key_attestation(token: Any, policy: ProofPolicy) -> KeyAttestation:
    """Checks a `key-attestation+jwt`: signed by a trusted wallet provider, not expired,
    its keys usable, its storage and user authentication levels acceptable."""
    jws = parse_typed(token, typ=KEY_ATTESTATION_TYP, code=_BAD, what="key attestation")
    signer = attestation_signer(jws, policy.attestation_trust, now=policy.now)
    check_signature(jws, signer, code=_BAD, what="key attestation")
    claims = jws.payload
    issued_at = numeric_claim(claims, "iat", code=_BAD, what="key attestation")
    if issued_at is None:
        raise ProtocolError(_BAD, "key attestation has no iat")
    if issued_at > policy.now + policy.clock_skew_seconds:
        raise ProtocolError(_BAD, "key attestation iat is in the future")
    expires_at = numeric_claim(claims, "exp", code=_BAD, what="key attestation")
    if expires_at is not None and expires_at <= policy.now - policy.clock_skew_seconds:
        raise ProtocolError(_BAD, "key attestation has expired")
    raw_keys = claims.get("attested_keys")
    if not isinstance(raw_keys, list) or not raw_keys or len(raw_keys) > MAX_ATTESTED_KEYS:
        raise ProtocolError(
            _BAD, f"key attestation attested_keys must list 1 to {MAX_ATTESTED_KEYS} keys"
        )
    keys = []
    for position, jwk in enumerate(raw_keys):
        try:
            public_key_from_jwk(jwk)
        except InvalidJwkError as exc:
            raise ProtocolError(_BAD, f"attested key {position}: {exc.message}") from exc
        keys.append({name: jwk[name] for name in ("kty", "crv", "x", "y")})
    key_storage = _strings(claims.get("key_storage"), "key_storage")
    user_authentication = _strings(claims.get("user_authentication"), "user_authentication")
    _accepts(key_storage, policy.accepted_key_storage, "key_storage")
    _accepts(user_authentication, policy.accepted_user_authentication, "user_authentication")
    nonce = claims.get("nonce")
    status = claims.get("status")
    issuer = claims.get("iss")
    return KeyAttestation(
        attested_keys=tuple(keys),
        key_storage=key_storage,
        user_authentication=user_authentication,
        issuer=issuer if isinstance(issuer, str) else None,
        expires_at=expires_at,
        nonce=nonce if isinstance(nonce, str) else None,
        status=status if isinstance(status, Mapping) else None,
    )


def _nonce(claims: Mapping[str, Any], policy: ProofPolicy, what: str) -> str | None:
    nonce = claims.get("nonce")
    if nonce is None:
        if policy.nonce_required:
            raise ProtocolError(_BAD, f"{what} has no nonce: get a c_nonce first")
        return None
    if not isinstance(nonce, str) or not nonce or len(nonce) > 256:
        raise ProtocolError(WalletErrorCode.INVALID_NONCE, f"{what} nonce is not a c_nonce")
    return nonce


def verify_jwt_proof(token: Any, policy: ProofPolicy) -> ProvenKeys:
    """Appendix F.1 and F.4: one `openid4vci-proof+jwt`."""
    jws = parse_typed(token, typ=PROOF_TYP, code=_BAD, what="key proof")
    public_key, jwk = header_jwk_key(jws, code=_BAD, what="key proof")
    check_signature(jws, public_key, code=_BAD, what="key proof")
    claims = jws.payload
    if claims.get("aud") != policy.credential_issuer:
        raise ProtocolError(_BAD, "key proof aud must be this Credential Issuer's identifier")
    if policy.client_id is None:
        if "iss" in claims:
            raise ProtocolError(_BAD, "key proof iss must be omitted with anonymous access")
    elif claims.get("iss") != policy.client_id:
        raise ProtocolError(_BAD, "key proof iss must be the client_id")
    check_issued_recently(
        claims,
        now=policy.now,
        max_age_seconds=policy.max_age_seconds,
        clock_skew_seconds=policy.clock_skew_seconds,
        code=_BAD,
        what="key proof",
    )
    nonce = _nonce(claims, policy, "key proof")
    nonces = (nonce,) if nonce is not None else ()
    attestation_jwt = jws.header.get("key_attestation")
    if attestation_jwt is not None and not (
        policy.evaluate_key_attestations or policy.key_attestation_required
    ):
        attestation_jwt = None
    if attestation_jwt is None:
        if policy.key_attestation_required:
            raise ProtocolError(_BAD, "this credential needs a key attestation")
        return ProvenKeys(keys=(jwk,), nonces=nonces, attestation=None)
    attestation = verify_key_attestation(attestation_jwt, policy)
    if attestation.expires_at is None:
        raise ProtocolError(_BAD, "a key attestation in a jwt proof must have exp")
    if jwk not in attestation.attested_keys:
        raise ProtocolError(_BAD, "key proof is not signed by an attested key")
    return ProvenKeys(
        keys=attestation.attested_keys,
        nonces=nonces + _attestation_nonces(attestation, policy),
        attestation=attestation,
    )


def _attestation_nonces(attestation: KeyAttestation, policy: ProofPolicy) -> tuple[str, ...]:
    if attestation.nonce is not None:
        return (attestation.nonce,)
    if policy.nonce_required:
        raise ProtocolError(_BAD, "key attestation has no nonce: get a c_nonce first")
    return ()


def verify_attestation_proof(token: Any, policy: ProofPolicy) -> ProvenKeys:
    """Appendix F.3: a key attestation used as the proof, with no proof of possession."""
    attestation = verify_key_attestation(token, policy)
    return ProvenKeys(
        keys=attestation.attested_keys,
        nonces=_attestation_nonces(attestation, policy),
        attestation=attestation,
    )
