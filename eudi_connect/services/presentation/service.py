"""`PresentationService`: OpenID4VP transactions for relying parties (over gRPC) and for
wallets (over HTTP, or through the browser's Digital Credentials API).

Relying parties create, read and watch transactions; the wallet's fetch of the request
object and its response come here from the HTTP routes, a browser's from
SubmitPresentationResponse, and are accepted by `acceptance.ResponseAcceptance`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.oid4vp import (
    DEFAULT_ENC_VALUES,
    STATIC_WALLET_AUDIENCE,
    ClientIdPrefix,
    ErrorCode,
    ProtocolError,
    ResponseMode,
    authorization_request_uri,
    negotiate_enc_values,
    parse_request_uri_post,
    split_client_id,
)
from eudi_connect.errors import EudiConnectError, InvalidArgumentError, NotFoundError
from eudi_connect.reasons import Reason
from eudi_connect.services.presentation.acceptance import ResponseAcceptance
from eudi_connect.services.presentation.requests import (
    CreatePresentationCommand,
    dc_api_request,
    new_record,
    open_encryption_key,
    request_object,
    strict_json,
)
from eudi_connect.services.presentation.results import (
    PresentationView,
    abandoned,
    effective_state,
    parse_results,
)
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.verification import VerificationService
from eudi_connect.services.verifier_identity import VerifierIdentities
from eudi_connect.services.watching import Changes
from eudi_connect.store.base import Store
from eudi_connect.store.presentations import (
    OPEN_PRESENTATION_STATES,
    PresentationOutcome,
    PresentationRecord,
)

log = logging.getLogger(__name__)

DEFAULT_WATCH_POLL_SECONDS = 0.2
#: How long a transaction's result stays readable after the request expired.
RESULT_RETENTION_SECONDS = 7 * 86_400
HOUSEKEEPING_SECONDS = 300.0
MAX_ORIGIN_LENGTH = 512


@dataclass(frozen=True)
class CreatedPresentation:
    view: PresentationView
    request_object: str = ""
    dc_api_request_json: str = ""


@dataclass(frozen=True)
class WalletAnswer:
    """The response URI's 200 answer: `{}` or `{"redirect_uri": ...}`."""

    redirect_uri: str | None = None


def _with_response_code(redirect_uri: str, code: str) -> str:
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}response_code={quote(code, safe='')}"


