"""The wallet's side of OpenID4VP 1.0: fetch and check the request, answer the DCQL query.

One coroutine per protocol step, so that a test can stop after any of them and break one
rule: `fetch_request` (§5.7 by reference, GET or POST with `wallet_metadata` §5.10, then
the checks of `authorization_request.verify_request_object`), `build_response` (DCQL
evaluation §6, presentations per format, `state`, encryption §8.3 for `direct_post.jwt`),
`post_response` (§8.2: a form POST to `response_uri`; the answer is 200 with a JSON object,
maybe with `redirect_uri`), `follow_redirect`. `present` runs them all. `answer_dc_api`
builds what a browser hands back for the Digital Credentials API (Appendix A): the request
object by value, `aud` `origin:<origin>`, the DC API session transcript for mdocs.

`ResponseOptions` makes the wallet misbehave in one way at a time: another nonce or
audience, another or no state, plaintext where encryption is asked, a JWE to another key,
presentations added or left out, claims left out or added, a presentation signed with a
key the credential is not bound to, an error response instead of a VP Token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from cryptography import x509
from multidict import CIMultiDict, CIMultiDictProxy

from tests.wallet.authorization_request import (
    REQUEST_OBJECT_MEDIA_TYPE,
    AuthorizationRequestLink,
    RequestObject,
    RequestRefused,
    parse_authorization_request_uri,
    verify_request_object,
    wallet_metadata_json,
)
from tests.wallet.dcql import (
    MSO_MDOC,
    SD_JWT_VC,
    ClaimPath,
    HeldCredential,
    Selected,
    Selection,
    evaluate,
)
from tests.wallet.encoding import b64url_decode
from tests.wallet.errors import ProtocolViolation, WalletError
from tests.wallet.keys import KeyPair
from tests.wallet.presentations import (
    dc_api_session_transcript,
    held_mdoc,
    held_sd_jwt_vc,
    present_mdoc,
    present_sd_jwt_vc,
    redirect_session_transcript,
)
from tests.wallet.replies import Reply
from tests.wallet.response_encryption import (
    encrypt_response,
    jwk_thumbprint,
    select_enc,
    select_encryption_key,
)
from tests.wallet.urls import check_https_url, is_loopback_url

DC_API_PROTOCOL_SIGNED = "openid4vp-v1-signed"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class ResponseOptions:
    """One way to break the response at a time; the defaults answer correctly."""

    nonce: str | None = None  # KB-JWT nonce and mdoc transcript nonce
    audience: str | None = None  # KB-JWT aud (and the transcript's client id)
    transcript_response_uri: str | None = None
    omit_transcript_thumbprint: bool = False  # a null thumbprint although encrypted
    state: str | None = None  # another state value
    drop_state: bool = False
    plaintext: bool = False  # direct_post form fields where direct_post.jwt is asked
    encrypt_to: Mapping[str, Any] | None = None  # a JWE to this key, not the verifier's
    enc: str | None = None
    jwe_header: Mapping[str, Any] | None = None
    drop_queries: Collection[str] = ()  # leave these Credential Queries unanswered
    extra_presentations: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    drop_paths: Collection[ClaimPath] = ()  # selected claims not shown
    extra_claims: Collection[str] = ()  # claim / element names shown beyond the selection
    sign_with: KeyPair | None = None  # a key the credential is not bound to
    kb_claims: Mapping[str, Any] | None = None
    error: str | None = None  # answer with this error code instead of a VP Token
    error_description: str | None = None
    vp_token: Mapping[str, Any] | None = None  # a raw VP Token instead of the built one
    extra_parameters: Mapping[str, str] = field(default_factory=dict)
    selection: Selection | None = None  # presentations for this selection instead


@dataclass(frozen=True)
class AuthorizationResponse:
    """What the wallet sends: the form fields (with `response` for a JWE) and their clear
    content, the selection it answers and the thumbprint its mdocs were bound to."""

    form: Mapping[str, str]
    payload: Mapping[str, Any]
    selection: Selection | None
    encrypted: bool

    @property
    def body(self) -> str:
        return urlencode(dict(self.form))


@dataclass(frozen=True)
class Presented:
    """A whole exchange as the wallet saw it."""

    request: RequestObject
    response: AuthorizationResponse
    reply: Reply

    @property
    def redirect_uri(self) -> str | None:
        document = self.reply.json
        value = document.get("redirect_uri") if isinstance(document, dict) else None
        return str(value) if value is not None else None


class PresentationWallet:
    """An OpenID4VP holder over an aiohttp `ClientSession` (owned and closed by the caller).

    `trusted` are the verifier certificates (or CAs) the wallet trusts, such as a tenant's
    from GetVerifierIdentity; `connect_to` rewrites where a request really goes (another
    instance behind the same public URL), keeping the URL the wallet meant as Host.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        trusted: Sequence[x509.Certificate] = (),
        trusted_client_ids: Sequence[str] = (),
        loopback_only: bool = True,
        timeout: float = 10.0,
        connect_to: Callable[[str], str] | None = None,
    ) -> None:
        self.session = session
        self.trusted = list(trusted)
        # Client ids the wallet trusts by name: they may use any response URI (§5.9.3).
        self.trusted_client_ids = list(trusted_client_ids)
        self.loopback_only = loopback_only
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.connect_to = connect_to
        self.keys: list[KeyPair] = []
        self.held: list[HeldCredential] = []

    # -- Credentials ----------------------------------------------------------------------

    def _key_index(self, key: KeyPair) -> int:
        for index, known in enumerate(self.keys):
            if known is key:
                return index
        self.keys.append(key)
        return len(self.keys) - 1

    def hold(self, credential: str, keys: Sequence[KeyPair], *, label: str = "") -> HeldCredential:
        """Keeps an issued credential (an SD-JWT VC, or a base64url IssuerSigned mdoc) with
        the one of `keys` it is bound to."""
        if "~" in credential:
            held = held_sd_jwt_vc(credential, label=label)
            matches = [
                k for k in keys if isinstance(held.binding, dict) and k.matches_jwk(held.binding)
            ]
        else:
            held = held_mdoc(credential, label=label)
            matches = [
                k
                for k in keys
                if isinstance(held.binding, dict) and k.matches_cose_key(held.binding)
            ]
        if not matches:
            raise WalletError("binding_mismatch", "the credential is bound to none of the keys")
        kept = HeldCredential(
            held.format,
            held.credential,
            held.claims,
            vct=held.vct,
            doctype=held.doctype,
            holder_key_index=self._key_index(matches[0]),
            label=label,
            binding=held.binding,
        )
        self.held.append(kept)
        return kept

    def hold_collected(self, collected: Any, *, label: str = "") -> list[HeldCredential]:
        """Every credential an OpenID4VCI `Collected` brought, with its holder keys."""
        return [self.hold(c, collected.holder_keys, label=label) for c in collected.credentials]

    # -- HTTP -----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        *,
        body: str | None = None,
        accept: str = "application/json",
        follow: bool = False,
    ) -> Reply:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = FORM
        target = url
        if self.connect_to is not None:
            target = self.connect_to(url)
            headers["Host"] = urlsplit(url).netloc
        if self.loopback_only and not is_loopback_url(target):
            raise WalletError("not_loopback", f"refusing to contact {target!r} outside loopback")
        async with self.session.request(
            method,
            target,
            data=body.encode() if body is not None else None,
            headers=headers,
            allow_redirects=follow,
            timeout=self.timeout,
        ) as response:
            raw = await response.read()
            reply = Reply(
                status=response.status,
                headers=CIMultiDictProxy(CIMultiDict(response.headers)),
                body=raw,
                json=_json_or_none(raw),
                request_headers=headers,
            )
        if reply.status >= 500:
            raise ProtocolViolation("server_error", reply.describe(), reply)
        return reply

    # -- The request ----------------------------------------------------------------------

    async def fetch_request_object(
        self,
        link: AuthorizationRequestLink,
        *,
        method: str | None = None,
        wallet_metadata: str | None = None,
        wallet_nonce: str | None = None,
        raw_body: str | None = None,
    ) -> Reply:
        """The request URI's answer as it came (§5.10): GET, or POST with the wallet's
        metadata and nonce when the link says `post` (or `method` does)."""
        check_https_url(link.request_uri, "request_uri")
        chosen = method or link.request_uri_method
        if chosen == "post":
            fields = {"wallet_metadata": wallet_metadata or wallet_metadata_json()}
            if wallet_nonce is not None:
                fields["wallet_nonce"] = wallet_nonce
            body = raw_body if raw_body is not None else urlencode(fields)
            return await self._send(
                "POST", link.request_uri, body=body, accept=REQUEST_OBJECT_MEDIA_TYPE
            )
        return await self._send("GET", link.request_uri, accept=REQUEST_OBJECT_MEDIA_TYPE)

    async def fetch_request(
        self, uri: str, *, method: str | None = None, wallet_nonce: str | None = None
    ) -> RequestObject:
        """The verified Request Object behind an `openid4vp://` link, or raises."""
        link = parse_authorization_request_uri(uri)
        chosen = method or link.request_uri_method
        if chosen == "post" and wallet_nonce is None:
            wallet_nonce = secrets.token_urlsafe(16)
        reply = await self.fetch_request_object(link, method=chosen, wallet_nonce=wallet_nonce)
        if reply.status != 200:
            raise ProtocolViolation("request_uri_failed", reply.describe(), reply)
        if reply.content_type != REQUEST_OBJECT_MEDIA_TYPE:
            raise ProtocolViolation("media_type", f"request object as {reply.content_type!r}")
        return verify_request_object(
            reply.body.decode("ascii").strip(),
            trusted=self.trusted,
            link=link,
            wallet_nonce=wallet_nonce if chosen == "post" else None,
            trusted_client_ids=self.trusted_client_ids,
        )

    # -- The response ---------------------------------------------------------------------

    def select(self, request: RequestObject) -> Selection:
        """The credentials and claims that answer the request's DCQL query."""
        return evaluate(request.dcql_query, self.held)

    def _presentation(
        self,
        request: RequestObject,
        chosen: Selected,
        options: ResponseOptions,
        *,
        origin: str | None,
        thumbprint: bytes | None,
    ) -> str:
        paths = [p for p in chosen.paths if p not in set(options.drop_paths)]
        if options.omit_transcript_thumbprint:
            thumbprint = None
        key = self.keys[chosen.held.holder_key_index]
        nonce = options.nonce if options.nonce is not None else request.nonce
        if chosen.held.format == SD_JWT_VC:
            audience = options.audience or (f"origin:{origin}" if origin else request.client_id)
            data = [t for t in request.transaction_data if chosen.query_id in _credential_ids_of(t)]
            return present_sd_jwt_vc(
                chosen.held.credential,
                key,
                paths=paths,
                audience=audience,
                nonce=nonce,
                transaction_data=data,
                extra_disclosures=list(options.extra_claims),
                kb_claims=options.kb_claims,
                sign_with=options.sign_with,
            )
        if chosen.held.format == MSO_MDOC:
            if origin is not None:
                transcript = dc_api_session_transcript(
                    origin=origin, nonce=nonce, jwk_thumbprint=thumbprint
                )
            else:
                transcript = redirect_session_transcript(
                    client_id=options.audience or request.client_id,
                    nonce=nonce,
                    response_uri=options.transcript_response_uri or str(request.response_uri),
                    jwk_thumbprint=thumbprint,
                )
            return present_mdoc(
                chosen.held.credential,
                key,
                paths=paths,
                session_transcript=transcript,
                extra_elements=options.extra_claims,
                sign_with=options.sign_with,
            )
        raise WalletError("format_unsupported", chosen.held.format)

    def build_response(
        self,
        request: RequestObject,
        options: ResponseOptions | None = None,
        *,
        origin: str | None = None,
    ) -> AuthorizationResponse:
        """The Authorization Response for `request` (with `origin`: over the DC API)."""
        options = options or ResponseOptions()
        encrypt = request.encrypted and not options.plaintext
        verifier_key = select_encryption_key(request.client_metadata) if encrypt else None
        target_key = options.encrypt_to or verifier_key
        thumbprint = jwk_thumbprint(verifier_key) if verifier_key is not None else None
        payload: dict[str, Any] = {}
        selection: Selection | None = None
        if options.error is not None:
            payload["error"] = options.error
            if options.error_description is not None:
                payload["error_description"] = options.error_description
        else:
            selection = options.selection or self.select(request)
            token: dict[str, Any] = {}
            for query_id, chosen in selection.by_query.items():
                if query_id in options.drop_queries:
                    continue
                token[query_id] = [
                    self._presentation(request, c, options, origin=origin, thumbprint=thumbprint)
                    for c in chosen
                ]
            token.update({k: list(v) for k, v in options.extra_presentations.items()})
            payload["vp_token"] = dict(options.vp_token) if options.vp_token is not None else token
        if not request.dc_api and not options.drop_state:
            state = options.state if options.state is not None else request.state
            if state is not None:
                payload["state"] = state
        payload.update(options.extra_parameters)
        if target_key is None:
            form = {
                name: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
                for name, value in payload.items()
            }
            return AuthorizationResponse(form, payload, selection, encrypted=False)
        enc = options.enc or select_enc(request.client_metadata)
        jwe = encrypt_response(payload, target_key, enc=enc, header=options.jwe_header)
        return AuthorizationResponse({"response": jwe}, payload, selection, encrypted=True)

    async def post_response(
        self,
        request: RequestObject,
        response: AuthorizationResponse,
        *,
        url: str | None = None,
        raw_body: str | None = None,
    ) -> Reply:
        """§8.2: the response as a form POST to the response URI (or `url`)."""
        target = url or request.response_uri
        if target is None:
            raise WalletError("response_uri_missing", "the request has no response_uri")
        check_https_url(target, "response_uri")
        reply = await self._send(
            "POST", target, body=raw_body if raw_body is not None else response.body
        )
        if reply.status == 200 and not isinstance(reply.json, dict):
            raise ProtocolViolation("media_type", "the response URI's 200 is not a JSON object")
        return reply

    async def follow_redirect(self, presented: Presented) -> Reply | None:
        """Sends the user agent to `redirect_uri` (§8.2) when it is a loopback URL."""
        uri = presented.redirect_uri
        if uri is None or not is_loopback_url(uri):
            return None
        return await self._send("GET", uri, accept="text/html")

    async def present(
        self,
        uri: str,
        options: ResponseOptions | None = None,
        *,
        method: str | None = None,
    ) -> Presented:
        """The whole exchange: fetch and check the request, answer it, post the answer."""
        request = await self.fetch_request(uri, method=method)
        response = self.build_response(request, options)
        reply = await self.post_response(request, response)
        return Presented(request, response, reply)

    # -- Digital Credentials API ----------------------------------------------------------

    def open_dc_api_request(self, request_json: str, *, origin: str) -> RequestObject:
        """The signed request the page passed to `navigator.credentials.get` (Appendix
        A.3.2), checked as the browser's wallet would, with the page's origin."""
        document = json.loads(request_json)
        if document.get("protocol") != DC_API_PROTOCOL_SIGNED:
            raise RequestRefused("invalid_request", f"protocol {document.get('protocol')!r}")
        data = document.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("request"), str):
            raise RequestRefused("invalid_request", "data.request is not a JWT")
        return verify_request_object(data["request"], trusted=self.trusted, expected_origin=origin)

    def answer_dc_api(
        self, request: RequestObject, *, origin: str, options: ResponseOptions | None = None
    ) -> dict[str, Any]:
        """The `data` object the browser returns (Appendix A.4): `{"response": JWE}` for
        dc_api.jwt, the response parameters themselves for dc_api."""
        response = self.build_response(request, options, origin=origin)
        if response.encrypted:
            return {"response": response.form["response"]}
        return dict(response.payload)


def _credential_ids_of(encoded: str) -> list[str]:
    try:
        document = json.loads(b64url_decode(encoded))
    except ValueError:
        return []
    ids = document.get("credential_ids") if isinstance(document, dict) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
