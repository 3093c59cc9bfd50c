"""Several processes leasing status positions from one database at once, on each backend.

SQLite serialises them through its file lock (each writer's BEGIN IMMEDIATE waits for the
others within busy_timeout); PostgreSQL through a row lock on the tenant. Either way a
position is never leased twice and a new list is opened only when the last one is full.
"""

from __future__ import annotations

import asyncio
import json
import sys

from eudi_connect.store.factory import open_store_from_url
from tests.store.test_store_contract import add_tenant

PROCESSES = 3
LEASES_PER_PROCESS = 60
LIST_SIZE = 16

_LEASER = """
import asyncio, json, sys
from eudi_connect.store.base import StatusListRecord
from eudi_connect.store.factory import open_store_from_url

async def main(url, name, leases):
    store = open_store_from_url(url)
    await store.open()
    taken = []
    try:
        for n in range(leases):
            new_list = StatusListRecord(f"{name}-{n}", "t1", 16, 2, b"k" * 32, 0, 0, 100)
            lease = await store.lease_positions("t1", count=3, list_size=16, new_list=new_list)
            taken.append([lease.status_list_id, lease.start, lease.count])
    finally:
        await store.close()
    print(json.dumps(taken))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_processes_never_lease_a_position_twice(store_url: str) -> None:
    """Three processes x 60 leases: every (list, position) once, lists filled one by one."""
    store = open_store_from_url(store_url)
    await store.open()
    try:
        await add_tenant(store)
    finally:
        await store.close()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _LEASER,
            store_url,
            f"p{number}",
            str(LEASES_PER_PROCESS),
            stdout=asyncio.subprocess.PIPE,
        )
        for number in range(PROCESSES)
    ]
    outputs = await asyncio.gather(*(process.communicate() for process in processes))
    assert [process.returncode for process in processes] == [0] * PROCESSES
    leases = [lease for stdout, _ in outputs for lease in json.loads(stdout)]
    assert len(leases) == PROCESSES * LEASES_PER_PROCESS
    taken = [(list_id, p) for list_id, start, count in leases for p in range(start, start + count)]
    assert len(taken) == len(set(taken))
    assert all(0 <= position < LIST_SIZE for _, position in taken)
    lists = {list_id for list_id, _, _ in leases}
    assert len(lists) == -(-len(taken) // LIST_SIZE)
