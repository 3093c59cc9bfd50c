"""Operation timing: the instruments every part of the service records into.

One `PerformanceMonitor` per process holds the meter, the tracer and four instruments:

* ``operation.time`` (histogram, ms): every RPC, every public HTTP request, and every step
  timed with `time_operation` or `measure_operation_time` (render, sign, store, ...);
* ``operation.count`` (counter): every RPC and HTTP request;
* ``operation.stream_items`` (histogram): messages sent per server-streaming RPC;
* ``operation.time_to_first_item`` (histogram, ms): from the call's start to its first
  streamed message.

Attributes: ``operation`` always; ``grpc.status_code`` (a name such as ``"OK"``) and
``tenant`` (the tenant id, ``""`` when the call has none) on RPCs;
``http.response.status_code`` on HTTP requests; ``error.type`` on a timed step that raised.

Without a meter provider (no exporter configured) the monitor records nothing and its
timers cost two clock reads; without a tracer provider no span is ever opened. With one,
samples are queued and handed to the SDK in batches by a background thread (see
`_batching`), at most `RECORD_INTERVAL` seconds later; every collection (a scrape, an
export, a test's in-memory reader) hands over what is still queued first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from time import perf_counter
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import metrics, trace
from opentelemetry.util.types import AttributeValue

from eudi_connect.monitoring._batching import TICK_SECONDS, Batcher
from eudi_connect.monitoring.key_lifetimes import register_key_gauges

__all__ = [
    "ATTR_ERROR_TYPE",
    "ATTR_GRPC_STATUS",
    "ATTR_HTTP_STATUS",
    "ATTR_OPERATION",
    "ATTR_TENANT",
    "ITEM_BUCKETS",
    "NO_TENANT",
    "OPERATION_COUNT",
    "OPERATION_TIME",
    "STREAM_ITEMS",
    "TIME_BUCKETS_MS",
    "TIME_TO_FIRST_ITEM",
    "OperationTimer",
    "PerformanceMonitor",
    "current_monitor",
    "install_monitor",
    "measure_operation_time",
    "monitor_installed",
    "time_operation",
]

OPERATION_TIME = "operation.time"
OPERATION_COUNT = "operation.count"
STREAM_ITEMS = "operation.stream_items"
TIME_TO_FIRST_ITEM = "operation.time_to_first_item"

ATTR_OPERATION = "operation"
ATTR_GRPC_STATUS = "grpc.status_code"
ATTR_HTTP_STATUS = "http.response.status_code"
ATTR_TENANT = "tenant"
ATTR_ERROR_TYPE = "error.type"
# Calls without a tenant: health checks, reflection, and calls that failed authentication.
NO_TENANT = ""

# 0.1 ms to 10 s. The SLA thresholds (100, 150, 200, 300, 500, 800 ms) are boundaries, so
# the share of calls within an SLA is exact, not interpolated.
TIME_BUCKETS_MS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75,
    100, 150, 200, 300, 500, 800, 1000, 2000, 5000, 10000,
)  # fmt: skip
# A batch holds at most 10,000 items.
ITEM_BUCKETS: tuple[float, ...] = (
    0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
)  # fmt: skip

INSTRUMENTATION_SCOPE = "eudi_connect"
RECORD_INTERVAL = TICK_SECONDS  # seconds a sample may wait before the SDK aggregates it

P = ParamSpec("P")
R = TypeVar("R")


class PerformanceMonitor:
    """The meter, the tracer and the instruments. Build one per process with the
    providers that export (or none), and make it the process's with `install_monitor`."""

    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        # Recording into no-op instruments still costs an attribute dict per call: skip it.
        self.recording = meter_provider is not None and not isinstance(
            meter_provider, metrics.NoOpMeterProvider
        )
        meter = (meter_provider or metrics.NoOpMeterProvider()).get_meter(INSTRUMENTATION_SCOPE)
        self.operation_time = meter.create_histogram(
            OPERATION_TIME,
            unit="ms",
            description="Duration of RPCs, HTTP requests and timed steps inside them",
            explicit_bucket_boundaries_advisory=TIME_BUCKETS_MS,
        )
        self.operation_count = meter.create_counter(
            OPERATION_COUNT, unit="{operation}", description="RPCs and HTTP requests handled"
        )
        self.stream_items = meter.create_histogram(
            STREAM_ITEMS,
            unit="{item}",
            description="Messages sent per server-streaming RPC",
            explicit_bucket_boundaries_advisory=ITEM_BUCKETS,
        )
        self.time_to_first_item = meter.create_histogram(
            TIME_TO_FIRST_ITEM,
            unit="ms",
            description="Time from a streaming RPC's start to its first message",
            explicit_bucket_boundaries_advisory=TIME_BUCKETS_MS,
        )
        self.tracer: trace.Tracer | None = (
            tracer_provider.get_tracer(INSTRUMENTATION_SCOPE)
            if tracer_provider is not None
            and not isinstance(tracer_provider, trace.NoOpTracerProvider)
            else None
        )
        self._samples: Batcher[tuple[Callable[..., None], tuple[Any, ...]]] = Batcher(_apply)
        if self.recording:
            # The SDK runs observable-instrument callbacks before it reads its aggregates,
            # on every collection: this one (which observes nothing) flushes the queue.
            meter.create_observable_gauge(
                "eudi_connect.monitor.flush", callbacks=[self._flush_before_collection]
            )
            register_key_gauges(meter)

    def _flush_before_collection(
        self, options: metrics.CallbackOptions
    ) -> Iterable[metrics.Observation]:
        self.flush()
        return ()

    def flush(self) -> None:
        """Hands every queued sample to the SDK now (before a collection reads them)."""
        self._samples.flush()

    def record_rpc(
        self,
        operation: str,
        status: str,
        tenant: str,
        elapsed_ms: float,
        *,
        items: int | None = None,
        first_item_ms: float | None = None,
    ) -> None:
        """One finished RPC; `items` (and `first_item_ms` when one was sent) for streams."""
        if self.recording:
            self._samples.add(
                (self._record_rpc, (operation, status, tenant, elapsed_ms, items, first_item_ms))
            )

    def _record_rpc(
        self,
        operation: str,
        status: str,
        tenant: str,
        elapsed_ms: float,
        items: int | None,
        first_item_ms: float | None,
    ) -> None:
        attributes: dict[str, AttributeValue] = {
            ATTR_OPERATION: operation,
            ATTR_GRPC_STATUS: status,
            ATTR_TENANT: tenant,
        }
        self.operation_time.record(elapsed_ms, attributes)
        self.operation_count.add(1, attributes)
        if items is not None:
            self.stream_items.record(items, attributes)
            if first_item_ms is not None:
                self.time_to_first_item.record(first_item_ms, attributes)

    def record_http(self, operation: str, status_code: int, elapsed_ms: float) -> None:
        """One finished HTTP request; `operation` names the route, never the raw path."""
        if self.recording:
            self._samples.add((self._record_http, (operation, status_code, elapsed_ms)))

    def _record_http(self, operation: str, status_code: int, elapsed_ms: float) -> None:
        attributes: dict[str, AttributeValue] = {
            ATTR_OPERATION: operation,
            ATTR_HTTP_STATUS: status_code,
        }
        self.operation_time.record(elapsed_ms, attributes)
        self.operation_count.add(1, attributes)

    def record_step(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None,
        error_type: str | None,
        elapsed_ms: float,
    ) -> None:
        """One timed step (see `measure_operation_time`)."""
        if self.recording:
            self._samples.add((self._record_step, (name, attributes, error_type, elapsed_ms)))

    def _record_step(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None,
        error_type: str | None,
        elapsed_ms: float,
    ) -> None:
        merged: dict[str, AttributeValue] = {ATTR_OPERATION: name}
        if attributes:
            merged.update(attributes)
        if error_type is not None:
            merged[ATTR_ERROR_TYPE] = error_type
        self.operation_time.record(elapsed_ms, merged)


