"""The verifier's X.509 certificate: its dNSName SAN is what `x509_san_dns` client
identifiers name (OpenID4VP 1.0 section 5.9.3), its DER hash what `x509_hash` names.

Self-signed, or signed by the CA that signs the issuer certificates (whose certificate
wallets then configure as the trust anchor for verifiers). A loopback IP host, as in local
runs, goes into a dNSName SAN as text, so that the `x509_san_dns` rule "the response
URI's host is the client's DNS name" holds there too.
"""

from __future__ import annotations

import re
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eudi_connect.core.mdoc import CertificateAuthority
from eudi_connect.core.x509_leaf import signing_leaf
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

MAX_DNS_NAME = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def checked_dns_name(name: str) -> str:
    """`name` in lower case when it is a host name (RFC 1123 labels, or an IPv4 literal
    such as 127.0.0.1); InvalidArgumentError (VERIFIER_DNS_NAME_INVALID) otherwise."""
    lowered = name.strip().rstrip(".").lower() if isinstance(name, str) else ""
    if (
        not lowered
        or len(lowered) > MAX_DNS_NAME
        or not lowered.isascii()
        or not all(_LABEL.fullmatch(label) for label in lowered.split("."))
    ):
        raise InvalidArgumentError(
            f"{str(name)[:64]!r} is not a DNS host name (letters, digits and hyphens "
            "in dot-separated labels)",
            reason=Reason.VERIFIER_DNS_NAME_INVALID,
        )
    return lowered


def make_verifier_certificate(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    dns_name: str,
    subject_name: str,
    not_before: datetime,
    not_after: datetime,
    authority: CertificateAuthority | None = None,
) -> bytes:
    """The DER certificate of a verifier key: digitalSignature only, not a CA, the DNS
    name as its only SAN."""
    public_key = private_key.public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_name[:64])])
    builder, signer = signing_leaf(
        public_key,
        name=name,
        not_before=not_before,
        not_after=not_after,
        authority_certificate=authority.certificate if authority is not None else None,
        authority_key=authority.private_key if authority is not None else None,
    )
    certificate = builder.add_extension(
        x509.SubjectAlternativeName([x509.DNSName(checked_dns_name(dns_name))]), critical=False
    ).sign(signer or private_key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.DER)
