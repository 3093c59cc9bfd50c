"""Typed domain errors shared by every layer below the API.

Each error carries a stable `reason`, a member of `eudi_connect.reasons.Reason` (it becomes
`ErrorInfo.reason` of the gRPC status), and a short message for people. The API layer maps
the *class* to a status code in one table (`eudi_connect.api.errors`); nothing below it knows gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from eudi_connect.reasons import Reason


class EudiConnectError(Exception):
    """Base of every error that the service reports to a caller on purpose."""

    default_reason: ClassVar[Reason] = Reason.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason: Reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgumentError(EudiConnectError):
    """The request itself is wrong; retrying it unchanged cannot succeed."""

    default_reason = Reason.INVALID_ARGUMENT


class NotFoundError(EudiConnectError):
    """The named thing does not exist for this tenant (other tenants' things included)."""

    default_reason = Reason.NOT_FOUND


class AlreadyExistsError(EudiConnectError):
    default_reason = Reason.ALREADY_EXISTS


class FailedPreconditionError(EudiConnectError):
    """The thing exists but is in a state that forbids the operation."""

    default_reason = Reason.FAILED_PRECONDITION


class AbortedError(EudiConnectError):
    """A concurrent change won (a stale etag, for instance); re-read and retry."""

    default_reason = Reason.ABORTED


class UnauthenticatedError(EudiConnectError):
    default_reason = Reason.UNAUTHENTICATED


class PermissionDeniedError(EudiConnectError):
    default_reason = Reason.PERMISSION_DENIED


class ResourceExhaustedError(EudiConnectError):
    """A limit was reached: a size, a count, or a rate."""

    default_reason = Reason.RESOURCE_EXHAUSTED

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after_seconds = retry_after_seconds


class UnavailableError(EudiConnectError):
    """A dependency (the store) cannot serve now; the same request may succeed later."""

    default_reason = Reason.UNAVAILABLE


class ConfigurationError(EudiConnectError):
    """The service cannot start as configured (a wrong master key, for instance)."""

    default_reason = Reason.CONFIGURATION
