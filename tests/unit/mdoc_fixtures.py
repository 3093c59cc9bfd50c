"""What the mdoc unit tests share: the signing time and an issuer certificate around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eudi_connect.core.jose import SigningKey
from eudi_connect.core.mdoc import make_issuer_certificate

#: When the test mdocs are signed; verification runs a little later.
SIGNED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
#: The protected header the issuer writes: bstr of {1: -7}.
ES256_HEADER = b"\xa1\x01\x26"


def issuer_certificate(key: SigningKey, name: str = "Example Issuer") -> bytes:
    """A self-signed document signer certificate for `key`, valid from a day before SIGNED
    for a year."""
    return make_issuer_certificate(
        key,
        issuer_name=name,
        country="DE",
        not_before=SIGNED - timedelta(days=1),
        not_after=SIGNED + timedelta(days=365),
    )
