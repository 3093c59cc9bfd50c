"""Fixtures of the verifier tests: `eudi-connect serve` processes per module (one on SQLite
unless the module overrides `issuer_cluster`) whose HTTP listener is their `--public-url
http://127.0.0.1:<port>`; per test a tenant, its PresentationService and OfferService
clients, an HTTP session, and a holder that trusts the tenant's verifier certificate and
holds a PID collected from the same server over OpenID4VCI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import pytest

from eudi_connect.services.app import Services
from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import (
    Cluster,
    IssuerProcess,
    Offers,
    local_services,
    new_tenant,
    sqlite_cluster,
)

from .verifier_helpers import Holder, Presentations, new_holder


@pytest.fixture(scope="module")
def issuer_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from sqlite_cluster(tmp_path_factory)


@pytest.fixture(scope="module")
def verifier_cluster(issuer_cluster: Cluster) -> Cluster:
    """The same processes: one server issues the wallet's credentials and verifies them."""
    return issuer_cluster


@pytest.fixture
def verifier(verifier_cluster: Cluster) -> IssuerProcess:
    return verifier_cluster.first


@pytest.fixture
def issuer(verifier: IssuerProcess) -> IssuerProcess:
    return verifier


@pytest.fixture
async def local(verifier_cluster: Cluster) -> AsyncIterator[Services]:
    async with local_services(verifier_cluster.db_url, verifier_cluster.master) as services:
        yield services


@pytest.fixture
async def tenant(local: Services) -> Tenant:
    return await new_tenant(local, "Verifier")


@pytest.fixture
async def channel(verifier: IssuerProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(verifier.grpc_address) as opened:
        yield opened


@pytest.fixture
def presentations(channel: grpc.aio.Channel, tenant: Tenant) -> Presentations:
    return Presentations(channel, tenant)


@pytest.fixture
def offers(channel: grpc.aio.Channel, tenant: Tenant) -> Offers:
    return Offers(channel, tenant)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
async def holder(
    session: aiohttp.ClientSession, offers: Offers, presentations: Presentations
) -> Holder:
    return await new_holder(session, offers, presentations)