def _apply(sample: tuple[Callable[..., None], tuple[Any, ...]]) -> None:
    record, arguments = sample
    record(*arguments)


_current: PerformanceMonitor | None = None


def current_monitor() -> PerformanceMonitor:
    """The process's monitor; a recording-nothing one until `install_monitor` is called."""
    global _current
    if _current is None:
        _current = PerformanceMonitor()
    return _current


def install_monitor(monitor: PerformanceMonitor | None) -> PerformanceMonitor | None:
    """Makes `monitor` the process's (None: back to the default); returns the previous one."""
    global _current
    previous, _current = _current, monitor
    return previous


@contextmanager
def monitor_installed(monitor: PerformanceMonitor) -> Iterator[PerformanceMonitor]:
    """`monitor` is the process's inside the block, the previous one again after it."""
    previous = install_monitor(monitor)
    try:
        yield monitor
    finally:
        install_monitor(previous)


class OperationTimer:
    """Times one block into ``operation.time`` and, when tracing, runs it in a span.

    A plain (sync) context manager that also works around `await`: the clock and the span
    both belong to the running task. Single use; `elapsed_ms` is set on exit.
    """

    __slots__ = ("_attributes", "_monitor", "_name", "_span", "_start", "elapsed_ms")

    def __init__(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        monitor: PerformanceMonitor | None = None,
    ) -> None:
        self._name = name
        self._attributes = attributes
        self._monitor = monitor
        self._span: Any = None
        self._start = 0.0
        self.elapsed_ms = 0.0

    def __enter__(self) -> OperationTimer:
        if self._monitor is None:
            self._monitor = current_monitor()
        tracer = self._monitor.tracer
        if tracer is not None:
            self._span = tracer.start_as_current_span(self._name, attributes=self._attributes)
            self._span.__enter__()
        self._start = perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.elapsed_ms = (perf_counter() - self._start) * 1000.0
        monitor = self._monitor
        if monitor is not None and monitor.recording:
            error_type = exc_type.__qualname__ if exc_type is not None else None
            monitor.record_step(self._name, self._attributes, error_type, self.elapsed_ms)
        span, self._span = self._span, None
        if span is not None:
            span.__exit__(exc_type, exc, traceback)


def measure_operation_time(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    monitor: PerformanceMonitor | None = None,
) -> OperationTimer:
    """``with measure_operation_time("issuance.sign"):`` records the block's duration under
    ``operation=name`` (plus `attributes`, plus ``error.type`` if it raised), in sync code
    or around awaits. `monitor` defaults to the process's at the time the block starts."""
    return OperationTimer(name, attributes, monitor=monitor)


def time_operation(
    operation: str | None = None, *, attributes: Mapping[str, AttributeValue] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: every call of the function (sync or ``async def``) is timed as
    `operation` (default: the function's module and qualified name)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        name = operation or f"{function.__module__}.{function.__qualname__}"
        if inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(function):
            # Timing a generator call would time only its creation, not its iteration.
            raise TypeError(f"time_operation cannot time generator function {name!r}")
        if inspect.iscoroutinefunction(function):
            coroutine_function = cast(Callable[P, Awaitable[Any]], function)

            async def timed_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with OperationTimer(name, attributes):
                    return await coroutine_function(*args, **kwargs)

            return cast(Callable[P, R], functools.wraps(function)(timed_async))

        @functools.wraps(function)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            with OperationTimer(name, attributes):
                return function(*args, **kwargs)

        return timed

    return decorate
