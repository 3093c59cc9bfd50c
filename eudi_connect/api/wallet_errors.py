"""The one place where domain errors become the wallet protocols' HTTP error responses.

OAuth endpoints answer 400 with `{"error", "error_description"}` (RFC 6749 section 5.2),
`invalid_client` included: RFC 6749 lets it be 401 only with a `WWW-Authenticate`
challenge (RFC 9110 section 15.5.2), and attestation-based client authentication has no
scheme to challenge with. Protected resources answer 401 with a `WWW-Authenticate: DPoP`
challenge for token and DPoP problems (RFC 6750 section 3, RFC 9449 sections 7.1 and 9).
A store that cannot serve is 503, never a 500.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

from aiohttp import web

from eudi_connect.core.oid4vci import ProtocolError, WalletErrorCode
from eudi_connect.errors import EudiConnectError, UnavailableError

log = logging.getLogger(__name__)

EndpointKind = Literal["oauth", "resource"]
NO_STORE = {"Cache-Control": "no-store"}
#: Codes a protected resource reports in its DPoP challenge, with status 401.
_CHALLENGE_CODES = frozenset(
    {
        WalletErrorCode.INVALID_TOKEN,
        WalletErrorCode.INVALID_DPOP_PROOF,
        WalletErrorCode.USE_DPOP_NONCE,
    }
)


def json_response(
    status: int, body: object, *, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def protocol_error_response(
    error: ProtocolError, kind: EndpointKind, *, dpop_nonce: str | None
) -> web.Response:
    body = {"error": error.code.value, "error_description": error.message}
    headers: dict[str, str] = {}
    if error.code is WalletErrorCode.USE_DPOP_NONCE and dpop_nonce is not None:
        headers["DPoP-Nonce"] = dpop_nonce
    if kind == "resource" and error.code in _CHALLENGE_CODES:
        headers["WWW-Authenticate"] = f'DPoP error="{error.code.value}", algs="ES256"'
        return json_response(401, body, headers=headers)
    return json_response(400, body, headers=headers)


def domain_error_response(error: EudiConnectError, kind: EndpointKind) -> web.Response:
    """Errors that are not the protocol's own: the store is down, or a request broke a
    rule of ours (a size, a limit); the wallet gets a code it knows."""
    if isinstance(error, UnavailableError):
        return json_response(
            503, {"error": "temporarily_unavailable", "error_description": "try again later"}
        )
    code = "invalid_request" if kind == "oauth" else "invalid_credential_request"
    return json_response(400, {"error": code, "error_description": error.message[:300]})
