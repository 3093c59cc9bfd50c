"""Fixtures of the store tests: a new database of each backend, and a store opened on it.

Backend modules (`test_sqlite_store`, `test_postgres_store`) define their own `store`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eudi_connect.store.base import Store
from eudi_connect.store.factory import open_store_from_url
from tests.backends import BACKENDS, backend_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request, str(request.param), tmp_path)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store_from_url(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
