"""Issuance of an mdoc's IssuerSigned structure (ISO/IEC 18013-5 sections 8.3.2.1.2.2, 9.1.2).

Pure: keys, certificate, claims and times come in, bytes go out; no clock, no I/O. The
service hands the holder the base64url form of the CBOR IssuerSigned (OpenID4VCI mso_mdoc).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.signer import Signer
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason

from . import _cbor
from .cose import sign_es256
from .cose_key import cose_key_from_jwk
from .errors import MdocIssuanceError
from .items import MIN_RANDOM_BYTES, digest_of, encode_item
from .mso import DIGEST_ID_LIMIT, ValidityInfo, encode_mso

#: A source of random bytes; tests pass a seeded one, production uses the OS.
RandomSource = Callable[[int], bytes]
_DIGEST_ID_BYTES = 4
_DIGEST_ID_ATTEMPTS = 64


@dataclass(frozen=True)
class IssuedMdoc:
    credential: str  # base64url (unpadded) of `issuer_signed`: what the holder receives
    issuer_signed: bytes  # CBOR IssuerSigned {nameSpaces, issuerAuth}
    doc_type: str
    validity: ValidityInfo  # as signed: UTC, whole seconds


class _Prefetched:
    """The OS's random bytes for one credential, drawn in one `os.urandom` call and handed
    out in slices, each byte once: an mdoc wants a digest ID and a 16-byte random value per
    element, and a system call for each cost more than the hashing. Made per credential,
    so nothing drawn is ever kept for another, in this process or a forked one."""

    __slots__ = ("_block", "_offset")

    def __init__(self, size: int) -> None:
        self._block = os.urandom(size)
        self._offset = 0

    def __call__(self, count: int) -> bytes:
        start = self._offset
        if start + count > len(self._block):  # more asked than foreseen: a fresh block
            self._block = os.urandom(max(count, len(self._block)))
            start = 0
        self._offset = start + count
        return self._block[start : start + count]


def _digest_ids(count: int, random_bytes: RandomSource) -> list[int]:
    """Distinct random IDs below 2^31: sequential ones would tell the order of the claims."""
    chosen: set[int] = set()
    ordered: list[int] = []
    for _ in range(count * _DIGEST_ID_ATTEMPTS):
        if len(ordered) == count:
            break
        candidate = int.from_bytes(random_bytes(_DIGEST_ID_BYTES), "big") % DIGEST_ID_LIMIT
        if candidate not in chosen:
            chosen.add(candidate)
            ordered.append(candidate)
    if len(ordered) != count:
        raise ValueError("random source keeps repeating itself")
    return ordered


#: (kid, certificate) pairs already found to match; a kid is its key's thumbprint.
_MATCHED: set[tuple[str, bytes]] = set()
_MATCHED_MAX = 64


def _check_certificate_matches(signing_key: Signer, certificate_der: bytes) -> None:
    """A certificate for another key would make every mdoc we sign unverifiable. Checked
    once per key and certificate: parsing the certificate and both points cost about as
    much as the signature (public keys are unhashable, so the kid stands for the key)."""
    if (signing_key.kid, certificate_der) in _MATCHED:
        return
    _check_points(signing_key, certificate_der)
    if len(_MATCHED) >= _MATCHED_MAX:
        _MATCHED.clear()
    _MATCHED.add((signing_key.kid, certificate_der))


def _check_points(signing_key: Signer, certificate_der: bytes) -> None:
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError as exc:
        raise ConfigurationError("issuer certificate is not DER") from exc
    point = serialization.PublicFormat.UncompressedPoint
    ours = signing_key.public_key().public_bytes(serialization.Encoding.X962, point)
    try:
        theirs = certificate.public_key().public_bytes(serialization.Encoding.X962, point)
    except ValueError as exc:
        raise ConfigurationError("issuer certificate does not hold an EC key") from exc
    if ours != theirs:
        raise ConfigurationError(
            f"issuer certificate is not for signing key {signing_key.kid}",
            reason=Reason.CERTIFICATE_KEY_MISMATCH,
        )


def _checked_namespaces(
    namespaces: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """CBOR-ready element values per namespace; MdocIssuanceError names the bad element."""
    result: dict[str, dict[str, Any]] = {}
    for namespace, elements in namespaces.items():
        if not isinstance(namespace, str) or not namespace or not isinstance(elements, Mapping):
            raise MdocIssuanceError("namespaces must map non-empty names to elements")
        if not elements:
            continue
        converted: dict[str, Any] = {}
        for identifier, value in elements.items():
            if not isinstance(identifier, str) or not identifier:
                raise MdocIssuanceError(f"element identifiers in {namespace} must be text")
            try:
                converted[identifier] = _cbor.element_value(value)
            except ValueError as exc:
                raise MdocIssuanceError(f"element {namespace}/{identifier}: {exc}") from exc
        result[namespace] = converted
    if not result:
        raise MdocIssuanceError("an mdoc needs at least one element")
    return result


def issue_mdoc(
    namespaces: Mapping[str, Mapping[str, Any]],
    *,
    doc_type: str,
    holder_jwk: Mapping[str, Any],
    validity: ValidityInfo,
    signing_key: Signer,
    certificate_chain: Sequence[bytes],
    status: StatusReference | None = None,
    random_bytes: RandomSource = secrets.token_bytes,
) -> IssuedMdoc:
    """Signs an mdoc for the holder's key and returns its IssuerSigned structure.

    `namespaces` maps each namespace to element identifiers and values (text, numbers,
    booleans, bytes, `date` as full-date, aware `datetime` as tdate, lists and maps of
    them). `certificate_chain` is DER, the signing key's certificate first. Raises
    MdocIssuanceError (or InvalidJwkError) for bad claims, key or validity, and
    ConfigurationError when the certificate is not the signing key's.
    """
    if not isinstance(doc_type, str) or not doc_type:
        raise MdocIssuanceError("docType must be non-empty text")
    if isinstance(certificate_chain, bytes) or not certificate_chain:
        raise ConfigurationError("certificate_chain must be a non-empty list of DER certificates")
    _check_certificate_matches(signing_key, certificate_chain[0])
    if status is not None and (status.idx < 0 or not status.uri):
        raise MdocIssuanceError("status reference needs a non-negative index and a uri")
    try:
        signed_validity = validity.normalized()
    except ValueError as exc:
        raise MdocIssuanceError(f"validity: {exc}") from exc
    device_key = cose_key_from_jwk(holder_jwk)
    elements = _checked_namespaces(namespaces)
    if random_bytes is secrets.token_bytes:
        count = sum(len(values) for values in elements.values())
        random_bytes = _Prefetched(count * (_DIGEST_ID_BYTES + MIN_RANDOM_BYTES))

    issuer_namespaces: dict[str, list[Any]] = {}
    value_digests: dict[str, dict[int, bytes]] = {}
    for namespace, values in elements.items():
        digest_ids = _digest_ids(len(values), random_bytes)
        tagged_items = []
        digests: dict[int, bytes] = {}
        for digest_id, (identifier, value) in zip(digest_ids, values.items(), strict=True):
            salt = random_bytes(MIN_RANDOM_BYTES)
            if len(salt) < MIN_RANDOM_BYTES:
                raise ValueError("random source returned too few bytes")
            tagged = encode_item(digest_id, salt, identifier, value)
            tagged_items.append(tagged)
            digests[digest_id] = digest_of(tagged)
        issuer_namespaces[namespace] = tagged_items
        value_digests[namespace] = digests

    mso = encode_mso(
        doc_type=doc_type,
        value_digests=value_digests,
        device_key=device_key,
        validity=signed_validity,
        status=status,
    )
    payload = _cbor.encode_embedded(mso)
    issuer_auth = sign_es256(payload, signing_key, certificate_chain)
    issuer_signed = _cbor.encode({"nameSpaces": issuer_namespaces, "issuerAuth": issuer_auth})
    return IssuedMdoc(
        credential=b64url_encode(issuer_signed),
        issuer_signed=issuer_signed,
        doc_type=doc_type,
        validity=signed_validity,
    )
