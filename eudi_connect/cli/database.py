"""Which database `serve` and the admin commands open: `--db`, else `$EUDI_CONNECT_DB`, else
`eudi-connect.db` in the current folder. `--help` shows which file that is, and an admin
command that finds no database there says so when it creates one (a tenant made in a new
database is unknown to a server that uses another)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DB_ENV = "EUDI_CONNECT_DB"
DEFAULT_DB = "sqlite:///./eudi-connect.db"
MASTER_KEY_ENV = "EUDI_CONNECT_MASTER_KEY"


def default_db() -> str:
    return os.environ.get(DB_ENV) or DEFAULT_DB


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    if os.environ.get(DB_ENV):
        default = f"${DB_ENV}"  # never shown: a PostgreSQL URL may hold a password
    else:
        default = f"{DEFAULT_DB}, the file {Path('eudi-connect.db').absolute()}"
    parser.add_argument(
        "--db",
        default=default_db(),
        metavar="URL",
        help=f"the database: sqlite:///path.db, a file path or postgresql://... (default: "
        f"{default}; set {DB_ENV} so that every command and the server use the same one)",
    )


def new_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names when it does not exist yet (it is about to be created);
    None for an existing file and for PostgreSQL. Refusals of the URL itself are left to
    the store, which words them."""
    from eudi_connect.errors import ConfigurationError
    from eudi_connect.store.factory import is_postgres_url, sqlite_path_of

    if is_postgres_url(url):
        return None
    try:
        path = sqlite_path_of(url)
    except ConfigurationError:
        return None
    return None if path.exists() else path.absolute()


def warn_created(path: Path) -> None:
    """One line on standard error: a new database (and master key) was made at `path`."""
    key = "" if os.environ.get(MASTER_KEY_ENV) else " and a new master key beside it"
    print(
        f"warning: no database was at {path}; created a new one{key}. A server that uses "
        f"another database will not know what was made here: give it the same --db, or set "
        f"{DB_ENV}",
        file=sys.stderr,
    )
