"""The verification vocabulary both credential formats speak: why a credential was refused,
which step refused it, and where its status lives.

SD-JWT VC and mdoc verifiers report in these words so the service answers one way for
both; neither format package imports the other, both import this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class VerificationFailureReason(enum.StrEnum):
    """Why a credential was refused; names mirror the proto enum `VerificationFailure`."""

    MALFORMED = "MALFORMED"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNKNOWN_ISSUER_KEY = "UNKNOWN_ISSUER_KEY"
    ALGORITHM_NOT_ALLOWED = "ALGORITHM_NOT_ALLOWED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    DIGEST_MISMATCH = "DIGEST_MISMATCH"
    DUPLICATE_DISCLOSURE = "DUPLICATE_DISCLOSURE"
    KEY_BINDING_REQUIRED = "KEY_BINDING_REQUIRED"
    KEY_BINDING_INVALID = "KEY_BINDING_INVALID"
    NONCE_MISMATCH = "NONCE_MISMATCH"
    AUDIENCE_MISMATCH = "AUDIENCE_MISMATCH"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    WRONG_TYPE = "WRONG_TYPE"
    STATUS_UNAVAILABLE = "STATUS_UNAVAILABLE"
    UNTRUSTED_ISSUER = "UNTRUSTED_ISSUER"
    #: An issuer certificate (x5c, mdoc x5chain) or a CA above it cannot vouch for the
    #: signature: outside its validity period, no usable key, or missing the key usage or
    #: CA flag its role needs.
    CERTIFICATE_INVALID = "CERTIFICATE_INVALID"
    ISSUER_KEYS_UNAVAILABLE = "ISSUER_KEYS_UNAVAILABLE"
    # A foreign status list token that cannot be had or trusted; one reason per refusal.
    STATUS_LIST_UNREACHABLE = "STATUS_LIST_UNREACHABLE"
    STATUS_LIST_TIMEOUT = "STATUS_LIST_TIMEOUT"
    STATUS_LIST_TOO_LARGE = "STATUS_LIST_TOO_LARGE"
    STATUS_LIST_DECOMPRESSION_LIMIT = "STATUS_LIST_DECOMPRESSION_LIMIT"
    STATUS_LIST_UNSIGNED = "STATUS_LIST_UNSIGNED"
    STATUS_LIST_ALGORITHM_NOT_ALLOWED = "STATUS_LIST_ALGORITHM_NOT_ALLOWED"
    STATUS_LIST_BAD_SIGNATURE = "STATUS_LIST_BAD_SIGNATURE"
    STATUS_LIST_WRONG_SUBJECT = "STATUS_LIST_WRONG_SUBJECT"
    STATUS_LIST_EXPIRED = "STATUS_LIST_EXPIRED"
    STATUS_LIST_INDEX_OUT_OF_RANGE = "STATUS_LIST_INDEX_OUT_OF_RANGE"
    STATUS_LIST_INVALID = "STATUS_LIST_INVALID"
    # An x5c leaf certificate that does not name the credential's `iss`.
    ISSUER_CERTIFICATE_MISMATCH = "ISSUER_CERTIFICATE_MISMATCH"


class Check(enum.StrEnum):
    """The steps of a verification, in the order they run; each reported as a check."""

    FORMAT = "format"
    ISSUER = "issuer"
    SIGNATURE = "signature"
    VALIDITY = "validity"
    TYPE = "type"
    CLAIMS = "claims"
    DISCLOSURES = "disclosures"
    KEY_BINDING = "key_binding"
    STATUS = "status"


class VerificationError(Exception):
    """A credential failed a check; each format raises its own subclass.

    Deliberately not an `EudiConnectError`: a refused credential is the answer to a
    verification request, not a failure of the request itself.
    """

    def __init__(
        self, failure: VerificationFailureReason, detail: str, *, check: Check | None = None
    ) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
        # The step that refused, where the verifier knows it, so a caller can report what
        # passed.
        self.check = check


@dataclass(frozen=True)
class StatusReference:
    """Where a credential's status lives: entry `idx` of the status list at `uri`.

    draft-ietf-oauth-status-list section 6.2 (`status.status_list`); an mdoc's MSO carries
    the same reference in its `status`.
    """

    uri: str
    idx: int
