"""The PostgreSQL backend of `Store`; see `store.PostgresStore`.

Layout: `store` opens and closes the pool; `access` is how the aggregates reach it; one
module per aggregate (`tenants`, `issuer_keys`, `status_lists`, `credentials`,
`templates`, `trust_entries`, `wallet_sessions`); `writer` groups credential inserts;
`options` reads the URL; `migrations` is the migration driver; `error_map` says what a
driver or database error means.
"""

from eudi_connect.store.postgres.error_map import map_error
from eudi_connect.store.postgres.options import PostgresOptions, parse_postgres_url
from eudi_connect.store.postgres.store import PostgresStore

__all__ = ["PostgresOptions", "PostgresStore", "map_error", "parse_postgres_url"]
