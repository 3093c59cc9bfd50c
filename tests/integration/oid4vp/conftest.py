"""Fixtures of the verifier tests: `eudi-connect serve` processes per module (SQLite) whose
HTTP listener is their `--public-url http://127.0.0.1:<port>`, and per test a tenant, its
PresentationService client and an HTTP session."""

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
    local_services,
    new_tenant,
    sqlite_cluster,
)

from .verifier_client import Presentations


@pytest.fixture(scope="module")
def verifier_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from sqlite_cluster(tmp_path_factory)


@pytest.fixture
def verifier(verifier_cluster: Cluster) -> IssuerProcess:
    return verifier_cluster.first


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
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened
