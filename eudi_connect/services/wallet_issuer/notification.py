"""The notification endpoint (OpenID4VCI 1.0 section 11): the wallet says what became of
the credentials it received; the offer takes the matching final state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eudi_connect.core.oid4vci import ProtocolError
from eudi_connect.services.wallet_issuer.context import Answer, E, WalletContext
from eudi_connect.store.wallet_sessions import OfferChange

NOTIFICATION_EVENTS = {
    "credential_accepted": "ACCEPTED",
    "credential_failure": "FAILED",
    "credential_deleted": "DELETED",
}


class NotificationEndpoint:
    def __init__(self, context: WalletContext) -> None:
        self._context = context

    async def notification(
        self, tenant_id: str, body: Any, *, authorization: str | None, dpop: str | None, url: str
    ) -> Answer:
        _, record, _ = await self._context.authorized(tenant_id, authorization, dpop, url)
        if not isinstance(body, Mapping):
            raise ProtocolError(E.INVALID_NOTIFICATION_REQUEST, "the request must be JSON")
        notification_id, event = body.get("notification_id"), body.get("event")
        if not isinstance(notification_id, str) or notification_id != record.notification_id:
            raise ProtocolError(E.INVALID_NOTIFICATION_ID, "the notification_id is unknown")
        state = NOTIFICATION_EVENTS.get(event) if isinstance(event, str) else None
        if state is None:
            raise ProtocolError(
                E.INVALID_NOTIFICATION_REQUEST,
                f"event must be one of {', '.join(sorted(NOTIFICATION_EVENTS))}",
            )
        description = body.get("event_description")
        if record.state == state:
            return Answer("no_content", None)  # the same notification again: idempotent
        change = OfferChange(
            state=state,  # type: ignore[arg-type]
            failure_reason=description[:300] if isinstance(description, str) else "",
        )
        await self._context.update_offer(record, change)
        return Answer("no_content", None)
