"""Revoke, suspend, reinstate: durable before the call returns, shown by the next token.

Transitions: VALID -> SUSPENDED -> VALID, and VALID or SUSPENDED -> INVALID (final).
Asking for the state a credential is already in succeeds without a change.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eudi_connect.core.status_list import TokenStatus
from eudi_connect.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from eudi_connect.reasons import Reason
from eudi_connect.store.base import CredentialRecord, Store

MAX_REASON_LENGTH = 512
MAX_CREDENTIAL_ID_LENGTH = 64

_ALLOWED_FROM: dict[TokenStatus, frozenset[int]] = {
    TokenStatus.INVALID: frozenset({TokenStatus.VALID, TokenStatus.SUSPENDED}),
    TokenStatus.SUSPENDED: frozenset({TokenStatus.VALID}),
    TokenStatus.VALID: frozenset({TokenStatus.SUSPENDED}),
}


def _check_credential_id(credential_id: str) -> None:
    if not credential_id:
        raise InvalidArgumentError("credential_id is required", reason=Reason.CREDENTIAL_ID_MISSING)
    if len(credential_id) > MAX_CREDENTIAL_ID_LENGTH or not credential_id.isalnum():
        raise InvalidArgumentError(
            "credential_id is not a credential id", reason=Reason.CREDENTIAL_ID_INVALID
        )


def _not_found(credential_id: str) -> NotFoundError:
    return NotFoundError(
        f"credential '{credential_id}' not found", reason=Reason.CREDENTIAL_NOT_FOUND
    )


class RevocationService:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def revoke(self, tenant_id: str, credential_id: str, reason: str) -> TokenStatus:
        return await self._change(tenant_id, credential_id, TokenStatus.INVALID, reason)

    async def suspend(self, tenant_id: str, credential_id: str, reason: str) -> TokenStatus:
        return await self._change(tenant_id, credential_id, TokenStatus.SUSPENDED, reason)

    async def reinstate(self, tenant_id: str, credential_id: str, reason: str) -> TokenStatus:
        return await self._change(tenant_id, credential_id, TokenStatus.VALID, reason)

    async def get(self, tenant_id: str, credential_id: str) -> CredentialRecord:
        _check_credential_id(credential_id)
        record = await self._store.get_credential(tenant_id, credential_id)
        if record is None:
            raise _not_found(credential_id)
        return record

    async def _change(
        self, tenant_id: str, credential_id: str, to_status: TokenStatus, reason: str
    ) -> TokenStatus:
        _check_credential_id(credential_id)
        if len(reason) > MAX_REASON_LENGTH:
            raise InvalidArgumentError(
                f"reason is longer than {MAX_REASON_LENGTH} characters",
                reason=Reason.REASON_TOO_LONG,
            )
        change = await self._store.change_status(
            tenant_id,
            credential_id,
            to_status=to_status,
            from_statuses=_ALLOWED_FROM[to_status],
            reason=reason,
            at=int(self._clock()),
        )
        if change is None:
            raise _not_found(credential_id)
        current = TokenStatus(change.record.status)
        if change.changed or current == to_status:
            return current
        if current == TokenStatus.INVALID:
            raise FailedPreconditionError(
                f"credential '{credential_id}' is revoked; revocation is final",
                reason=Reason.CREDENTIAL_REVOKED,
            )
        raise FailedPreconditionError(
            f"credential '{credential_id}' is {current.name.lower()}, "
            f"so it cannot become {to_status.name.lower()}",
            reason=Reason.STATUS_TRANSITION_NOT_ALLOWED,
        )
