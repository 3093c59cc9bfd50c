"""Fixtures of the wallet-flow tests: issuer processes per module (one, on SQLite, unless
the module overrides `issuer_cluster`: other flags, more processes, another database), and
per test a tenant, its OfferService client, an HTTP session and a test wallet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import pytest

from eudi_connect.services.app import Services
from tests.integration.conftest import Tenant
from tests.wallet import Wallet

from .issuer_processes import (
    Cluster,
    IssuerProcess,
    Offers,
    local_services,
    new_tenant,
    sqlite_cluster,
)


@pytest.fixture(scope="module")
def issuer_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from sqlite_cluster(tmp_path_factory)


@pytest.fixture
def issuer(issuer_cluster: Cluster) -> IssuerProcess:
    return issuer_cluster.first


@pytest.fixture
async def local(issuer_cluster: Cluster) -> AsyncIterator[Services]:
    async with local_services(issuer_cluster.db_url, issuer_cluster.master) as services:
        yield services


@pytest.fixture
async def tenant(local: Services) -> Tenant:
    return await new_tenant(local)


@pytest.fixture
async def channel(issuer: IssuerProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(issuer.grpc_address) as opened:
        yield opened


@pytest.fixture
def offers(channel: grpc.aio.Channel, tenant: Tenant) -> Offers:
    return Offers(channel, tenant)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def wallet(session: aiohttp.ClientSession) -> Wallet:
    return Wallet(session)
