"""A real server whose metrics and spans land in in-memory exporters the test can read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from eudi_connect.api.server import RunningServer, ServerOptions, start_server
from eudi_connect.monitoring.performance_metrics import monitor_installed
from eudi_connect.monitoring.telemetry import Telemetry, setup_telemetry
from eudi_connect.services.app import Services

CREDENTIAL_SERVICE = "/eudi.connect.v1.CredentialService/"


async def eventually(check: Callable[[], bool], *, within: float = 5.0) -> None:
    """Waits until `check()` holds. An aborted call's status reaches the client while the
    server is still unwinding the handler, so its metrics land a moment after the answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@dataclass
class Observed:
    running: RunningServer
    telemetry: Telemetry
    reader: InMemoryMetricReader
    spans: InMemorySpanExporter

    @property
    def http_url(self) -> str:
        assert self.running.http is not None
        assert self.running.http.http_port is not None
        return f"http://127.0.0.1:{self.running.http.http_port}"

    @property
    def metrics_url(self) -> str:
        assert self.running.http is not None
        assert self.running.http.metrics_port is not None
        return f"http://127.0.0.1:{self.running.http.metrics_port}"

    def points(self, name: str) -> list[Any]:
        """Every data point of metric `name` collected so far."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    async def wait_count(self, method: str, status: str, tenant: str, expected: int = 1) -> None:
        """Waits until ``operation.count`` reaches `expected`, then checks it stays exact."""
        await eventually(lambda: self.count(method, status, tenant) >= expected)
        assert self.count(method, status, tenant) == expected

    def count(self, method: str, status: str, tenant: str) -> int:
        """``operation.count`` for one RPC method, status name and tenant."""
        wanted = {"operation": CREDENTIAL_SERVICE + method, "grpc.status_code": status}
        wanted["tenant"] = tenant
        total = 0
        for point in self.points("operation.count"):
            assert isinstance(point, NumberDataPoint)
            if dict(point.attributes or {}) == wanted:
                total += int(point.value)
        return total

    def histogram(self, name: str, **attributes: Any) -> HistogramDataPoint | None:
        """The point of histogram `name` whose attributes include `attributes`."""
        for point in self.points(name):
            assert isinstance(point, HistogramDataPoint)
            have = dict(point.attributes or {})
            if all(have.get(key) == value for key, value in attributes.items()):
                return point
        return None


@asynccontextmanager
async def observed_server(
    services: Services, *, http_port: int | None = 0, metrics_port: int | None = 0
) -> AsyncIterator[Observed]:
    """A server with Prometheus on, plus in-memory metric and span exporters."""
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    telemetry = setup_telemetry(
        prometheus=True,
        environ={},
        metric_readers=[reader],
        span_processors=[SimpleSpanProcessor(spans)],
    )
    try:
        with monitor_installed(telemetry.monitor):
            options = ServerOptions(
                host="127.0.0.1",
                port=0,
                settings=services.settings,
                http_port=http_port,
                metrics_port=metrics_port,
            )
            running = await start_server(services, options, telemetry=telemetry)
            try:
                yield Observed(running, telemetry, reader, spans)
            finally:
                await running.stop(grace=1.0)
    finally:
        telemetry.shutdown()
