"""Verification of an mdoc's IssuerSigned structure (ISO/IEC 18013-5 section 9.3.1).

Every refusal is an MdocVerificationError with a reason; hostile bytes never escape as
KeyError, TypeError or a decoder's own exception. The status list is not consulted here:
the reference is returned, and the service checks it as it does for SD-JWT VCs.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.encoding import b64url_decode
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from . import _cbor
from .certificates import TrustAnchor, validate_chain
from .cose import parse_sign1, verify_es256
from .errors import MdocVerificationError
from .items import parse_item
from .key_authorizations import KeyAuthorizations
from .mso import MobileSecurityObject, ValidityInfo, parse_mso

#: Largest IssuerSigned accepted. A PID or mDL with a portrait stays well below; the cap
#: keeps one request from making the decoder allocate without bound.
MAX_MDOC_BYTES = 512 * 1024
#: IssuerSigned > nameSpaces > array > tag 24, and issuerAuth > (tag 18) > array > header
#: map > x5chain array; items and the MSO are decoded separately with caps of their own.
ISSUER_SIGNED_MAX_DEPTH = 6
_ISSUER_SIGNED_KEYS = frozenset({"nameSpaces", "issuerAuth"})


@dataclass(frozen=True)
class VerifiedMdoc:
    """The disclosed elements of an mdoc that passed every check."""

    doc_type: str
    claims: dict[str, dict[str, Any]]  # namespace -> element identifier -> decoded value
    validity: ValidityInfo
    status: StatusReference | None
    device_jwk: dict[str, str]  # the holder's key, for device authentication
    issuer_certificate: x509.Certificate
    key_authorizations: KeyAuthorizations | None = None  # what the device key may sign


def _fail(reason: Reason, detail: str) -> MdocVerificationError:
    return MdocVerificationError(reason, detail)


def _shown(name: str, limit: int = 64) -> str:
    """Names from unverified input go into error details (and logs) only shortened."""
    return repr(name if len(name) <= limit else name[:limit] + "...")


def credential_bytes(credential: str, max_bytes: int) -> bytes:
    """The bytes of a base64url (unpadded) credential, its length checked before decoding."""
    if not isinstance(credential, str) or len(credential) > (max_bytes * 4 + 2) // 3:
        raise _fail(Reason.MALFORMED, f"credential is not text of at most {max_bytes} bytes")
    try:
        return b64url_decode(credential)
    except ValueError as exc:
        raise _fail(Reason.MALFORMED, "credential is not base64url") from exc


def verify_mdoc(
    credential: str,
    *,
    trust_anchors: Iterable[TrustAnchor],
    now: datetime,
    expected_doc_type: str | None = None,
    clock_skew_seconds: int = 60,
    max_bytes: int = MAX_MDOC_BYTES,
) -> VerifiedMdoc:
    """Verifies base64url (unpadded) CBOR IssuerSigned, the form the issuer hands out."""
    return verify_issuer_signed(
        credential_bytes(credential, max_bytes),
        trust_anchors=trust_anchors,
        now=now,
        expected_doc_type=expected_doc_type,
        clock_skew_seconds=clock_skew_seconds,
        max_bytes=max_bytes,
    )


def verify_issuer_signed(
    data: bytes,
    *,
    trust_anchors: Iterable[TrustAnchor],
    now: datetime,
    expected_doc_type: str | None = None,
    clock_skew_seconds: int = 60,
    max_bytes: int = MAX_MDOC_BYTES,
) -> VerifiedMdoc:
    """Checks, in order: shape, ES256, chain to an anchor at `now`, signature, MSO,
    docType, validity window (widened by the skew) and every disclosed item's digest.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if len(data) > max_bytes:
        raise _fail(Reason.MALFORMED, f"IssuerSigned is larger than {max_bytes} bytes")
    try:
        issuer_signed = _cbor.decode(data, max_depth=ISSUER_SIGNED_MAX_DEPTH)
    except _cbor.MalformedCborError as exc:
        raise _fail(Reason.MALFORMED, f"IssuerSigned: {exc}") from exc
    return verify_decoded_issuer_signed(
        issuer_signed,
        trust_anchors=trust_anchors,
        now=now,
        expected_doc_type=expected_doc_type,
        clock_skew_seconds=clock_skew_seconds,
    )


