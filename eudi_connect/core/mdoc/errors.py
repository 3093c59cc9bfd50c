"""Errors of mdoc issuance and verification.

Verification reuses the SD-JWT reasons wherever they mean the same thing, so a verifier
reports one vocabulary for both formats; only certificate problems are mdoc's own.
"""

from __future__ import annotations

import enum

from eudi_connect.core.sdjwt import VerificationFailureReason
from eudi_connect.errors import InvalidArgumentError


class MdocFailureReason(enum.StrEnum):
    """Reasons SD-JWT VC has no counterpart for: mdocs carry an X.509 chain, not a kid."""

    #: The issuer certificate (or a CA above it) cannot vouch for the signature: outside its
    #: validity period, no P-256 key, or missing the key usage or CA flag its role needs.
    CERTIFICATE_INVALID = "CERTIFICATE_INVALID"


FailureReason = VerificationFailureReason | MdocFailureReason


class MdocVerificationError(Exception):
    """An mdoc failed a check; the only exception verification lets escape.

    Like `SdJwtVerificationError`, not an `EudiConnectError`: a refused credential is the
    answer to a verification request, not a failure of the request.
    """

    def __init__(self, failure: FailureReason, detail: str) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail


class MdocIssuanceError(InvalidArgumentError):
    """Claims, key or validity that cannot become an mdoc; retrying unchanged cannot help."""

    default_reason = "INVALID_MDOC_INPUT"
