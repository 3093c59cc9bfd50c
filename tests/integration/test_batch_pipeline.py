"""The streamed batch pipeline stops everything it started when its consumer goes away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from eudi_connect.services.app import Services
from eudi_connect.services.batch import BatchIssuer, BatchItem

from .observed import eventually

GROUP_SIZE = 4
CLOSE_SECONDS = 5.0


async def test_closing_while_the_reader_waits_on_a_full_queue_stops_it_at_once(
    services: Services,
) -> None:
    """Closed while its reader is blocked on a full queue (a client that sends faster than
    it is served, then leaves), the grouping returns at once, its reader task has ended
    and the request stream it read is closed."""
    batch = BatchIssuer(services.issuance, group_size=GROUP_SIZE)
    read = 0
    requests_closed = asyncio.Event()

    async def requests() -> AsyncGenerator[BatchItem, None]:
        nonlocal read
        try:
            for index in range(1000):
                yield BatchItem(index, f"r-{index}")
                read += 1
        finally:
            requests_closed.set()

    before = asyncio.all_tasks()
    groups = batch.groups_from_stream(requests())
    first = await anext(groups)
    # The queue holds two groups: once that much more has been read, the reader waits.
    await eventually(lambda: read >= len(first) + 2 * GROUP_SIZE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(groups.aclose(), timeout=2 * CLOSE_SECONDS)
    assert loop.time() - started < CLOSE_SECONDS, "closing waited for the reader"
    assert requests_closed.is_set()
    assert all(task.done() for task in asyncio.all_tasks() - before - {asyncio.current_task()})
