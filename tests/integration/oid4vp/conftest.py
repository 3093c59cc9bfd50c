"""Fixtures of the OpenID4VP tests: the OpenID4VCI issuer processes (one on SQLite per
module unless the module overrides `issuer_cluster`), a tenant, its PresentationService
client, and a holder that trusts the tenant's verifier certificate and holds a PID."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest

from tests.integration.conftest import Tenant
from tests.integration.oid4vci.conftest import (  # noqa: F401  (fixtures, found by name)
    channel,
    issuer,
    issuer_cluster,
    local,
    offers,
    tenant,
)
from tests.integration.oid4vci.issuer_processes import Offers

from .verifier_helpers import Holder, Presentations, new_holder


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def presentations(channel: grpc.aio.Channel, tenant: Tenant) -> Presentations:  # noqa: F811
    return Presentations(channel, tenant)


@pytest.fixture
async def holder(
    session: aiohttp.ClientSession,
    offers: Offers,  # noqa: F811
    presentations: Presentations,
) -> Holder:
    return await new_holder(session, offers, presentations)
