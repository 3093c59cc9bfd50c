"""PerformanceMonitor, the time_operation decorator and measure_operation_time, read back
through the OpenTelemetry SDK's in-memory reader and span exporter."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from eudi_connect.monitoring.logs import (
    FIELDS,
    BatchingStreamHandler,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    flush_access_log,
    log_access,
)
from eudi_connect.monitoring.performance_metrics import (
    OPERATION_COUNT,
    OPERATION_TIME,
    TIME_BUCKETS_MS,
    PerformanceMonitor,
    current_monitor,
    measure_operation_time,
    monitor_installed,
    time_operation,
)
from eudi_connect.monitoring.telemetry import otlp_configured, setup_telemetry


class Recorded:
    """A monitor wired to in-memory exporters, installed as the process's monitor."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.monitor = PerformanceMonitor(self.meter_provider, self.tracer_provider)

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def times(self, operation: str) -> list[HistogramDataPoint]:
        return [
            p for p in self.points(OPERATION_TIME) if p.attributes.get("operation") == operation
        ]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    sink = Recorded()
    with monitor_installed(sink.monitor):
        yield sink
    sink.meter_provider.shutdown()
    sink.tracer_provider.shutdown()


def test_context_manager_in_sync_code(recorded: Recorded) -> None:
    """measure_operation_time records one sample with the block's duration in ms."""
    with measure_operation_time("unit.sync", {"kind": "test"}) as timer:
        time.sleep(0.002)
    (point,) = recorded.times("unit.sync")
    assert point.count == 1
    assert dict(point.attributes or {}) == {"operation": "unit.sync", "kind": "test"}
    assert 2.0 <= point.sum == pytest.approx(timer.elapsed_ms)
    assert tuple(point.explicit_bounds) == TIME_BUCKETS_MS


async def test_context_manager_around_awaits(recorded: Recorded) -> None:
    """The same context manager times a block that awaits, including the time suspended."""
    with measure_operation_time("unit.async"):
        await asyncio.sleep(0.003)
    (point,) = recorded.times("unit.async")
    assert point.count == 1
    assert point.sum >= 3.0


def test_context_manager_marks_errors(recorded: Recorded) -> None:
    """A block that raises is recorded with error.type and its span is an error."""
    with pytest.raises(KeyError), measure_operation_time("unit.fails"):
        raise KeyError("x")
    (point,) = recorded.times("unit.fails")
    assert (point.attributes or {})["error.type"] == "KeyError"
    (span,) = recorded.spans.get_finished_spans()
    assert span.name == "unit.fails"
    assert span.status.status_code == StatusCode.ERROR


def test_decorator_on_sync_function(recorded: Recorded) -> None:
    """@time_operation times every call of a plain function and keeps its result and name."""

    @time_operation(operation="unit.add")
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    assert add(1, 1) == 2
    assert add.__name__ == "add"
    (point,) = recorded.times("unit.add")
    assert point.count == 2


async def test_decorator_on_coroutine_function(recorded: Recorded) -> None:
    """@time_operation on an async def times the awaited call, not just its creation."""

    @time_operation(operation="unit.wait")
    async def wait(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    assert asyncio.iscoroutinefunction(wait)
    assert await wait(0.003) == "done"
    (point,) = recorded.times("unit.wait")
    assert point.count == 1
    assert point.sum >= 3.0


def test_decorator_default_name_and_generators() -> None:
    """Without a name the function's qualified name is used; generators are refused."""

    @time_operation()
    def named() -> None:
        return None

    with monitor_installed(Recorded().monitor) as monitor:
        named()
    assert monitor.recording

    def generator() -> Iterator[int]:
        yield 1

    async def async_generator() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError):
        time_operation()(generator)
    with pytest.raises(TypeError):
        time_operation()(async_generator)