def verify_decoded_issuer_signed(
    issuer_signed: Any,
    *,
    trust_anchors: Iterable[TrustAnchor],
    now: datetime,
    expected_doc_type: str | None = None,
    clock_skew_seconds: int = 60,
) -> VerifiedMdoc:
    """`verify_issuer_signed` after decoding: for an IssuerSigned inside a DeviceResponse.

    Only what `_cbor.decode` returns may come in; nothing here is hashed or signed as a
    whole, so the structure need not be the bytes that were received.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(issuer_signed, dict) or "issuerAuth" not in issuer_signed:
        raise _fail(Reason.MALFORMED, "IssuerSigned is not a map with issuerAuth")
    if not issuer_signed.keys() <= _ISSUER_SIGNED_KEYS:
        raise _fail(Reason.MALFORMED, "IssuerSigned has members other than nameSpaces")

    sign1 = parse_sign1(issuer_signed["issuerAuth"])
    signer = validate_chain(sign1.x5chain, trust_anchors, at=now)
    public_key = signer.public_key()  # validate_chain made sure it is a P-256 key
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not verify_es256(sign1, public_key):
        raise _fail(Reason.BAD_SIGNATURE, "issuerAuth signature does not verify")
    mso = parse_mso(sign1.payload)
    if expected_doc_type is not None and mso.doc_type != expected_doc_type:
        raise _fail(Reason.WRONG_TYPE, f"docType is {_shown(mso.doc_type)}, not the expected one")
    _check_validity(mso.validity, now, timedelta(seconds=clock_skew_seconds))
    claims = _disclosed_claims(issuer_signed.get("nameSpaces", {}), mso)
    return VerifiedMdoc(
        doc_type=mso.doc_type,
        claims=claims,
        validity=mso.validity,
        status=mso.status,
        device_jwk=mso.device_jwk,
        issuer_certificate=signer,
        key_authorizations=mso.key_authorizations,
    )


def _check_validity(validity: ValidityInfo, now: datetime, skew: timedelta) -> None:
    if now + skew < validity.valid_from:
        raise _fail(Reason.NOT_YET_VALID, "MSO validFrom is in the future")
    if now - skew > validity.valid_until:
        raise _fail(Reason.EXPIRED, "MSO validUntil has passed")


def _disclosed_claims(namespaces: Any, mso: MobileSecurityObject) -> dict[str, dict[str, Any]]:
    """Each item must hash to the MSO digest under its own namespace and digest ID."""
    if not isinstance(namespaces, dict):
        raise _fail(Reason.MALFORMED, "nameSpaces is not a map")
    claims: dict[str, dict[str, Any]] = {}
    for namespace, tagged_items in namespaces.items():
        if not isinstance(namespace, str) or not isinstance(tagged_items, list):
            raise _fail(Reason.MALFORMED, "nameSpaces maps names to arrays of items")
        signed_digests = mso.value_digests.get(namespace)
        if signed_digests is None:
            raise _fail(Reason.DIGEST_MISMATCH, f"namespace {_shown(namespace)} is not in the MSO")
        elements: dict[str, Any] = {}
        seen_ids: set[int] = set()
        for tagged in tagged_items:
            item = parse_item(tagged)
            if item.digest_id in seen_ids or item.element_identifier in elements:
                raise _fail(
                    Reason.DUPLICATE_DISCLOSURE,
                    f"element {_shown(item.element_identifier)} or its digest ID appears twice",
                )
            seen_ids.add(item.digest_id)
            expected = signed_digests.get(item.digest_id)
            if expected is None or not hmac.compare_digest(expected, item.digest):
                raise _fail(
                    Reason.DIGEST_MISMATCH,
                    f"element {_shown(item.element_identifier)} does not match the MSO digest",
                )
            elements[item.element_identifier] = item.element_value
        claims[namespace] = elements
    return claims
