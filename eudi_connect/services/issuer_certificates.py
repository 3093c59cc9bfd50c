"""Which X.509 certificate each tenant key gets: self-signed by default, or signed by a
configured IACA-style authority whose certificate verifiers then trust."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.mdoc import CertificateAuthority, make_issuer_certificate
from eudi_connect.core.signer import Signer
from eudi_connect.core.templates import MAX_TIMESTAMP_GRANULARITY_SECONDS
from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason

#: A document signer outlives its key's rotation period but not by decades: verifiers
#: must still accept credentials signed before a rotation.
DEFAULT_CERTIFICATE_DAYS = 3 * 365
#: A certificate is valid from this long before its key was made. Copies carry a `signed`
#: time (mdoc) or `iat` rounded down to their template's granularity, at most 7 days, and
#: ISO/IEC 18013-5 section 9.3.1 has readers check that `signed` lies in the document
#: signer's validity: a key made at 10:00 signs copies stamped 00:00 that day. Five
#: minutes more allow for clock skew.
BACKDATE = timedelta(seconds=MAX_TIMESTAMP_GRANULARITY_SECONDS, minutes=5)


@dataclass(frozen=True)
class CertificatePolicy:
    """How certificates are made for new issuer keys."""

    # ISO 3166-1 alpha-2 of the issuing state; "EU" is the code reserved for the Union.
    country: str = "EU"
    validity_days: int = DEFAULT_CERTIFICATE_DAYS
    authority: CertificateAuthority | None = field(default=None, repr=False)

    def certificate_for(
        self, tenant_id: str, key: Signer, *, now: float, issuer_uri: str | None = None
    ) -> bytes:
        """`issuer_uri`, the `iss` of the tenant's credentials, goes into the URI SAN."""
        made = datetime.fromtimestamp(now, UTC)
        return make_issuer_certificate(
            key,
            issuer_name=f"EUDI-Connect issuer {tenant_id}"[:64],
            country=self.country,
            not_before=made - BACKDATE,
            not_after=made + timedelta(days=self.validity_days),
            authority=self.authority,
            issuer_uri=issuer_uri,
        )

    @property
    def anchors(self) -> tuple[bytes, ...]:
        """The authority's certificate, if any: what verifiers configure as trust anchor.

        Never sent inside x5chain / x5c (ISO 18013-5 and HAIP both leave the anchor out),
        so a key's chain is its own certificate alone.
        """
        if self.authority is None:
            return ()
        return (self.authority.certificate.public_bytes(serialization.Encoding.DER),)


def load_authority(certificate_path: str, key_path: str) -> CertificateAuthority:
    """The CA from PEM files; refuses a key that does not match the certificate."""
    try:
        certificate = x509.load_pem_x509_certificate(Path(certificate_path).read_bytes())
        private_key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the issuer CA: {exc}", reason=Reason.ISSUER_CA_INVALID
        ) from exc
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise ConfigurationError("the issuer CA key must be P-256", reason=Reason.ISSUER_CA_INVALID)
    if certificate.public_key() != private_key.public_key():
        raise ConfigurationError(
            "the issuer CA key does not belong to its certificate", reason=Reason.ISSUER_CA_INVALID
        )
    return CertificateAuthority(certificate=certificate, private_key=private_key)
