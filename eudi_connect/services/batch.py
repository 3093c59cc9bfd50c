"""Batch and streamed issuance: many credentials per call, in groups.

Items are signed and committed a group at a time (one transaction per group, status
indices allocated per group). While one group commits, the next is signed, so the
store's writer and the event loop work side by side. A group's results go back together,
as one chunk, once it committed. At most `pipeline_depth` groups are in flight: the
caller's reading pace (gRPC flow control on each yielded chunk) bounds what the server
holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass

from eudi_connect.errors import EudiConnectError, ResourceExhaustedError
from eudi_connect.reasons import Reason
from eudi_connect.services.issuance import IssuanceService, IssueCommand, IssuedCredential
from eudi_connect.services.signing_pool import SigningPool

DEFAULT_GROUP_SIZE = 128
# A batch's first group: its results come back after 16 signatures, not 128.
DEFAULT_FIRST_GROUP_SIZE = 16
DEFAULT_MAX_ITEMS = 10_000
# How long a streamed group waits for more items after its first: about one round trip
# to the signing worker, so a group is worth sending.
DEFAULT_LINGER_SECONDS = 0.002


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch; `error` set when the item could not even be read."""

    index: int
    request_id: str
    command: IssueCommand | None = None
    error: EudiConnectError | None = None


@dataclass(frozen=True)
class BatchResult:
    index: int
    request_id: str
    outcome: IssuedCredential | EudiConnectError


def too_many_items(limit: int) -> ResourceExhaustedError:
    return ResourceExhaustedError(
        f"a batch may hold at most {limit} items",
        reason=Reason.BATCH_TOO_LARGE,
        metadata={"limit": str(limit)},
    )


class BatchIssuer:
    def __init__(
        self,
        issuance: IssuanceService,
        *,
        group_size: int = DEFAULT_GROUP_SIZE,
        max_items: int = DEFAULT_MAX_ITEMS,
        pipeline_depth: int = 3,
        pool: SigningPool | None = None,
        linger_seconds: float = DEFAULT_LINGER_SECONDS,
        first_group_size: int = DEFAULT_FIRST_GROUP_SIZE,
    ) -> None:
        self._issuance = issuance
        self._pool = pool
        self.group_size = group_size
        self.first_group_size = max(1, first_group_size)
        self.max_items = max_items
        self._depth = pipeline_depth
        self.linger_seconds = linger_seconds

    async def _issue_group(self, tenant_id: str, group: list[BatchItem]) -> list[BatchResult]:
        commands = [item.command for item in group if item.command is not None]
        # One outcome per command, in order: the items with a command take them in turn.
        issued = iter(await self._issuance.issue_many(tenant_id, commands, pool=self._pool))
        return [
            BatchResult(
                item.index,
                item.request_id,
                next(issued) if item.command is not None else item.error,  # type: ignore[arg-type]
            )
            for item in group
        ]

    async def issue(
        self, tenant_id: str, groups: AsyncGenerator[list[BatchItem], None]
    ) -> AsyncGenerator[list[BatchResult], None]:
        """Yields the results of each group, in order, once the group committed: one list
        per group, its items in their order, never empty.

        Closed early (the caller went away), it stops the groups in flight and closes
        `groups`, before it returns: nothing of the call keeps running after it.
        """
        in_flight: list[asyncio.Task[list[BatchResult]]] = []
        try:
            async with contextlib.aclosing(groups):
                async for group in groups:
                    in_flight.append(asyncio.ensure_future(self._issue_group(tenant_id, group)))
                    while len(in_flight) >= self._depth:
                        yield await in_flight.pop(0)
            while in_flight:
                yield await in_flight.pop(0)
        finally:
            for task in in_flight:
                task.cancel()
            for task in in_flight:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def groups_of(self, items: Iterable[BatchItem]) -> AsyncGenerator[list[BatchItem], None]:
        """Groups a batch known up front. The first groups are small and each twice the one
        before (`first_group_size`, then doubling up to `group_size`): the first results
        come back after a small group's work rather than a full one's, and the later,
        full groups pay the per-group costs once per `group_size` items."""
        group: list[BatchItem] = []
        size = min(self.first_group_size, self.group_size)
        for item in items:
            group.append(item)
            if len(group) >= size:
                yield group
                group = []
                size = min(size * 2, self.group_size)
        if group:
            yield group

    async def groups_from_stream(
        self, items: AsyncGenerator[BatchItem, None]
    ) -> AsyncGenerator[list[BatchItem], None]:
        """Groups a stream by what has arrived: a slow producer gets small groups (low
        latency), a fast one full groups (high throughput).

        `items` is read by a task of its own; closing this generator stops that task and
        closes `items` before it returns.
        """
        queue: asyncio.Queue[BatchItem | None] = asyncio.Queue(maxsize=self.group_size * 2)
        failure: list[Exception] = []

        async def pump() -> None:
            count = 0
            try:
                async with contextlib.aclosing(items):
                    async for item in items:
                        count += 1
                        if count > self.max_items:
                            raise too_many_items(self.max_items)
                        await queue.put(item)
            except Exception as exc:
                failure.append(exc)
            # Not in a `finally`: once cancelled, the consumer is gone and waits for no end
            # mark, and putting one into a full queue would wait for ever.
            await queue.put(None)

        loop = asyncio.get_running_loop()
        reader = asyncio.ensure_future(pump())
        try:
            done = False
            while not done:
                first = await queue.get()
                if first is None:
                    break
                group = [first]
                # Linger briefly for more: a fast producer then fills whole groups instead
                # of paying a signing round trip per handful of items, and a slow one waits
                # at most `linger_seconds` for its first result.
                deadline = loop.time() + self.linger_seconds
                while len(group) < self.group_size:
                    if queue.empty():
                        remaining = deadline - loop.time()
                        if remaining <= 0:
                            break
                        try:
                            item = await asyncio.wait_for(queue.get(), remaining)
                        except TimeoutError:
                            break
                    else:
                        item = queue.get_nowait()
                    if item is None:
                        done = True
                        break
                    group.append(item)
                yield group
            if failure:
                raise failure[0]
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
