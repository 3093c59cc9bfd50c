"""One tenant's expensive templates cannot hold up another tenant's calls: through a server
process, tenant A renders, issues with and saves the costliest templates the sandbox allows
while tenant B's GetIssuerKeys latency is measured; and a batch's renders have a CPU budget."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
from google.protobuf import struct_pb2

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .processes import create_tenant, server_running
from .template_helpers import credential_template, expect_error, expect_error_any

pytestmark = pytest.mark.slow

#: One step costs about 2 ms of CPU (a 1,000-item sort with a Python key, then unique).
STEP = '{{ ("ab" * 500) | list | sort | unique | list | length }}'
#: The costliest render the sandbox allows: it loops until its 0.1 s of CPU runs out.
WORST = '{"n": [{% for i in range(1000) %}' + STEP + ",{% endfor %}0]}"
#: Just under the time a render may take in the event loop (5 ms).
NEAR_INLINE_LIMIT = '{"n": ' + STEP + "}"
#: About 30 KB of source: Jinja takes seconds to check and compile it.
LARGE_SOURCE = '{"n": [' + ",".join(["{{ x }}"] * 3500) + "]}"

#: Tenant B's P99 while tenant A works must stay below this, or below three times its P99
#: measured just before, with nothing else running, when the machine is so busy that that
#: is more. Before the work moved off the event loop B waited seconds.
LATENCY_BOUND_SECONDS = 0.050
IDLE_SECONDS = 2.0

Metadata = tuple[tuple[str, str], ...]


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class Probe:
    """Tenant B as a client process of its own (tests/integration/latency_probe.py)."""

    def __init__(self, address: str, api_key: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.latency_probe", address, api_key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._stdin, self._stdout = self.process.stdin, self.process.stdout
        assert self._stdout.readline().strip() == "READY"

    async def series(self) -> list[float]:
        """The latencies since the last call of this method (or since the start)."""
        self._stdin.write("\n")
        self._stdin.flush()
        latencies: list[float] = json.loads(await asyncio.to_thread(self._stdout.readline))
        return latencies

    def stop(self) -> None:
        self._stdin.close()
        self._stdout.read()
        self.process.wait(60)
        self._stdout.close()


@dataclass
class Service:
    address: str
    a: Metadata  # tenant A: the busy one
    probe: Probe  # tenant B


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    db = f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'isolation.db'}"
    a, b = create_tenant(db, "Busy"), create_tenant(db, "Bystander")
    with server_running(db) as (_, address):
        metadata: Metadata = (("x-api-key", a["api_key"]),)
        asyncio.run(_create_templates(address, metadata))
        probe = Probe(address, b["api_key"])
        try:
            yield Service(address, metadata, probe)
        finally:
            probe.stop()


async def _create_templates(address: str, a: Metadata) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        templates = tpb_grpc.TemplateServiceStub(channel)
        for template_id, source in (("worst", WORST), ("near", NEAR_INLINE_LIMIT)):
            template = credential_template(
                template_id, claims_template=source, data_schema=(), disclosable=()
            )
            await templates.CreateTemplate(tpb.CreateTemplateRequest(template=template), metadata=a)


@pytest.fixture
async def channel(service: Service) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(service.address) as opened:
        yield opened


async def _in_flight(count: int, calls: list[Callable[[], Awaitable[None]]]) -> None:
    """Runs `calls`, at most `count` at a time."""
    gate = asyncio.Semaphore(count)

    async def run(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(run(call) for call in calls))


def _items(count: int) -> list[struct_pb2.Struct]:
    return [struct_pb2.Struct() for _ in range(count)]


async def batch_of_the_worst(channel: grpc.aio.Channel, a: Metadata) -> None:
    """1,000 renders of the costliest template in one batch: refused once its renders have
    used the call's CPU budget."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    _, info = await expect_error(
        templates.RenderTemplateBatch(
            tpb.RenderTemplateBatchRequest(template_id="worst", items=_items(1000)),
            metadata=a,
            timeout=120,
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RENDER_BUDGET_EXHAUSTED",
    )
    assert float(info.metadata["limit_seconds"]) > 0


