"""The Mobile Security Object (ISO/IEC 18013-5 section 9.1.2.4): what issuerAuth signs.

The MSO holds no claim values, only a digest per IssuerSignedItem, so a holder can show a
subset of items and a verifier still checks each one against the issuer's signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cbor2

from eudi_connect.core.verdicts import StatusReference
from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from . import _cbor
from .cose_key import jwk_from_cose_key
from .errors import MdocVerificationError
from .key_authorizations import KeyAuthorizations, parse_key_authorizations

MSO_VERSION = "1.0"
DIGEST_ALGORITHM = "SHA-256"
#: 18013-5 section 9.1.2.5: digest IDs are unsigned and smaller than 2^31.
DIGEST_ID_LIMIT = 2**31
_SHA256_BYTES = 32
_MSO_MAX_DEPTH = 8


@dataclass(frozen=True)
class ValidityInfo:
    """When the MSO was signed and the window it is valid in (aware datetimes, UTC)."""

    signed: datetime
    valid_from: datetime
    valid_until: datetime
    expected_update: datetime | None = None

    def normalized(self) -> ValidityInfo:
        """UTC whole seconds, as tdates carry them; ValueError when the window is wrong."""
        signed = _cbor.utc_seconds(self.signed)
        valid_from = _cbor.utc_seconds(self.valid_from)
        valid_until = _cbor.utc_seconds(self.valid_until)
        update = None if self.expected_update is None else _cbor.utc_seconds(self.expected_update)
        if not signed <= valid_from < valid_until:  # 18013-5: validFrom is not before signed
            raise ValueError("validity needs signed <= valid_from < valid_until")
        return ValidityInfo(signed, valid_from, valid_until, update)


@dataclass(frozen=True)
class MobileSecurityObject:
    doc_type: str
    value_digests: dict[str, dict[int, bytes]]
    device_jwk: dict[str, str]
    validity: ValidityInfo
    status: StatusReference | None
    key_authorizations: KeyAuthorizations | None = None


def item_digest(tagged_item: bytes) -> bytes:
    """SHA-256 over the encoded `#6.24(bstr)` item, the form 18013-5 section 9.1.2.5 hashes."""
    return hashlib.sha256(tagged_item).digest()


def encode_mso(
    *,
    doc_type: str,
    value_digests: Mapping[str, Mapping[int, bytes]],
    device_key: Mapping[int, int | bytes],
    validity: ValidityInfo,
    status: StatusReference | None,
) -> bytes:
    """Canonical CBOR of the MSO; `validity` must already be normalized."""
    validity_info = {
        "signed": _cbor.tdate(validity.signed),
        "validFrom": _cbor.tdate(validity.valid_from),
        "validUntil": _cbor.tdate(validity.valid_until),
    }
    if validity.expected_update is not None:
        validity_info["expectedUpdate"] = _cbor.tdate(validity.expected_update)
    mso: dict[str, Any] = {
        "version": MSO_VERSION,
        "digestAlgorithm": DIGEST_ALGORITHM,
        "valueDigests": {ns: dict(digests) for ns, digests in value_digests.items()},
        "deviceKeyInfo": {"deviceKey": dict(device_key)},
        "docType": doc_type,
        "validityInfo": validity_info,
    }
    if status is not None:
        # draft-ietf-oauth-status-list, the CBOR form of the referenced token's status claim.
        mso["status"] = {"status_list": {"idx": status.idx, "uri": status.uri}}
    return _cbor.encode(mso)


def _malformed(detail: str) -> MdocVerificationError:
    return MdocVerificationError(Reason.MALFORMED, f"MSO: {detail}")


def _moment(validity: dict[Any, Any], name: str) -> datetime:
    value = validity.get(name)
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _malformed(f"validityInfo.{name} is not a tdate with a time zone")
    return value


def _validity(value: Any) -> ValidityInfo:
    if not isinstance(value, dict):
        raise _malformed("validityInfo is not a map")
    update = _moment(value, "expectedUpdate") if "expectedUpdate" in value else None
    return ValidityInfo(
        signed=_moment(value, "signed"),
        valid_from=_moment(value, "validFrom"),
        valid_until=_moment(value, "validUntil"),
        expected_update=update,
    )


def _value_digests(value: Any) -> dict[str, dict[int, bytes]]:
    if not isinstance(value, dict) or not value:
        raise _malformed("valueDigests is not a non-empty map")
    result: dict[str, dict[int, bytes]] = {}
    for namespace, digests in value.items():
        if not isinstance(namespace, str) or not isinstance(digests, dict):
            raise _malformed("valueDigests maps namespaces to maps")
        for digest_id, digest in digests.items():
            if type(digest_id) is not int or not 0 <= digest_id < DIGEST_ID_LIMIT:
                raise _malformed("a digest ID is not an unsigned integer below 2^31")
            if not isinstance(digest, bytes) or len(digest) != _SHA256_BYTES:
                raise _malformed("a digest is not 32 bytes")
        result[namespace] = digests
    return result


def _device_key_info(value: Any) -> tuple[dict[str, str], KeyAuthorizations | None]:
    """The holder's key as a JWK, and what the issuer authorized it to sign."""
    if not isinstance(value, dict):
        raise _malformed("deviceKeyInfo is not a map")
    try:
        jwk = jwk_from_cose_key(value.get("deviceKey"))
    except ValueError as exc:
        raise _malformed(f"deviceKey: {exc}") from exc
    return jwk, parse_key_authorizations(value.get("keyAuthorizations"))


