"""Names shared by the SD-JWT VC issuer, parser and verifier: types, reserved claims, errors."""

from __future__ import annotations

from eudi_connect.core.verdicts import VerificationError

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


class SdJwtVerificationError(VerificationError):
    """An SD-JWT VC or presentation failed a check; `check` names the step, once known."""
