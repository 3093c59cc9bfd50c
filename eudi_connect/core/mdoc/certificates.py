"""Issuer certificates: a self-signed one per tenant key, and chains checked against anchors.

mdoc verifiers trust certificates, not bare keys, so every signing key needs one. By default
a tenant's certificate is self-signed and trusted because it is configured as an anchor
itself; a chain to an IACA-style root works the same way with the root as the anchor.
The chain check itself lives in `eudi_connect.core.x509_chain`, shared with JOSE x5c; this
module applies its mdoc policy and speaks mdoc's failure reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eudi_connect.core.signer import Signer
from eudi_connect.core.verdicts import VerificationFailureReason as Reason
from eudi_connect.core.x509_chain import (
    MAX_INTERMEDIATES,
    MDOC_POLICY,
    ChainError,
    ChainProblem,
    TrustAnchor,
    load_trust_anchors,
    validate_path,
)
from eudi_connect.core.x509_leaf import signing_leaf
from eudi_connect.core.x509_signing import sign_certificate

from ._cbor import utc_seconds
from .errors import MdocVerificationError

#: ISO/IEC 18013-5 Annex B extended key usage of a document signer (id-mdl-kp-mdlDS).
MDOC_DOCUMENT_SIGNER_EKU = x509.ObjectIdentifier("1.0.18013.5.1.2")
_COUNTRY_CODE_LENGTH = 2
__all__ = [
    "MAX_INTERMEDIATES",
    "MDOC_DOCUMENT_SIGNER_EKU",
    "CertificateAuthority",
    "TrustAnchor",
    "load_trust_anchors",
    "make_issuer_certificate",
    "validate_chain",
]
#: How a chain problem reads as an mdoc verdict (no anchor above it: an unknown issuer key).
_REASON_OF: dict[ChainProblem, Reason] = {
    ChainProblem.MALFORMED: Reason.MALFORMED,
    ChainProblem.UNTRUSTED: Reason.UNKNOWN_ISSUER_KEY,
    ChainProblem.INVALID: Reason.CERTIFICATE_INVALID,
}


@dataclass(frozen=True)
class CertificateAuthority:
    """An IACA-style CA that signs the tenants' document signer certificates."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


def make_issuer_certificate(
    signing_key: Signer,
    *,
    issuer_name: str,
    country: str,
    not_before: datetime,
    not_after: datetime,
    authority: CertificateAuthority | None = None,
    issuer_uri: str | None = None,
) -> bytes:
    """A document signer certificate (DER) for one tenant key: self-signed, or signed by
    `authority` (whose certificate verifiers then configure as their anchor).

    keyUsage is digitalSignature only and critical, as 18013-5 Annex B asks of a signer;
    the mdlDS extended key usage tells wallets what the certificate is for. `issuer_uri`
    (the `iss` of the key's SD-JWT VCs) goes into a uniformResourceIdentifier SAN, which
    is how SD-JWT VC verifiers tie an x5c leaf to the `iss` it signs for.
    """
    if not issuer_name:
        raise ValueError("issuer name must not be empty")
    if len(country) != _COUNTRY_CODE_LENGTH or not country.isascii() or not country.isupper():
        raise ValueError("country must be an ISO 3166-1 alpha-2 code")
    start, end = utc_seconds(not_before), utc_seconds(not_after)
    if end <= start:
        raise ValueError("certificate must end after it starts")
    public_key = signing_key.public_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, issuer_name),
        ]
    )
    builder, signer = signing_leaf(
        public_key,
        name=name,
        not_before=start,
        not_after=end,
        authority_certificate=authority.certificate if authority is not None else None,
        authority_key=authority.private_key if authority is not None else None,
    )
    certificate = builder.add_extension(
        x509.ExtendedKeyUsage([MDOC_DOCUMENT_SIGNER_EKU]), critical=False
    )
    if issuer_uri:
        certificate = certificate.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(issuer_uri)]),
            critical=False,
        )
    if signer is not None:  # a configured CA signs it
        signed = certificate.sign(signer, hashes.SHA256())
        return signed.public_bytes(serialization.Encoding.DER)
    return sign_certificate(certificate, signing_key)


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
    try:
        return validate_path(chain, trust_anchors, at=utc_seconds(at), policy=MDOC_POLICY)
    except ChainError as error:
        raise MdocVerificationError(_REASON_OF[error.problem], error.detail) from error
