"""OTLP export end to end: a real server's metrics and spans reach a collector on loopback
when the standard OTEL_EXPORTER_OTLP_ENDPOINT names it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as metrics_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as trace_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import ServerOptions, start_server
from eudi_connect.cli.client import ClientConfig, credential_stub
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.monitoring.performance_metrics import monitor_installed
from eudi_connect.monitoring.telemetry import setup_telemetry
from eudi_connect.services.app import Services

from .conftest import Tenant


class Collector(metrics_grpc.MetricsServiceServicer, trace_grpc.TraceServiceServicer):
    """Keeps every export request it receives."""

    def __init__(self) -> None:
        self.metrics: list[metrics_pb.ExportMetricsServiceRequest] = []
        self.traces: list[trace_pb.ExportTraceServiceRequest] = []

    async def Export(self, request: Any, context: Any) -> Any:
        if isinstance(request, metrics_pb.ExportMetricsServiceRequest):
            self.metrics.append(request)
            return metrics_pb.ExportMetricsServiceResponse()
        self.traces.append(request)
        return trace_pb.ExportTraceServiceResponse()

    def metric_names(self) -> set[str]:
        return {
            metric.name
            for request in self.metrics
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }

    def span_names(self) -> set[str]:
        return {
            span.name
            for request in self.traces
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        }


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, int]]:
    received = Collector()
    server = grpc.aio.server()
    # The collector's generated gRPC modules carry no annotations.
    metrics_grpc.add_MetricsServiceServicer_to_server(received, server)  # type: ignore[no-untyped-call]
    trace_grpc.add_TraceServiceServicer_to_server(received, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield received, port
    await server.stop(None)


async def test_metrics_and_spans_reach_the_otlp_collector(
    collector: tuple[Collector, int], services: Services, tenant: Tenant
) -> None:
    """An issued credential's RPC metrics, step metrics and spans arrive over OTLP."""
    received, port = collector
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
    telemetry = setup_telemetry(environ=environ)
    assert telemetry.prometheus_registry is None
    with monitor_installed(telemetry.monitor):
        options = ServerOptions(host="127.0.0.1", port=0, settings=services.settings)
        running = await start_server(services, options, telemetry=telemetry)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stub = pb_grpc.CredentialServiceStub(channel)
                request = pb.IssueCredentialRequest(
                    template_id="pid", subject=dict_to_struct(dict(PID_EXAMPLE_SUBJECT))
                )
                await stub.IssueCredential(request, metadata=tenant.metadata)
        finally:
            await running.stop(grace=1.0)
    # Shutting down pushes what is pending; it blocks, so not on this (the collector's) loop.
    await asyncio.to_thread(telemetry.shutdown)
    assert {"operation.time", "operation.count"} <= received.metric_names()
    spans = received.span_names()
    assert "/eudi.connect.v1.CredentialService/IssueCredential" in spans
    assert {"issuance.render", "issuance.sign", "issuance.store"} <= spans
    resource = received.metrics[0].resource_metrics[0].resource
    service_names = [a.value.string_value for a in resource.attributes if a.key == "service.name"]
    assert service_names == ["eudi-connect"]


async def test_cli_client_spans_join_the_server_trace(
    collector: tuple[Collector, int],
    services: Services,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI's client helper traces its calls, and the server's span joins that trace."""
    received, port = collector
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    telemetry = setup_telemetry(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint})
    options = ServerOptions(host="127.0.0.1", port=0, settings=services.settings)
    running = await start_server(services, options, telemetry=telemetry)
    config = ClientConfig(address=f"127.0.0.1:{running.port}", api_key=tenant.api_key)

    def call() -> None:
        with credential_stub(config) as stub:
            stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=config.metadata, timeout=10)

    try:
        await asyncio.to_thread(call)  # the helper flushes its spans as the block ends
    finally:
        await running.stop(grace=1.0)
        await asyncio.to_thread(telemetry.shutdown)
    name = "/eudi.connect.v1.CredentialService/GetIssuerKeys"
    spans = [
        span
        for request in received.traces
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        if span.name == name
    ]
    kinds = {span.kind: span for span in spans}
    client = kinds[trace_pb2.Span.SpanKind.SPAN_KIND_CLIENT]
    server = kinds[trace_pb2.Span.SpanKind.SPAN_KIND_SERVER]
    assert server.trace_id == client.trace_id
    assert server.parent_span_id == client.span_id
