"""SD-JWT VC: issuance, parsing and verification (RFC 9901, draft-ietf-oauth-sd-jwt-vc),
and the holder's side that makes presentations from an issued credential.

Pure functions over strings, keys and times; no I/O, no clock (the holder reads it only for
a KB-JWT's `iat` not given), no global state. Refusals speak the vocabulary of
`eudi_connect.core.verdicts`, shared with mdoc.
"""

from ._common import KB_JWT_TYP, SD_JWT_VC_TYP, SdJwtVerificationError
from ._issuer import MAX_CLAIM_DEPTH, issue_sd_jwt_vc, path_segments
from ._parse import ParsedPresentation, parse_presentation
from ._verifier import VerifiedCredential, verify_presentation
from .disclosures import Disclosure, SaltSource, disclosure_digest, random_salt
from .holder import decode_disclosures, make_presentation

__all__ = [
    "KB_JWT_TYP",
    "MAX_CLAIM_DEPTH",
    "SD_JWT_VC_TYP",
    "Disclosure",
    "ParsedPresentation",
    "SaltSource",
    "SdJwtVerificationError",
    "VerifiedCredential",
    "decode_disclosures",
    "disclosure_digest",
    "issue_sd_jwt_vc",
    "make_presentation",
    "parse_presentation",
    "path_segments",
    "random_salt",
    "verify_presentation",
]
