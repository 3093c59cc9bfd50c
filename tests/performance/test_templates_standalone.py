"""Quick performance checks of template rendering: the compile cache is hit, invalidation is
selective, and over gRPC one batch of 100 beats 100 single calls (measured in the same run).

In process, a batch is no faster than 100 renders from the compile cache: rendering is the
work, and the batch only saves what each service call adds, the template lookup (one store
read of the version per call with the default `version_ttl_seconds=0`). Those comparisons
are printed, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
from google.protobuf import struct_pb2

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import RunningServer, ServerOptions, start_server
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.templates import NotificationFormat, NotificationTemplate
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.services.template_admin import TemplateDraft

ITEMS = 100
DATA = {"holder_name": "Erika <Mustermann>", "credential_type": "PID"}


def alert(template_id: str, *, variant: str = "") -> NotificationTemplate:
    return NotificationTemplate(
        template_id=template_id,
        subject_template="Your {{ credential_type }} was revoked" + variant,
        text_template="Dear {{ holder_name }}, your {{ credential_type }} was revoked.",
        html_template="<p>Dear {{ holder_name }},</p><p>{{ credential_type }} revoked.</p>",
        data_schema=("holder_name", "credential_type"),
    )


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    opened = await open_services(
        f"sqlite:///{tmp_path / 'perf.db'}", ServiceSettings(), master_key=MasterKey.generate()
    )
    yield opened
    await opened.close()


@pytest.fixture
async def tenant_id(services: Services) -> str:
    return (await services.tenants.create_tenant("perf")).tenant_id


@pytest.fixture
async def server(services: Services) -> AsyncIterator[RunningServer]:
    running = await start_server(services, ServerOptions(host="127.0.0.1", port=0))
    yield running
    await running.stop(grace=1.0)


async def test_cache_is_hit_for_1000_renders(services: Services, tenant_id: str) -> None:
    """1,000 renders of one template compile it once per part, then only hit the cache."""
    service = services.template_service
    environment = services.templates.environment
    await service.create(tenant_id, TemplateDraft(alert("a")))
    await service.render(tenant_id, "a", DATA, format="html")
    before = environment.cache_stats()
    for _ in range(1000):
        await service.render(tenant_id, "a", DATA, format="html")
    after = environment.cache_stats()
    assert after.compiles == before.compiles
    assert after.hits - before.hits == 2000  # subject + html body per render


async def test_invalidation_is_selective(services: Services, tenant_id: str) -> None:
    """Updating one of five templates replaces that one's compiled parts alone (compiled by
    the check that saved it, so no render compiles); the others stay warm."""
    service = services.template_service
    environment = services.templates.environment
    ids = [f"t{n}" for n in range(5)]
    for template_id in ids:
        await service.create(tenant_id, TemplateDraft(alert(template_id)))
        await service.render(tenant_id, template_id, DATA, format="html")
    before = environment.cache_stats()
    stored = await service.get(tenant_id, "t2")
    await service.update(tenant_id, TemplateDraft(alert("t2", variant="!")), etag=stored.etag)
    for _ in range(200):
        for template_id in ids:
            await service.render(tenant_id, template_id, DATA, format="html")
    after = environment.cache_stats()
    assert after.compiles == before.compiles
    assert after.loaded - before.loaded == 3  # t2's subject, text and html body
    assert after.invalidated - before.invalidated == 3
    for template_id in ids:
        version = 2 if template_id == "t2" else 1
        assert environment.cached_versions(tenant_id, template_id) == {
            (version, "subject"),
            (version, "text"),
            (version, "html"),
        }


async def test_batch_against_single_renders(services: Services, server: RunningServer) -> None:
    """Over gRPC one RenderTemplateBatch of 100 is clearly faster than 100 RenderTemplate
    calls; the in-process figures are printed, not asserted."""
    service = services.template_service
    created = await services.tenants.create_tenant("perf-grpc")
    tenant_id, api_key = created.tenant_id, created.api_key
    await service.create(tenant_id, TemplateDraft(alert("a")))
    items = [{**DATA, "holder_name": f"Holder {n}"} for n in range(ITEMS)]

    # In process, through the services.
    await service.render(tenant_id, "a", items[0], format="html")
    start = time.perf_counter()
    singles = [await service.render(tenant_id, "a", item, format="html") for item in items]
    in_process_single = time.perf_counter() - start
    start = time.perf_counter()
    batch = await service.render_many(tenant_id, "a", items, format="html")
    in_process_batch = time.perf_counter() - start
    assert batch == singles
    template = await services.templates.resolve(tenant_id, "a")
    assert isinstance(template, NotificationTemplate)
    environment = services.templates.environment
    start = time.perf_counter()
    for item in items:
        environment.render_notification(template, item, NotificationFormat.HTML)
    cached_only = time.perf_counter() - start

    # Over gRPC, against the real server on loopback.
    metadata = (("x-api-key", api_key),)
    structs = [dict_to_struct(item) for item in items]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = tpb_grpc.TemplateServiceStub(channel)

        def single(data: struct_pb2.Struct) -> tpb.RenderTemplateRequest:
            return tpb.RenderTemplateRequest(
                template_id="a", format=tpb.RENDER_FORMAT_HTML, data=data
            )

        await stub.RenderTemplate(single(structs[0]), metadata=metadata)  # warm up
        start = time.perf_counter()
        responses = [await stub.RenderTemplate(single(s), metadata=metadata) for s in structs]
        grpc_single = time.perf_counter() - start
        start = time.perf_counter()
        batch_response = await stub.RenderTemplateBatch(
            tpb.RenderTemplateBatchRequest(
                template_id="a", format=tpb.RENDER_FORMAT_HTML, items=structs
            ),
            metadata=metadata,
        )
        grpc_batch = time.perf_counter() - start
    assert [r.rendering for r in batch_response.results] == [r.rendering for r in responses]
    print(
        f"\n100 renders: in process {cached_only * 1e3:.1f} ms from the compile cache alone, "
        f"{in_process_single * 1e3:.1f} ms as 100 service calls, "
        f"{in_process_batch * 1e3:.1f} ms as one batch; over gRPC {grpc_single * 1e3:.1f} ms "
        f"single, {grpc_batch * 1e3:.1f} ms batch ({grpc_single / grpc_batch:.1f}x)"
    )
    assert grpc_batch * 3 < grpc_single
