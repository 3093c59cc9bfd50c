"""The wallet's side of OpenID4VCI 1.0, pre-authorized code flow, one call per protocol step.

Each step is its own coroutine so a test can run the flow up to a point and then break one
rule: `resolve_offer` (§4.1), `fetch_issuer_metadata` (§12.2.2), `fetch_authorization_server_
metadata` (RFC 8414 §3), `token` (§6 with a DPoP proof, RFC 9449 §5), `nonce` (§7),
`credential` (§8), `deferred_credential` (§9), `notify` (§11). `collect` runs them all.

DPoP: one key per wallet binds the access token; the last `DPoP-Nonce` seen is kept per role
(authorization server, resource server) and used in the next proof; a `use_dpop_nonce` error
is retried once with the new nonce (RFC 9449 §8, §9). `DpopOptions` breaks one rule at a time.

With `strict` (the default) every reply is checked against the rules a wallet relies on —
media types, `Cache-Control: no-store`, the fields of each response, the shape of error
responses — and a breach raises `ProtocolViolation`. A 5xx always does.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit

import aiohttp
from cryptography import x509
from multidict import CIMultiDict, CIMultiDictProxy

from tests.wallet.attestations import KeyAttester, WalletAttestation
from tests.wallet.errors import ProtocolViolation, WalletError
from tests.wallet.holder import (
    VerifiedMdoc,
    VerifiedSdJwtVc,
    verify_mdoc,
    verify_sd_jwt_vc,
)
from tests.wallet.jose_tools import dpop_proof, jwt_key_proof
from tests.wallet.keys import KeyPair
from tests.wallet.metadata import (
    MDOC_FORMAT,
    SD_JWT_VC_FORMAT,
    AuthorizationServerMetadata,
    CredentialConfiguration,
    IssuerMetadata,
    parse_authorization_server_metadata,
    parse_issuer_metadata,
)
from tests.wallet.offer import CredentialOffer, parse_offer_object, parse_offer_uri
from tests.wallet.replies import CredentialReply, NonceReply, Reply, TokenReply
from tests.wallet.urls import (
    authorization_server_metadata_url,
    check_https_url,
    check_issuer_identifier,
    credential_issuer_metadata_url,
    is_loopback_url,
    jwt_vc_issuer_metadata_url,
)

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
NOTIFICATION_EVENTS = ("credential_accepted", "credential_failure", "credential_deleted")
AUTHORIZATION_SERVER = "authorization_server"
RESOURCE_SERVER = "resource_server"
# error_description and event_description: %x20-21 / %x23-5B / %x5D-7E (§8.3.1.2).
_DESCRIPTION_CHARS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")

R = TypeVar("R", bound=Reply)


@dataclass(frozen=True)
class DpopOptions:
    """How to make (or break) the DPoP proof of one request; the defaults follow RFC 9449.

    - `send=False`: no `DPoP` header at all.
    - `key`: sign with another key than the wallet's DPoP key (the token is bound to that).
    - `jti`: a fixed `jti`, to replay one (§11.1).
    - `nonce`: this nonce instead of the last one the server gave (a stale one, say);
      `drop=("nonce",)` sends none.
    - `iat_offset`: seconds added to `iat` (negative: an old proof).
    - `method`, `url`: other `htm` / `htu` than the real request's.
    - `claims` / `drop`, `header` / `drop_header`: replace or remove any member, e.g.
      `claims={"ath": "wrong"}`.
    - `retry_on_nonce=False`: return the `use_dpop_nonce` error instead of retrying once.
    - `scheme`: the `Authorization` scheme for the access token (`Bearer` to misuse it).
    """

    send: bool = True
    key: KeyPair | None = None
    jti: str | None = None
    nonce: str | None = None
    iat_offset: int = 0
    method: str | None = None
    url: str | None = None
    claims: Mapping[str, Any] | None = None
    drop: Collection[str] = ()
    header: Mapping[str, Any] | None = None
    drop_header: Collection[str] = ()
    retry_on_nonce: bool = True
    scheme: str = "DPoP"


DEFAULT_DPOP = DpopOptions()


class FlowFailed(WalletError):
    """A step of `collect` got an error reply; `reply` says which and why."""

    def __init__(self, step: str, reply: Reply) -> None:
        super().__init__(reply.error or f"http_{reply.status}", f"{step}: {reply.describe()}")
        self.step = step
        self.reply = reply


@dataclass(frozen=True)
class Collected:
    """The outcome of a whole pre-authorized flow."""

    offer: CredentialOffer
    issuer: IssuerMetadata
    authorization_server: AuthorizationServerMetadata
    token: TokenReply
    configuration: CredentialConfiguration
    reply: CredentialReply
    holder_keys: tuple[KeyPair, ...]
    c_nonce: str | None

    @property
    def access_token(self) -> str:
        return self.token.access_token

    @property
    def credentials(self) -> list[str]:
        return self.reply.credentials

    @property
    def notification_id(self) -> str | None:
        return self.reply.notification_id

    @property
    def transaction_id(self) -> str | None:
        return self.reply.transaction_id


class Wallet:
    """A test wallet over an aiohttp `ClientSession` (which the caller owns and closes)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        dpop_key: KeyPair | None = None,
        strict: bool = True,
        loopback_only: bool = True,
        timeout: float = 10.0,
        connect_to: Callable[[str], str] | None = None,
    ) -> None:
        self.session = session
        self.dpop_key = dpop_key or KeyPair.generate()
        self.strict = strict
        # Tests talk to loopback only; a URL elsewhere in an offer or metadata is refused.
        self.loopback_only = loopback_only
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # Last DPoP-Nonce per role (RFC 9449 §8.2 and §9: each server keeps its own).
        self.dpop_nonces: dict[str, str] = {}
        # Where each request really goes, as a load balancer would choose (several instances
        # behind one public URL): the URL is rewritten, the Host header and the DPoP `htu`
        # stay those of the URL the wallet meant.
        self.connect_to = connect_to

    # -- HTTP ---------------------------------------------------------------------------

    def _check_target(self, url: str) -> None:
        if self.loopback_only and not is_loopback_url(url):
            raise WalletError("not_loopback", f"refusing to contact {url!r} outside loopback")

    async def _exchange(
        self,
        reply_type: type[R],
        method: str,
        url: str,
        *,
        role: str | None = None,
        payload: bytes | None = None,
        content_type: str | None = None,
        access_token: str | None = None,
        dpop: DpopOptions | None = None,
        headers: Mapping[str, str] | None = None,
        attestation: WalletAttestation | None = None,
        attestation_audience: str | None = None,
    ) -> R:
        """One request, DPoP-signed when `dpop` is given, retried once on `use_dpop_nonce`."""
        proofs: list[str] = []
        attempts = 2 if dpop is not None and dpop.send and dpop.retry_on_nonce else 1
        for attempt in range(attempts):
            sent: dict[str, str] = {"Accept": "application/json"}
            if content_type is not None:
                sent["Content-Type"] = content_type
            if access_token is not None:
                sent["Authorization"] = f"{(dpop or DEFAULT_DPOP).scheme} {access_token}"
            if dpop is not None and dpop.send:
                proof = self._dpop_proof(method, url, role, access_token, dpop, first=attempt == 0)
                sent["DPoP"] = proof
                proofs.append(proof)
            if attestation is not None:
                # A fresh PoP (new jti) for every attempt (attestation-based client auth §5.1).
                sent.update(attestation.headers(attestation_audience or ""))
            sent.update(headers or {})
            target = url
            if self.connect_to is not None:
                target = self.connect_to(url)
                sent.setdefault("Host", urlsplit(url).netloc)
            self._check_target(target)
            async with self.session.request(
                method,
                target,
                data=payload,
                headers=sent,
                allow_redirects=False,
                timeout=self.timeout,
            ) as response:
                body = await response.read()
                reply_headers = CIMultiDictProxy(CIMultiDict(response.headers))
                status = response.status
            if role is not None and "DPoP-Nonce" in reply_headers:
                self.dpop_nonces[role] = reply_headers["DPoP-Nonce"]
            reply = reply_type(
                status=status,
                headers=reply_headers,
                body=body,
                json=_parse_json(body),
                dpop_proofs=tuple(proofs),
                request_headers=sent,
            )
            if attempt + 1 < attempts and reply.error == "use_dpop_nonce" and reply.dpop_nonce:
                continue
            self._check_reply(reply)
            return reply
        raise AssertionError("unreachable: the last attempt always returns")

    def _dpop_proof(
        self,
        method: str,
        url: str,
        role: str | None,
        access_token: str | None,
        dpop: DpopOptions,
        *,
        first: bool,
    ) -> str:
        # An explicit nonce goes into the first attempt; a retry uses the one just received.
        nonce = dpop.nonce if first and dpop.nonce is not None else None
        if nonce is None and role is not None:
            nonce = self.dpop_nonces.get(role)
        return dpop_proof(
            dpop.key or self.dpop_key,
            method=dpop.method or method,
            url=dpop.url or url,
            access_token=access_token,
            nonce=nonce,
            jti=dpop.jti,
            issued_at=int(time.time()) + dpop.iat_offset,
            claims=dpop.claims,
            drop=dpop.drop,
            header=dpop.header,
            drop_header=dpop.drop_header,
        )

    def _violation(self, code: str, description: str, reply: Reply) -> None:
        if self.strict:
            raise ProtocolViolation(code, f"{description} ({reply.describe()})", reply)

    def _check_reply(self, reply: Reply) -> None:
        """Checks every reply's general shape; success fields are checked per endpoint."""
        if reply.status >= 500:
            raise ProtocolViolation("server_error", reply.describe(), reply)
        if reply.ok or not 400 <= reply.status < 500:
            return
        if reply.status == 401:
            # RFC 9110 §15.5.2 and RFC 6750 §3: a 401 carries a challenge; for a DPoP-bound
            # token it is a DPoP challenge (RFC 9449 §7.1).
            if not reply.headers.get("WWW-Authenticate"):
                self._violation("challenge_missing", "401 without WWW-Authenticate", reply)
            elif reply.request_headers.get("Authorization", "").startswith("DPoP ") and not any(
                c.scheme.lower() == "dpop" for c in reply.challenges
            ):
                self._violation("challenge_scheme", "401 without a DPoP challenge", reply)
        elif reply.error is None or reply.content_type != "application/json":
            self._violation("error_malformed", "error reply without a JSON `error`", reply)
        if reply.error == "use_dpop_nonce" and not reply.dpop_nonce:
            # RFC 9449 §8.1 and §9: the nonce to use comes in the DPoP-Nonce header.
            self._violation("dpop_nonce_missing", "use_dpop_nonce without DPoP-Nonce", reply)
        description = reply.error_description
        if description is not None and not _DESCRIPTION_CHARS.fullmatch(description):
            self._violation(
                "error_description_charset",
                "error_description has characters outside %x20-21 / %x23-5B / %x5D-7E",
                reply,
            )

    def _expect_json(self, reply: Reply, what: str) -> None:
        if reply.content_type != "application/json" or not isinstance(reply.json, dict):
            self._violation("media_type", f"{what} is not an application/json object", reply)

    def _expect_no_store(self, reply: Reply, what: str) -> None:
        directives = [d.strip().lower() for d in reply.headers.get("Cache-Control", "").split(",")]
        if "no-store" not in directives:
            self._violation("cache_control", f"{what} lacks Cache-Control: no-store", reply)

    async def _get_json(self, url: str, what: str) -> Reply:
        reply = await self._exchange(Reply, "GET", url)
        if reply.status != 200:
            raise ProtocolViolation("fetch_failed", f"{what}: {reply.describe()}", reply)
        self._expect_json(reply, what)
        if not isinstance(reply.json, dict):
            raise ProtocolViolation("media_type", f"{what} is not a JSON object", reply)
        return reply

    # -- Offer and metadata ---------------------------------------------------------------

    async def resolve_offer(self, uri: str) -> CredentialOffer:
        """The Credential Offer of an offer URI: by value, or fetched by reference (§4.1)."""
        link = parse_offer_uri(uri)
        if link.offer is not None:
            return link.offer
        assert link.reference is not None
        return await self.fetch_offer(link.reference)

    async def fetch_offer(self, url: str) -> CredentialOffer:
        """GETs a `credential_offer_uri`; the answer MUST be `application/json` (§4.1.3)."""
        check_https_url(url, "credential_offer_uri")
        reply = await self._get_json(url, "credential offer")
        return parse_offer_object(reply.json)

    async def fetch_issuer_metadata(self, credential_issuer: str) -> IssuerMetadata:
        """GETs the Credential Issuer Metadata from its well-known URL (§12.2.2) and checks
        that `credential_issuer` is exactly the identifier asked for."""
        check_issuer_identifier(credential_issuer)
        url = credential_issuer_metadata_url(credential_issuer)
        reply = await self._get_json(url, "credential issuer metadata")
        return parse_issuer_metadata(reply.json, credential_issuer)

    async def fetch_authorization_server_metadata(self, issuer: str) -> AuthorizationServerMetadata:
        """GETs RFC 8414 metadata of the authorization server identified by `issuer`."""
        reply = await self._get_json(authorization_server_metadata_url(issuer), "AS metadata")
        return parse_authorization_server_metadata(reply.json, issuer)

    async def discover(
        self, offer: CredentialOffer
    ) -> tuple[IssuerMetadata, AuthorizationServerMetadata]:
        """Both metadata documents for an offer; the authorization server is the issuer
        itself unless `authorization_servers` names others (§12.2.4), then the offer's
        `authorization_server` hint or the first entry."""
        issuer = await self.fetch_issuer_metadata(offer.credential_issuer)
        for configuration_id in offer.credential_configuration_ids:
            issuer.configuration(configuration_id)
        server_id = issuer.credential_issuer
        if issuer.authorization_servers:
            hint = offer.authorization_server
            if hint is not None and hint not in issuer.authorization_servers:
                raise ProtocolViolation(
                    "authorization_server_unknown",
                    f"offer names {hint!r}, not among authorization_servers",
                )
            server_id = hint or issuer.authorization_servers[0]
        server = await self.fetch_authorization_server_metadata(server_id)
        return issuer, server

    async def fetch_issuer_jwks(self, iss: str) -> dict[str, Any]:
        """The issuer keys of an SD-JWT VC's `iss` from its JWT VC Issuer Metadata
        (draft-ietf-oauth-sd-jwt-vc §5): `issuer` must equal `iss`; `jwks` inline or
        `jwks_uri`, not both."""
        reply = await self._get_json(jwt_vc_issuer_metadata_url(iss), "JWT VC issuer metadata")
        document = reply.json
        if document.get("issuer") != iss:
            raise ProtocolViolation(
                "issuer_mismatch", f"JWT VC issuer metadata is for {document.get('issuer')!r}"
            )
        if ("jwks" in document) == ("jwks_uri" in document):
            raise ProtocolViolation("metadata_invalid", "exactly one of jwks, jwks_uri")
        if "jwks" in document:
            jwks = document["jwks"]
        else:
            check_https_url(str(document["jwks_uri"]), "jwks_uri")
            jwks = (await self._get_json(str(document["jwks_uri"]), "JWKS")).json
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ProtocolViolation("metadata_invalid", "the JWKS has no keys array")
        return jwks

    # -- Token endpoint -------------------------------------------------------------------

    async def token(
        self,
        server: AuthorizationServerMetadata,
        pre_authorized_code: str,
        *,
        tx_code: str | None = None,
        client_id: str | None = None,
        wallet_attestation: WalletAttestation | None = None,
        form: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | None = None,
        dpop: DpopOptions = DEFAULT_DPOP,
    ) -> TokenReply:
        """Token Request with the pre-authorized code grant (§6.1), form-encoded, with a DPoP
        proof (RFC 9449 §5) and, when given, the wallet attestation headers with a PoP for
        the server's issuer identifier. `form` adds or (with None) removes parameters."""
        fields: dict[str, str | None] = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": pre_authorized_code,
        }
        if tx_code is not None:
            fields["tx_code"] = tx_code
        if client_id is not None:
            fields["client_id"] = client_id
        fields.update(form or {})
        payload = urlencode({k: v for k, v in fields.items() if v is not None}).encode()
        reply = await self._exchange(
            TokenReply,
            "POST",
            server.token_endpoint,
            role=AUTHORIZATION_SERVER,
            payload=payload,
            content_type="application/x-www-form-urlencoded",
            dpop=dpop,
            headers=headers,
            attestation=wallet_attestation,
            attestation_audience=server.issuer,
        )
        if reply.ok:
            self._check_token_success(reply, dpop_sent=bool(reply.dpop_proofs))
        return reply

    def _check_token_success(self, reply: TokenReply, *, dpop_sent: bool) -> None:
        self._expect_json(reply, "token response")
        self._expect_no_store(reply, "token response")  # RFC 6749 §5.1
        body = reply.json if isinstance(reply.json, dict) else {}
        if not isinstance(body.get("access_token"), str) or not body["access_token"]:
            raise ProtocolViolation("token_invalid", "no access_token", reply)
        token_type = body.get("token_type")
        if not isinstance(token_type, str):
            raise ProtocolViolation("token_invalid", "no token_type", reply)
        if dpop_sent and token_type.lower() != "dpop":
            self._violation("token_type", f"token_type {token_type!r}, not DPoP", reply)
        expires_in = body.get("expires_in")
        if expires_in is not None and (
            not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0
        ):
            self._violation("token_invalid", "expires_in is not a positive integer", reply)

    # -- Nonce endpoint -------------------------------------------------------------------

    async def nonce(self, issuer: IssuerMetadata, *, url: str | None = None) -> NonceReply:
        """Nonce Request (§7.1): an empty POST; the answer carries `c_nonce`, is
        `application/json` and uncacheable (§7.2). A `DPoP-Nonce` in it is kept for the
        Credential Endpoint."""
        endpoint = url or issuer.nonce_endpoint
        if endpoint is None:
            raise WalletError("no_nonce_endpoint", "the issuer has no nonce_endpoint")
        reply = await self._exchange(
            NonceReply, "POST", endpoint, role=RESOURCE_SERVER, payload=b""
        )
        if reply.ok:
            self._expect_json(reply, "nonce response")
            self._expect_no_store(reply, "nonce response")
            value = reply.json.get("c_nonce") if isinstance(reply.json, dict) else None
            if not isinstance(value, str) or not value:
                raise ProtocolViolation("nonce_invalid", "no c_nonce string", reply)
        return reply

    # -- Credential endpoint --------------------------------------------------------------

    def jwt_proofs(
        self,
        issuer: IssuerMetadata,
        keys: Sequence[KeyPair],
        c_nonce: str | None,
        *,
        client_id: str | None = None,
        key_attester: KeyAttester | None = None,
    ) -> dict[str, list[str]]:
        """A `proofs` object with one `jwt` proof per key (Appendix F.1); with
        `key_attester`, each carries a key attestation of its own key in its header."""
        return {
            "jwt": [
                jwt_key_proof(
                    key,
                    audience=issuer.credential_issuer,
                    nonce=c_nonce,
                    issuer=client_id,
                    key_attestation=key_attester([key], c_nonce) if key_attester else None,
                )
                for key in keys
            ]
        }

    async def credential(
        self,
        issuer: IssuerMetadata,
        access_token: str,
        *,
        configuration_id: str | None = None,
        credential_identifier: str | None = None,
        proofs: Mapping[str, Sequence[str]] | None = None,
        body: Mapping[str, Any] | None = None,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        dpop: DpopOptions = DEFAULT_DPOP,
    ) -> CredentialReply:
        """Credential Request (§8.2): JSON with `credential_configuration_id` (or
        `credential_identifier`) and `proofs`, `Authorization: DPoP <token>` and a DPoP proof
        with `ath`. `body` replaces the JSON object; `raw_body` sends bytes as they are."""
        document: dict[str, Any] = {}
        if configuration_id is not None:
            document["credential_configuration_id"] = configuration_id
        if credential_identifier is not None:
            document["credential_identifier"] = credential_identifier
        if proofs is not None:
            document["proofs"] = {name: list(values) for name, values in proofs.items()}
        reply = await self._exchange(
            CredentialReply,
            "POST",
            issuer.credential_endpoint,
            role=RESOURCE_SERVER,
            payload=raw_body if raw_body is not None else _json_bytes(body or document),
            content_type="application/json",
            access_token=access_token,
            dpop=dpop,
            headers=headers,
        )
        if reply.ok:
            self._check_credential_success(reply, "credential response")
        return reply

    def _check_credential_success(
        self, reply: CredentialReply, what: str, *, transaction_id: str | None = None
    ) -> None:
        self._expect_json(reply, what)
        body = reply.json if isinstance(reply.json, dict) else {}
        if reply.status == 200:
            items = body.get("credentials")
            if not isinstance(items, list) or not items:
                raise ProtocolViolation("credentials_missing", f"{what}: no credentials", reply)
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("credential"), str | dict):
                    raise ProtocolViolation("credentials_invalid", f"{what}: {item!r}", reply)
            if "transaction_id" in body or "interval" in body:
                self._violation(
                    "deferred_mixed", f"{what}: credentials with a transaction_id", reply
                )
            if "notification_id" in body and not isinstance(body["notification_id"], str):
                self._violation("notification_id", f"{what}: notification_id not a string", reply)
        elif reply.status == 202:
            value = body.get("transaction_id")
            if not isinstance(value, str) or not value:
                raise ProtocolViolation("transaction_id_missing", f"{what}: 202 without it", reply)
            if transaction_id is not None and value != transaction_id:
                self._violation("transaction_id", f"{what}: another transaction_id", reply)
            interval = body.get("interval")
            if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
                self._violation("interval", f"{what}: interval is not a positive number", reply)
            if "credentials" in body or "notification_id" in body:
                self._violation("deferred_mixed", f"{what}: 202 with credentials", reply)
        else:
            self._violation("status", f"{what}: success other than 200 or 202", reply)

    async def deferred_credential(
        self,
        issuer: IssuerMetadata,
        access_token: str,
        transaction_id: str,
        *,
        body: Mapping[str, Any] | None = None,
        dpop: DpopOptions = DEFAULT_DPOP,
    ) -> CredentialReply:
        """Deferred Credential Request (§9.1): `{"transaction_id": ...}`, DPoP-protected; 200
        with `credentials`, or 202 with the same `transaction_id` and an `interval` (§9.2)."""
        endpoint = issuer.deferred_credential_endpoint
        if endpoint is None:
            raise WalletError("no_deferred_endpoint", "no deferred_credential_endpoint")
        reply = await self._exchange(
            CredentialReply,
            "POST",
            endpoint,
            role=RESOURCE_SERVER,
            payload=_json_bytes(body or {"transaction_id": transaction_id}),
            content_type="application/json",
            access_token=access_token,
            dpop=dpop,
        )
        if reply.ok:
            self._check_credential_success(
                reply, "deferred credential response", transaction_id=transaction_id
            )
        return reply

    async def poll_deferred(
        self,
        issuer: IssuerMetadata,
        access_token: str,
        transaction_id: str,
        *,
        attempts: int = 20,
        max_wait: float = 0.5,
    ) -> CredentialReply:
        """Deferred requests until the credentials come or an error does, at most `attempts`
        times, waiting the server's `interval` capped at `max_wait` seconds in between."""
        reply = await self.deferred_credential(issuer, access_token, transaction_id)
        for _ in range(attempts - 1):
            if reply.status != 202:
                return reply
            await asyncio.sleep(min(reply.interval or max_wait, max_wait))
            reply = await self.deferred_credential(issuer, access_token, transaction_id)
        return reply

    # -- Notification endpoint ------------------------------------------------------------

    async def notify(
        self,
        issuer: IssuerMetadata,
        access_token: str,
        notification_id: str,
        event: str = "credential_accepted",
        *,
        description: str | None = None,
        body: Mapping[str, Any] | None = None,
        dpop: DpopOptions = DEFAULT_DPOP,
    ) -> Reply:
        """Notification Request (§11.1): `notification_id`, `event` and an optional
        `event_description`, DPoP-protected; success is any 2xx, 204 recommended (§11.2)."""
        endpoint = issuer.notification_endpoint
        if endpoint is None:
            raise WalletError("no_notification_endpoint", "no notification_endpoint")
        document: dict[str, Any] = {"notification_id": notification_id, "event": event}
        if description is not None:
            document["event_description"] = description
        return await self._exchange(
            Reply,
            "POST",
            endpoint,
            role=RESOURCE_SERVER,
            payload=_json_bytes(body or document),
            content_type="application/json",
            access_token=access_token,
            dpop=dpop,
        )

    # -- The whole flow -------------------------------------------------------------------

    async def collect(
        self,
        offer_uri: str,
        *,
        tx_code: str | None = None,
        configuration_id: str | None = None,
        copies: int = 1,
        holder_keys: Sequence[KeyPair] | None = None,
        proof_type: Literal["jwt", "attestation"] = "jwt",
        key_attester: KeyAttester | None = None,
        wallet_attestation: WalletAttestation | None = None,
        client_id: str | None = None,
    ) -> Collected:
        """Runs a pre-authorized flow: offer, metadata, token, nonce, one credential request.

        `copies` keys (or `holder_keys`) each get a `jwt` proof, or, with `proof_type=
        "attestation"`, one key attestation from `key_attester` covers them all. With a
        `wallet_attestation`, its client_id goes in the token request and as the proofs'
        `iss`; otherwise the access is anonymous and proofs carry no `iss` (Appendix F.1).
        Raises `FlowFailed` on an error reply; a deferred answer (202) is returned as it is.
        """
        offer = await self.resolve_offer(offer_uri)
        issuer, server = await self.discover(offer)
        code = offer.pre_authorized_code
        if code is None:
            raise WalletError("no_pre_authorized_grant", "the offer has no pre-authorized code")
        if offer.tx_code is not None and tx_code is None:
            raise WalletError("tx_code_required", "the offer asks for a transaction code")
        if client_id is None and wallet_attestation is not None:
            client_id = wallet_attestation.client_id
        if (
            server.dpop_signing_algs is not None
            and self.dpop_key.alg not in server.dpop_signing_algs
        ):
            raise WalletError("alg_unsupported", f"DPoP {self.dpop_key.alg} not accepted")
        for name in ("credential_request_encryption", "credential_response_encryption"):
            encryption = issuer.raw.get(name)
            if isinstance(encryption, dict) and encryption.get("encryption_required") is True:
                raise WalletError("encryption_required", f"{name} is required; not supported")
        token = await self.token(
            server,
            code,
            tx_code=tx_code,
            client_id=client_id,
            wallet_attestation=wallet_attestation,
        )
        if not token.ok:
            raise FlowFailed("token", token)
        configuration = issuer.configuration(
            configuration_id or offer.credential_configuration_ids[0]
        )
        keys = (
            tuple(holder_keys)
            if holder_keys is not None
            else tuple(KeyPair.generate() for _ in range(copies))
        )
        c_nonce = None
        proofs: dict[str, list[str]] | None = None
        if configuration.requires_proof:
            spec = configuration.proof_types.get(proof_type)
            if spec is None:
                raise WalletError("proof_type_unsupported", f"{proof_type} not offered")
            for key in keys:
                if key.alg not in spec.signing_algs:
                    raise WalletError("alg_unsupported", f"{key.alg} not in {spec.signing_algs}")
            if issuer.nonce_endpoint is not None:
                nonce = await self.nonce(issuer)
                if not nonce.ok:
                    raise FlowFailed("nonce", nonce)
                c_nonce = nonce.c_nonce
            if proof_type == "jwt":
                proofs = self.jwt_proofs(
                    issuer, keys, c_nonce, client_id=client_id, key_attester=key_attester
                )
            else:
                if key_attester is None:
                    raise WalletError("key_attester_missing", "attestation proofs need one")
                proofs = {"attestation": [key_attester(keys, c_nonce)]}
        reply = await self.credential(
            issuer, token.access_token, configuration_id=configuration.id, proofs=proofs
        )
        if not reply.ok:
            raise FlowFailed("credential", reply)
        return Collected(offer, issuer, server, token, configuration, reply, keys, c_nonce)

    async def verify_collected(
        self,
        collected: Collected,
        *,
        credentials: Sequence[str] | None = None,
        trust_anchors: Sequence[x509.Certificate] = (),
    ) -> list[VerifiedSdJwtVc | VerifiedMdoc]:
        """Holder-side checks of every credential of `collected` (or of `credentials`, e.g.
        from a deferred response): the issuer signature (SD-JWT VC by the `iss`'s JWKS, or
        `x5c` / mdoc `x5chain` to `trust_anchors`), the format's type, and a binding to one
        of the holder keys — each key bound at most once (§8.3)."""
        configuration = collected.configuration
        texts = list(credentials if credentials is not None else collected.credentials)
        results: list[VerifiedSdJwtVc | VerifiedMdoc] = []
        if configuration.format == SD_JWT_VC_FORMAT:
            jwks = await self.fetch_issuer_jwks(collected.issuer.credential_issuer)
            for text in texts:
                results.append(
                    verify_sd_jwt_vc(
                        text,
                        holder_keys=collected.holder_keys,
                        issuer_jwks=jwks,
                        trust_anchors=trust_anchors,
                        expected_issuer=collected.issuer.credential_issuer,
                        expected_vct=configuration.vct,
                    )
                )
        elif configuration.format == MDOC_FORMAT:
            for text in texts:
                results.append(
                    verify_mdoc(
                        text,
                        holder_keys=collected.holder_keys,
                        trust_anchors=trust_anchors,
                        expected_doctype=configuration.doctype,
                    )
                )
        else:
            raise WalletError("format_unsupported", configuration.format)
        bound = [r.holder_key_index for r in results]
        if len(set(bound)) != len(bound):
            raise ProtocolViolation("key_reused", "two credentials are bound to the same key")
        return results


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
