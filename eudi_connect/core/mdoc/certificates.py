"""Issuer certificates: a self-signed one per tenant key, and chains checked against anchors.

mdoc verifiers trust certificates, not bare keys, so every signing key needs one. By default
a tenant's certificate is self-signed and trusted because it is configured as an anchor
itself; a chain to an IACA-style root works the same way with the root as the anchor.
The chain check is written here rather than taken from `cryptography.x509.verification`,
whose policies are the Web PKI's (SAN and EKU rules that document signers do not follow).
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from eudi_connect.core.jose import SigningKey
from eudi_connect.core.sdjwt import VerificationFailureReason as Reason

from ._cbor import utc_seconds
from .errors import MdocFailureReason, MdocVerificationError

#: ISO/IEC 18013-5 Annex B extended key usage of a document signer (id-mdl-kp-mdlDS).
MDOC_DOCUMENT_SIGNER_EKU = x509.ObjectIdentifier("1.0.18013.5.1.2")
#: Certificates above the signer that a chain may hold; more is a loop or an attack.
MAX_INTERMEDIATES = 4
_COUNTRY_CODE_LENGTH = 2
_SERIAL_NUMBER_BITS = 159  # RFC 5280 section 4.1.2.2: positive, at most 20 octets

TrustAnchor = x509.Certificate | bytes
#: What `cryptography` raises for certificates it cannot read; parsing is partly lazy, so
#: any access to an untrusted certificate may raise one of these.
_UNREADABLE = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)
_Extension = TypeVar("_Extension", bound=x509.ExtensionType)


@dataclass(frozen=True)
class CertificateAuthority:
    """An IACA-style CA that signs the tenants' document signer certificates."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


def make_issuer_certificate(
    signing_key: SigningKey,
    *,
    issuer_name: str,
    country: str,
    not_before: datetime,
    not_after: datetime,
    authority: CertificateAuthority | None = None,
) -> bytes:
    """A document signer certificate (DER) for one tenant key: self-signed, or signed by
    `authority` (whose certificate verifiers then configure as their anchor).

    keyUsage is digitalSignature only and critical, as 18013-5 Annex B asks of a signer;
    the mdlDS extended key usage tells wallets what the certificate is for.
    """
    if not issuer_name:
        raise ValueError("issuer name must not be empty")
    if len(country) != _COUNTRY_CODE_LENGTH or not country.isascii() or not country.isupper():
        raise ValueError("country must be an ISO 3166-1 alpha-2 code")
    start, end = utc_seconds(not_before), utc_seconds(not_after)
    if end <= start:
        raise ValueError("certificate must end after it starts")
    public_key = signing_key.private_key.public_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, issuer_name),
        ]
    )
    key_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = x509.CertificateBuilder()
    signer: ec.EllipticCurvePrivateKey = signing_key.private_key
    if authority is not None:
        builder = builder.issuer_name(authority.certificate.subject).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.private_key.public_key()),
            critical=False,
        )
        signer = authority.private_key
    else:
        builder = builder.issuer_name(name)
    certificate = (
        builder.subject_name(name)
        .public_key(public_key)
        .serial_number(secrets.randbits(_SERIAL_NUMBER_BITS) | 1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([MDOC_DOCUMENT_SIGNER_EKU]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def load_trust_anchors(anchors: Iterable[TrustAnchor]) -> tuple[x509.Certificate, ...]:
    """Parses configured anchors once; ValueError names a bad one (it is configuration)."""
    loaded = []
    for position, anchor in enumerate(anchors):
        if isinstance(anchor, x509.Certificate):
            loaded.append(anchor)
            continue
        try:
            loaded.append(x509.load_der_x509_certificate(anchor))
        except _UNREADABLE as exc:
            raise ValueError(f"trust anchor {position} is not a DER certificate") from exc
    return tuple(loaded)


def _invalid(detail: str) -> MdocVerificationError:
    return MdocVerificationError(MdocFailureReason.CERTIFICATE_INVALID, detail)


def _load_chain(chain: Sequence[bytes]) -> list[x509.Certificate]:
    if not chain or len(chain) > MAX_INTERMEDIATES + 2:  # signer, intermediates, maybe root
        raise MdocVerificationError(Reason.MALFORMED, "x5chain is empty or too long")
    try:
        return [x509.load_der_x509_certificate(der) for der in chain]
    except _UNREADABLE as exc:
        raise MdocVerificationError(Reason.MALFORMED, "x5chain holds a bad certificate") from exc


def _extension(certificate: x509.Certificate, kind: type[_Extension]) -> _Extension | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except _UNREADABLE as exc:
        raise _invalid("certificate extensions cannot be read") from exc


def _check_signer(certificate: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """The signer needs a P-256 key (ES256) and, if keyUsage is given, digitalSignature."""
    try:
        public_key = certificate.public_key()
    except _UNREADABLE as exc:
        raise _invalid("signer certificate key cannot be read") from exc
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise _invalid("signer certificate key is not a P-256 key")
    usage = _extension(certificate, x509.KeyUsage)
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
    except (InvalidSignature, *_UNREADABLE):
        return False
    return True


def _check_period(path: Sequence[x509.Certificate], at: datetime) -> None:
    for position, certificate in enumerate(path):
        role = "signer certificate" if position == 0 else f"CA certificate {position}"
        if at < certificate.not_valid_before_utc:
            raise _invalid(f"{role} is not yet valid")
        if at > certificate.not_valid_after_utc:
            raise _invalid(f"{role} has expired")


def _signer_path(
    certificates: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The signer, the CAs above it from the chain, and the anchor it ends in."""
    signer = certificates[0]
    path = [signer]
    candidates = certificates[1:]
    current = signer
    while current not in anchors:
        issuer = next((a for a in anchors if _issued(current, a)), None)
        if issuer is not None:
            _check_issuing_ca(issuer, len(path))
            path.append(issuer)
            break
        issuer = next((c for c in candidates if c not in path and _issued(current, c)), None)
        if issuer is None or len(path) > MAX_INTERMEDIATES:
            raise MdocVerificationError(
                Reason.UNKNOWN_ISSUER_KEY, "issuer certificate does not chain to a trust anchor"
            )
        _check_issuing_ca(issuer, len(path))
        path.append(issuer)
        current = issuer
    return path


def validate_chain(
    chain: Sequence[bytes], trust_anchors: Iterable[TrustAnchor], *, at: datetime
) -> x509.Certificate:
    """Returns the signer certificate (the first in `chain`) once it chains to an anchor.

    A certificate that is itself an anchor is trusted as it is, which is how a tenant's
    self-signed certificate vouches for its own credentials; any other self-signed
    certificate finds no issuer and is refused. Raises MdocVerificationError:
    UNKNOWN_ISSUER_KEY without a path to an anchor, CERTIFICATE_INVALID when the path
    breaks a rule (validity at `at`, CA flags, key usage), MALFORMED for undecodable DER.
    """
    anchors = load_trust_anchors(trust_anchors)
    # `cryptography` only warns about some RFC 5280 violations in what it parses (a
    # negative serial number, for one); from an untrusted chain they are malformed input.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        try:
            path = _signer_path(_load_chain(chain), anchors)
        except CryptographyDeprecationWarning as exc:
            raise MdocVerificationError(
                Reason.MALFORMED, "x5chain holds a certificate that RFC 5280 forbids"
            ) from exc
    _check_signer(path[0])
    _check_period(path, utc_seconds(at))
    return path[0]
