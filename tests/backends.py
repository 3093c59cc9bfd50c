"""Running a test on each store backend, and reading a store's tables behind its back."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from eudi_connect.store.base import Store
from eudi_connect.store.postgres import PostgresStore
from eudi_connect.store.sqlite import SqliteStore

#: Fixture params: every backend; the postgres one carries the `postgres` marker.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def backend_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> str:
    """A new, empty database of `backend` for one test."""
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{folder / 'eudi.db'}"


async def query(store: Store, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a read-only query, on a connection of its own (portable SQL, `?` for
    SQLite's parameters, `$1` for PostgreSQL's)."""
    if isinstance(store, SqliteStore):
        with contextlib.closing(sqlite3.connect(store.path)) as connection:
            return [tuple(row) for row in connection.execute(sql, args).fetchall()]
    if isinstance(store, PostgresStore):
        pool = store._pool  # test-only: the store's own pool
        assert pool is not None, "the store is not open"
        return [tuple(row) for row in await pool.fetch(sql, *args)]
    raise TypeError(f"no inspection for {type(store).__name__}")


async def count_rows(store: Store, table: str) -> int:
    [(count,)] = await query(store, f"SELECT count(*) FROM {table}")
    return int(count)
