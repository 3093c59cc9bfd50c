"""The shape every end-entity certificate we make shares: a signing key's certificate,
self-signed or signed by a configured CA, for signing only (keyUsage digitalSignature,
critical; not a CA), with its subject key identifier, and the CA's key identifier when a
CA signs it. The callers add what their role needs (EKU, SANs) and sign: with the CA's
key when one is configured, else with their own signer (which may live in a token)."""

from __future__ import annotations

import secrets
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

_SERIAL_NUMBER_BITS = 159  # RFC 5280 section 4.1.2.2: positive, at most 20 octets
SIGNING_ONLY = x509.KeyUsage(
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


def signing_leaf(
    public_key: ec.EllipticCurvePublicKey,
    *,
    name: x509.Name,
    not_before: datetime,
    not_after: datetime,
    authority_certificate: x509.Certificate | None = None,
    authority_key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.CertificateBuilder, ec.EllipticCurvePrivateKey | None]:
    """The builder and the CA key that signs it; None when the leaf signs itself."""
    builder = x509.CertificateBuilder()
    signer: ec.EllipticCurvePrivateKey | None = None
    if authority_certificate is not None and authority_key is not None:
        builder = builder.issuer_name(authority_certificate.subject).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
            critical=False,
        )
        signer = authority_key
    else:
        builder = builder.issuer_name(name)
    builder = (
        builder.subject_name(name)
        .public_key(public_key)
        .serial_number(secrets.randbits(_SERIAL_NUMBER_BITS) | 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(SIGNING_ONLY, critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    return builder, signer
