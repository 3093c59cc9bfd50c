"""The credential method of both SQL stores whose logic does not depend on the database
(`Store.change_status`): what a status change answers, given the credential as it was and
whether its status was changed.

Each backend supplies `_set_status`, the conditional change in one transaction.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from eudi_connect.store.base import CredentialRecord, StatusChange
from eudi_connect.store.rows import changed_status


@dataclass(frozen=True)
class StatusRequest:
    """A status change asked for: to `to_status` at `at`, when the credential's status is
    one of `from_statuses`; `reason` goes into its status event."""

    to_status: int
    from_statuses: frozenset[int]
    reason: str
    at: int


class SqlCredentials(abc.ABC):
    async def change_status(
        self,
        tenant_id: str,
        credential_id: str,
        *,
        to_status: int,
        from_statuses: frozenset[int],
        reason: str,
        at: int,
    ) -> StatusChange | None:
        request = StatusRequest(to_status, from_statuses, reason, at)
        found = await self._set_status(tenant_id, credential_id, request)
        if found is None:
            return None
        current, changed = found
        if not changed:
            return StatusChange(changed=False, record=current)
        return changed_status(current, to_status=to_status, at=at)

    @abc.abstractmethod
    async def _set_status(
        self, tenant_id: str, credential_id: str, request: StatusRequest
    ) -> tuple[CredentialRecord, bool] | None:
        """In one transaction: changes the status if `request` allows, records the event
        and bumps the list's version; the credential as it was before and whether it
        changed, None when the tenant has no such credential."""
