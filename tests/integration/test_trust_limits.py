"""What one tenant's trust configuration may cost the service: a capped number of entries
(through a real server process started with --max-trust-entries), and a bounded cache
of trusted issuers' JWKS that forgets the least recently used set first."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import trust_service_pb2 as trust_pb

from eudi_connect.api.server import ServerOptions, start_server
from eudi_connect.core.keys import MasterKey
from eudi_connect.services.app import open_services
from eudi_connect.services.fetch import FetchSettings
from eudi_connect.services.settings import ServiceSettings

from .conftest import Tenant
from .foreign_issuer import ForeignIssuer, LoopbackServer, der, make_pki, start_loopback
from .template_helpers import error_info, expect_error
from .trust_helpers import Served, connected, server_process

LIMIT = "TRUST_ENTRIES_LIMIT"


def _add_issuer(served: Served, tenant: Tenant, name: str) -> Any:
    """The AddTrustedIssuer call (not awaited) for `name` with a JWKS of its own."""
    jwks = json.dumps(ForeignIssuer.new(name).jwks())
    return served.trust.AddTrustedIssuer(
        trust_pb.AddTrustedIssuerRequest(
            trusted_issuer=trust_pb.TrustedIssuer(issuer=name, jwks=jwks)
        ),
        metadata=tenant.metadata,
    )


async def test_a_tenants_trust_entries_are_capped(tmp_path: Path) -> None:
    """With --max-trust-entries 3: issuers and anchors count together, the fourth is
    RESOURCE_EXHAUSTED (TRUST_ENTRIES_LIMIT), concurrent adds never pass the cap, another
    tenant has its own room, and removing an entry makes room again."""
    tenants = ("Full", "Racing")
    with server_process(tmp_path, "--max-trust-entries", "3", tenants=tenants) as process:
        async with connected(process.address, process.tenants) as served:
            full, racing = served.tenants["Full"], served.tenants["Racing"]
            await _add_issuer(served, full, "https://a.example")
            await _add_issuer(served, full, "https://b.example")
            await served.add_anchor(full, der(make_pki().root))
            code = grpc.StatusCode.RESOURCE_EXHAUSTED
            fourth = _add_issuer(served, full, "https://c.example")
            _, info = await expect_error(fourth, code, LIMIT)
            assert info.metadata["max_entries"] == "3"
            await expect_error(
                served.trust.AddTrustAnchor(
                    trust_pb.AddTrustAnchorRequest(certificate=der(make_pki().root)),
                    metadata=full.metadata,
                ),
                code,
                LIMIT,
            )
            listed = await served.trust.ListTrustedIssuers(
                trust_pb.ListTrustedIssuersRequest(), metadata=full.metadata
            )
            assert [t.issuer for t in listed.trusted_issuers] == [
                "https://a.example",
                "https://b.example",
            ]

            calls = [_add_issuer(served, racing, f"https://{n}.example") for n in range(12)]
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
            assert len(outcomes) - len(refused) == 3
            assert {(e.code(), error_info(e).reason) for e in refused} == {(code, LIMIT)}

            await served.trust.RemoveTrustedIssuer(
                trust_pb.RemoveTrustedIssuerRequest(issuer="https://a.example"),
                metadata=full.metadata,
            )
            await _add_issuer(served, full, "https://c.example")


@pytest.fixture
async def small_jwks_cache(
    db_url: str, http_server: LoopbackServer
) -> AsyncIterator[tuple[Served, Tenant]]:
    """An in-process server keeping two JWKS, fetching from loopback over plain http."""
    settings = ServiceSettings(public_url="https://issuer.test", max_cached_jwks=2)
    services = await open_services(
        db_url,
        settings,
        master_key=MasterKey.generate(),
        fetch=FetchSettings(allow_http_loopback=True),
    )
    running = await start_server(services, ServerOptions(port=0, settings=settings))
    try:
        created = await services.tenants.create_tenant("Verifier")
        tenant = Tenant(created.tenant_id, created.api_key)
        address = f"127.0.0.1:{running.port}"
        async with connected(address, {"Verifier": tenant}) as served:
            yield served, tenant
    finally:
        await running.stop(grace=1.0)


@pytest.fixture
async def http_server() -> AsyncIterator[LoopbackServer]:
    server, runner = await start_loopback()
    yield server
    await runner.cleanup()


async def test_the_jwks_cache_forgets_the_least_recently_used_set(
    small_jwks_cache: tuple[Served, Tenant], http_server: LoopbackServer
) -> None:
    """Three issuers by JWKS URL, a cache of two: using the third forgets the least
    recently used set, which is fetched again on its next use; the others are not."""
    served, tenant = small_jwks_cache
    issuers = {}
    for name in ("a", "b", "c"):
        issuer = ForeignIssuer.new(f"https://{name}.example")
        path = f"/{name}/jwks.json"
        url = http_server.serve(path, json.dumps(issuer.jwks()), content_type="application/json")
        await served.trust.AddTrustedIssuer(
            trust_pb.AddTrustedIssuerRequest(
                trusted_issuer=trust_pb.TrustedIssuer(issuer=issuer.issuer, jwks_uri=url)
            ),
            metadata=tenant.metadata,
        )
        issuers[name] = (issuer, path)

    async def verify(name: str) -> None:
        issuer, _ = issuers[name]
        response = await served.verify(tenant, issuer.credential())
        assert response.valid, response.detail

    for name in ("a", "b", "a", "c"):  # c pushes out b, the least recently used
        await verify(name)
    assert {n: http_server.hits[p] for n, (_, p) in issuers.items()} == {"a": 1, "b": 1, "c": 1}
    await verify("a")
    await verify("b")  # fetched again; pushes out c
    await verify("a")
    assert {n: http_server.hits[p] for n, (_, p) in issuers.items()} == {"a": 1, "b": 2, "c": 1}
