"""`VerificationService`: what VerifyCredential and VerifyCredentialBatch call.

Checks the caller's request, tells the formats apart, and hands the credential to the
format's verifier: `sd_jwt.SdJwtVerifier` or `mdoc.MdocVerifier`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.services.keys import KeyService
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.services.status_check import StatusChecker
from eudi_connect.services.trust import TrustService
from eudi_connect.services.verification.commands import VerifyCommand
from eudi_connect.services.verification.context import VerificationContext
from eudi_connect.services.verification.issuer_keys import IssuerKeyResolver
from eudi_connect.services.verification.mdoc import MdocVerifier
from eudi_connect.services.verification.outcome import VerificationOutcome
from eudi_connect.services.verification.sd_jwt import SdJwtVerifier


class VerificationService:
    def __init__(
        self,
        *,
        keys: KeyService,
        trust: TrustService,
        status: StatusChecker,
        settings: ServiceSettings,
        urls: TenantUrls,
        clock: Callable[[], float] = time.time,
    ) -> None:
        context = VerificationContext(
            keys=keys, trust=trust, status=status, settings=settings, urls=urls, clock=clock
        )
        self._sd_jwt = SdJwtVerifier(context, IssuerKeyResolver(context))
        self._mdoc = MdocVerifier(context)

    async def verify(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        """Raises InvalidArgumentError only for a policy out of bounds, an SD-JWT key
        binding check without an audience and a nonce, or an mdoc DeviceResponse without a
        usable session transcript.
        """
        command.policy.check()
        if command.is_mdoc():
            return await self._mdoc.verify(tenant_id, command)
        command.check_key_binding_request()
        return await self._sd_jwt.verify(tenant_id, command)

    async def verify_many(
        self,
        tenant_id: str,
        commands: Sequence[VerifyCommand],
        *,
        concurrency: int = 16,
        chunk_size: int = 128,
    ) -> Any:
        """Yields lists of (index, outcome or InvalidArgumentError): each list holds every
        verification finished since the one before (at least one, at most `chunk_size`,
        by index), so that a caller sends what is ready as one message and waits for
        nothing that is not."""
        semaphore = asyncio.Semaphore(concurrency)

        async def one(index: int, command: VerifyCommand) -> tuple[int, Any]:
            async with semaphore:
                try:
                    return index, await self.verify(tenant_id, command)
                except InvalidArgumentError as error:
                    return index, error

        tasks = [asyncio.ensure_future(one(i, c)) for i, c in enumerate(commands)]
        try:
            pending: set[asyncio.Future[tuple[int, Any]]] = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                finished = sorted((task.result() for task in done), key=lambda pair: pair[0])
                for start in range(0, len(finished), chunk_size):
                    yield finished[start : start + chunk_size]
        finally:
            for task in tasks:
                task.cancel()
