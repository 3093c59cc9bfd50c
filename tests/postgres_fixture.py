"""PostgreSQL for the tests: one server per session, a fresh schema per user.

Which server: `EUDI_CONNECT_TEST_POSTGRES_URL` when set (a database you run; the tests create
and drop schemas in it, so its role needs CREATE on it), else a throwaway cluster started
from the local binaries (PATH or /usr/lib/postgresql/<version>/bin) and stopped, by its
PID, when the session ends. With neither, the postgres parameters are skipped with the
reason, except in CI (`CI=true`), where a missing PostgreSQL fails them: CI must test
both backends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from eudi_connect.devtools.pgcluster import (
    ThrowawayCluster,
    create_schema,
    drop_schema,
    find_postgres_bin,
    run_in_thread,
)

POSTGRES_URL_ENV = "EUDI_CONNECT_TEST_POSTGRES_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a superuser (or CREATEDB) connection to the test server."""
    given = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if given:
        yield given
        return
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        reason = (
            "PostgreSQL not found: install its server binaries (Debian: apt-get install "
            f"postgresql) or set {POSTGRES_URL_ENV}; `make test-sqlite` runs SQLite only"
        )
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = ThrowawayCluster.start(bin_dir=bin_dir)
    try:
        yield cluster.url
    finally:
        cluster.stop()


def new_database(server_url: str) -> str:
    """URL of a new, empty schema of its own on the test server (what a test calls its
    database: a store opened on the URL sees nothing else)."""
    return run_in_thread(lambda: create_schema(server_url))


def remove_database(server_url: str, url: str) -> None:
    run_in_thread(lambda: drop_schema(server_url, url))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """An empty database (schema) of its own for one test, dropped afterwards."""
    url = new_database(postgres_server)
    try:
        yield url
    finally:
        remove_database(postgres_server, url)
