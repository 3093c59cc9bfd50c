"""The token endpoint (OpenID4VCI 1.0 section 6): a pre-authorized code, its tx_code and
the wallet's attestation, if any, exchanged for a DPoP-bound access token."""

from __future__ import annotations

from collections.abc import Mapping

from eudi_connect.core.oid4vci import PRE_AUTHORIZED_GRANT, ProtocolError, tx_code_matches
from eudi_connect.core.oid4vci.client_attestation import verify_client_attestation
from eudi_connect.services.offers import code_hash, effective_state, new_secret
from eudi_connect.services.wallet_issuer.context import (
    OFFER_UPDATE_TRIES,
    Answer,
    E,
    WalletContext,
    form_value,
)
from eudi_connect.store.wallet_sessions import AccessTokenRecord, OfferChange, OfferRecord


class TokenEndpoint:
    def __init__(self, context: WalletContext) -> None:
        self._context = context

    async def token(
        self,
        tenant_id: str,
        form: Mapping[str, str],
        *,
        dpop: str | None,
        url: str,
        client_attestation: str | None = None,
        client_attestation_pop: str | None = None,
    ) -> Answer:
        context = self._context
        grant_type = form_value(form, "grant_type")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise ProtocolError(
                E.UNSUPPORTED_GRANT_TYPE, "only the pre-authorized code grant is supported"
            )
        code = form_value(form, "pre-authorized_code")
        if code is None:
            raise ProtocolError(E.INVALID_REQUEST, "pre-authorized_code is missing")
        jkt = (await context.checked_dpop(tenant_id, dpop, method="POST", url=url)).jkt
        client_id = await self._attested_client(
            tenant_id, client_attestation, client_attestation_pop
        )
        record = await context.store.find_offer_by_code(tenant_id, code_hash(code))
        now = context.now()
        if record is None or effective_state(record, now) != "OFFERED":
            raise ProtocolError(
                E.INVALID_GRANT, "the pre-authorized code is unknown, used or expired"
            )
        record = await self._checked_tx_code(record, form_value(form, "tx_code"))
        token = new_secret()
        lifetime = max(1, min(context.wallet.access_token_seconds, record.expires_at - now))
        stored = AccessTokenRecord(
            token_hash=code_hash(token),
            tenant_id=tenant_id,
            offer_id=record.offer_id,
            dpop_jkt=jkt,
            client_id=client_id,
            issued_at=now,
            expires_at=now + lifetime,
        )
        if await context.store.redeem_offer(record, stored, now) is None:
            raise ProtocolError(E.INVALID_GRANT, "the pre-authorized code was used already")
        body = {"access_token": token, "token_type": "DPoP", "expires_in": lifetime}
        return Answer("ok", body, await context.current_dpop_nonce())

    async def _attested_client(
        self, tenant_id: str, attestation: str | None, pop: str | None
    ) -> str | None:
        context = self._context
        policy = await context.policy(tenant_id)
        if attestation is None and pop is None and not policy.wallet_attestation_required:
            return None
        now = context.now()
        client = verify_client_attestation(
            attestation,
            pop,
            authorization_server=await context.issuer(tenant_id),
            trust=policy.trust,
            now=now,
            max_pop_age_seconds=context.wallet.proof_max_age_seconds,
            clock_skew_seconds=context.wallet.clock_skew_seconds,
        )
        await context.check_status(
            client.status, policy, code=E.INVALID_CLIENT, what="the wallet attestation"
        )
        expires = now + context.wallet.proof_max_age_seconds + context.wallet.clock_skew_seconds
        if not await context.store.remember_once(
            tenant_id, "client_attestation", client.pop_jti, expires, now
        ):
            raise ProtocolError(E.INVALID_CLIENT, "this wallet attestation PoP was used before")
        return client.client_id

    async def _checked_tx_code(self, record: OfferRecord, given: str | None) -> OfferRecord:
        """Section 6.3: a missing or unexpected code is invalid_request, a wrong one
        invalid_grant; the last allowed wrong code ends the offer (section 13.6.2).

        An attempt is taken (compare-and-set on the offer, re-read when another request
        won) before the code is compared, so however many requests arrive at once, no
        more codes than `tx_code_attempts` are ever compared for one offer."""
        if record.tx_code is None:
            if given is not None:
                raise ProtocolError(E.INVALID_REQUEST, "this offer takes no tx_code")
            return record
        if given is None:
            raise ProtocolError(E.INVALID_REQUEST, "this offer needs the tx_code")
        taken = await self._take_attempt(record)
        if tx_code_matches(given, record.tx_code):
            return taken
        if taken.tx_code_attempts_left == 0:
            await self._fail_offer(taken, "tx_code attempts used up")
        raise ProtocolError(E.INVALID_GRANT, "the tx_code is wrong")

    async def _take_attempt(self, record: OfferRecord) -> OfferRecord:
        context = self._context
        current: OfferRecord | None = record
        for _ in range(OFFER_UPDATE_TRIES):
            if (
                current is None
                or effective_state(current, context.now()) != "OFFERED"
                or current.tx_code_attempts_left <= 0
            ):
                break
            change = OfferChange(tx_code_attempts_left=current.tx_code_attempts_left - 1)
            updated = await context.update_offer(current, change)
            if updated is not None:
                return updated
            current = await context.reread_offer(record)
        raise ProtocolError(E.INVALID_GRANT, "the pre-authorized code is no longer valid")

    async def _fail_offer(self, record: OfferRecord, reason: str) -> None:
        """FAILED, unless the offer left OFFERED meanwhile (a right code redeemed it)."""
        current: OfferRecord | None = record
        for _ in range(OFFER_UPDATE_TRIES):
            if current is None or current.state != "OFFERED":
                return
            change = OfferChange(state="FAILED", failure_reason=reason)
            if await self._context.update_offer(current, change) is not None:
                return
            current = await self._context.reread_offer(record)
