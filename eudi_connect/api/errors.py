"""The one place where domain errors become gRPC statuses (AIP-193: code + ErrorInfo)."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    ConfigurationError,
    EudiConnectError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from eudi_connect.reasons import Reason

ERROR_DOMAIN = "eudi-connect"
log = logging.getLogger(__name__)

STATUS_CODE_OF: dict[type[EudiConnectError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    AbortedError: grpc.StatusCode.ABORTED,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
    ConfigurationError: grpc.StatusCode.INTERNAL,
}


def status_code_of(error: EudiConnectError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        code = STATUS_CODE_OF.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def _packed(message: error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rich_status(error: EudiConnectError) -> status_pb2.Status:
    """google.rpc.Status with ErrorInfo (and RetryInfo when a retry delay is known)."""
    code = status_code_of(error)
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
            )
        )
    ]
    if isinstance(error, ResourceExhaustedError) and error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_seconds * 1e9))
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=code.value[0], message=error.message, details=details)


def internal_error_status() -> status_pb2.Status:
    return status_pb2.Status(
        code=grpc.StatusCode.INTERNAL.value[0],
        message="internal error; the server log has the details",
        details=[_packed(error_details_pb2.ErrorInfo(reason=Reason.INTERNAL, domain=ERROR_DOMAIN))],
    )


def grpc_status_of(status: status_pb2.Status) -> grpc.Status:
    return rpc_status.to_status(status)
