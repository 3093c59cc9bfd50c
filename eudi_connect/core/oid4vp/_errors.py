"""The error codes a wallet is told, and the one exception that carries them.

The codes are the protocols' own: RFC 6749 section 4.1.2.1 (authorization errors), RFC
9101 section 7 with OpenID Connect Core section 3.1.2.6 (request objects), OpenID4VP 1.0
section 8.5. The HTTP layer turns a ProtocolError into `400` with the JSON body of
`response_body()` in one place; `reason` (UPPER_SNAKE, finer than the code) is what logs,
metrics and gRPC's ErrorInfo see, as for every other domain error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason


class ErrorCode(enum.StrEnum):
    # RFC 6749 section 4.1.2.1
    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    ACCESS_DENIED = "access_denied"
    UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
    INVALID_SCOPE = "invalid_scope"
    SERVER_ERROR = "server_error"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    # RFC 9101 section 7 / OpenID Connect Core section 3.1.2.6
    INVALID_REQUEST_URI = "invalid_request_uri"
    INVALID_REQUEST_OBJECT = "invalid_request_object"
    REQUEST_NOT_SUPPORTED = "request_not_supported"
    REQUEST_URI_NOT_SUPPORTED = "request_uri_not_supported"
    # OpenID4VP 1.0 section 8.5
    INVALID_CLIENT = "invalid_client"
    VP_FORMATS_NOT_SUPPORTED = "vp_formats_not_supported"
    INVALID_REQUEST_URI_METHOD = "invalid_request_uri_method"
    INVALID_TRANSACTION_DATA = "invalid_transaction_data"
    WALLET_UNAVAILABLE = "wallet_unavailable"


def description_text(text: str) -> str:
    """`error_description` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 section
    4.1.2.1): no quote, no backslash, nothing outside printable ASCII."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)


class ProtocolError(InvalidArgumentError):
    """A request or response that the protocol refuses, with the code the wallet is told.

    `reason` defaults to the registry member named like the code; a finer one
    (STATE_MISMATCH, JWE_DECRYPTION_FAILED, ...) tells operators which check refused it.
    """

    default_reason = Reason.INVALID_REQUEST

    def __init__(
        self,
        description: str,
        *,
        code: ErrorCode = ErrorCode.INVALID_REQUEST,
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            description_text(description),
            reason=reason or Reason[code.name],
            metadata={**(metadata or {}), "error": code.value},
        )
        self.code = code

    def response_body(self) -> dict[str, str]:
        """The JSON error body (RFC 6749 section 5.2 shape) for the HTTP answer."""
        return {"error": self.code.value, "error_description": self.message}
