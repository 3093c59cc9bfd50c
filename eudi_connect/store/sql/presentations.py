"""The presentation methods of both SQL stores whose logic does not depend on the
database (`PresentationStore`): the three state changes of a presentation transaction,
each a decision (`store/presentation_rows.py`) on the transaction as it is now.

Each backend supplies `_change`, its locked read-decide-write of one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

from eudi_connect.store.presentation_rows import claimed, finished, retrieved
from eudi_connect.store.presentations import PresentationOutcome, PresentationRecord

#: What `_change` writes, given the transaction as it is now; None or the same record
#: writes nothing.
PresentationChange = Callable[[PresentationRecord], PresentationRecord | None]


class SqlPresentations(abc.ABC):
    async def mark_presentation_retrieved(
        self, tenant_id: str, transaction_id: str, enc_values: Sequence[str], now: int
    ) -> PresentationRecord | None:
        return await self._change(
            tenant_id, transaction_id, lambda current: retrieved(current, enc_values, now)
        )

    async def claim_presentation_response(
        self, tenant_id: str, transaction_id: str, now: int
    ) -> PresentationRecord | None:
        return await self._change(tenant_id, transaction_id, lambda current: claimed(current, now))

    async def finish_presentation(
        self, tenant_id: str, transaction_id: str, outcome: PresentationOutcome, now: int
    ) -> PresentationRecord | None:
        return await self._change(
            tenant_id, transaction_id, lambda current: finished(current, outcome, now)
        )

    @abc.abstractmethod
    async def _change(
        self, tenant_id: str, transaction_id: str, change: PresentationChange
    ) -> PresentationRecord | None:
        """In one transaction that holds the presentation transaction: reads it and writes
        what `change` makes of it; that record (None when there is no such transaction or
        `change` refused, the record read when nothing changed)."""
