"""Reads a test database behind the service's back, whichever backend it is."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import asyncpg

from eudi_connect.store.factory import is_postgres_url, sqlite_path_of


async def query(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    if is_postgres_url(db_url):
        connection = await asyncpg.connect(db_url)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()
    with contextlib.closing(sqlite3.connect(str(sqlite_path_of(db_url)))) as database:
        return database.execute(sql).fetchall()


async def stored_slots(db_url: str) -> list[tuple[str, int]]:
    """(status_list_id, status_index) of every stored credential."""
    return [
        (str(a), int(b))
        for a, b in await query(db_url, "SELECT status_list_id, status_index FROM credentials")
    ]


async def integrity_ok(db_url: str) -> bool:
    """SQLite's own integrity check; PostgreSQL enforces its constraints on every write."""
    if is_postgres_url(db_url):
        return True
    return (await query(db_url, "PRAGMA integrity_check")) == [("ok",)]
