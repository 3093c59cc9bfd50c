"""Verification of our own tenants' credentials and presentations.

A credential that fails a check is an answer (`valid=False` with a reason), not an error.
The status check reads the store, so a revocation shows at once, not at the next token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eudi_connect.core.sdjwt import (
    SdJwtVerificationError,
    VerificationFailureReason,
    parse_presentation,
    verify_presentation,
)
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.services.keys import KeyService
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.store.base import Store

_FAILURE_OF_STATUS = {
    TokenStatus.INVALID: VerificationFailureReason.REVOKED,
    TokenStatus.SUSPENDED: VerificationFailureReason.SUSPENDED,
}


@dataclass(frozen=True, kw_only=True)
class VerifyCommand:
    credential: str
    expected_audience: str = ""
    expected_nonce: str = ""


@dataclass(frozen=True, kw_only=True)
class VerificationOutcome:
    valid: bool
    status: TokenStatus | None = None
    failure: VerificationFailureReason | None = None
    detail: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    issuer: str = ""
    vct: str = ""
    key_binding_verified: bool = False


def _failed(reason: VerificationFailureReason, detail: str, **extra: Any) -> VerificationOutcome:
    return VerificationOutcome(valid=False, failure=reason, detail=detail, **extra)


class VerificationService:
    def __init__(
        self,
        store: Store,
        *,
        keys: KeyService,
        settings: ServiceSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keys = keys
        self._settings = settings
        self._clock = clock

    async def verify(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        try:
            parsed = parse_presentation(command.credential)
        except SdJwtVerificationError as error:
            return _failed(error.failure, error.detail)
        issuer = parsed.issuer
        kid = parsed.kid
        if issuer != self._settings.issuer_id(tenant_id) or not kid:
            return _failed(
                VerificationFailureReason.UNKNOWN_ISSUER_KEY,
                "credential was not issued by this tenant",
            )
        issuer_key = await self._keys.public_key(tenant_id, kid)
        if issuer_key is None:
            return _failed(
                VerificationFailureReason.UNKNOWN_ISSUER_KEY, f"no issuer key with kid '{kid}'"
            )
        try:
            verified = verify_presentation(
                parsed,
                issuer_key=issuer_key,
                now=int(self._clock()),
                clock_skew_seconds=self._settings.clock_skew_seconds,
                expected_audience=command.expected_audience or None,
                expected_nonce=command.expected_nonce or None,
                max_key_binding_age_seconds=self._settings.max_key_binding_age_seconds,
            )
        except SdJwtVerificationError as error:
            return _failed(error.failure, error.detail)
        found: dict[str, Any] = {
            "claims": verified.claims,
            "issuer": verified.issuer,
            "vct": verified.vct,
            "key_binding_verified": verified.key_binding_verified,
        }
        status = (
            await self._status_of(verified.status.uri, verified.status.idx)
            if verified.status
            else None
        )
        if status is None:
            return _failed(
                VerificationFailureReason.STATUS_UNAVAILABLE,
                "credential has no status entry at this issuer",
                **found,
            )
        failure = _FAILURE_OF_STATUS.get(status)
        if failure is not None:
            return _failed(
                failure, f"credential is {failure.value.lower()}", status=status, **found
            )
        return VerificationOutcome(valid=True, status=status, **found)

    async def _status_of(self, uri: str, index: int) -> TokenStatus | None:
        status_list_id = self._settings.status_list_id_from_uri(uri)
        if status_list_id is None:
            return None
        value = await self._store.get_status_at(status_list_id, index)
        return None if value is None else TokenStatus(value)