def _status(value: Any) -> StatusReference | None:
    """A status we cannot follow is refused, not ignored: it may say 'revoked'."""
    if value is None:
        return None
    reference = value.get("status_list") if isinstance(value, dict) else None
    if not isinstance(reference, dict):
        raise _malformed("status has no status_list reference")
    idx, uri = reference.get("idx"), reference.get("uri")
    if type(idx) is not int or idx < 0 or not isinstance(uri, str) or not uri:
        raise _malformed("status_list reference needs an index and a uri")
    return StatusReference(uri=uri, idx=idx)


def parse_mso(payload: bytes) -> MobileSecurityObject:
    """Reads the signed payload, `#6.24(bstr .cbor MSO)`; MdocVerificationError otherwise."""
    try:
        wrapped = _cbor.decode(payload, max_depth=1)
        if not isinstance(wrapped, cbor2.CBORTag) or wrapped.tag != _cbor.TAG_ENCODED_CBOR:
            raise _malformed("payload is not a tag 24 byte string")
        if not isinstance(wrapped.value, bytes):
            raise _malformed("payload is not a tag 24 byte string")
        mso = _cbor.decode(wrapped.value, max_depth=_MSO_MAX_DEPTH)
    except _cbor.MalformedCborError as exc:
        raise _malformed(str(exc)) from exc
    if not isinstance(mso, dict):
        raise _malformed("not a map")
    if mso.get("version") != MSO_VERSION:
        raise _malformed(f"version must be {MSO_VERSION!r}")
    if mso.get("digestAlgorithm") != DIGEST_ALGORITHM:
        raise MdocVerificationError(
            Reason.ALGORITHM_NOT_ALLOWED, f"MSO digestAlgorithm must be {DIGEST_ALGORITHM}"
        )
    doc_type = mso.get("docType")
    if not isinstance(doc_type, str) or not doc_type:
        raise _malformed("docType is not text")
    device_jwk, key_authorizations = _device_key_info(mso.get("deviceKeyInfo"))
    return MobileSecurityObject(
        doc_type=doc_type,
        value_digests=_value_digests(mso.get("valueDigests")),
        device_jwk=device_jwk,
        validity=_validity(mso.get("validityInfo")),
        status=_status(mso.get("status")),
        key_authorizations=key_authorizations,
    )
