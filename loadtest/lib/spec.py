"""What a load run is asked to do and what it gives back: the spec, the scenario contract,
the merged result.

A *scenario* is an async function named ``"module:function"``::

    async def setup(channel: grpc.aio.Channel, worker: WorkerContext) -> Callable[[int], Awaitable]

It runs once per worker channel, may make its own setup calls, and returns the coroutine
function that performs one call given its sequence number. A call that raises
``grpc.aio.AioRpcError`` is counted under its status code name; any other exception under
``EXCEPTION:<type>`` (so a broken scenario shows up in the counts, not as a hang).

Two ways to apply load:

* closed loop (``concurrency``): N calls in flight; each lane starts its next call when
  the previous one ends. Throughput is what the server gives; latency at high
  concurrency is mostly queueing (p50 ~= in-flight / throughput).
* open loop (``rate``): calls are started on a fixed timetable and latency is measured
  from the *scheduled* start, so a stalled server (or a stalled client) shows as latency
  instead of being hidden by waiting (coordinated omission). At most ``max_in_flight``
  calls are outstanding; a call that would exceed that is not started and counted as
  dropped, and a call started more than ``late_threshold`` after its slot counts as late.

Every run is bounded by ``total`` calls and/or ``duration`` seconds (whichever comes
first) and by a hard wall-clock limit after which outstanding calls are cancelled.
Latency histograms hold successful calls only; errors are counted per status code and
per second.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import grpc

from loadtest.lib.histogram import Histogram

__all__ = [
    "CallFunction",
    "LoadGenError",
    "LoadResult",
    "LoadSpec",
    "ScenarioSetup",
    "TimelinePoint",
    "WorkerContext",
    "merge_parts",
]

CallFunction = Callable[[int], Awaitable[object]]
"""Performs one call; receives the call's sequence number (unique across workers)."""


class LoadGenError(RuntimeError):
    """The load run could not be carried out (bad spec, unreachable target, dead worker)."""


