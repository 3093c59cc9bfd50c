"""Opening the SQLite store's connections: the writer's, the readers', the point reader's."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Literal

from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason
from eudi_connect.store.sqlite.error_map import is_busy

Synchronous = Literal["NORMAL", "FULL"]


def connect(
    path: Path, *, busy_timeout_ms: int, synchronous: Synchronous, read_only: bool
) -> sqlite3.Connection:
    """A connection with the store's settings, in autocommit mode (the writer issues BEGIN
    itself). Called in the thread that will use it, or on the loop for the point reader."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        _configure(
            connection,
            busy_timeout_ms=busy_timeout_ms,
            synchronous=synchronous,
            read_only=read_only,
        )
    except BaseException:
        connection.close()
        raise
    return connection


def _configure(
    conn: sqlite3.Connection, *, busy_timeout_ms: int, synchronous: Synchronous, read_only: bool
) -> None:
    """Per-connection settings; PRAGMA takes no parameters, so values are checked ints/literals."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if not read_only:
        # WAL is a property of the file; the writer sets it before any reader connects.
        _enable_wal(conn, timeout_s=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA synchronous = {'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")


def _enable_wal(conn: sqlite3.Connection, *, timeout_s: float) -> None:
    """Switches the file to WAL, retrying while another connection holds it.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when two processes open a new file together; so the wait
    is done here. A file already in WAL needs no switch (and no lock).
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)  # in the writer's thread, not on the event loop
            pause = min(pause * 2, 0.05)
            continue
        if str(mode).lower() != "wal":
            raise ConfigurationError(
                "the database cannot use WAL journaling", reason=Reason.SQLITE_NO_WAL
            )
        return
