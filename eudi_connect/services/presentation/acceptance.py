"""Accepting a wallet's response: once, across instances, and only when it is this
request's.

A response is refused without touching the transaction when it cannot be this request's
(it does not decrypt with the request's key, its `state` is another's, or it came in the
clear where encryption was asked for): the wallet may still answer properly. Anything
else claims the transaction (PENDING or RETRIEVED -> RESPONDED, one conditional write in
the store) and ends it VERIFIED or FAILED.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.oid4vp import (
    DEFAULT_ENC_VALUES,
    ErrorCode,
    ProtocolError,
    ResponseMode,
    check_vp_token_ids,
    parse_dcql,
    parse_response,
)
from eudi_connect.reasons import Reason
from eudi_connect.services.presentation.requests import open_encryption_key, policy_from_text
from eudi_connect.services.presentation.responses import verify_response
from eudi_connect.services.presentation.results import (
    VERIFICATION_ABANDONED_SECONDS,
    PresentationView,
    effective_state,
    results_text,
)
from eudi_connect.services.verification import VerificationService
from eudi_connect.store.base import Store
from eudi_connect.store.presentations import (
    OPEN_PRESENTATION_STATES,
    PresentationOutcome,
    PresentationRecord,
)

#: Refusals that say the response is not this request's: the transaction stays open.
_NOT_THIS_REQUEST = (
    Reason.STATE_MISMATCH,
    Reason.RESPONSE_MODE_MISMATCH,
    Reason.ENCRYPTION_REQUIRED,
)
_UPPER_SNAKE = re.compile(r"[^A-Z0-9]+")
MAX_DETAIL = 1000
#: The longest one response's presentations take to verify (status lists fetched included).
VERIFICATION_TIMEOUT_SECONDS = VERIFICATION_ABANDONED_SECONDS / 2


def _not_this_request(error: ProtocolError) -> bool:
    return error.reason in _NOT_THIS_REQUEST or error.reason.startswith("JWE_")


def _wallet_reason(code: str) -> str:
    """A wallet's error code (`access_denied`) as a stable reason (`ACCESS_DENIED`)."""
    return _UPPER_SNAKE.sub("_", code.upper()).strip("_")[:64] or "WALLET_ERROR"


def _response_code() -> str:
    """Section 8.2: a fresh random value (192 bits) for the redirect back to the front end."""
    return secrets.token_urlsafe(24)


class ResponseAcceptance:
    def __init__(
        self,
        store: Store,
        *,
        verification: VerificationService,
        master: MasterKey,
        view: Callable[[PresentationRecord], PresentationView],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._verification = verification
        self._master = master
        self._view = view
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def wallet_record(self, tenant_id: str, transaction_id: str) -> PresentationRecord:
        record = await self._store.get_presentation(tenant_id, transaction_id)
        if record is None:
            raise ProtocolError(
                "no such presentation request",
                code=ErrorCode.INVALID_REQUEST,
                reason=Reason.PRESENTATION_NOT_FOUND,
            )
        return record

    def check_open(self, record: PresentationRecord, code: ErrorCode) -> None:
        state = effective_state(record, self._now())
        if state == "EXPIRED":
            raise ProtocolError("the request has expired", code=code, reason=Reason.REQUEST_EXPIRED)
        if state not in OPEN_PRESENTATION_STATES:
            raise ProtocolError(
                "the request was answered already",
                code=code,
                reason=Reason.RESPONSE_ALREADY_RECEIVED,
            )

    async def accept(
        self, record: PresentationRecord, params: Mapping[str, Any], *, origin: str | None
    ) -> tuple[PresentationView, bool]:
        """The transaction once the response is verified (or refused), and whether the
        wallet answered with an error."""
        self.check_open(record, ErrorCode.INVALID_REQUEST)
        key = open_encryption_key(self._master, record)
        mode = ResponseMode(record.response_mode)
        try:
            response = parse_response(
                params,
                response_mode=mode,
                expected_state=record.state_value,
                encryption_key=key,
                enc_values=tuple(record.enc_values) or DEFAULT_ENC_VALUES,
            )
        except ProtocolError as error:
            if _not_this_request(error):
                raise
            await self._fail(await self._claim(record), error.reason, error.message)
            raise
        if response.error is not None:
            # Section 8.2: an error response may be redirected too, so that the front end
            # that started the flow learns how it ended.
            outcome = PresentationOutcome(
                state="FAILED",
                failure_reason=_wallet_reason(response.error.error),
                failure_detail=(response.error.description or response.error.error)[:MAX_DETAIL],
                response_code=_response_code() if record.redirect_uri else None,
            )
            return await self._finish(await self._claim(record), outcome), True
        assert response.vp_token is not None
        query = parse_dcql(record.dcql_query)
        try:
            check_vp_token_ids(response.vp_token, query)
        except ProtocolError as error:
            await self._fail(await self._claim(record), error.reason, error.message)
            raise
        # The claim's write runs on the store's writer while the presentations are
        # verified on the loop; nothing is recorded until both are done, and a response
        # whose claim fails (a replay, another instance first) is refused all the same.
        claiming = asyncio.ensure_future(self._claim(record))
        try:
            # Cut off well before readers call the verification abandoned, so a slow one
            # ends FAILED here rather than losing to them.
            async with asyncio.timeout(VERIFICATION_TIMEOUT_SECONDS):
                verdict = await verify_response(
                    self._verification,
                    record,
                    query,
                    response.vp_token,
                    policy=policy_from_text(record.policy),
                    key=key,
                    origin=origin,
                )
        except TimeoutError:
            view = await self._fail(
                await claiming,
                Reason.VERIFICATION_TIMEOUT,
                f"the presentations were not verified within {VERIFICATION_TIMEOUT_SECONDS:g} s",
            )
            return view, False
        except Exception:
            claimed = await claiming
            await self._fail(
                claimed, Reason.VERIFICATION_ERROR, "the presentations could not be verified"
            )
            raise
        except BaseException:
            claiming.cancel()
            raise
        claimed = await claiming
        outcome = PresentationOutcome(
            state="VERIFIED" if verdict.verified else "FAILED",
            results=results_text(verdict.results),
            failure_reason=verdict.failure_reason,
            failure_detail=verdict.failure_detail,
            response_code=_response_code() if verdict.verified and record.redirect_uri else None,
        )
        return await self._finish(claimed, outcome), False

    async def _claim(self, record: PresentationRecord) -> PresentationRecord:
        claimed = await self._store.claim_presentation_response(
            record.tenant_id, record.transaction_id, self._now()
        )
        if claimed is None:  # another response was first, or the request just expired
            current = await self.wallet_record(record.tenant_id, record.transaction_id)
            self.check_open(current, ErrorCode.INVALID_REQUEST)
            raise ProtocolError(
                "the request was answered already", reason=Reason.RESPONSE_ALREADY_RECEIVED
            )
        return claimed

    async def _fail(
        self, record: PresentationRecord, reason: Reason, detail: str
    ) -> PresentationView:
        outcome = PresentationOutcome(
            state="FAILED", failure_reason=reason, failure_detail=detail[:MAX_DETAIL]
        )
        return await self._finish(record, outcome)

    async def _finish(
        self, record: PresentationRecord, outcome: PresentationOutcome
    ) -> PresentationView:
        done = await self._store.finish_presentation(
            record.tenant_id, record.transaction_id, outcome, self._now()
        )
        if done is None:
            raise ProtocolError(
                "the request was answered already", reason=Reason.RESPONSE_ALREADY_RECEIVED
            )
        return self._view(done)
