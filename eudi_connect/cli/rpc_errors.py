"""A refused gRPC call as one line a person can act on.

The server's own answers keep their status and `ErrorInfo` reason (`NOT_FOUND
TEMPLATE_NOT_FOUND: ...`, as grpcurl shows them); failures that only gRPC's words would
describe (no server at the address, a missing or refused API key) say what to set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from eudi_connect.cli.client import ADDRESS_ENV, API_KEY_ENV
from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.reasons import Reason

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class Refusal:
    """What the server said: the status, its message, and the ErrorInfo when sent."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def refusal_of(error: grpc.RpcError) -> Refusal:
    """Every RpcError the stubs raise is also a grpc.Call, which has the status."""
    # Only a refusal needs the rich error model (and the command's stubs may not load it).
    from google.rpc import error_details_pb2, status_pb2

    call: Any = error
    code: grpc.StatusCode = call.code()
    message: str = call.details() or ""
    for key, value in call.trailing_metadata() or ():
        if key != _DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return Refusal(code, message, info.reason, dict(info.metadata))
    return Refusal(code, message)


def explain(
    error: grpc.RpcError, address: str, *, hint: str = "", timeout: float | None = None
) -> CliError:
    """The CliError (message and exit code) for a failed call to `address`."""
    refusal = refusal_of(error)
    code = refusal.code
    if code == grpc.StatusCode.UNAVAILABLE and "handshake failed" in refusal.message.lower():
        return CliError(
            f"the TLS handshake with {address} failed: check --tls-ca (the CA of the server's "
            "certificate) and, if the server asks for a client certificate, --tls-cert and "
            "--tls-key",
            Exit.UNREACHABLE,
        )
    if code == grpc.StatusCode.UNAVAILABLE and not refusal.reason:
        return CliError(
            f"cannot reach a server at {address}: is `eudi-connect serve` running there? "
            f"Set {ADDRESS_ENV} or --address to its host:port (and --tls-ca if it serves TLS)",
            Exit.UNREACHABLE,
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and not refusal.reason:
        waited = f" within {timeout:g} s" if timeout else ""
        return CliError(
            f"no answer from the server at {address}{waited}; try again, or give --timeout",
            Exit.UNREACHABLE,
        )
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return CliError(_key_message(refusal, address), Exit.UNAUTHENTICATED)
    return CliError(line(refusal) + hint, Exit.REFUSED)


def line(refusal: Refusal) -> str:
    """`NOT_FOUND TEMPLATE_NOT_FOUND: template 'x' not found`."""
    reason = f" {refusal.reason}" if refusal.reason and refusal.reason != refusal.code.name else ""
    return f"{refusal.code.name}{reason}: {refusal.message}"


def _key_message(refusal: Refusal, address: str) -> str:
    where = f"set {API_KEY_ENV} or pass --api-key"
    if refusal.reason == Reason.API_KEY_MISSING:
        return (
            f"{line(Refusal(refusal.code, 'no API key was sent', refusal.reason))}; {where} "
            "(`eudi-connect tenant create` prints a tenant's first key)"
        )
    if refusal.reason == Reason.API_KEY_INVALID:
        return (
            f"{line(refusal)}; check {API_KEY_ENV} / --api-key: a key is valid only for the "
            f"server at {address} if that server uses the database the key was created in "
            "(tenant create --db, or EUDI_CONNECT_DB)"
        )
    if refusal.reason in (Reason.API_KEY_EXPIRED, Reason.API_KEY_REVOKED):
        return f"{line(refusal)}; make a new one with `eudi-connect tenant keys create`"
    return line(refusal)
