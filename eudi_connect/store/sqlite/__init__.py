"""The embedded SQLite backend of `Store`; see `store.SqliteStore`.

Layout: `store` opens and closes the connections; `access` is how the aggregates reach
them; one module per aggregate (`tenants`, `issuer_keys`, `status_lists`, `credentials`,
`templates`, `trust_entries`, `wallet_sessions`); `writer` commits writes in groups on the
connection `thread` owns; `connections` opens connections with the store's settings;
`migrations` is the migration driver; `error_map` says what an sqlite3 error means.
"""

from eudi_connect.store.sqlite.store import MIN_SQLITE_VERSION, SqliteStore

__all__ = ["MIN_SQLITE_VERSION", "SqliteStore"]
