"""Trust in foreign issuers: their JWKS, and X.509 anchors for `x5c`-signed JWTs (HAIP).

Pure functions over keys, certificates and times. What a tenant trusts is configuration
(loaded by the services); here it only becomes keys that may have signed a given header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.jose import InvalidJwkError, public_key_from_jwk
from eudi_connect.core.x509_chain import (
    HAIP_POLICY,
    UNREADABLE,
    ChainError,
    ChainProblem,
    validate_path,
)

#: Keys a trusted issuer's JWKS may hold; a key set is small, more is a mistake or abuse.
MAX_JWKS_KEYS = 32
#: Certificates an `x5c` header may carry (signer and intermediates; never the anchor).
MAX_X5C_LENGTH = 6


class JwksError(ValueError):
    """A JWKS that cannot serve as a trusted issuer's keys."""


@dataclass(frozen=True)
class IssuerKeys:
    """A trusted issuer's verification keys by `kid` (keys without one under "")."""

    issuer: str
    by_kid: Mapping[str, EllipticCurvePublicKey] = field(repr=False)

    def candidates(self, kid: object) -> list[EllipticCurvePublicKey]:
        """The key a header's `kid` names, or every key when the header names none."""
        if isinstance(kid, str) and kid:
            key = self.by_kid.get(kid)
            return [] if key is None else [key]
        return list(self.by_kid.values())


def load_jwks(issuer: str, jwks: Any) -> IssuerKeys:
    """Loads `{"keys": [...]}` of P-256 public keys; raises JwksError naming the problem."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise JwksError('a JWKS is a JSON object with a "keys" array')
    entries = jwks["keys"]
    if not entries or len(entries) > MAX_JWKS_KEYS:
        raise JwksError(f"a JWKS needs 1 to {MAX_JWKS_KEYS} keys")
    by_kid: dict[str, EllipticCurvePublicKey] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise JwksError(f"key {position} is not a JSON object")
        kid = entry.get("kid", "")
        if not isinstance(kid, str):
            raise JwksError(f"key {position} has a kid that is not a string")
        if kid in by_kid:
            raise JwksError(f"two keys share the kid {kid[:64]!r}")
        try:
            by_kid[kid] = public_key_from_jwk({k: v for k, v in entry.items() if k != "kid"})
        except InvalidJwkError as exc:
            raise JwksError(f"key {position}: {exc.message}") from exc
    return IssuerKeys(issuer=issuer, by_kid=by_kid)


def decode_x5c(value: Any) -> list[bytes]:
    """The DER certificates of an `x5c` header (RFC 7515 section 4.1.6: standard base64,
    not base64url); ChainError MALFORMED for anything else."""
    if not isinstance(value, list) or not value or len(value) > MAX_X5C_LENGTH:
        raise ChainError(
            ChainProblem.MALFORMED, f"x5c must list 1 to {MAX_X5C_LENGTH} certificates"
        )
    chain = []
    for item in value:
        if not isinstance(item, str):
            raise ChainError(ChainProblem.MALFORMED, "x5c holds a value that is not a string")
        try:
            chain.append(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ChainError(
                ChainProblem.MALFORMED, "x5c holds a value that is not base64"
            ) from exc
    return chain


def x5c_signer_key(
    x5c: Any, anchors: Sequence[x509.Certificate], *, at: datetime
) -> tuple[EllipticCurvePublicKey, x509.Certificate]:
    """The leaf key of an `x5c` chain validated under the HAIP policy: a path to one of
    `anchors`, the anchor not inside the chain, no self-signed leaf, validity at `at`,
    digitalSignature key usage. Raises ChainError."""
    if not anchors:
        raise ChainError(ChainProblem.UNTRUSTED, "no trust anchor is configured for x5c")
    signer = validate_path(decode_x5c(x5c), anchors, at=at, policy=HAIP_POLICY)
    public_key = signer.public_key()
    if not isinstance(public_key, EllipticCurvePublicKey):  # validate_path checked it
        raise ChainError(ChainProblem.INVALID, "x5c signer key is not a P-256 key")
    return public_key, signer


def certificate_names_issuer(certificate: x509.Certificate, issuer: str) -> bool:
    """Whether an `x5c` leaf certificate speaks for `issuer`, the credential's `iss`.

    SD-JWT VC (Issuer-signed JWT Verification Key Validation) ties the two: an `iss` in the
    DNS URI scheme (RFC 4501, `dns:example.com`) must equal a dNSName SAN of the leaf, any
    other `iss` a uniformResourceIdentifier SAN. HAIP names the leaf's dNSName for an https
    `iss` instead, so an https `iss` whose host equals a dNSName SAN is accepted too. Names
    compare exactly (DNS names without regard to case or a final dot); wildcards never match.
    A chain that is trusted but names someone else vouches for someone else.
    """
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = extension.value.get_values_for_type(x509.UniformResourceIdentifier)
        dns_names = {_dns_name(n) for n in extension.value.get_values_for_type(x509.DNSName)}
    except x509.ExtensionNotFound:
        return False
    except UNREADABLE:
        return False
    if issuer in uris:
        return True
    host = _issuer_host(issuer)
    return host is not None and host in dns_names


def _issuer_host(issuer: str) -> str | None:
    """The DNS name an `iss` names: `dns:<name>` (RFC 4501), or the host of an https URL
    (not an IP address); None for anything else."""
    if issuer.lower().startswith("dns:"):
        name = issuer[4:]
        return _dns_name(name) if name and "/" not in name and "?" not in name else None
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() != "https" or not host or parts.username or parts.password:
        return None
    if host.replace(".", "").isdigit() or ":" in host or "*" in host:  # an IP, a wildcard
        return None
    return _dns_name(host)


def _dns_name(name: str) -> str:
    return name.lower().rstrip(".")


def load_certificate(data: bytes) -> x509.Certificate:
    """A configured anchor from DER or PEM; ValueError when it is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except UNREADABLE as exc:
        raise ValueError("not an X.509 certificate in DER or PEM") from exc


def certificate_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def anchor_id(der: bytes) -> str:
    """A trust anchor's id: the lowercase hex SHA-256 of its DER."""
    return hashlib.sha256(der).hexdigest()


def load_anchors(ders: Iterable[bytes]) -> tuple[x509.Certificate, ...]:
    """Stored anchors, parsed; one that no longer parses is skipped, not fatal."""
    loaded = []
    for der in ders:
        try:
            loaded.append(x509.load_der_x509_certificate(der))
        except UNREADABLE:
            continue
    return tuple(loaded)
