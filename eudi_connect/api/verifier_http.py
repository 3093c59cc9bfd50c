"""The wallet-facing OpenID4VP endpoints on the public HTTP listener.

For each tenant, under `<public-url>/verifiers/<tenant_id>`:

* `GET` and `POST .../requests/{transaction_id}`: the signed request object
  (`application/oauth-authz-req+jwt`; POST with `wallet_metadata` and `wallet_nonce`,
  OpenID4VP 1.0 section 5.10);
* `POST .../responses/{transaction_id}`: the response URI (direct_post and
  direct_post.jwt, section 8.2), answering `200 {}` or `{"redirect_uri": ...}`;
* `GET .../certificates.pem`: the verifier certificate chain.

Every refusal is the protocol's: HTTP 400 with `error` and `error_description` (section
8.5, RFC 6749 section 5.2), 503 when the store cannot serve; never a 500. Handlers only
convert: `services.presentation` decides.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from eudi_connect.api.convert import pem_certificates
from eudi_connect.api.http_forms import FormError, read_form
from eudi_connect.api.wallet_errors import json_response
from eudi_connect.core.oid4vp import REQUEST_OBJECT_TYP, ErrorCode, ProtocolError
from eudi_connect.errors import EudiConnectError, UnavailableError
from eudi_connect.services.presentation import PresentationService
from eudi_connect.services.verifier_identity import VerifierIdentities

log = logging.getLogger(__name__)

ID_PATTERN = "[A-Za-z0-9_-]{1,64}"
#: A request URI POST holds wallet metadata (16 KiB at most) and a nonce.
MAX_REQUEST_URI_BODY_BYTES = 64 * 1024
#: A response holds an SD-JWT VC and an mdoc or a few; aiohttp's own cap is 1 MiB.
MAX_RESPONSE_BODY_BYTES = 1024 * 1024 - 1
MAX_FORM_FIELDS = 16
NO_STORE = {"Cache-Control": "no-store"}
CERTIFICATE_MAX_AGE_SECONDS = 300


def verifier_routes(base: str) -> dict[str, str]:
    verifier = f"{base}/verifiers/{{tenant_id:{ID_PATTERN}}}"
    return {
        "request": f"{verifier}/requests/{{transaction_id:{ID_PATTERN}}}",
        "response": f"{verifier}/responses/{{transaction_id:{ID_PATTERN}}}",
        "certificates": f"{verifier}/certificates.pem",
    }


def refusal(error: EudiConnectError) -> web.Response:
    """The one mapping of the verifier endpoints' errors to HTTP answers."""
    if isinstance(error, ProtocolError):
        return json_response(400, error.response_body())
    if isinstance(error, UnavailableError):
        return json_response(
            503, {"error": "temporarily_unavailable", "error_description": "try again later"}
        )
    log.info("verifier endpoint refused: %s %s", error.reason, error.message[:200])
    return json_response(
        400, {"error": ErrorCode.INVALID_REQUEST.value, "error_description": error.message[:300]}
    )


async def form_body(request: web.Request, max_bytes: int) -> dict[str, str]:
    """The form the wallet posted; invalid_request for anything else."""
    try:
        return await read_form(
            request, what="body", max_bytes=max_bytes, max_fields=MAX_FORM_FIELDS
        )
    except FormError as error:
        raise ProtocolError(error.message, reason=error.problem) from error


class VerifierHandlers:
    def __init__(
        self,
        presentations: PresentationService,
        identities: VerifierIdentities,
        tenant_exists: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._presentations = presentations
        self._identities = identities
        self._tenant_exists = tenant_exists

    async def _run(
        self, request: web.Request, work: Callable[[str, str], Awaitable[web.Response]]
    ) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        if not await self._tenant_exists(tenant_id):
            return json_response(
                404, {"error": "invalid_request", "error_description": "no such verifier"}
            )
        try:
            return await work(tenant_id, request.match_info["transaction_id"])
        except EudiConnectError as error:
            return refusal(error)

    async def request_object(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str, transaction_id: str) -> web.Response:
            form = None
            if request.method == "POST":
                form = await form_body(request, MAX_REQUEST_URI_BODY_BYTES)
            jwt = await self._presentations.wallet_request_object(tenant_id, transaction_id, form)
            return web.Response(
                text=jwt, content_type=f"application/{REQUEST_OBJECT_TYP}", headers=NO_STORE
            )

        return await self._run(request, work)

    async def response(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str, transaction_id: str) -> web.Response:
            form = await form_body(request, MAX_RESPONSE_BODY_BYTES)
            answer = await self._presentations.wallet_response(tenant_id, transaction_id, form)
            body = {} if answer.redirect_uri is None else {"redirect_uri": answer.redirect_uri}
            return json_response(200, body)

        return await self._run(request, work)

    async def certificates(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        identity = None
        if await self._tenant_exists(tenant_id):
            identity = await self._identities.published(tenant_id)
        if identity is None:  # never makes an identity for an anonymous reader
            raise web.HTTPNotFound(text="verifier not found", headers=NO_STORE)
        return web.Response(
            text=pem_certificates(identity.certificate_chain),
            content_type="application/pem-certificate-chain",
            headers={
                "Cache-Control": f"public, max-age={CERTIFICATE_MAX_AGE_SECONDS}",
                "Access-Control-Allow-Origin": "*",
            },
        )


def add_verifier_routes(app: web.Application, handlers: VerifierHandlers, base: str) -> None:
    routes = verifier_routes(base)
    # No HEAD: fetching the request object marks the transaction RETRIEVED.
    app.router.add_get(routes["request"], handlers.request_object, allow_head=False)
    app.router.add_post(routes["request"], handlers.request_object)
    app.router.add_post(routes["response"], handlers.response)
    app.router.add_get(routes["certificates"], handlers.certificates)
