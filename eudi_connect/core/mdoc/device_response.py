"""Verification of an ISO/IEC 18013-5 DeviceResponse: the mdoc's holder binding.

The IssuerSigned part proves what the issuer said; the device signature (section 9.1.3.6)
proves that the holder of the MSO's device key presented it in this session, as a Key
Binding JWT does for an SD-JWT VC. Only one document per response (as HAIP sends them),
only `deviceSignature` with ES256: MAC-based `deviceMac` is refused. Device-signed elements
count only where the MSO's keyAuthorizations allow the device key to sign them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cbor2

from eudi_connect.core.jose import InvalidJwkError, public_key_from_jwk
from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from . import _cbor
from .certificates import TrustAnchor
from .cose import parse_detached_sign1, verify_es256_detached
from .errors import MdocVerificationError
from .session_transcript import check_session_transcript, device_authentication_bytes
from .verifier import (
    ISSUER_SIGNED_MAX_DEPTH,
    MAX_MDOC_BYTES,
    VerifiedMdoc,
    credential_bytes,
    verify_decoded_issuer_signed,
)

DEVICE_RESPONSE_VERSION = "1.0"
STATUS_OK = 0
#: DeviceResponse > documents > Document around an IssuerSigned (or deviceSigned > deviceAuth).
DEVICE_RESPONSE_MAX_DEPTH = ISSUER_SIGNED_MAX_DEPTH + 3
_DEVICE_NAMESPACES_MAX_DEPTH = _cbor.MAX_ELEMENT_DEPTH + 2
_RESPONSE_KEYS = frozenset({"version", "documents", "documentErrors", "status"})
_DOCUMENT_KEYS = frozenset({"docType", "issuerSigned", "deviceSigned", "errors"})
_DEVICE_SIGNED_KEYS = frozenset({"nameSpaces", "deviceAuth"})


@dataclass(frozen=True)
class PresentedDocument:
    """One Document of a DeviceResponse whose shape is checked, nothing else."""

    doc_type: str
    issuer_signed: Any  # decoded IssuerSigned, for verify_decoded_issuer_signed
    device_namespaces: bytes  # DeviceNameSpaces CBOR as received (inside its tag 24)
    device_auth: dict[Any, Any]


@dataclass(frozen=True)
class OpenedMdoc:
    """A decoded mdoc credential: IssuerSigned alone, or a DeviceResponse's document."""

    issuer_signed: Any
    document: PresentedDocument | None  # None: no device authentication to check


@dataclass(frozen=True)
class VerifiedPresentation:
    mdoc: VerifiedMdoc
    #: Elements the device signed (namespace -> identifier -> value), each authorized by
    #: the MSO's keyAuthorizations; the holder vouches for them, not the issuer.
    device_claims: dict[str, dict[str, Any]]


def _malformed(detail: str) -> MdocVerificationError:
    return MdocVerificationError(Reason.MALFORMED, detail)


def _key_binding_invalid(detail: str) -> MdocVerificationError:
    return MdocVerificationError(Reason.KEY_BINDING_INVALID, detail)


def open_mdoc(credential: str, *, max_bytes: int = MAX_MDOC_BYTES) -> OpenedMdoc:
    """Decodes base64url CBOR: a DeviceResponse (a map with `documents`) or IssuerSigned."""
    data = credential_bytes(credential, max_bytes)
    if len(data) > max_bytes:
        raise _malformed(f"mdoc is larger than {max_bytes} bytes")
    try:
        value = _cbor.decode(data, max_depth=DEVICE_RESPONSE_MAX_DEPTH)
        if isinstance(value, dict) and "documents" in value:
            document = parse_device_response(value)
            return OpenedMdoc(document.issuer_signed, document)
        _cbor.check_depth(value, ISSUER_SIGNED_MAX_DEPTH)
    except _cbor.MalformedCborError as exc:
        raise _malformed(f"IssuerSigned: {exc}") from exc
    return OpenedMdoc(value, None)


def parse_device_response(value: Any) -> PresentedDocument:
    """Checks the DeviceResponse shape: version 1.0, status 0, exactly one document."""
    if not isinstance(value, dict) or not value.keys() <= _RESPONSE_KEYS:
        raise _malformed("DeviceResponse is not a map of version, documents and status")
    if value.get("version") != DEVICE_RESPONSE_VERSION:
        raise _malformed(f"DeviceResponse version must be {DEVICE_RESPONSE_VERSION!r}")
    status = value.get("status")
    if type(status) is not int or status != STATUS_OK:
        raise _malformed("DeviceResponse status is not 0 (OK)")
    documents = value["documents"]
    if not isinstance(documents, list) or len(documents) != 1:
        raise _malformed("DeviceResponse must hold exactly one document")
    document = documents[0]
    if not isinstance(document, dict) or not document.keys() <= _DOCUMENT_KEYS:
        raise _malformed("Document is not a map of docType, issuerSigned and deviceSigned")
    doc_type = document.get("docType")
    if not isinstance(doc_type, str) or not doc_type:
        raise _malformed("Document docType is not text")
    if "issuerSigned" not in document:
        raise _malformed("Document has no issuerSigned")
    device_signed = document.get("deviceSigned")
    if not isinstance(device_signed, dict) or device_signed.keys() != _DEVICE_SIGNED_KEYS:
        raise _malformed("Document has no deviceSigned map of nameSpaces and deviceAuth")
    namespaces, device_auth = device_signed["nameSpaces"], device_signed["deviceAuth"]
    if not isinstance(namespaces, cbor2.CBORTag) or namespaces.tag != _cbor.TAG_ENCODED_CBOR:
        raise _malformed("deviceSigned nameSpaces is not wrapped in tag 24")
    if not isinstance(namespaces.value, bytes):
        raise _malformed("deviceSigned nameSpaces tag 24 does not hold a byte string")
    if not isinstance(device_auth, dict):
        raise _malformed("deviceAuth is not a map")
    return PresentedDocument(doc_type, document["issuerSigned"], namespaces.value, device_auth)


