"""How a PostgreSQL store URL is read: the DSN for asyncpg, the pool options, the server
settings.

URL: `postgresql://user:password@host:port/database?min_size=2&max_size=10`. Options
taken from the query: `min_size`, `max_size`, `acquire_timeout` (seconds a call waits for
a free connection before UnavailableError), `command_timeout` (seconds per statement),
`statement_cache_size` (0 behind a transaction-pooling PgBouncer), `max_group_rows`
(credential rows per grouped insert, see `writer`). Every other query parameter goes to
asyncpg (`sslmode`, ...) or, if asyncpg does not know it, to the server as a setting
(`application_name`, `search_path`, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason

DEFAULT_SERVER_SETTINGS: Final = {
    "application_name": "eudi-connect",
    # Every query here is a short indexed lookup; JIT compilation would only add latency.
    "jit": "off",
}


@dataclass(frozen=True, kw_only=True)
class PostgresOptions:
    """Pool and store settings; each may be given in the URL's query (`?max_size=20`)."""

    min_size: int = 2
    max_size: int = 10
    acquire_timeout: float = 5.0
    command_timeout: float = 30.0
    statement_cache_size: int = 100
    # Most credential rows one grouped INSERT carries (see `writer`).
    max_group_rows: int = 2048

    def check(self) -> None:
        if self.min_size < 0 or self.max_size < 1 or self.min_size > self.max_size:
            raise ConfigurationError(
                "the PostgreSQL pool needs 0 <= min_size <= max_size and max_size >= 1",
                reason=Reason.DATABASE_URL,
            )
        for value in (self.acquire_timeout, self.command_timeout):
            if not (value > 0 and math.isfinite(value)):
                raise ConfigurationError(
                    "acquire_timeout and command_timeout must be positive seconds",
                    reason=Reason.DATABASE_URL,
                )
        if self.statement_cache_size < 0 or self.max_group_rows < 1:
            raise ConfigurationError(
                "statement_cache_size must not be negative, max_group_rows at least 1",
                reason=Reason.DATABASE_URL,
            )


_INT_OPTIONS: Final = frozenset({"min_size", "max_size", "statement_cache_size", "max_group_rows"})
_FLOAT_OPTIONS: Final = frozenset({"acquire_timeout", "command_timeout"})


def parse_postgres_url(url: str) -> tuple[str, PostgresOptions, dict[str, str]]:
    """(DSN for asyncpg, pool options, server settings to add) from a store URL.

    Raises ConfigurationError without repeating the URL (it may carry a password).
    """
    try:
        parts = urlsplit(url.strip())
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigurationError(
            "the PostgreSQL URL cannot be parsed", reason=Reason.DATABASE_URL
        ) from None
    if not parts.hostname and "host" not in dict(query):
        raise ConfigurationError(
            "a PostgreSQL URL names a host: postgresql://user@host:5432/database",
            reason=Reason.DATABASE_URL,
        )
    values: dict[str, Any] = {}
    passed: list[tuple[str, str]] = []
    for key, value in query:
        if key in _INT_OPTIONS or key in _FLOAT_OPTIONS:
            try:
                values[key] = int(value) if key in _INT_OPTIONS else float(value)
            except ValueError:
                raise ConfigurationError(
                    f"the PostgreSQL URL option {key} must be a number", reason=Reason.DATABASE_URL
                ) from None
        else:
            passed.append((key, value))
    options = PostgresOptions(**values)
    options.check()
    given = {key for key, _ in passed}
    settings = {k: v for k, v in DEFAULT_SERVER_SETTINGS.items() if k not in given}
    # asyncpg knows postgres:// and postgresql://, not SQLAlchemy's postgresql+asyncpg://.
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(passed), ""))
    return dsn, options, settings
