"""The holder's side of an mdoc presentation: a DeviceResponse signed for one session.

Used by tests and the CLI to present mdocs; the service itself never holds credentials.
Selective disclosure drops IssuerSignedItems: the MSO keeps every digest, so the verifier
checks the items shown and learns nothing of the others but their number.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.spelling import with_guesses

from . import _cbor
from .cose import parse_sign1, sign_es256_detached
from .device_response import DEVICE_RESPONSE_VERSION, STATUS_OK
from .errors import MdocVerificationError
from .items import parse_item
from .mso import parse_mso
from .session_transcript import check_session_transcript, device_authentication_bytes
from .verifier import ISSUER_SIGNED_MAX_DEPTH


def _issuer_signed(credential: str) -> dict[Any, Any]:
    try:
        value = _cbor.decode(b64url_decode(credential), max_depth=ISSUER_SIGNED_MAX_DEPTH)
    except (ValueError, _cbor.MalformedCborError) as exc:
        raise ValueError(f"not an mdoc (base64url CBOR IssuerSigned): {exc}") from exc
    if not isinstance(value, dict) or "issuerAuth" not in value:
        raise ValueError("not an mdoc: IssuerSigned needs issuerAuth")
    return value


#: At most this many element identifiers are listed when a requested one is missing.
MAX_ELEMENTS_LISTED = 40


class UnknownElementError(ValueError):
    """`disclose` names elements the mdoc does not hold. `unknown` are those (sorted),
    `available` every element identifier it holds (sorted); the message names the likely
    spelling of each and lists the available ones (at most MAX_ELEMENTS_LISTED)."""

    def __init__(self, unknown: Collection[str], available: Collection[str]) -> None:
        self.unknown = tuple(sorted(unknown))
        self.available = tuple(sorted(available))
        super().__init__(
            f"the mdoc has no element {with_guesses(self.unknown, self.available)}; "
            f"its elements: {listed_elements(self.available)}"
        )


def listed_elements(available: Sequence[str]) -> str:
    """`a, b, c` (and how many more past MAX_ELEMENTS_LISTED), or `none`."""
    if not available:
        return "none"
    shown = ", ".join(available[:MAX_ELEMENTS_LISTED])
    more = len(available) - MAX_ELEMENTS_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _selected(namespaces: Any, disclose: Collection[str] | None) -> dict[str, list[Any]]:
    """The items to show per namespace; UnknownElementError for what `disclose` asks for
    in vain."""
    if not isinstance(namespaces, dict):
        raise ValueError("IssuerSigned nameSpaces is not a map")
    kept: dict[str, list[Any]] = {}
    held: set[str] = set()
    for namespace, tagged_items in namespaces.items():
        if not isinstance(tagged_items, list):
            raise ValueError("IssuerSigned nameSpaces maps names to arrays of items")
        items = []
        for tagged in tagged_items:
            identifier = parse_item(tagged).element_identifier
            held.add(identifier)
            if disclose is None or identifier in disclose:
                items.append(tagged)
        if items:
            kept[namespace] = items
    unknown = set(disclose or ()) - held
    if unknown:
        raise UnknownElementError(unknown, held)
    return kept


def _device_namespaces(elements: Mapping[str, Mapping[str, Any]]) -> bytes:
    """DeviceNameSpaces CBOR: what the holder itself asserts (usually nothing)."""
    return _cbor.encode(
        {
            namespace: {name: _cbor.element_value(value) for name, value in values.items()}
            for namespace, values in elements.items()
        }
    )


def make_device_response(
    credential: str,
    *,
    holder_key: EllipticCurvePrivateKey,
    session_transcript: bytes,
    disclose: Collection[str] | None = None,
    device_signed: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Base64url CBOR DeviceResponse for an issued mdoc (base64url IssuerSigned).

    `disclose` names element identifiers to show, in any namespace (None shows all);
    `device_signed` adds elements the device signs itself, which a verifier accepts only
    where the MSO's keyAuthorizations allow. `holder_key` must be the MSO's device key for
    the response to verify. Raises ValueError for an unusable credential.
    """
    check_session_transcript(session_transcript)
    issuer_signed = _issuer_signed(credential)
    try:
        doc_type = parse_mso(parse_sign1(issuer_signed["issuerAuth"]).payload).doc_type
        namespaces = _selected(issuer_signed.get("nameSpaces", {}), disclose)
    except MdocVerificationError as exc:
        raise ValueError(f"not a well-formed mdoc: {exc.detail}") from exc
    shown: dict[str, Any] = {"issuerAuth": issuer_signed["issuerAuth"]}
    if namespaces:
        shown["nameSpaces"] = namespaces
    device_namespaces = _device_namespaces(device_signed or {})
    payload = device_authentication_bytes(session_transcript, doc_type, device_namespaces)
    document = {
        "docType": doc_type,
        "issuerSigned": shown,
        "deviceSigned": {
            "nameSpaces": _cbor.embedded(device_namespaces),
            "deviceAuth": {"deviceSignature": sign_es256_detached(payload, holder_key)},
        },
    }
    response = {"version": DEVICE_RESPONSE_VERSION, "documents": [document], "status": STATUS_OK}
    return b64url_encode(_cbor.encode(response))
