"""The MSO's keyAuthorizations (ISO/IEC 18013-5 section 9.1.2.4): what the device may sign.

Elements in a DeviceResponse's device-signed name spaces are vouched for by the holder's
key alone, so a verifier accepts them only where the issuer authorized that key to sign
them: a whole namespace (`nameSpaces`) or single elements (`dataElements`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from .errors import MdocVerificationError


@dataclass(frozen=True)
class KeyAuthorizations:
    namespaces: frozenset[str] = frozenset()
    data_elements: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, namespace: str, identifier: str) -> bool:
        return namespace in self.namespaces or identifier in self.data_elements.get(
            namespace, frozenset()
        )


def _malformed(detail: str) -> MdocVerificationError:
    return MdocVerificationError(Reason.MALFORMED, f"MSO keyAuthorizations: {detail}")


def _texts(value: Any, what: str) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise _malformed(f"{what} is not a non-empty array")
    if not all(isinstance(item, str) and item for item in value):
        raise _malformed(f"{what} holds something other than text")
    return frozenset(value)


def parse_key_authorizations(value: Any) -> KeyAuthorizations | None:
    """None when the MSO has none; MdocVerificationError(MALFORMED) for a wrong shape."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value.keys() <= {"nameSpaces", "dataElements"}:
        raise _malformed("must be a map of nameSpaces and dataElements")
    namespaces = _texts(value["nameSpaces"], "nameSpaces") if "nameSpaces" in value else None
    elements: dict[str, frozenset[str]] = {}
    if "dataElements" in value:
        data_elements = value["dataElements"]
        if not isinstance(data_elements, dict) or not data_elements:
            raise _malformed("dataElements is not a non-empty map")
        for namespace, identifiers in data_elements.items():
            if not isinstance(namespace, str):
                raise _malformed("dataElements maps namespaces to arrays")
            elements[namespace] = _texts(identifiers, "a dataElements entry")
    return KeyAuthorizations(namespaces or frozenset(), elements)
