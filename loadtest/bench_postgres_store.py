"""Micro-benchmark: how PostgresStore.insert_credentials should commit.

Three ways to store credential rows, on a throwaway PostgreSQL cluster:

* ``statement per call``: each call is ONE ``INSERT ... SELECT FROM unnest(...) ON CONFLICT
  DO NOTHING RETURNING`` in its own implicit transaction, on its own pooled connection;
  concurrent calls commit in parallel (PostgreSQL shares WAL flushes among them).
* ``grouped`` (what the store does, `store/postgres/writer.py`): the rows of every call waiting
  while a group commits go into the next group's single statement.
* ``savepoint per row``: one transaction per call with a SAVEPOINT around each row
  (per-row isolation), for multi-row calls.

    .venv/bin/python -m loadtest.bench_postgres_store --rows 4000
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from eudi_connect.devtools.pgcluster import ThrowawayCluster, create_schema
from eudi_connect.store.base import NewCredential
from eudi_connect.store.postgres import PostgresStore
from eudi_connect.store.rows import credential_values
from loadtest.lib.histogram import Histogram
from loadtest.lib.runs import timed_lanes
from loadtest.lib.store_rows import credential_rows, prepare

_INSERT_ONE = (
    "INSERT INTO credentials (credential_id, tenant_id, request_id, template_id, format, "
    "credential, status_list_id, status_index, issued_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (tenant_id, request_id) DO NOTHING"
)


def _report(name: str, rows: int, elapsed: float, latencies: Histogram) -> dict[str, Any]:
    result = {
        "variant": name,
        "rows_per_s": round(rows / elapsed),
        "p50_ms": round(latencies.percentile(50) * 1000, 2),
        "p95_ms": round(latencies.percentile(95) * 1000, 2),
    }
    print(
        f"{name:40s} {result['rows_per_s']:>8} rows/s   "
        f"p50 {result['p50_ms']:>7.2f} ms   p95 {result['p95_ms']:>7.2f} ms"
    )
    return result


async def _run(url: str, rows: int, batch: int) -> None:
    store = PostgresStore.from_url(url + "&min_size=10&max_size=10")
    await store.open()
    try:
        list_id = await prepare(store, rows * 8 + batch * 400)
        offset = 0

        def take(count: int) -> list[NewCredential]:
            nonlocal offset
            taken = credential_rows(list_id, range(offset, offset + count))
            offset += count
            return taken

        for concurrency in (1, 64):
            elapsed, latencies = await timed_lanes(
                rows, concurrency, lambda n: store._insert_rows(take(1))
            )
            _report(f"statement per call, 1 row, {concurrency} in flight", rows, elapsed, latencies)
        for concurrency in (1, 64):
            groups_before = store.grouper_stats.groups
            elapsed, latencies = await timed_lanes(
                rows, concurrency, lambda n: store.insert_credentials(take(1))
            )
            _report(f"grouped (store), 1 row, {concurrency} in flight", rows, elapsed, latencies)
        groups = store.grouper_stats.groups - groups_before
        print(f"{'':40s} ({rows / max(groups, 1):.1f} calls per group at 64 in flight)")

        calls = max(1, rows // batch)
        elapsed, latencies = await timed_lanes(
            calls, 4, lambda n: store.insert_credentials(take(batch))
        )
        _report(f"grouped (store), {batch} rows, 4 in flight", calls * batch, elapsed, latencies)

        async def savepoints(rows_of_call: Sequence[NewCredential]) -> None:
            async with store._pool.acquire() as connection, connection.transaction():
                for row in rows_of_call:
                    async with connection.transaction():  # a SAVEPOINT per row
                        await connection.execute(_INSERT_ONE, *credential_values(row))

        elapsed, latencies = await timed_lanes(calls, 4, lambda n: savepoints(take(batch)))
        _report(f"savepoint per row, {batch} rows, 4 in flight", calls * batch, elapsed, latencies)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    for label, settings in (
        ("synchronous_commit=on (fsync per commit)", [("synchronous_commit", "on")]),
        ("synchronous_commit=off (SQLite NORMAL's promise)", []),
    ):
        cluster = ThrowawayCluster.start(durable=True, settings=settings)
        try:
            print(f"\n== {label}")
            url = asyncio.run(create_schema(cluster.url))
            asyncio.run(_run(url, args.rows, args.batch))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
