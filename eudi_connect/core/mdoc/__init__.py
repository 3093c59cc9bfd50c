"""ISO/IEC 18013-5 mdoc (mso_mdoc): issuance and verification of IssuerSigned structures,
and of DeviceResponses (device authentication, the mdoc's holder binding).

Pure functions over claims, keys, certificates and times; no I/O, no clock, no global
state. Status list checks stay with the caller: verification returns the reference.
"""

from .certificates import (
    MDOC_DOCUMENT_SIGNER_EKU,
    CertificateAuthority,
    TrustAnchor,
    load_trust_anchors,
    make_issuer_certificate,
    validate_chain,
)
from .device_response import (
    OpenedMdoc,
    PresentedDocument,
    VerifiedPresentation,
    open_mdoc,
    verify_device_authentication,
    verify_device_response,
)
from .errors import MdocIssuanceError, MdocVerificationError
from .issuer import IssuedMdoc, RandomSource, issue_mdoc
from .key_authorizations import KeyAuthorizations
from .mappings import (
    BUILTIN_MAPPINGS,
    MDL_DOCTYPE,
    MDL_MAPPING,
    MDL_NAMESPACE,
    PID_DOCTYPE,
    PID_MAPPING,
    PID_NAMESPACE,
    MdocMapping,
    to_mdoc_namespaces,
)
from .mso import ValidityInfo
from .presentation import UnknownElementError, make_device_response
from .session_transcript import (
    SessionTranscriptError,
    check_session_transcript,
    openid4vp_dc_api_session_transcript,
    openid4vp_session_transcript,
)
from .verifier import (
    MAX_MDOC_BYTES,
    VerifiedMdoc,
    verify_decoded_issuer_signed,
    verify_issuer_signed,
    verify_mdoc,
)

__all__ = [
    "BUILTIN_MAPPINGS",
    "MAX_MDOC_BYTES",
    "MDL_DOCTYPE",
    "MDL_MAPPING",
    "MDL_NAMESPACE",
    "MDOC_DOCUMENT_SIGNER_EKU",
    "PID_DOCTYPE",
    "PID_MAPPING",
    "PID_NAMESPACE",
    "CertificateAuthority",
    "IssuedMdoc",
    "KeyAuthorizations",
    "MdocIssuanceError",
    "MdocMapping",
    "MdocVerificationError",
    "OpenedMdoc",
    "PresentedDocument",
    "RandomSource",
    "SessionTranscriptError",
    "TrustAnchor",
    "UnknownElementError",
    "ValidityInfo",
    "VerifiedMdoc",
    "VerifiedPresentation",
    "check_session_transcript",
    "issue_mdoc",
    "load_trust_anchors",
    "make_device_response",
    "make_issuer_certificate",
    "open_mdoc",
    "openid4vp_dc_api_session_transcript",
    "openid4vp_session_transcript",
    "to_mdoc_namespaces",
    "validate_chain",
    "verify_decoded_issuer_signed",
    "verify_device_authentication",
    "verify_device_response",
    "verify_issuer_signed",
    "verify_mdoc",
]
