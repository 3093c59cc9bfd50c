"""The wallet-facing OpenID4VCI endpoints on the public HTTP listener.

For each tenant, under its Credential Issuer identifier `<public-url>/issuers/<tenant_id>`:

* `GET /.well-known/openid-credential-issuer<base>/issuers/{tenant}`: issuer metadata;
* `GET /.well-known/oauth-authorization-server<base>/issuers/{tenant}`: AS metadata;
* `GET .../offers/{offer_id}`: the offer object behind `credential_offer_uri`;
* `POST .../token`, `.../nonce`, `.../credential`, `.../deferred_credential`,
  `.../notification`.

Handlers only convert: bodies and headers in, `services.wallet_issuer` decides, its
`Answer` or error goes out through `api.wallet_errors`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from eudi_connect.api.http_forms import FormError, read_form
from eudi_connect.api.wallet_errors import (
    EndpointKind,
    domain_error_response,
    json_response,
    protocol_error_response,
)
from eudi_connect.core.oid4vci import ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci.client_attestation import ATTESTATION_HEADER, POP_HEADER
from eudi_connect.core.oid4vci.metadata import (
    AUTHORIZATION_SERVER_WELL_KNOWN,
    ISSUER_WELL_KNOWN,
)
from eudi_connect.errors import EudiConnectError
from eudi_connect.services.wallet_issuer.context import Answer
from eudi_connect.services.wallet_issuer.issuer import WalletIssuer

ID_PATTERN = "[A-Za-z0-9_-]{1,64}"
#: Wallet requests are small: proofs and attestations, a few KB each.
MAX_BODY_BYTES = 256 * 1024
#: A token request has a handful of parameters.
MAX_FORM_FIELDS = 32
_STATUS = {"ok": 200, "accepted": 202, "no_content": 204}


def wallet_routes(base: str) -> dict[str, str]:
    issuer = f"{base}/issuers/{{tenant_id:{ID_PATTERN}}}"
    return {
        "issuer_metadata": f"{ISSUER_WELL_KNOWN}{issuer}",
        "as_metadata": f"{AUTHORIZATION_SERVER_WELL_KNOWN}{issuer}",
        "offer": f"{issuer}/offers/{{offer_id:{ID_PATTERN}}}",
        "token": f"{issuer}/token",
        "nonce": f"{issuer}/nonce",
        "credential": f"{issuer}/credential",
        "deferred_credential": f"{issuer}/deferred_credential",
        "notification": f"{issuer}/notification",
    }


def _answer(answer: Answer) -> web.Response:
    headers = {"DPoP-Nonce": answer.dpop_nonce} if answer.dpop_nonce else {}
    if answer.kind == "no_content":
        return web.Response(status=204, headers={"Cache-Control": "no-store", **headers})
    return json_response(_STATUS[answer.kind], answer.body or {}, headers=headers)


async def _json_body(request: web.Request, code: WalletErrorCode) -> Any:
    if request.content_type != "application/json":
        raise ProtocolError(code, "the request body must be application/json")
    too_large = f"the request body is larger than {MAX_BODY_BYTES} bytes"
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ProtocolError(code, too_large)  # refused before a byte of it is read
    raw = await request.read()  # aiohttp caps it at client_max_size (413 beyond)
    if len(raw) > MAX_BODY_BYTES:
        raise ProtocolError(code, too_large)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(code, "the request body is not JSON") from exc


async def _form_body(request: web.Request) -> dict[str, str]:
    """The token request's form (RFC 6749 section 3.2), parsed here rather than by aiohttp:
    a body that is no UTF-8 form, too large or with too many fields is invalid_request,
    never an exception."""
    try:
        return await read_form(
            request, what="token request", max_bytes=MAX_BODY_BYTES, max_fields=MAX_FORM_FIELDS
        )
    except FormError as error:
        raise ProtocolError(WalletErrorCode.INVALID_REQUEST, error.message) from error


class WalletHandlers:
    def __init__(self, issuer: WalletIssuer, tenant_exists: Callable[[str], Awaitable[bool]]):
        self._issuer = issuer
        self._tenant_exists = tenant_exists

    async def _run(
        self,
        request: web.Request,
        kind: EndpointKind,
        work: Callable[[str], Awaitable[Answer]],
    ) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        if not await self._tenant_exists(tenant_id):
            # Nothing is stored for an issuer that does not exist (nonces, jti records).
            return json_response(
                404, {"error": "invalid_request", "error_description": "no such credential issuer"}
            )
        try:
            return _answer(await work(tenant_id))
        except ProtocolError as error:
            nonce = None
            if error.code is WalletErrorCode.USE_DPOP_NONCE:
                nonce = await self._issuer.current_dpop_nonce()
            return protocol_error_response(error, kind, dpop_nonce=nonce)
        except EudiConnectError as error:
            return domain_error_response(error, kind)

    async def _known_tenant(self, tenant_id: str) -> None:
        if not await self._tenant_exists(tenant_id):
            raise web.HTTPNotFound(text="no such credential issuer")

    async def issuer_metadata(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        await self._known_tenant(tenant_id)
        return json_response(200, await self._issuer.issuer_metadata(tenant_id))

    async def as_metadata(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        await self._known_tenant(tenant_id)
        return json_response(200, await self._issuer.authorization_server_metadata(tenant_id))

    async def offer(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str) -> Answer:
            offer = await self._issuer.offer_object(tenant_id, request.match_info["offer_id"])
            return Answer("ok", offer)

        return await self._run(request, "oauth", work)

    async def token(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str) -> Answer:
            return await self._issuer.token(
                tenant_id,
                await _form_body(request),
                dpop=request.headers.get("DPoP"),
                url=await self._issuer.issuer(tenant_id) + "/token",
                client_attestation=request.headers.get(ATTESTATION_HEADER),
                client_attestation_pop=request.headers.get(POP_HEADER),
            )

        return await self._run(request, "oauth", work)

    async def nonce(self, request: web.Request) -> web.Response:
        return await self._run(request, "oauth", self._issuer.nonce)

    async def credential(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str) -> Answer:
            return await self._issuer.credential(
                tenant_id,
                await _json_body(request, WalletErrorCode.INVALID_CREDENTIAL_REQUEST),
                authorization=request.headers.get("Authorization"),
                dpop=request.headers.get("DPoP"),
                url=await self._issuer.issuer(tenant_id) + "/credential",
            )

        return await self._run(request, "resource", work)

    async def deferred_credential(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str) -> Answer:
            return await self._issuer.deferred_credential(
                tenant_id,
                await _json_body(request, WalletErrorCode.INVALID_CREDENTIAL_REQUEST),
                authorization=request.headers.get("Authorization"),
                dpop=request.headers.get("DPoP"),
                url=await self._issuer.issuer(tenant_id) + "/deferred_credential",
            )

        return await self._run(request, "resource", work)

    async def notification(self, request: web.Request) -> web.Response:
        async def work(tenant_id: str) -> Answer:
            return await self._issuer.notification(
                tenant_id,
                await _json_body(request, WalletErrorCode.INVALID_NOTIFICATION_REQUEST),
                authorization=request.headers.get("Authorization"),
                dpop=request.headers.get("DPoP"),
                url=await self._issuer.issuer(tenant_id) + "/notification",
            )

        return await self._run(request, "resource", work)


def add_wallet_routes(app: web.Application, handlers: WalletHandlers, base: str) -> None:
    routes = wallet_routes(base)
    app.router.add_get(routes["issuer_metadata"], handlers.issuer_metadata)
    app.router.add_get(routes["as_metadata"], handlers.as_metadata)
    app.router.add_get(routes["offer"], handlers.offer)
    app.router.add_post(routes["token"], handlers.token)
    app.router.add_post(routes["nonce"], handlers.nonce)
    app.router.add_post(routes["credential"], handlers.credential)
    app.router.add_post(routes["deferred_credential"], handlers.deferred_credential)
    app.router.add_post(routes["notification"], handlers.notification)
