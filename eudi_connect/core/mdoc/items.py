"""IssuerSignedItems (ISO/IEC 18013-5 section 8.3.2.1.2.2): one salted element each.

Each item travels as `#6.24(bstr .cbor IssuerSignedItem)`; the MSO holds the SHA-256 of that
tagged form. The verifier hashes the item bytes it received, never a re-encoding of the
decoded item; only the tag and length header around them is rebuilt, in the shortest form
that 18013-5 (and the PID Rulebook) require.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2

from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from . import _cbor
from .errors import MdocVerificationError
from .mso import DIGEST_ID_LIMIT, item_digest

#: 18013-5 section 9.1.2.5: the random value is at least 16 bytes, so that a digest of a
#: low-entropy value (a birth date, a boolean) cannot be reversed by trying them all.
MIN_RANDOM_BYTES = 16
_ITEM_KEYS = frozenset({"digestID", "random", "elementIdentifier", "elementValue"})
_ITEM_MAX_DEPTH = _cbor.MAX_ELEMENT_DEPTH + 2  # the item map and the tag around the value


@dataclass(frozen=True)
class IssuerSignedItem:
    digest_id: int
    random: bytes
    element_identifier: str
    element_value: Any
    digest: bytes  # SHA-256 of the tagged item as received or produced


def encode_item(
    digest_id: int, random: bytes, element_identifier: str, element_value: Any
) -> cbor2.CBORTag:
    """The `#6.24(bstr)` form of an item; `element_value` must already be CBOR-ready."""
    # The four keys in canonical order (by encoded length: 6, 8, 12, 17 letters), so that
    # a plain value needs no canonical mode to come out canonical.
    item = {
        "random": random,
        "digestID": digest_id,
        "elementValue": element_value,
        "elementIdentifier": element_identifier,
    }
    if _cbor.is_plain(element_value) and type(digest_id) is int:
        return _cbor.embedded(_cbor.encode_in_order(item))
    return _cbor.embedded(_cbor.encode(item))


def digest_of(tagged_item: cbor2.CBORTag) -> bytes:
    return item_digest(_cbor.encode_embedded(tagged_item.value))


def _malformed(detail: str) -> MdocVerificationError:
    return MdocVerificationError(Reason.MALFORMED, f"IssuerSignedItem: {detail}")


def parse_item(tagged_item: Any) -> IssuerSignedItem:
    """Decodes one received item; MdocVerificationError(MALFORMED) unless it is well formed."""
    if not isinstance(tagged_item, cbor2.CBORTag) or tagged_item.tag != _cbor.TAG_ENCODED_CBOR:
        raise _malformed("not wrapped in tag 24")
    if not isinstance(tagged_item.value, bytes):
        raise _malformed("tag 24 does not hold a byte string")
    try:
        item = _cbor.decode(tagged_item.value, max_depth=_ITEM_MAX_DEPTH, passed_tags=frozenset())
    except _cbor.MalformedCborError as exc:
        raise _malformed(str(exc)) from exc
    if not isinstance(item, dict) or item.keys() != _ITEM_KEYS:
        raise _malformed("must be a map of digestID, random, elementIdentifier, elementValue")
    digest_id, random, identifier = item["digestID"], item["random"], item["elementIdentifier"]
    if type(digest_id) is not int or not 0 <= digest_id < DIGEST_ID_LIMIT:
        raise _malformed("digestID is not an unsigned integer below 2^31")
    if not isinstance(random, bytes) or len(random) < MIN_RANDOM_BYTES:
        raise _malformed(f"random must be at least {MIN_RANDOM_BYTES} bytes")
    if not isinstance(identifier, str) or not identifier:
        raise _malformed("elementIdentifier is not text")
    return IssuerSignedItem(
        digest_id, random, identifier, item["elementValue"], digest_of(tagged_item)
    )