async def renders_of_the_worst(channel: grpc.aio.Channel, a: Metadata) -> None:
    """RenderTemplate of the costliest template, 3 calls at a time: each uses its 0.1 s."""
    templates = tpb_grpc.TemplateServiceStub(channel)

    async def one() -> None:
        await expect_error(
            templates.RenderTemplate(
                tpb.RenderTemplateRequest(template_id="worst", data=struct_pb2.Struct()),
                metadata=a,
                timeout=120,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "TEMPLATE_LIMIT_EXCEEDED",
        )

    await _in_flight(3, [one] * 30)


async def issuance_with_the_worst(channel: grpc.aio.Channel, a: Metadata) -> None:
    """IssueCredential with the costliest template, 3 calls at a time."""
    credentials = pb_grpc.CredentialServiceStub(channel)

    async def one() -> None:
        await expect_error(
            credentials.IssueCredential(
                pb.IssueCredentialRequest(template_id="worst", subject=struct_pb2.Struct()),
                metadata=a,
                timeout=120,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "TEMPLATE_LIMIT_EXCEEDED",
        )

    await _in_flight(3, [one] * 30)


async def batches_near_the_inline_limit(channel: grpc.aio.Channel, a: Metadata) -> None:
    """1,000 renders of a template just quick enough for the event loop, as 10 batches of
    100, 2 at a time: every one succeeds."""
    templates = tpb_grpc.TemplateServiceStub(channel)

    async def one() -> None:
        response = await templates.RenderTemplateBatch(
            tpb.RenderTemplateBatchRequest(template_id="near", items=_items(100)),
            metadata=a,
            timeout=120,
        )
        assert [r.WhichOneof("outcome") for r in response.results] == ["rendering"] * 100

    await _in_flight(2, [one] * 10)


async def saves_of_a_large_template(channel: grpc.aio.Channel, a: Metadata) -> None:
    """Creating, updating and first rendering a template whose check and compile take
    seconds."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    template_id = f"large-{time.monotonic_ns()}"
    template = credential_template(
        template_id, claims_template=LARGE_SOURCE, data_schema=("x",), disclosable=()
    )
    created = await templates.CreateTemplate(
        tpb.CreateTemplateRequest(template=template), metadata=a, timeout=120
    )
    template.credential.vct = "urn:example:large:2"
    await templates.UpdateTemplate(
        tpb.UpdateTemplateRequest(template=template, etag=created.template.etag),
        metadata=a,
        timeout=120,
    )
    rendered = await templates.RenderTemplate(
        tpb.RenderTemplateRequest(template_id=template_id, data=dict_to_struct({"x": 1})),
        metadata=a,
        timeout=120,
    )
    assert rendered.rendering.content.startswith('{"n":[1,1,')


WORKLOADS = [
    batch_of_the_worst,
    renders_of_the_worst,
    issuance_with_the_worst,
    batches_near_the_inline_limit,
    saves_of_a_large_template,
]


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.__name__ for w in WORKLOADS])
async def test_another_tenant_is_not_held_up(
    service: Service,
    channel: grpc.aio.Channel,
    workload: Callable[[grpc.aio.Channel, Metadata], Awaitable[None]],
) -> None:
    """While tenant A runs the workload, tenant B's GetIssuerKeys P99 (B is another client
    process) stays below 50 ms, or near its P99 just before when the machine is busier."""
    await service.probe.series()  # whatever ran before this test
    await asyncio.sleep(IDLE_SECONDS)
    idle = await service.probe.series()
    started = time.monotonic()
    await workload(channel, service.a)
    took = time.monotonic() - started
    busy = await service.probe.series()
    bound = max(LATENCY_BOUND_SECONDS, 3 * p99(idle))
    print(
        f"{workload.__name__}: {took:.1f} s; B's P99 {p99(busy) * 1e3:.1f} ms over "
        f"{len(busy)} calls (max {max(busy) * 1e3:.1f} ms), idle P99 {p99(idle) * 1e3:.1f} ms"
    )
    assert p99(busy) < bound, (p99(busy), p99(idle), took)
    assert len(busy) >= 100, took  # enough calls for a P99 to mean something


async def test_a_batch_of_cheap_renders_stays_in_budget(
    service: Service, channel: grpc.aio.Channel
) -> None:
    """1,000 renders of the built-in PID in one batch all succeed: the CPU budget of a call
    only refuses templates that are expensive many times over."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    subject = dict_to_struct(PID_EXAMPLE_SUBJECT)
    response = await templates.RenderTemplateBatch(
        tpb.RenderTemplateBatchRequest(template_id="pid", items=[subject] * 1000),
        metadata=service.a,
        timeout=120,
    )
    assert [r.WhichOneof("outcome") for r in response.results] == ["rendering"] * 1000


async def test_an_exhausted_budget_leaves_the_server_serving(
    service: Service, channel: grpc.aio.Channel
) -> None:
    """After a batch is refused for its budget, the same tenant's next small render of the
    same template is answered as usual, and so is a cheap one."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    await expect_error_any(
        templates.RenderTemplateBatch(
            tpb.RenderTemplateBatchRequest(template_id="worst", items=_items(100)),
            metadata=service.a,
            timeout=120,
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        {"RENDER_BUDGET_EXHAUSTED"},
    )
    response = await templates.RenderTemplateBatch(
        tpb.RenderTemplateBatchRequest(template_id="worst", items=_items(2)),
        metadata=service.a,
        timeout=120,
    )
    assert [r.WhichOneof("outcome") for r in response.results] == ["error", "error"]
    near = await templates.RenderTemplate(
        tpb.RenderTemplateRequest(template_id="near", data=struct_pb2.Struct()),
        metadata=service.a,
        timeout=30,
    )
    assert near.rendering.content == '{"n":2}'