def test_decorator_uses_the_monitor_installed_at_call_time() -> None:
    """A function decorated at import time records into whichever monitor is current."""

    @time_operation(operation="unit.late")
    def work() -> None:
        return None

    first, second = Recorded(), Recorded()
    with monitor_installed(first.monitor):
        work()
    with monitor_installed(second.monitor):
        work()
        work()
    assert [p.count for p in first.times("unit.late")] == [1]
    assert [p.count for p in second.times("unit.late")] == [2]


def test_spans_nest_under_the_current_span(recorded: Recorded) -> None:
    """Timed steps inside a timed step become its child spans."""
    with measure_operation_time("unit.outer"), measure_operation_time("unit.inner"):
        pass
    spans = {span.name: span for span in recorded.spans.get_finished_spans()}
    outer_context = spans["unit.outer"].context
    inner_parent = spans["unit.inner"].parent
    assert outer_context is not None
    assert inner_parent is not None
    assert inner_parent.span_id == outer_context.span_id


def test_record_rpc_and_http(recorded: Recorded) -> None:
    """RPCs and HTTP requests add a time sample and a count with their attributes."""
    recorded.monitor.record_rpc("/s/M", "NOT_FOUND", "t1", 1.5)
    recorded.monitor.record_http("HTTP GET /healthz", 200, 0.5)
    counts = {
        tuple(sorted(p.attributes.items())): p.value for p in recorded.points(OPERATION_COUNT)
    }
    assert counts == {
        (("grpc.status_code", "NOT_FOUND"), ("operation", "/s/M"), ("tenant", "t1")): 1,
        (("http.response.status_code", 200), ("operation", "HTTP GET /healthz")): 1,
    }


def test_without_providers_nothing_is_recorded_or_traced() -> None:
    """The default monitor records nothing and has no tracer, so timing stays cheap."""
    monitor = PerformanceMonitor()
    assert not monitor.recording
    assert monitor.tracer is None
    with monitor_installed(monitor):
        assert current_monitor() is monitor
        with measure_operation_time("unit.noop") as timer:
            pass
    assert timer.elapsed_ms >= 0


def test_noop_timing_is_cheap() -> None:
    """With no exporter, a timed block costs a few microseconds at most."""
    monitor = PerformanceMonitor()
    runs = 20_000
    start = time.perf_counter()
    for _ in range(runs):
        with measure_operation_time("unit.cheap", monitor=monitor):
            pass
    per_call_us = (time.perf_counter() - start) / runs * 1e6
    # ~1 us on an idle core; the bound leaves room for a busy shared machine.
    assert per_call_us < 25, per_call_us


def test_setup_telemetry_without_exporters_builds_no_sdk() -> None:
    """No Prometheus and no OTLP endpoint: no providers, a non-recording monitor."""
    telemetry = setup_telemetry(environ={})
    assert telemetry.meter_provider is None
    assert telemetry.tracer_provider is None
    assert not telemetry.monitor.recording
    telemetry.shutdown()


def test_setup_telemetry_with_otlp_endpoint_exports_metrics_and_traces() -> None:
    """The standard OTLP endpoint variable turns on both OTLP metric and span export."""
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SERVICE_NAME": "t"}
    assert otlp_configured(environ)
    assert not otlp_configured({})
    telemetry = setup_telemetry(environ=environ)
    try:
        assert telemetry.meter_provider is not None
        assert telemetry.tracer_provider is not None
        assert telemetry.monitor.recording
        assert telemetry.monitor.tracer is not None
        assert telemetry.prometheus_registry is None
    finally:
        # Nothing was recorded, so the final push has nothing to send to the closed port.
        telemetry.shutdown()


def record(message: str, **fields: Any) -> logging.LogRecord:
    entry = logging.LogRecord("eudi_connect.access", logging.INFO, __file__, 1, message, (), None)
    entry.__dict__[FIELDS] = fields
    return entry


