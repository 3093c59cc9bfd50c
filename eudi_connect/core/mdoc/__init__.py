"""ISO/IEC 18013-5 mdoc (mso_mdoc): issuance and verification of IssuerSigned structures.

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
from .errors import FailureReason, MdocFailureReason, MdocIssuanceError, MdocVerificationError
from .issuer import IssuedMdoc, RandomSource, issue_mdoc
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
from .verifier import MAX_MDOC_BYTES, VerifiedMdoc, verify_issuer_signed, verify_mdoc

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
    "FailureReason",
    "IssuedMdoc",
    "MdocFailureReason",
    "MdocIssuanceError",
    "MdocMapping",
    "MdocVerificationError",
    "RandomSource",
    "TrustAnchor",
    "ValidityInfo",
    "VerifiedMdoc",
    "issue_mdoc",
    "load_trust_anchors",
    "make_issuer_certificate",
    "to_mdoc_namespaces",
    "validate_chain",
    "verify_issuer_signed",
    "verify_mdoc",
]