def _device_claims(document: PresentedDocument) -> dict[str, dict[str, Any]]:
    try:
        value = _cbor.decode(
            document.device_namespaces,
            max_depth=_DEVICE_NAMESPACES_MAX_DEPTH,
            passed_tags=frozenset(),
        )
    except _cbor.MalformedCborError as exc:
        raise _malformed(f"DeviceNameSpaces: {exc}") from exc
    if not isinstance(value, dict):
        raise _malformed("DeviceNameSpaces is not a map")
    claims: dict[str, dict[str, Any]] = {}
    for namespace, elements in value.items():
        if not isinstance(namespace, str) or not isinstance(elements, dict):
            raise _malformed("DeviceNameSpaces maps namespaces to maps of elements")
        if not all(isinstance(identifier, str) for identifier in elements):
            raise _malformed("device-signed element identifiers must be text")
        if elements:
            claims[namespace] = elements
    return claims


def _check_authorized(claims: dict[str, dict[str, Any]], verified: VerifiedMdoc) -> None:
    """Without keyAuthorizations the issuer allowed the device to sign nothing."""
    authorizations = verified.key_authorizations
    for namespace, elements in claims.items():
        for identifier in elements:
            if authorizations is None or not authorizations.allows(namespace, identifier):
                raise _key_binding_invalid(
                    f"device-signed element {identifier[:64]!r} is not authorized by the "
                    "MSO's keyAuthorizations"
                )


def verify_device_authentication(
    document: PresentedDocument, verified: VerifiedMdoc, session_transcript: bytes
) -> dict[str, dict[str, Any]]:
    """Checks the device signature over this session, after `verified` (the document's
    IssuerSigned) passed; returns the device-signed elements.

    Raises SessionTranscriptError (the caller's mistake) for an unusable transcript, and
    MdocVerificationError: KEY_BINDING_INVALID for a signature that does not verify (another
    session, another key, altered contents), ALGORITHM_NOT_ALLOWED for deviceMac or an
    algorithm other than ES256, MALFORMED for a wrong shape.
    """
    check_session_transcript(session_transcript)
    if document.doc_type != verified.doc_type:
        raise _key_binding_invalid("Document docType differs from the MSO's docType")
    if "deviceMac" in document.device_auth:
        raise MdocVerificationError(
            Reason.ALGORITHM_NOT_ALLOWED,
            "deviceMac (MAC-based device authentication) is not accepted; sign with "
            "deviceSignature (ES256)",
        )
    if document.device_auth.keys() != {"deviceSignature"}:
        raise _malformed("deviceAuth must hold exactly a deviceSignature")
    signature = parse_detached_sign1(document.device_auth["deviceSignature"], "deviceSignature")
    try:
        device_key = public_key_from_jwk(verified.device_jwk)
    except InvalidJwkError as exc:  # parse_mso already checked it; kept for safety
        raise _malformed("MSO deviceKey is not a P-256 key") from exc
    payload = device_authentication_bytes(
        session_transcript, document.doc_type, document.device_namespaces
    )
    if not verify_es256_detached(signature, payload, device_key):
        raise _key_binding_invalid(
            "device signature does not verify with the MSO's device key over this session"
        )
    claims = _device_claims(document)
    _check_authorized(claims, verified)
    return claims


def verify_device_response(
    credential: str,
    *,
    session_transcript: bytes,
    trust_anchors: Iterable[TrustAnchor],
    now: datetime,
    expected_doc_type: str | None = None,
    clock_skew_seconds: int = 60,
    max_bytes: int = MAX_MDOC_BYTES,
) -> VerifiedPresentation:
    """A base64url DeviceResponse: IssuerSigned as `verify_issuer_signed` checks it, then
    device authentication. IssuerSigned alone is refused KEY_BINDING_REQUIRED.
    """
    opened = open_mdoc(credential, max_bytes=max_bytes)
    verified = verify_decoded_issuer_signed(
        opened.issuer_signed,
        trust_anchors=trust_anchors,
        now=now,
        expected_doc_type=expected_doc_type,
        clock_skew_seconds=clock_skew_seconds,
    )
    if opened.document is None:
        raise MdocVerificationError(
            Reason.KEY_BINDING_REQUIRED, "an IssuerSigned alone carries no device authentication"
        )
    claims = verify_device_authentication(opened.document, verified, session_transcript)
    return VerifiedPresentation(verified, claims)