class PresentationService:
    def __init__(
        self,
        store: Store,
        *,
        identities: VerifierIdentities,
        verification: VerificationService,
        urls: TenantUrls,
        master: MasterKey,
        clock: Callable[[], float] = time.time,
        watch_poll_seconds: float = DEFAULT_WATCH_POLL_SECONDS,
    ) -> None:
        self._store = store
        self._identities = identities
        self._verification = verification
        self._urls = urls
        self._master = master
        self._clock = clock
        self._watch_poll_seconds = watch_poll_seconds
        self._acceptance = ResponseAcceptance(
            store, verification=verification, master=master, clock=clock, view=self.view
        )

    def _now(self) -> int:
        return int(self._clock())

    def view(self, record: PresentationRecord) -> PresentationView:
        uri = ""
        if record.request_uri is not None:
            uri = authorization_request_uri(
                client_id=record.client_id,
                request_uri=record.request_uri,
                request_uri_method_post=record.request_uri_method == "post",
            )
        return PresentationView(
            record=record,
            state=effective_state(record, self._now()),
            results=parse_results(record.results),
            authorization_request_uri=uri,
        )

    async def create(
        self, tenant_id: str, command: CreatePresentationCommand
    ) -> CreatedPresentation:
        identity = await self._identities.identity(tenant_id)
        urls = await self._urls.current(tenant_id)
        record, _ = new_record(
            tenant_id,
            command,
            identity=identity,
            base_url=urls.base_url,
            master=self._master,
            now=self._now(),
        )
        stored = await self._store.create_presentation(record)
        view = self.view(stored)
        # A request_id seen before returns its transaction; once that is answered or
        # expired there is no request object to hand out any more.
        if (
            not ResponseMode(stored.response_mode).dc_api
            or view.state not in OPEN_PRESENTATION_STATES
        ):
            return CreatedPresentation(view)
        jwt = await self._signed(stored)
        return CreatedPresentation(view, jwt, dc_api_request(jwt))

    async def _signed(
        self,
        record: PresentationRecord,
        *,
        enc_values: tuple[str, ...] | None = None,
        wallet_nonce: str | None = None,
        audience: str = STATIC_WALLET_AUDIENCE,
    ) -> str:
        identity = await self._identities.for_client_id(record.tenant_id, record.client_id)
        if identity is None:
            raise ProtocolError(
                "the verifier identity this request was made with is no longer kept",
                code=ErrorCode.INVALID_REQUEST_URI,
                reason=Reason.VERIFIER_IDENTITY_RETIRED,
            )
        return request_object(
            record,
            identity,
            open_encryption_key(self._master, record),
            now=self._now(),
            enc_values=enc_values,
            wallet_nonce=wallet_nonce,
            audience=audience,
        )

    async def record(self, tenant_id: str, transaction_id: str) -> PresentationRecord:
        record = await self._store.get_presentation(tenant_id, transaction_id)
        if record is None:
            raise NotFoundError(
                f"presentation transaction {transaction_id[:64]!r} does not exist",
                reason=Reason.PRESENTATION_NOT_FOUND,
                metadata={"transaction_id": transaction_id[:64]},
            )
        if abandoned(record, self._now()):
            return await self._fail_abandoned(record)
        return record

    async def _fail_abandoned(self, record: PresentationRecord) -> PresentationRecord:
        """Records the FAILED outcome of a verification whose instance stopped, in the same
        conditional write a verifier finishes with: of it and a late verifier, one wins."""
        outcome = PresentationOutcome(
            state="FAILED",
            failure_reason=Reason.VERIFICATION_ABANDONED,
            failure_detail="the response's verification stopped before it finished",
        )
        done = await self._store.finish_presentation(
            record.tenant_id, record.transaction_id, outcome, self._now()
        )
        if done is not None:
            # No transaction id: it fetches the request object, so it stays out of logs.
            log.warning("a presentation's verification was abandoned: recorded as failed")
            return done
        current = await self._store.get_presentation(record.tenant_id, record.transaction_id)
        return record if current is None else current

    async def get(self, tenant_id: str, transaction_id: str) -> PresentationView:
        return self.view(await self.record(tenant_id, transaction_id))

    def watch(self, tenant_id: str, transaction_id: str) -> Changes[PresentationView]:
        """The transaction now, then at every change (by any instance) until it is final;
        changes within one poll interval arrive as one view of the latest state."""
        return Changes(
            lambda: self.get(tenant_id, transaction_id), poll_seconds=self._watch_poll_seconds
        )

    async def housekeeping(self, *, every_seconds: float = HOUSEKEEPING_SECONDS) -> None:
        """Runs until cancelled: deletes transactions `RESULT_RETENTION_SECONDS` after they
        expired, so the table (and the personal data in results) does not grow for good."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                removed = await self._store.purge_presentations(
                    self._now() - RESULT_RETENTION_SECONDS
                )
            except EudiConnectError as error:
                log.warning("presentation purge failed: %s", error.message)
            else:
                if removed:
                    log.info("purged %d presentation transactions", removed)

    # --- the wallet's side -------------------------------------------------------------

    async def wallet_request_object(
        self, tenant_id: str, transaction_id: str, form: Mapping[str, str] | None
    ) -> str:
        """The request object at the request URI: GET (`form` None) or POST with the
        wallet's metadata and nonce (section 5.10)."""
        record = await self._acceptance.wallet_record(tenant_id, transaction_id)
        mode = ResponseMode(record.response_mode)
        if mode.dc_api or record.request_uri is None:
            raise ProtocolError(
                "this request goes through the Digital Credentials API",
                code=ErrorCode.INVALID_REQUEST_URI,
                reason=Reason.REQUEST_URI_NOT_SERVED,
            )
        self._acceptance.check_open(record, ErrorCode.INVALID_REQUEST_URI)
        wallet_nonce = None
        audience = STATIC_WALLET_AUDIENCE
        enc_values = tuple(record.enc_values) or DEFAULT_ENC_VALUES
        if form is not None:
            if record.request_uri_method != "post":
                raise ProtocolError(
                    "this request_uri is fetched with GET",
                    code=ErrorCode.INVALID_REQUEST_URI_METHOD,
                    reason=Reason.REQUEST_URI_METHOD_NOT_ALLOWED,
                )
            posted = parse_request_uri_post(form)
            wallet_nonce = posted.wallet_nonce
            audience = posted.audience
            prefix, _ = split_client_id(record.client_id)
            negotiated = negotiate_enc_values(
                posted.wallet_metadata,
                client_id_prefix=ClientIdPrefix(prefix),
                response_mode=mode,
                offered=DEFAULT_ENC_VALUES,
            )
            if mode.encrypted:
                enc_values = negotiated
        updated = await self._store.mark_presentation_retrieved(
            tenant_id, transaction_id, enc_values if mode.encrypted else (), self._now()
        )
        if updated is None:
            self._acceptance.check_open(
                await self._acceptance.wallet_record(tenant_id, transaction_id),
                ErrorCode.INVALID_REQUEST_URI,
            )
            raise ProtocolError(
                "the request is no longer open",
                code=ErrorCode.INVALID_REQUEST_URI,
                reason=Reason.REQUEST_CLOSED,
            )
        return await self._signed(
            updated, enc_values=enc_values, wallet_nonce=wallet_nonce, audience=audience
        )

    async def wallet_response(
        self, tenant_id: str, transaction_id: str, form: Mapping[str, str]
    ) -> WalletAnswer:
        """The Authorization Response at the response URI (direct_post, direct_post.jwt).
        ProtocolError for every refusal, a presentation that did not verify included."""
        record = await self._acceptance.wallet_record(tenant_id, transaction_id)
        if ResponseMode(record.response_mode).dc_api:
            raise ProtocolError(
                "this request is answered through the Digital Credentials API",
                reason=Reason.RESPONSE_MODE_MISMATCH,
            )
        view, wallet_error = await self._acceptance.accept(record, form, origin=None)
        redirect = None
        if record.redirect_uri and view.record.response_code:
            redirect = _with_response_code(record.redirect_uri, view.record.response_code)
        if wallet_error:  # section 8.5: an error response is an answer, received as one
            return WalletAnswer(redirect)
        if view.state != "VERIFIED":
            raise ProtocolError(
                view.record.failure_detail or "the presentation was not accepted",
                reason=Reason.__members__.get(
                    view.record.failure_reason or "", Reason.PRESENTATION_FAILED
                ),
            )
        return WalletAnswer(redirect)

    async def submit(
        self, tenant_id: str, transaction_id: str, *, origin: str, response_json: str
    ) -> PresentationView:
        """What the browser's Digital Credentials API returned, verified as the response
        URI would; a FAILED transaction is an answer, not an error."""
        record = await self.record(tenant_id, transaction_id)
        if not ResponseMode(record.response_mode).dc_api:
            raise InvalidArgumentError(
                "this request is answered at its response URI, not through the DC API",
                reason=Reason.RESPONSE_MODE_MISMATCH,
            )
        if not origin or len(origin) > MAX_ORIGIN_LENGTH or origin not in record.expected_origins:
            raise InvalidArgumentError(
                "origin is not one of the request's expected origins",
                reason=Reason.ORIGIN_NOT_EXPECTED,
            )
        data = strict_json(response_json, "response_json")
        if not isinstance(data, dict):
            raise InvalidArgumentError(
                "response_json must be a JSON object", reason=Reason.JSON_INVALID
            )
        view, _ = await self._acceptance.accept(record, data, origin=origin)
        return view