def test_json_formatter_writes_fields_as_keys() -> None:
    """A JSON line holds time, level, logger, message and each field as a top-level key."""
    line = json.loads(JsonFormatter().format(record("rpc", method="/s/M", duration_ms=1.25)))
    assert line["level"] == "INFO"
    assert line["logger"] == "eudi_connect.access"
    assert line["message"] == "rpc"
    assert (line["method"], line["duration_ms"]) == ("/s/M", 1.25)
    assert line["time"].endswith("Z")


def test_text_formatter_appends_fields() -> None:
    """The text format keeps the fields readable as key=value after the message."""
    text = TextFormatter().format(record("rpc", status="OK"))
    assert text.endswith(' rpc status="OK"')


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiosqlite").level)
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("aiosqlite").setLevel(saved[2])


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_keeps_aiosqlite_above_debug() -> None:
    """Even at DEBUG, aiosqlite (whose DEBUG lines repeat SQL calls) logs nothing below INFO."""
    buffer = io.StringIO()
    configure_logging("json", "DEBUG", stream=buffer)
    logging.getLogger("aiosqlite").debug("executing %s", "INSERT ... secret")
    logging.getLogger("eudi_connect.test").debug("kept")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["kept"]
    with pytest.raises(ValueError, match="log format"):
        configure_logging("xml", "INFO")  # type: ignore[arg-type]


class CountingStream(io.StringIO):
    """A text stream that counts its flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_batching_handler_flushes_per_interval_and_at_once_for_warnings() -> None:
    """INFO lines share a flush within the interval; a WARNING is flushed at once."""
    stream = CountingStream()
    handler = BatchingStreamHandler(stream, interval=60.0)
    handler.setFormatter(TextFormatter())
    try:
        handler.handle(record("first"))
        after_first = stream.flushes
        for n in range(50):
            handler.handle(record(f"line {n}"))
        assert stream.flushes == after_first
        warning = record("careful")
        warning.levelno, warning.levelname = logging.WARNING, "WARNING"
        handler.handle(warning)
        assert stream.flushes == after_first + 1
        assert stream.getvalue().count("\n") == 52
    finally:
        handler.close()
    assert stream.flushes >= after_first + 2


def test_batching_handler_flushes_a_quiet_spell_in_the_background() -> None:
    """A line left behind by a burst is flushed in the background within the interval."""
    stream = CountingStream()
    handler = BatchingStreamHandler(stream, interval=0.02)
    try:
        handler.handle(record("one"))
        before = stream.flushes
        deadline = time.monotonic() + 5
        while stream.flushes == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.flushes > before
    finally:
        handler.close()


@pytest.mark.usefixtures("restored_logging")
def test_access_lines_keep_their_call_time_and_order() -> None:
    """Batched access lines come out in call order, stamped with the time of the call."""
    buffer = io.StringIO()
    configure_logging("json", "INFO", stream=buffer)
    before = time.time()
    for n in range(5):
        log_access("rpc", {"n": n})
    flush_access_log()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [line["n"] for line in lines] == [0, 1, 2, 3, 4]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(before)))
    assert lines[0]["time"][:19] >= stamp


@pytest.mark.usefixtures("restored_logging")
def test_one_background_thread_writes_and_flushes_access_lines() -> None:
    """Without an explicit flush, queued access lines and metric samples are handed over
    and the log stream flushed by one monitoring thread, not one thread each."""
    stream = CountingStream()
    configure_logging("json", "INFO", stream=stream)
    monitor = PerformanceMonitor(
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()])
    )
    monitor.record_rpc("Probe", "OK", "t", 1.0)
    log_access("rpc", {"probe": "background"})
    deadline = time.monotonic() + 5
    while '"background"' not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert '"probe": "background"' in stream.getvalue()
    flushes = stream.flushes
    deadline = time.monotonic() + 5
    while stream.flushes == flushes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.flushes > flushes
    names = [thread.name for thread in threading.enumerate()]
    assert names.count("monitoring-flush") == 1
    assert "log-flusher" not in names
    assert "batcher" not in names
