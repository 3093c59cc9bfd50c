"""Issuing what an offer promised, for the credential and the deferred credential endpoints
alike: the credentials for the proven keys, recorded on the offer with its notification_id
(OpenID4VCI 1.0 sections 8.3 and 9)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from eudi_connect.core.jose import jwk_thumbprint
from eudi_connect.core.oid4vci import ProtocolError
from eudi_connect.errors import EudiConnectError
from eudi_connect.services.issuance import IssuanceService, IssueCommand
from eudi_connect.services.offers import new_secret
from eudi_connect.services.wallet_issuer.context import (
    OFFER_UPDATE_TRIES,
    Answer,
    E,
    WalletContext,
)
from eudi_connect.store.wallet_sessions import (
    FINAL_OFFER_STATES,
    OfferChange,
    OfferedItem,
    OfferRecord,
)

log = logging.getLogger(__name__)


def offered_item(record: OfferRecord, configuration: Any) -> OfferedItem:
    """The item of the offer a request names by its credential_configuration_id."""
    if not isinstance(configuration, str) or not configuration:
        raise ProtocolError(E.INVALID_CREDENTIAL_REQUEST, "credential_configuration_id is missing")
    for item in record.items:
        if item.configuration_id == configuration:
            return item
    raise ProtocolError(
        E.UNKNOWN_CREDENTIAL_CONFIGURATION,
        "this access token does not cover that credential configuration",
    )


class OfferDelivery:
    def __init__(self, context: WalletContext, issuance: IssuanceService) -> None:
        self._context = context
        self._issuance = issuance

    async def issue(
        self,
        record: OfferRecord,
        item: OfferedItem,
        keys: Sequence[dict[str, Any]],
        subject: Mapping[str, Any],
    ) -> Answer:
        commands = [
            IssueCommand(
                template_id=item.template_id,
                subject=subject,
                holder_jwk=json.dumps(jwk),
                request_id=f"oid4vci:{record.offer_id}:{jwk_thumbprint(jwk)}",
                validity_seconds=record.validity_seconds,
                coarsen_timestamps=len(keys) > 1,
                format=item.format,
            )
            for jwk in keys
        ]
        results = await self._issuance.issue_many(record.tenant_id, commands)
        failures = [r for r in results if isinstance(r, EudiConnectError)]
        if failures:
            raise ProtocolError(
                E.CREDENTIAL_REQUEST_DENIED,
                f"the credential could not be issued: {failures[0].message}",
            )
        issued = [r for r in results if not isinstance(r, EudiConnectError)]
        notification_id = await self._record_issued(record, item, [c.credential_id for c in issued])
        body = {
            "credentials": [{"credential": c.credential} for c in issued],
            "notification_id": notification_id,
        }
        return Answer("ok", body, await self._context.current_dpop_nonce())

    async def _record_issued(
        self, record: OfferRecord, item: OfferedItem, credential_ids: Sequence[str]
    ) -> str:
        """Adds the credentials to the offer (re-reading when another request raced) and
        returns the offer's notification_id: the first response's, kept for the later
        ones. A final state (the wallet notified meanwhile) is not undone."""
        current: OfferRecord | None = record
        notification_id = record.notification_id or new_secret()
        for _ in range(OFFER_UPDATE_TRIES):
            if current is None:
                break
            notification_id = current.notification_id or notification_id
            # A deferred credential asked for twice is issued once (its request_id): add
            # only what the offer does not list yet.
            new_ids = [c for c in credential_ids if c not in current.credential_ids]
            copies = dict(current.copies_issued)
            copies[item.configuration_id] = copies.get(item.configuration_id, 0) + len(new_ids)
            change = OfferChange(
                state=None if current.state in FINAL_OFFER_STATES else "CREDENTIALS_ISSUED",
                add_credential_ids=new_ids,
                copies_issued=copies,
                notification_id=notification_id,
                transaction_id="",
                deferred_request={},
            )
            if await self._context.update_offer(current, change) is not None:
                return notification_id
            current = await self._context.reread_offer(current)
        log.warning(
            "offer %s: %d issued credentials could not be recorded on it (too many races)",
            record.offer_id,
            len(credential_ids),
        )
        return notification_id
