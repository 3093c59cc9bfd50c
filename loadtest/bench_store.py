"""Micro-benchmark: SqliteStore.insert_credentials throughput, 1 vs many concurrent callers.

Each caller inserts one credential per call and waits for its commit, as a unary issuance
RPC does. With one caller every call is its own group (one hand-off, one commit); with
many, the group-commit writer folds the calls that arrive during a commit into the next
one. A naive baseline (aiosqlite execute + commit per row, one at a time, same schema)
runs in the same process for comparison, since the machine is noisy.

    .venv/bin/python loadtest/bench_store.py --rows 20000 --concurrency 1 64
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from eudi_connect.store.rows import credential_values
from eudi_connect.store.sqlite import SqliteStore
from loadtest.lib.runs import timed_lanes
from loadtest.lib.store_rows import credential_rows, prepare


async def bench_store(
    folder: Path,
    *,
    rows: int,
    concurrency: int,
    synchronous: Literal["NORMAL", "FULL"],
) -> dict[str, float]:
    """Inserts `rows` credentials from `concurrency` callers; returns throughput and latency."""
    store = SqliteStore(folder / f"store-{concurrency}-{synchronous}.db", synchronous=synchronous)
    await store.open()
    try:
        list_id = await prepare(store, rows)
        groups_before = store.writer_stats.groups
        positions = random.sample(range(rows), rows)
        elapsed, latencies = await timed_lanes(
            rows,
            concurrency,
            lambda n: store.insert_credentials(credential_rows(list_id, [positions[n]])),
        )
        groups = store.writer_stats.groups - groups_before
    finally:
        await store.close()
    return {
        "rows_per_s": rows / elapsed,
        "mean_group": rows / groups,
        "p50_ms": latencies.percentile(50) * 1000,
        "p99_ms": latencies.percentile(99) * 1000,
    }


async def bench_naive(folder: Path, *, rows: int) -> dict[str, float]:
    """The docs/performance.md "Ceilings" baseline, same schema: one INSERT and one commit per row,
    each a separate aiosqlite call (two thread hand-offs per row)."""
    path = folder / "naive.db"
    store = SqliteStore(path)
    await store.open()  # the schema, the tenant and the list, as for the store runs
    try:
        list_id = await prepare(store, rows)
    finally:
        await store.close()
    async with aiosqlite.connect(path) as connection:
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute("PRAGMA foreign_keys = ON")
        started = time.perf_counter()
        for row in credential_rows(list_id, random.sample(range(rows), rows)):
            await connection.execute(
                "INSERT INTO credentials (credential_id, tenant_id, request_id, template_id, "
                "format, credential, status_list_id, status_index, issued_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                credential_values(row),
            )
            await connection.commit()
        elapsed = time.perf_counter() - started
    return {"rows_per_s": rows / elapsed}


def _report(label: str, figures: dict[str, float]) -> None:
    details = "  ".join(
        f"{name}={value:,.2f}" for name, value in figures.items() if name != "rows_per_s"
    )
    print(f"{label:<34} {figures['rows_per_s']:>10,.0f} rows/s  {details}")


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=arguments.dir) as name:
        folder = Path(name)
        if arguments.naive:
            _report(
                "naive execute+commit, 1 caller", await bench_naive(folder, rows=arguments.rows)
            )
        for synchronous in arguments.synchronous:
            for concurrency in arguments.concurrency:
                figures = await bench_store(
                    folder, rows=arguments.rows, concurrency=concurrency, synchronous=synchronous
                )
                _report(f"group commit, {concurrency} caller(s), {synchronous}", figures)


def _runner(use_uvloop: bool) -> Callable[[Coroutine[Any, Any, None]], None]:
    if not use_uvloop:
        return asyncio.run
    import uvloop

    def run(coroutine: Coroutine[Any, Any, None]) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(coroutine)

    return run


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=20_000, help="credentials per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--synchronous", choices=["NORMAL", "FULL"], nargs="+", default=["NORMAL"])
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip baseline")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument(
        "--dir", default=None, help="where the databases go (e.g. /dev/shm to leave out the disk)"
    )
    parsed = parser.parse_args()
    _runner(parsed.uvloop)(main(parsed))
