"""Errors of mdoc issuance and verification.

Verification refuses in the vocabulary of `eudi_connect.core.verdicts`, shared with SD-JWT
VC, so a verifier reports one set of reasons for both formats.
"""

from __future__ import annotations

from eudi_connect.core.verdicts import VerificationError
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason


class MdocVerificationError(VerificationError):
    """An mdoc failed a check; the only exception verification lets escape."""


class MdocIssuanceError(InvalidArgumentError):
    """Claims, key or validity that cannot become an mdoc; retrying unchanged cannot help."""

    default_reason = Reason.INVALID_MDOC_INPUT