@dataclass
class WorkerContext:
    """What a scenario knows about the worker it runs in.

    ``options`` is the dict from :class:`LoadSpec` (API keys, template ids, ...);
    ``address``, ``root_cert`` and ``server_name`` let a scenario open extra channels.
    """

    index: int
    processes: int
    options: dict[str, Any]
    address: str
    root_cert: bytes | None = None
    server_name: str | None = None
    channel_index: int = 0
    _cleanups: list[Callable[[], Awaitable[object]]] = field(
        default_factory=list, init=False, repr=False
    )

    def add_cleanup(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Await ``callback()`` when the worker ends, after the load, before channels close."""
        self._cleanups.append(callback)

    async def _run_cleanups(self) -> None:
        while self._cleanups:
            await self._cleanups.pop()()


ScenarioSetup = Callable[[grpc.aio.Channel, WorkerContext], Awaitable[CallFunction]]
"""Signature of a scenario's setup function."""


@dataclass
class LoadSpec:
    """What load to apply, to what, for how long.

    Exactly one of ``concurrency`` (closed loop) and ``rate`` (open loop, calls/s) must be
    set, and at least one of ``total`` and ``duration``. ``warmup_calls`` are made by each
    worker before the clock starts and are not counted.
    """

    target: str
    scenario: str
    options: dict[str, Any] = field(default_factory=dict)
    concurrency: int | None = None
    rate: float | None = None
    total: int | None = None
    duration: float | None = None
    processes: int = 1
    warmup_calls: int = 0
    _: KW_ONLY
    max_in_flight: int = 1000
    """Open loop: outstanding calls allowed, over all workers; more are dropped."""
    late_threshold: float = 0.010
    """Open loop: seconds after its slot a call may start before it counts as late."""
    channels: int = 1
    """Channels (connections) per worker; the scenario is set up once on each."""
    tls_root_cert: str | None = None
    """Path of a PEM root certificate; when set, channels use TLS."""
    tls_server_name: str | None = None
    """Override of the TLS server name checked against the certificate."""
    use_uvloop: bool = True
    """Worker processes use uvloop when it is installed."""
    cpus: tuple[int, ...] | None = None
    """Pin worker processes to these CPUs (e.g. keep them off the server's core)."""
    setup_timeout: float = 60.0
    """Seconds allowed for a worker to start, connect, set up and warm up."""
    hard_timeout: float | None = None
    """Seconds after the start when outstanding calls are cancelled. Default: duration
    plus max(5 s, duration / 4), or 600 s when only ``total`` bounds the run."""

    def validate(self) -> None:
        """Raise ``ValueError`` when the spec is contradictory or unbounded."""
        if (self.concurrency is None) == (self.rate is None):
            raise ValueError("set exactly one of concurrency (closed loop) and rate (open loop)")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a positive number of calls per second")
        if self.total is None and self.duration is None:
            raise ValueError("bound the run: set total and/or duration")
        if self.total is not None and self.total < 0:
            raise ValueError("total must not be negative")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise ValueError("duration must be a positive number of seconds")
        if self.processes < 1 or self.channels < 1 or self.max_in_flight < 1:
            raise ValueError("processes, channels and max_in_flight must be at least 1")
        if self.warmup_calls < 0:
            raise ValueError("warmup_calls must not be negative")
        if self.hard_timeout is not None and self.hard_timeout <= 0:
            raise ValueError("hard_timeout must be positive")
        if ":" not in self.scenario:
            raise ValueError(f"scenario must be 'module:function', got {self.scenario!r}")

    def hard_limit(self) -> float:
        """Seconds after the start at which everything still running is cancelled."""
        if self.hard_timeout is not None:
            return self.hard_timeout
        if self.duration is not None:
            return self.duration + max(5.0, self.duration / 4)
        return 600.0

    def worker_processes(self) -> int:
        """Processes actually used: a closed loop never gets more workers than lanes."""
        if self.concurrency is not None:
            return min(self.processes, self.concurrency)
        return self.processes


@dataclass(frozen=True)
class TimelinePoint:
    """One second of a run, by completion time: counts and latency percentiles (ms).

    Percentiles are NaN for a second without successful calls; the last second is
    usually partial.
    """

    second: int
    ok: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class LoadResult:
    """Merged outcome of a run; ``histogram`` holds the latencies of successful calls."""

    spec: LoadSpec
    histogram: Histogram
    codes: dict[str, int]
    elapsed: float
    dropped: int
    late: int
    unfinished: int
    timeline: list[TimelinePoint]
    start_lag: Histogram
    error_samples: dict[str, str]
    warmup_errors: int
    processes: int

    @property
    def ok(self) -> int:
        """Successful calls."""
        return self.codes.get("OK", 0)

    @property
    def errors(self) -> int:
        """Calls that completed with an error (any status but OK, or an exception)."""
        return sum(n for code, n in self.codes.items() if code != "OK")

    @property
    def calls(self) -> int:
        """Calls that completed, successfully or not."""
        return sum(self.codes.values())

    @property
    def throughput(self) -> float:
        """Successful calls per second of elapsed time."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Flat, JSON-friendly figures: latencies in ms (None without successes)."""
        hist = self.histogram

        def ms(value: float) -> float | None:
            return round(value * 1e3, 3) if hist.count else None

        return {
            "mode": "closed" if self.spec.concurrency is not None else "open",
            "concurrency": self.spec.concurrency,
            "rate": self.spec.rate,
            "processes": self.processes,
            "calls": self.calls,
            "ok": self.ok,
            "errors": self.errors,
            "dropped": self.dropped,
            "late": self.late,
            "unfinished": self.unfinished,
            "elapsed_s": round(self.elapsed, 3),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": ms(hist.percentile(50)),
            "p95_ms": ms(hist.percentile(95)),
            "p99_ms": ms(hist.percentile(99)),
            "max_ms": ms(hist.max),
            "mean_ms": ms(hist.mean),
            "codes": dict(sorted(self.codes.items())),
        }


def merge_parts(spec: LoadSpec, processes: int, parts: Sequence[Mapping[str, Any]]) -> LoadResult:
    """Combine worker results; per-second histograms are merged before percentiles."""
    histogram = Histogram()
    lag = Histogram()
    codes: dict[str, int] = {}
    samples: dict[str, str] = {}
    seconds: list[Histogram] = []
    error_seconds: list[int] = []
    for part in parts:
        # A worker's two per-second lists always have the same length.
        for i, (data, n_errors) in enumerate(
            zip(part["seconds"], part["error_seconds"], strict=True)
        ):
            if i == len(seconds):
                seconds.append(Histogram())
                error_seconds.append(0)
            seconds[i].merge(Histogram.from_dict(data))
            error_seconds[i] += n_errors
        for code, n in part["codes"].items():
            codes[code] = codes.get(code, 0) + n
        for code, text in part["samples"].items():
            samples.setdefault(code, text)
        lag.merge(Histogram.from_dict(part["lag"]))
    for hist in seconds:
        histogram.merge(hist)
    timeline = [
        TimelinePoint(
            second=i,
            ok=hist.count,
            errors=error_seconds[i],
            p50_ms=hist.percentile(50) * 1e3,
            p95_ms=hist.percentile(95) * 1e3,
            p99_ms=hist.percentile(99) * 1e3,
            max_ms=hist.max * 1e3,
        )
        for i, hist in enumerate(seconds)
    ]
    return LoadResult(
        spec=spec,
        histogram=histogram,
        codes=codes,
        elapsed=max((part["elapsed"] for part in parts), default=0.0),
        dropped=sum(part["dropped"] for part in parts),
        late=sum(part["late"] for part in parts),
        unfinished=sum(part["unfinished"] for part in parts),
        timeline=timeline,
        start_lag=lag,
        error_samples=samples,
        warmup_errors=sum(part["warmup_errors"] for part in parts),
        processes=processes,
    )
