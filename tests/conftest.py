"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import pytest

# Session PostgreSQL server and per-test databases (skipped without PostgreSQL, except in CI).
from tests.postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures

# A throwaway SoftHSM2 token per test (skipped without SoftHSM2, except in CI).
from tests.softhsm_fixture import soft_token  # noqa: F401 - fixture

# Tests never read a developer's own settings.
os.environ.pop("EUDI_CONNECT_MASTER_KEY", None)
os.environ.pop("EUDI_CONNECT_API_KEY", None)
os.environ.pop("EUDI_CONNECT_ADDRESS", None)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the PostgreSQL server carry the `postgres` marker, so that
    `-m "not postgres"` (make test-sqlite) leaves them out."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
