"""Which exporters run: builds the meter and tracer providers behind a `PerformanceMonitor`.

* Prometheus (``prometheus=True``): a reader that a scrape of ``/metrics`` collects from,
  in a registry of its own (never prometheus_client's global one).
* OTLP: when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its ``_METRICS_`` /
  ``_TRACES_`` variant) is set, metrics are pushed periodically and spans in batches, over
  gRPC (an ``http://`` endpoint means no TLS); the exporter reads the other standard
  ``OTEL_EXPORTER_OTLP_*`` variables (headers, certificates, timeout) and
  ``OTEL_METRIC_EXPORT_INTERVAL`` itself.
  Its package is imported only then.
* Neither: no SDK provider at all, so instrumentation records nothing and opens no spans.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eudi_connect.monitoring.performance_metrics import PerformanceMonitor

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from prometheus_client import CollectorRegistry

__all__ = ["OTLP_ENDPOINT_ENV", "Telemetry", "otlp_configured", "setup_telemetry"]

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_METRICS_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
OTLP_TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"
DEFAULT_SERVICE_NAME = "eudi-connect"


@dataclass
class Telemetry:
    """The monitor to record into, and the providers and registry behind it."""

    monitor: PerformanceMonitor = field(default_factory=PerformanceMonitor)
    meter_provider: MeterProvider | None = None
    tracer_provider: TracerProvider | None = None
    prometheus_registry: CollectorRegistry | None = None

    def shutdown(self) -> None:
        """Flushes and stops the exporters (a last OTLP push); safe to call twice."""
        self.monitor.flush()
        meter_provider, self.meter_provider = self.meter_provider, None
        tracer_provider, self.tracer_provider = self.tracer_provider, None
        if tracer_provider is not None:
            tracer_provider.shutdown()
        if meter_provider is not None:
            meter_provider.shutdown()


def _otlp_endpoint(environ: Mapping[str, str], specific: str) -> str | None:
    return environ.get(specific) or environ.get(OTLP_ENDPOINT_ENV) or None


def otlp_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the standard OTLP endpoint variables ask for any export."""
    env = os.environ if environ is None else environ
    return bool(
        _otlp_endpoint(env, OTLP_METRICS_ENDPOINT_ENV)
        or _otlp_endpoint(env, OTLP_TRACES_ENDPOINT_ENV)
    )


def setup_telemetry(
    *,
    prometheus: bool = False,
    environ: Mapping[str, str] | None = None,
    metric_readers: Sequence[MetricReader] = (),
    span_processors: Sequence[SpanProcessor] = (),
) -> Telemetry:
    """Providers for what is asked: Prometheus, OTLP from `environ` (default: the process
    environment), and extra readers or span processors (tests pass in-memory ones)."""
    env = os.environ if environ is None else environ
    readers: list[MetricReader] = list(metric_readers)
    processors: list[SpanProcessor] = list(span_processors)
    registry: CollectorRegistry | None = None
    if prometheus:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        readers.append(PrometheusMetricReader(registry=registry))
    metrics_endpoint = _otlp_endpoint(env, OTLP_METRICS_ENDPOINT_ENV)
    if metrics_endpoint is not None:
        readers.append(_otlp_metric_reader(metrics_endpoint))
    traces_endpoint = _otlp_endpoint(env, OTLP_TRACES_ENDPOINT_ENV)
    if traces_endpoint is not None:
        processors.append(_otlp_span_processor(traces_endpoint))
    if not readers and not processors:
        return Telemetry()

    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": env.get(SERVICE_NAME_ENV) or DEFAULT_SERVICE_NAME})
    meter_provider = tracer_provider = None
    if readers:
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider

        # Exemplars would cost a context look-up per measurement; nothing here uses them.
        meter_provider = MeterProvider(
            metric_readers=readers, resource=resource, exemplar_filter=AlwaysOffExemplarFilter()
        )
    if processors:
        from opentelemetry.sdk.trace import TracerProvider

        tracer_provider = TracerProvider(resource=resource)
        for processor in processors:
            tracer_provider.add_span_processor(processor)
    return Telemetry(
        monitor=PerformanceMonitor(meter_provider, tracer_provider),
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
        prometheus_registry=registry,
    )


def _otlp_metric_reader(endpoint: str) -> MetricReader:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    except ImportError as exc:  # pragma: no cover - the package is a declared dependency
        raise RuntimeError(
            f"{OTLP_ENDPOINT_ENV} is set but opentelemetry-exporter-otlp-proto-grpc is missing"
        ) from exc
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint))


def _otlp_span_processor(endpoint: str) -> SpanProcessor:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # pragma: no cover - the package is a declared dependency
        raise RuntimeError(
            f"{OTLP_ENDPOINT_ENV} is set but opentelemetry-exporter-otlp-proto-grpc is missing"
        ) from exc
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
