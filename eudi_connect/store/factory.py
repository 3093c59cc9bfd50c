"""Builds a `Store` from a database URL (the `--database` option / configuration).

Accepted: `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, a bare file path,
and `postgresql://user:password@host:5432/database?max_size=10` (also `postgres://`; pool
options in the query, see `store.postgres`). Error messages never repeat the URL: a
PostgreSQL URL may carry a password.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason
from eudi_connect.store.base import Store
from eudi_connect.store.sqlite import SqliteStore

_SQLITE_SCHEMES = frozenset({"sqlite", "sqlite3"})
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})
_USAGE = "use sqlite:///relative/path.db, sqlite:////absolute/path.db or a file path"


def open_store_from_url(url: str) -> Store:
    """The store for `url`, not opened yet (the caller awaits `open()`)."""
    if is_postgres_url(url):
        # Imported here so that SQLite deployments never load the PostgreSQL driver.
        from eudi_connect.store.postgres import PostgresStore

        return PostgresStore.from_url(url)
    return SqliteStore(sqlite_path_of(url))


def is_postgres_url(url: str) -> bool:
    text = url.strip()
    return "://" in text and text.split("://", 1)[0].lower() in _POSTGRES_SCHEMES


def database_directory(url: str) -> Path | None:
    """The absolute folder of the database file; the master key file is kept beside it.
    None for PostgreSQL: its instances share no folder (they share the key by setting)."""
    if is_postgres_url(url):
        return None
    return sqlite_path_of(url).absolute().parent


def sqlite_path_of(url: str) -> Path:
    """The SQLite file an `sqlite://` URL (or bare path) names, or ConfigurationError
    saying what is accepted."""
    text = url.strip()
    if not text:
        raise ConfigurationError(f"the database URL is empty; {_USAGE}", reason=Reason.DATABASE_URL)
    if "://" not in text:
        return _file_path(text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _SQLITE_SCHEMES:
        raise ConfigurationError(
            f"unsupported database URL scheme {scheme!r}; {_USAGE} (or a postgresql:// URL)",
            reason=Reason.DATABASE_URL,
        )
    if parts.netloc:
        raise ConfigurationError(
            f"an SQLite URL names no host (three slashes before a relative path, four before "
            f"an absolute one); {_USAGE}",
            reason=Reason.DATABASE_URL,
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"SQLite URLs take no query or fragment; {_USAGE}", reason=Reason.DATABASE_URL
        )
    # urlsplit keeps the slash after the empty host: "/rel.db" for sqlite:///rel.db and
    # "//abs.db" for sqlite:////abs.db. Dropping one gives the relative or absolute path.
    return _file_path(unquote(parts.path[1:]))


def _file_path(text: str) -> Path:
    if text in ("", ":memory:") or text.startswith("file:"):
        raise ConfigurationError(
            "the database must be a file (the store opens several connections to it); " + _USAGE,
            reason=Reason.DATABASE_URL,
        )
    path = Path(text)
    if text.endswith(("/", "\\")) or path.name in ("", ".", ".."):
        raise ConfigurationError(
            f"the database path names a folder, not a file; {_USAGE}", reason=Reason.DATABASE_URL
        )
    return path
