"""A real server on a free loopback port, real stubs, a real database file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.server import RunningServer, ServerOptions, start_server
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.settings import ServiceSettings
from tests.backends import BACKENDS, backend_url


@dataclass
class Tenant:
    tenant_id: str
    api_key: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.api_key),)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database for the test, once per store backend (SQLite file, PostgreSQL)."""
    return backend_url(request, str(request.param), tmp_path)


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(
        public_url="https://issuer.test", status_list_size=1024, status_lease_size=16
    )


@pytest.fixture
async def services(db_url: str, settings: ServiceSettings) -> AsyncIterator[Services]:
    opened = await open_services(db_url, settings, master_key=MasterKey.generate())
    yield opened
    await opened.close()


@pytest.fixture
async def server(services: Services, settings: ServiceSettings) -> AsyncIterator[RunningServer]:
    running = await start_server(
        services, ServerOptions(host="127.0.0.1", port=0, settings=settings)
    )
    yield running
    await running.stop(grace=1.0)


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as opened:
        yield opened


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> pb_grpc.CredentialServiceStub:
    return pb_grpc.CredentialServiceStub(channel)


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    created = await services.tenants.create_tenant("Acme Issuer")
    return Tenant(created.tenant_id, created.api_key)


@pytest.fixture
async def other_tenant(services: Services) -> Tenant:
    created = await services.tenants.create_tenant("Other Issuer")
    return Tenant(created.tenant_id, created.api_key)
