"""Names shared by the SD-JWT VC issuer, parser and verifier: types, reserved claims, reasons."""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: `typ` of an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc section 3.2.1); the second is the
#: value used before draft -06 and still seen in the wild, accepted on input only.
SD_JWT_VC_TYP = "dc+sd-jwt"
ACCEPTED_SD_JWT_VC_TYPS = frozenset({SD_JWT_VC_TYP, "vc+sd-jwt"})
#: `typ` of a Key Binding JWT (RFC 9901 section 4.3).
KB_JWT_TYP = "kb+jwt"

SD_KEY = "_sd"
SD_ALG_KEY = "_sd_alg"
ARRAY_DIGEST_KEY = "..."
SD_ALG = "sha-256"

#: Never selectively disclosable. RFC 9901 section 4.2.1 forbids `_sd` and `...` as names;
#: the SD-JWT VC draft (section 3.2.2.2) keeps iss, nbf, exp, cnf, vct and status in the
#: clear, and we add iat because the verifier needs it to judge freshness.
RESERVED_TOP_LEVEL_NAMES = frozenset(
    {"iss", "iat", "exp", "nbf", "vct", "cnf", "status", SD_KEY, SD_ALG_KEY, ARRAY_DIGEST_KEY}
)
RESERVED_NESTED_NAMES = frozenset({SD_KEY, ARRAY_DIGEST_KEY})


class VerificationFailureReason(enum.StrEnum):
    """Why a presentation was refused; names mirror the proto enum `VerificationFailure`."""

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


class SdJwtVerificationError(Exception):
    """A presentation failed a check.

    Deliberately not an `EudiConnectError`: a refused credential is the answer to a
    verification request, not a failure of the request itself.
    """

    def __init__(
        self, failure: VerificationFailureReason, detail: str, *, check: Check | None = None
    ) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
        # The step that refused; set by the verifier, so a caller can report what passed.
        self.check = check


@dataclass(frozen=True)
class StatusReference:
    """Where a credential's status lives: entry `idx` of the status list at `uri`.

    draft-ietf-oauth-status-list section 6.2 (`status.status_list`).
    """

    uri: str
    idx: int
