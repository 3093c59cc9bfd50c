"""Message <-> domain conversions, including the one mapping between the status list's
own values (VALID 0x00 ...) and the protobuf enum numbers."""

from __future__ import annotations

import base64
import math
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from eudi.connect.v1 import credential_service_pb2 as pb
from google.protobuf import struct_pb2, timestamp_pb2

from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.verdicts import VerificationFailureReason
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

MAX_STRUCT_DEPTH = 16
MAX_STRUCT_VALUES = 1000
_MAX_EXACT_INT = 2**53

CREDENTIAL_STATUS_OF: dict[TokenStatus, pb.CredentialStatus] = {
    TokenStatus.VALID: pb.CREDENTIAL_STATUS_VALID,
    TokenStatus.INVALID: pb.CREDENTIAL_STATUS_REVOKED,
    TokenStatus.SUSPENDED: pb.CREDENTIAL_STATUS_SUSPENDED,
}


# Every domain failure reason has its protobuf twin; a missing one fails at import.
VERIFICATION_FAILURE_OF: dict[VerificationFailureReason, pb.VerificationFailure] = {
    reason: getattr(pb, f"VERIFICATION_FAILURE_{reason.name}")
    for reason in VerificationFailureReason
}


def credential_status(status: TokenStatus | int | None) -> pb.CredentialStatus:
    if status is None:
        return pb.CREDENTIAL_STATUS_UNSPECIFIED
    return CREDENTIAL_STATUS_OF[TokenStatus(status)]


def verification_failure(reason: VerificationFailureReason | None) -> pb.VerificationFailure:
    if reason is None:
        return pb.VERIFICATION_FAILURE_UNSPECIFIED
    return VERIFICATION_FAILURE_OF[reason]


def timestamp(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


class _Budget:
    def __init__(self, field_name: str) -> None:
        self.field_name = field_name
        self.remaining = MAX_STRUCT_VALUES

    def spend(self) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise InvalidArgumentError(
                f"{self.field_name} has more than {MAX_STRUCT_VALUES} values",
                reason=Reason.SUBJECT_TOO_LARGE,
                metadata={"field": self.field_name, "limit": str(MAX_STRUCT_VALUES)},
            )


def _value(value: struct_pb2.Value, depth: int, budget: _Budget) -> Any:
    budget.spend()
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise InvalidArgumentError(
                f"{budget.field_name} contains a non-finite number", reason=Reason.SUBJECT_INVALID
            )
        # Struct carries every number as a double; integral ones go back to int.
        return int(number) if number.is_integer() and abs(number) < _MAX_EXACT_INT else number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct(value.struct_value, depth + 1, budget)
    if kind == "list_value":
        if depth + 1 > MAX_STRUCT_DEPTH:
            raise _too_deep(budget.field_name)
        return [_value(v, depth + 1, budget) for v in value.list_value.values]
    return None


def _too_deep(field_name: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{field_name} is nested deeper than {MAX_STRUCT_DEPTH} levels",
        reason=Reason.SUBJECT_TOO_DEEP,
        metadata={"field": field_name, "limit": str(MAX_STRUCT_DEPTH)},
    )


def _struct(struct: struct_pb2.Struct, depth: int, budget: _Budget) -> dict[str, Any]:
    if depth > MAX_STRUCT_DEPTH:
        raise _too_deep(budget.field_name)
    return {key: _value(v, depth, budget) for key, v in struct.fields.items()}


def struct_to_dict(struct: struct_pb2.Struct, *, field_name: str = "subject") -> dict[str, Any]:
    """Plain Python data from a Struct, bounded in depth and size (limits named in errors)."""
    return _struct(struct, 1, _Budget(field_name))


def dict_to_struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


def pem_certificates(certificates: Iterable[bytes]) -> str:
    """DER certificates as one PEM text (RFC 7468), in the order given."""
    return "".join(
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
        + "\n-----END CERTIFICATE-----\n"
        for der in certificates
    )
