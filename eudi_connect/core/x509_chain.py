"""X.509 chain validation shared by mdoc x5chain and JOSE x5c (HAIP) verification.

Written here rather than taken from `cryptography.x509.verification`, whose policies are
the Web PKI's (SAN and EKU rules that document and credential signers do not follow). The
two profiles differ in one respect: mdoc trusts a certificate that is itself an anchor
(a tenant's self-signed document signer), while HAIP sends the chain without its anchor
and never accepts a self-signed leaf.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning

#: Certificates above the signer that a chain may hold; more is a loop or an attack.
MAX_INTERMEDIATES = 4

TrustAnchor = x509.Certificate | bytes
#: What `cryptography` raises for certificates it cannot read; parsing is partly lazy, so
#: any access to an untrusted certificate may raise one of these.
UNREADABLE = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)
_Extension = TypeVar("_Extension", bound=x509.ExtensionType)


class ChainProblem(enum.StrEnum):
    """What is wrong with a chain; each verifier maps these to its own failure reasons."""

    MALFORMED = "MALFORMED"  # undecodable DER, an empty or overlong chain
    UNTRUSTED = "UNTRUSTED"  # no path to a configured anchor
    INVALID = "INVALID"  # a path exists but breaks a rule (validity, flags, key usage)


class ChainError(Exception):
    def __init__(self, problem: ChainProblem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class ChainPolicy:
    """The rules that differ between profiles."""

    name: str  # how the chain is called in details: "x5chain", "x5c"
    anchor_may_sign_alone: bool  # a leaf that is itself an anchor is trusted as it is
    refuse_anchor_in_chain: bool  # HAIP: the anchor must not be sent inside the chain
    refuse_self_signed_leaf: bool  # HAIP: the signing certificate is never self-signed
    require_key_usage: bool  # keyUsage must be present (with digitalSignature)


#: ISO/IEC 18013-5 document signers: a tenant's self-signed certificate may be its anchor.
MDOC_POLICY = ChainPolicy(
    name="x5chain",
    anchor_may_sign_alone=True,
    refuse_anchor_in_chain=False,
    refuse_self_signed_leaf=False,
    require_key_usage=False,
)
#: OpenID4VC HAIP `x5c`: chain without its anchor, leaf not self-signed, keyUsage present.
HAIP_POLICY = ChainPolicy(
    name="x5c",
    anchor_may_sign_alone=False,
    refuse_anchor_in_chain=True,
    refuse_self_signed_leaf=True,
    require_key_usage=True,
)


def load_trust_anchors(anchors: Iterable[TrustAnchor]) -> tuple[x509.Certificate, ...]:
    """Parses configured anchors once; ValueError names a bad one (it is configuration)."""
    loaded = []
    for position, anchor in enumerate(anchors):
        if isinstance(anchor, x509.Certificate):
            loaded.append(anchor)
            continue
        try:
            loaded.append(x509.load_der_x509_certificate(anchor))
        except UNREADABLE as exc:
            raise ValueError(f"trust anchor {position} is not a DER certificate") from exc
    return tuple(loaded)


def _invalid(detail: str) -> ChainError:
    return ChainError(ChainProblem.INVALID, detail)


def _load_chain(chain: Sequence[bytes], name: str) -> list[x509.Certificate]:
    if not chain or len(chain) > MAX_INTERMEDIATES + 2:  # signer, intermediates, maybe root
        raise ChainError(ChainProblem.MALFORMED, f"{name} is empty or too long")
    try:
        return [x509.load_der_x509_certificate(der) for der in chain]
    except UNREADABLE as exc:
        raise ChainError(ChainProblem.MALFORMED, f"{name} holds a bad certificate") from exc


def _extension(certificate: x509.Certificate, kind: type[_Extension]) -> _Extension | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except UNREADABLE as exc:
        raise _invalid("certificate extensions cannot be read") from exc


def _check_signer(certificate: x509.Certificate, policy: ChainPolicy) -> ec.EllipticCurvePublicKey:
    """The signer needs a P-256 key (ES256) and digitalSignature in keyUsage."""
    try:
        public_key = certificate.public_key()
    except UNREADABLE as exc:
        raise _invalid("signer certificate key cannot be read") from exc
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise _invalid("signer certificate key is not a P-256 key")
    usage = _extension(certificate, x509.KeyUsage)
    if usage is None and policy.require_key_usage:
        raise _invalid("signer certificate has no keyUsage")
    if usage is not None and not usage.digital_signature:
        raise _invalid("signer certificate keyUsage lacks digitalSignature")
    return public_key


def _check_issuing_ca(certificate: x509.Certificate, certificates_below: int) -> None:
    """A certificate that signs another must be a CA allowed to sign this deep a chain."""
    constraints = _extension(certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise _invalid("an issuing certificate is not a CA")
    intermediates_below = certificates_below - 1
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        raise _invalid("chain is longer than a CA's path length allows")
    usage = _extension(certificate, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise _invalid("an issuing certificate's keyUsage lacks keyCertSign")


def _issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, *UNREADABLE):
        return False
    return True


def _names_match(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s subject is the name `child` names as its issuer: a name
    comparison, far cheaper than the signature check `_issued` makes (which also requires
    the names to be equal)."""
    try:
        return bool(child.issuer == issuer.subject)
    except UNREADABLE:
        return False


