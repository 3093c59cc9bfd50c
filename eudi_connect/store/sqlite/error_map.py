"""Which sqlite3 errors mean what: a failing database (retry later) or one bad record."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from eudi_connect.errors import EudiConnectError, UnavailableError
from eudi_connect.store.checks import invalid_record, tenant_not_found, unavailable

# Primary SQLite result codes (the low byte of the extended code) that mean "try later".
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_FULL_CODE = 13  # SQLITE_FULL
# BUSY LOCKED NOMEM READONLY IOERR FULL CANTOPEN PROTOCOL
_TRANSIENT_CODES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def primary_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code of `error` (SQLITE_BUSY is 5...), None if unknown."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(error: sqlite3.Error) -> bool:
    return primary_code(error) in _BUSY_CODES


def is_transient(error: sqlite3.Error) -> bool:
    """True when the same statement may succeed later (busy, locked, full, I/O)."""
    return primary_code(error) in _TRANSIENT_CODES


def error_name(error: sqlite3.Error) -> str:
    """SQLite's name of the error (SQLITE_NOTADB...), for messages without SQL or paths."""
    return str(getattr(error, "sqlite_errorname", "error"))


def is_database_failure(error: BaseException) -> bool:
    """The database itself failed (busy, full, I/O, corrupt), not one statement's input.

    After such an error a group's transaction cannot be trusted (SQLite may have rolled
    it back already), so the whole group fails; constraint and programming errors do not.
    """
    return isinstance(error, sqlite3.OperationalError | sqlite3.InternalError) or (
        type(error) is sqlite3.DatabaseError
    )


def database_unavailable(error: BaseException) -> UnavailableError:
    """The caller-facing error for a database that cannot serve now."""
    code = primary_code(error) if isinstance(error, sqlite3.Error) else None
    if code in _BUSY_CODES:
        return unavailable("busy", error)
    if code == _FULL_CODE:
        return unavailable("full", error)
    return unavailable("down", error)


def record_error(
    error: sqlite3.IntegrityError, *, exists: Callable[[], EudiConnectError]
) -> EudiConnectError:
    """The domain error for a constraint a record broke; `exists` makes the one for a
    duplicate key. Callers raise it `from` the original, which keeps the detail for logs."""
    name = getattr(error, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
        return exists()
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return tenant_not_found()
    # CHECK, NOT NULL, a value of the wrong type in a STRICT table
    return invalid_record()
