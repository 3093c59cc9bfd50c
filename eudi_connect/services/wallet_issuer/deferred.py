"""The deferred credential endpoint (OpenID4VCI 1.0 section 9): the wallet polls with its
transaction_id until the subject's data is there, then gets what the offer promised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eudi_connect.core.oid4vci import ProtocolError
from eudi_connect.services.wallet_issuer.context import Answer, E, WalletContext
from eudi_connect.services.wallet_issuer.delivery import OfferDelivery, offered_item


class DeferredEndpoint:
    def __init__(self, context: WalletContext, delivery: OfferDelivery) -> None:
        self._context = context
        self._delivery = delivery

    async def deferred_credential(
        self, tenant_id: str, body: Any, *, authorization: str | None, dpop: str | None, url: str
    ) -> Answer:
        _, record, _ = await self._context.authorized(
            tenant_id, authorization, dpop, url, failed_ok=True
        )
        transaction_id = body.get("transaction_id") if isinstance(body, Mapping) else None
        if (
            not isinstance(transaction_id, str)
            or not transaction_id
            or record.transaction_id != transaction_id
        ):
            raise ProtocolError(E.INVALID_TRANSACTION_ID, "the transaction_id is not pending")
        if record.state == "FAILED":
            raise ProtocolError(E.CREDENTIAL_REQUEST_DENIED, "the issuer will not issue it")
        if record.subject is None:
            body_out = {
                "transaction_id": transaction_id,
                "interval": self._context.wallet.deferred_interval_seconds,
            }
            return Answer("accepted", body_out, await self._context.current_dpop_nonce())
        pending = record.deferred_request or {}
        item = offered_item(record, pending.get("configuration_id"))
        return await self._delivery.issue(
            record, item, list(pending.get("keys", [])), record.subject
        )
