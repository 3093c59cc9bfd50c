"""`WalletIssuer`: the one object the HTTP layer calls for every wallet endpoint. It builds
the shared context and one object per endpoint and hands out their methods, so each name
below leads straight to the code that answers it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from eudi_connect.errors import EudiConnectError
from eudi_connect.services.issuance import IssuanceService
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.status_check import StatusChecker
from eudi_connect.services.template_admin import TemplateService
from eudi_connect.services.wallet_issuer.context import WalletContext
from eudi_connect.services.wallet_issuer.credential import CredentialEndpoint
from eudi_connect.services.wallet_issuer.deferred import DeferredEndpoint
from eudi_connect.services.wallet_issuer.delivery import OfferDelivery
from eudi_connect.services.wallet_issuer.metadata import IssuerMetadata
from eudi_connect.services.wallet_issuer.notification import NotificationEndpoint
from eudi_connect.services.wallet_issuer.token import TokenEndpoint
from eudi_connect.services.wallet_policy import WalletPolicy
from eudi_connect.services.wallet_settings import WalletSettings
from eudi_connect.store.base import Store

log = logging.getLogger(__name__)

#: How often expired tokens, nonces and one-time values are deleted.
HOUSEKEEPING_SECONDS = 60.0


class WalletIssuer:
    def __init__(
        self,
        store: Store,
        *,
        issuance: IssuanceService,
        templates: TemplateService,
        urls: TenantUrls,
        wallet: WalletSettings,
        policy_for: Callable[[str], Awaitable[WalletPolicy]] | None = None,
        status: StatusChecker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`policy_for(tenant_id)` gives the tenant's wallet policy (none: every
        attestation off); `status` checks the `status` of attestations."""
        context = WalletContext(
            store, urls=urls, wallet=wallet, policy_for=policy_for, status=status, clock=clock
        )
        self._context = context
        delivery = OfferDelivery(context, issuance)
        # Shared pieces (context.py).
        self.issuer = context.issuer
        self.policy = context.policy
        self.dpop_nonces = context.dpop_nonces
        self.c_nonces = context.c_nonces
        self.current_dpop_nonce = context.current_dpop_nonce
        # Metadata and the offer object (metadata.py).
        metadata = IssuerMetadata(context, templates)
        self.configurations = metadata.configurations
        self.issuer_metadata = metadata.issuer_metadata
        self.authorization_server_metadata = metadata.authorization_server_metadata
        self.offer_object = metadata.offer_object
        # The endpoints, one module each.
        self.token = TokenEndpoint(context).token
        credential = CredentialEndpoint(context, delivery)
        self.nonce = credential.nonce
        self.credential = credential.credential
        self.deferred_credential = DeferredEndpoint(context, delivery).deferred_credential
        self.notification = NotificationEndpoint(context).notification

    async def housekeeping(self, *, every_seconds: float = HOUSEKEEPING_SECONDS) -> None:
        """Runs until cancelled: deletes what has expired, so the tables stay small."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                removed = await self._context.store.purge_wallet_sessions(self._context.now())
            except EudiConnectError as error:
                log.warning("wallet session purge failed: %s", error.message)
            else:
                if removed:
                    log.info("purged %d expired wallet session records", removed)