def _check_period(path: Sequence[x509.Certificate], at: datetime) -> None:
    for position, certificate in enumerate(path):
        role = "signer certificate" if position == 0 else f"CA certificate {position}"
        if at < certificate.not_valid_before_utc:
            raise _invalid(f"{role} is not yet valid")
        if at > certificate.not_valid_after_utc:
            raise _invalid(f"{role} has expired")


def _signer_path(
    certificates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    policy: ChainPolicy,
) -> list[x509.Certificate]:
    """The signer, the CAs above it from the chain, and the anchor it ends in."""
    signer = certificates[0]
    if policy.refuse_anchor_in_chain and any(c in anchors for c in certificates):
        raise _invalid(f"{policy.name} contains the trust anchor itself")
    if (
        policy.refuse_self_signed_leaf
        and signer.issuer == signer.subject
        and _issued(signer, signer)
    ):
        raise _invalid(f"the {policy.name} signer certificate is self-signed")
    path = [signer]
    candidates = certificates[1:]
    current = signer
    while not (policy.anchor_may_sign_alone and current in anchors):
        # Names first: a tenant may configure many anchors, and only those whose subject
        # is the issuer's name can have issued it (RFC 5280 section 6.1.3).
        issuer = next(
            (a for a in anchors if _names_match(current, a) and _issued(current, a)),
            None,
        )
        if issuer is not None:
            _check_issuing_ca(issuer, len(path))
            path.append(issuer)
            break
        issuer = next((c for c in candidates if c not in path and _issued(current, c)), None)
        if issuer is None or len(path) > MAX_INTERMEDIATES:
            raise ChainError(
                ChainProblem.UNTRUSTED, "issuer certificate does not chain to a trust anchor"
            )
        _check_issuing_ca(issuer, len(path))
        path.append(issuer)
        current = issuer
    return path


def validate_path(
    chain: Sequence[bytes],
    trust_anchors: Iterable[TrustAnchor],
    *,
    at: datetime,
    policy: ChainPolicy,
) -> x509.Certificate:
    """Returns the signer certificate (the first in `chain`) once it chains to an anchor
    under `policy`; raises ChainError otherwise. `at` must be timezone-aware."""
    anchors = load_trust_anchors(trust_anchors)
    # `cryptography` only warns about some RFC 5280 violations in what it parses (a
    # negative serial number, for one); from an untrusted chain they are malformed input.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        try:
            path = _signer_path(_load_chain(chain, policy.name), anchors, policy)
        except CryptographyDeprecationWarning as exc:
            raise ChainError(
                ChainProblem.MALFORMED,
                f"{policy.name} holds a certificate that RFC 5280 forbids",
            ) from exc
    _check_signer(path[0], policy)
    _check_period(path, at)
    return path[0]
