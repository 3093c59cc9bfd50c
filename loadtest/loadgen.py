"""A multi-process asyncio gRPC load generator with honest latency accounting.

Why our own: ghz drives one RPC from a proto, while a credential lifecycle needs setup
calls, per-worker state and a sequence of RPCs per "call". Here a *scenario* is an async
function named ``"module:function"``::

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

Several worker processes (spawned, each with its own event loop and channels) split the
concurrency, rate and call count; the parent merges their histograms. Latency histograms
hold successful calls only; errors are counted per status code and per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import multiprocessing
import os
import queue as queue_module
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import grpc

from loadtest.histogram import Histogram

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.queues import Queue

    from loadtest.server_process import ServerProcess

    MessageQueue = Queue[tuple[Any, ...]]

__all__ = [
    "CallFunction",
    "LoadGenError",
    "LoadResult",
    "LoadSpec",
    "ScenarioSetup",
    "TimelinePoint",
    "WorkerContext",
    "load_scenario",
    "main",
    "run_load",
    "run_load_inprocess",
]

CallFunction = Callable[[int], Awaitable[object]]
"""Performs one call; receives the call's sequence number (unique across workers)."""

_PROGRESS_INTERVAL = 0.25  # seconds between progress messages from a worker
_START_DELAY = 0.05  # seconds between the start signal and the common start instant
_MAX_SAMPLE = 300  # characters kept of the first error message per code
# Event-loop timers wake up to ~1 ms late (epoll and libuv count in milliseconds), which
# would add that much to every open-loop latency; so a call may start up to this much
# before its slot instead, and is then timed from its actual start.
_EARLY_START = 0.001


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


# --------------------------------------------------------------------------- scenarios


def load_scenario(name: str) -> ScenarioSetup:
    """Import the ``"module:function"`` scenario ``name`` and check that it is callable."""
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise LoadGenError(f"scenario must be 'module:function', got {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LoadGenError(f"cannot import scenario module {module_name!r}: {exc}") from exc
    setup = getattr(module, attr, None)
    if not callable(setup):
        raise LoadGenError(f"scenario {name!r} is not a function")
    return setup  # type: ignore[no-any-return]  # getattr is untyped; checked callable above


def _open_channel(spec: LoadSpec, root_cert: bytes | None) -> grpc.aio.Channel:
    # A local subchannel pool gives each channel its own connection; without it, channels
    # with equal arguments in one process share a single HTTP/2 connection.
    options: list[tuple[str, Any]] = [("grpc.use_local_subchannel_pool", 1)]
    if spec.tls_root_cert is None:
        return grpc.aio.insecure_channel(spec.target, options=options)
    if spec.tls_server_name:
        options.append(("grpc.ssl_target_name_override", spec.tls_server_name))
    credentials = grpc.ssl_channel_credentials(root_certificates=root_cert)
    return grpc.aio.secure_channel(spec.target, credentials, options=options)


# --------------------------------------------------------------------------- the worker


def _share(amount: int, index: int, parts: int) -> int:
    """``index``'s share when ``amount`` is split as evenly as possible into ``parts``."""
    return amount // parts + (1 if index < amount % parts else 0)


class _Recorder:
    """Per-worker counters; latencies go into one histogram per second of completion."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.seconds: list[Histogram] = []
        self.error_seconds: list[int] = []
        self.codes: dict[str, int] = {}
        self.samples: dict[str, str] = {}
        self.started = 0
        self.completed = 0

    def _second(self, now: float) -> int:
        second = max(0, int(now - self.start))
        while len(self.seconds) <= second:
            self.seconds.append(Histogram())
            self.error_seconds.append(0)
        return second

    def ok(self, latency: float, now: float) -> None:
        self.seconds[self._second(now)].record(latency)
        self.completed += 1

    def error(self, code: str, detail: str | None, now: float) -> None:
        self.error_seconds[self._second(now)] += 1
        self.codes[code] = self.codes.get(code, 0) + 1
        if code not in self.samples:
            self.samples[code] = (detail or "")[:_MAX_SAMPLE]
        self.completed += 1


async def _one_call(call: CallFunction, seq: int, begin: float, rec: _Recorder) -> None:
    """Make one call and record it; latency counts from ``begin`` (maybe the scheduled time)."""
    perf = time.perf_counter
    try:
        await call(seq)
    except grpc.aio.AioRpcError as exc:
        rec.error(exc.code().name, exc.details(), perf())
        await asyncio.sleep(0)  # a call failing before it awaits anything must still yield
    except Exception as exc:  # a broken scenario is reported, not fatal
        rec.error(f"EXCEPTION:{type(exc).__name__}", str(exc), perf())
        await asyncio.sleep(0)
    else:
        now = perf()
        rec.ok(now - begin, now)


class _Worker:
    """One worker's share of the load, run on the current event loop."""

    def __init__(self, spec: LoadSpec, index: int, processes: int) -> None:
        self.spec = spec
        self.index = index
        self.processes = processes
        self.calls: list[CallFunction] = []
        self.dropped = 0
        self.late = 0
        self.lag = Histogram()
        self.warmup_errors = 0
        self._k = 0  # this worker's next local call number
        self.root_cert: bytes | None = None
        if spec.tls_root_cert is not None:
            with open(spec.tls_root_cert, "rb") as cert_file:
                self.root_cert = cert_file.read()

    def _next_seq(self) -> int | None:
        """Sequence numbers are striped over workers: index, index + P, index + 2P, ..."""
        seq = self.index + self._k * self.processes
        if self.spec.total is not None and seq >= self.spec.total:
            return None
        self._k += 1
        return seq

    async def _warmup(self) -> None:
        spec = self.spec
        calls = self.calls
        if spec.concurrency is not None:
            lanes = _share(spec.concurrency, self.index, self.processes)
        else:
            lanes = 4  # enough to open streams and warm caches without a burst
        lanes = max(1, min(lanes, spec.warmup_calls))
        counter = iter(range(spec.warmup_calls))
        throwaway = _Recorder(time.perf_counter())

        async def lane() -> None:
            for k in counter:
                # Negative numbers keep warm-up calls apart from measured ones.
                seq = -1 - (self.index + k * self.processes)
                await _one_call(calls[k % len(calls)], seq, time.perf_counter(), throwaway)

        await asyncio.gather(*(lane() for _ in range(lanes)))
        self.warmup_errors = sum(throwaway.codes.values())

    async def _closed_loop(self, rec: _Recorder, stop_at: float) -> None:
        assert self.spec.concurrency is not None
        lanes = _share(self.spec.concurrency, self.index, self.processes)
        calls = self.calls
        n_calls = len(calls)
        perf = time.perf_counter

        async def lane() -> None:
            while True:
                seq = self._next_seq()
                if seq is None:
                    return
                begin = perf()
                if begin >= stop_at:
                    return
                rec.started += 1
                await _one_call(calls[seq % n_calls], seq, begin, rec)

        async with asyncio.TaskGroup() as group:
            for _ in range(lanes):
                group.create_task(lane())

    async def _open_loop(self, rec: _Recorder, stop_at: float) -> None:
        spec = self.spec
        assert spec.rate is not None
        interval = self.processes / spec.rate  # this worker's gap between its slots
        first = rec.start + self.index / spec.rate  # workers interleave their slots
        cap = max(1, _share(spec.max_in_flight, self.index, self.processes))
        calls = self.calls
        n_calls = len(calls)
        perf = time.perf_counter
        in_flight: set[asyncio.Task[None]] = set()
        k = 0
        try:
            while True:
                slot = first + k * interval
                if slot >= stop_at:
                    break
                now = perf()
                if slot > now + _EARLY_START:
                    await asyncio.sleep(slot - now - _EARLY_START)
                    continue
                seq = self._next_seq()
                if seq is None:
                    break
                k += 1
                if len(in_flight) >= cap:
                    self.dropped += 1
                    continue
                lag = max(0.0, now - slot)
                self.lag.record(lag)
                if lag > spec.late_threshold:
                    self.late += 1
                rec.started += 1
                # Late: count from the slot (the wait is part of the latency). Early: from
                # the actual start, so latency is never understated either way.
                begin = min(slot, now)
                task = asyncio.create_task(_one_call(calls[seq % n_calls], seq, begin, rec))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                if not k % 16:
                    # Catching up on many due slots: let finished calls free their places.
                    await asyncio.sleep(0)
            if in_flight:
                await asyncio.gather(*in_flight)
        finally:
            for task in in_flight:
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def run(
        self,
        wait_for_start: Callable[[], Awaitable[float | None]],
        report_progress: Callable[[int], None] | None,
    ) -> dict[str, Any] | None:
        """Connect, set up, warm up, wait for the start, apply load; plain-data result.

        ``wait_for_start`` returns the wall-clock start time shared by all workers, or
        None when the run is aborted (then this returns None).
        """
        spec = self.spec
        root_cert = self.root_cert
        channels = [_open_channel(spec, root_cert) for _ in range(spec.channels)]
        contexts = [
            WorkerContext(
                index=self.index,
                processes=self.processes,
                options=dict(spec.options),
                address=spec.target,
                root_cert=root_cert,
                server_name=spec.tls_server_name,
                channel_index=i,
            )
            for i in range(spec.channels)
        ]
        try:
            setup = load_scenario(spec.scenario)
            scope = asyncio.timeout(spec.setup_timeout)
            try:
                async with scope:
                    await asyncio.gather(*(channel.channel_ready() for channel in channels))
                    for channel, context in zip(channels, contexts, strict=True):
                        self.calls.append(await setup(channel, context))
                    if spec.warmup_calls:
                        await self._warmup()
            except TimeoutError:
                if not scope.expired():
                    raise  # the scenario's own timeout, not ours
                raise LoadGenError(
                    f"worker {self.index}: connecting to {spec.target}, scenario setup and "
                    f"warm-up took longer than {spec.setup_timeout:g}s"
                ) from None
            start_wall = await wait_for_start()
            if start_wall is None:
                return None
            return await self._measure(start_wall, report_progress)
        finally:
            for context in contexts:
                await context._run_cleanups()
            for channel in channels:
                await channel.close(None)

    async def _measure(
        self, start_wall: float, report_progress: Callable[[int], None] | None
    ) -> dict[str, Any]:
        spec = self.spec
        perf = time.perf_counter
        delay = max(0.0, start_wall - time.time())
        start = perf() + delay
        rec = _Recorder(start)
        stop_at = start + spec.duration if spec.duration is not None else math.inf
        hard_at = start + spec.hard_limit()
        progress = _Progress(rec, report_progress)
        reporter = asyncio.create_task(progress.run())
        await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + (hard_at - perf())):
                if spec.concurrency is not None:
                    await self._closed_loop(rec, stop_at)
                else:
                    await self._open_loop(rec, stop_at)
        except TimeoutError:
            pass  # the hard limit: outstanding calls were cancelled and count as unfinished
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        elapsed = perf() - start
        progress.flush()
        ok = sum(hist.count for hist in rec.seconds)
        codes = dict(rec.codes)
        if ok:
            codes["OK"] = ok
        return {
            "index": self.index,
            "elapsed": elapsed,
            "seconds": [hist.to_dict() for hist in rec.seconds],
            "error_seconds": list(rec.error_seconds),
            "codes": codes,
            "samples": rec.samples,
            "dropped": self.dropped,
            "late": self.late,
            "unfinished": rec.started - rec.completed,
            "lag": self.lag.to_dict(),
            "warmup_errors": self.warmup_errors,
        }


class _Progress:
    """Sends completed-call increments to the parent every so often (for its bar)."""

    def __init__(self, rec: _Recorder, report: Callable[[int], None] | None) -> None:
        self._rec = rec
        self._report = report
        self._sent = 0

    def flush(self) -> None:
        done = self._rec.completed
        if self._report is not None and done > self._sent:
            self._report(done - self._sent)
            self._sent = done

    async def run(self) -> None:
        if self._report is None:
            return
        while True:
            await asyncio.sleep(_PROGRESS_INTERVAL)
            self.flush()


def _merge(spec: LoadSpec, processes: int, parts: Sequence[Mapping[str, Any]]) -> LoadResult:
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


# --------------------------------------------------------------------------- in process


async def run_load_inprocess(spec: LoadSpec) -> LoadResult:
    """Run the whole load as one worker on the running event loop (no subprocesses).

    For tests and tiny CI checks; ``processes``, ``use_uvloop`` and ``cpus`` are ignored.
    """
    spec.validate()

    async def start_now() -> float:
        return time.time()

    part = await _Worker(spec, 0, 1).run(start_now, None)
    assert part is not None  # start_now never aborts
    return _merge(spec, 1, [part])


# --------------------------------------------------------------------------- processes


def _worker_process(
    spec: LoadSpec,
    index: int,
    processes: int,
    messages: MessageQueue,
    start_signal: Connection,
) -> None:
    """Entry point of a spawned worker: pin, pick the loop, run, send the result."""
    try:
        if spec.cpus:
            from loadtest.server_process import pin_process

            pin_process(os.getpid(), spec.cpus)
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        if spec.use_uvloop:
            try:
                import uvloop
            except ImportError:  # optional: asyncio's own loop works, a bit slower
                pass
            else:
                loop_factory = uvloop.new_event_loop

        async def wait_for_start() -> float | None:
            messages.put(("ready", index))
            deadline = time.monotonic() + spec.setup_timeout * 2 + 30.0
            while not start_signal.poll():
                if time.monotonic() > deadline:
                    raise LoadGenError(f"worker {index}: no start signal from the parent")
                await asyncio.sleep(0.002)
            start: float | None = start_signal.recv()
            return start

        def progress(n: int) -> None:
            messages.put(("progress", index, n))

        worker = _Worker(spec, index, processes)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(worker.run(wait_for_start, progress))
        messages.put(("result", index, result))
    except BaseException as exc:  # everything goes back to the parent
        detail = "".join(traceback.format_exception(exc))
        messages.put(("error", index, detail))
    finally:
        start_signal.close()


@dataclass
class _Pool:
    processes: list[SpawnProcess]
    signals: list[Connection]
    messages: MessageQueue

    def broadcast(self, start: float | None) -> None:
        for conn in self.signals:
            with contextlib.suppress(OSError):  # that worker is already gone
                conn.send(start)

    def shut_down(self, grace: float) -> None:
        """Join the workers; SIGTERM then SIGKILL (by PID) for any still running."""
        deadline = time.monotonic() + grace
        while any(proc.is_alive() for proc in self.processes) and time.monotonic() < deadline:
            # A worker exits only once its queued messages are read, so keep reading.
            with contextlib.suppress(queue_module.Empty):
                self.messages.get(timeout=0.05)
        for proc in self.processes:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2.0)
        for conn in self.signals:
            conn.close()
        for proc in self.processes:
            if not proc.is_alive():
                proc.close()
        self.messages.close()
        self.messages.join_thread()


def _receive(
    pool: _Pool, deadline: float, on_progress: Callable[[int], None]
) -> Iterator[tuple[Any, ...]]:
    """Yield ready/result/error messages until ``deadline``; feed progress on the way."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LoadGenError("load workers did not finish before the hard deadline")
        try:
            message = pool.messages.get(timeout=min(remaining, 0.2))
        except queue_module.Empty:
            for index, proc in enumerate(pool.processes):
                if proc.exitcode is not None and proc.exitcode != 0:
                    raise LoadGenError(
                        f"worker {index} died with exit code {proc.exitcode}"
                    ) from None
            continue
        if message[0] == "progress":
            on_progress(message[2])
        else:
            yield message


def run_load(
    spec: LoadSpec, *, progress: bool = True, on_start: Callable[[], None] | None = None
) -> LoadResult:
    """Spawn the worker processes, start them together, show progress, merge results.

    ``on_start`` is called in this process as the measured phase begins (after every
    worker has connected and warmed up), e.g. to read the server's CPU time.
    Raises :class:`LoadGenError` if a worker fails to connect or set up, or dies.
    Workers are spawned, so they re-import the caller's main module: call this from
    under ``if __name__ == "__main__":`` in scripts.
    """
    spec.validate()
    from tqdm import tqdm  # imported here so that importing loadtest stays fast

    processes = spec.worker_processes()
    context = multiprocessing.get_context("spawn")
    messages: MessageQueue = context.Queue()
    pool = _Pool([], [], messages)
    parts: list[dict[str, Any]] = []
    with tqdm(
        total=spec.total, unit="call", disable=not progress, dynamic_ncols=True, leave=False
    ) as bar:
        try:
            for index in range(processes):
                receiver, sender = context.Pipe(duplex=False)
                proc = context.Process(
                    target=_worker_process,
                    args=(spec, index, processes, messages, receiver),
                    name=f"loadgen-worker-{index}",
                    daemon=True,
                )
                proc.start()
                receiver.close()  # the child has its own copy
                pool.processes.append(proc)
                pool.signals.append(sender)

            def advance(n: int) -> None:
                bar.update(n)

            def started() -> None:
                bar.reset(total=spec.total)  # rates shown from the start, not the spawn
                if on_start is not None:
                    on_start()

            _gather(spec, pool, parts, advance, started)
        finally:
            pool.shut_down(grace=5.0)
    return _merge(spec, processes, sorted(parts, key=lambda part: int(part["index"])))


def _gather(
    spec: LoadSpec,
    pool: _Pool,
    parts: list[dict[str, Any]],
    on_progress: Callable[[int], None],
    on_start: Callable[[], None],
) -> None:
    """Wait for every worker to be ready, start them together, then collect results."""
    processes = len(pool.processes)
    ready: set[int] = set()
    setup_deadline = time.monotonic() + spec.setup_timeout + 30.0  # + interpreter start-up
    try:
        for message in _receive(pool, setup_deadline, on_progress):
            if message[0] == "error":
                raise LoadGenError(f"worker {message[1]} failed:\n{message[2]}")
            ready.add(message[1])
            if len(ready) == processes:
                break
    except BaseException:
        pool.broadcast(None)  # let the others leave cleanly
        raise
    pool.broadcast(time.time() + _START_DELAY)
    on_start()
    finish_deadline = time.monotonic() + _START_DELAY + spec.hard_limit() + 15.0
    for message in _receive(pool, finish_deadline, on_progress):
        if message[0] == "error":
            raise LoadGenError(f"worker {message[1]} failed:\n{message[2]}")
        if message[0] == "result" and message[2] is not None:
            parts.append(message[2])
        if len(parts) == processes:
            return


# --------------------------------------------------------------------------- command line


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"options are key=value, got {text!r}")
    try:
        value: Any = json.loads(raw)  # numbers, booleans, lists; anything else is a string
    except ValueError:
        value = raw
    return key, value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.loadgen",
        description="Apply gRPC load with a scenario; sweep concurrency/rate and processes.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", help="host:port of a running server")
    where.add_argument("--server", help="command that starts the server and prints 'READY <port>'")
    parser.add_argument("--server-cpus", type=_cpu_list, help="pin the --server, e.g. 0")
    parser.add_argument("--cpus", type=_cpu_list, help="pin the load workers, e.g. 1")
    parser.add_argument("--scenario", default="loadtest.echo_server:echo_scenario")
    parser.add_argument("-o", "--option", type=_parse_option, action="append", default=[])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-c", "--concurrency", type=int, nargs="+", help="closed loop, swept")
    mode.add_argument("-r", "--rate", type=float, nargs="+", help="open loop calls/s, swept")
    parser.add_argument("-n", "--total", type=int, help="calls per run")
    parser.add_argument("-d", "--duration", type=float, help="seconds per run")
    parser.add_argument("-p", "--processes", type=int, nargs="+", default=[1], help="swept")
    parser.add_argument("--warmup", type=int, default=0, help="warm-up calls per worker")
    parser.add_argument("--repeat", type=int, default=1, help="runs per point (all reported)")
    parser.add_argument("--max-in-flight", type=int, default=1000)
    parser.add_argument("--tls-root-cert")
    parser.add_argument("--tls-server-name")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", help="write the summaries (one JSON object per line)")
    parser.add_argument("--plot-dir", help="write latency-over-time and scaling PNGs here")
    return parser


def _cpu_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"CPU list like 0 or 1,2 expected: {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run each (processes, concurrency or rate) point and print a table."""
    from loadtest import report
    from loadtest.server_process import ServerProcess

    args = _build_parser().parse_args(argv)
    if args.total is None and args.duration is None:
        args.duration = 10.0
    server: ServerProcess | None = None
    if args.server:
        server = ServerProcess(shlex.split(args.server), cpus=args.server_cpus)
    rows: list[dict[str, Any]] = []
    try:
        if server is not None:
            server.start()
            print(f"server pid {server.pid} on port {server.port}", file=sys.stderr)
        target = server.address if server is not None else args.target
        for processes in args.processes:
            for level in args.concurrency or args.rate:
                for attempt in range(1, args.repeat + 1):
                    spec = _spec_from_args(args, target, processes, level)
                    rows.append(_run_point(args, spec, server, attempt))
    finally:
        if server is not None:
            server.stop()
    x = "concurrency" if args.concurrency else "rate"
    columns = ["series", x, "processes", "run", "ok", "errors", "dropped", "throughput_rps"]
    columns += ["p50_ms", "p95_ms", "p99_ms", "max_ms"]
    if server is not None:
        columns += ["server_cpu", "server_cpu_us_per_call"]
    print(report.format_table(rows, columns))
    medians = _medians(rows, x) if args.repeat > 1 else rows
    if args.repeat > 1:
        print(f"\nmedians of {args.repeat} runs")
        print(report.format_table(medians, [c for c in columns if c != "run"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    if args.plot_dir and args.concurrency:
        report.scaling_plot(medians, os.path.join(args.plot_dir, "scaling.png"))
    return 0


def _spec_from_args(
    args: argparse.Namespace, target: str, processes: int, level: float
) -> LoadSpec:
    return LoadSpec(
        target=target,
        scenario=args.scenario,
        options=dict(args.option),
        concurrency=int(level) if args.concurrency else None,
        rate=float(level) if args.rate else None,
        total=args.total,
        duration=args.duration,
        processes=processes,
        warmup_calls=args.warmup,
        max_in_flight=args.max_in_flight,
        tls_root_cert=args.tls_root_cert,
        tls_server_name=args.tls_server_name,
        use_uvloop=not args.no_uvloop,
        cpus=args.cpus,
    )


def _run_point(
    args: argparse.Namespace, spec: LoadSpec, server: ServerProcess | None, attempt: int
) -> dict[str, Any]:
    """One run; with a --server, also its CPU use while the load was applied."""
    from loadtest import report

    before: float | None = None

    def note_start() -> None:
        nonlocal before
        before = server.cpu_seconds() if server is not None else None

    result = run_load(spec, progress=not args.no_progress, on_start=note_start)
    # "series" is the requested process count: one call in flight runs in one process.
    row = result.summary() | {"run": attempt, "series": f"{spec.processes} proc"}
    after = server.cpu_seconds() if server is not None else None
    if before is not None and after is not None and result.elapsed > 0:
        row["server_cpu"] = round((after - before) / result.elapsed, 2)  # cores busy
        if result.calls:
            row["server_cpu_us_per_call"] = round((after - before) / result.calls * 1e6, 1)
    print(_one_line(row), file=sys.stderr, flush=True)
    if args.plot_dir:
        os.makedirs(args.plot_dir, exist_ok=True)
        level = spec.concurrency if spec.concurrency is not None else spec.rate
        name = f"timeline-p{spec.processes}-{row['mode']}{level:g}-{attempt}.png"
        report.percentile_plot(
            result.timeline,
            os.path.join(args.plot_dir, name),
            title=f"{spec.scenario}, {row['series']}, {_level(row)}",
        )
    return row


def _medians(rows: Sequence[Mapping[str, Any]], x: str) -> list[dict[str, Any]]:
    """Per (series, x) point, the median of each figure over the repeated runs."""
    groups: dict[tuple[str, Any], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["series"], row[x]), []).append(row)
    out = []
    for (series, level), members in groups.items():
        merged: dict[str, Any] = {"series": series, x: level}
        for key, value in members[0].items():
            if key in merged or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            values = [m[key] for m in members if isinstance(m.get(key), int | float)]
            if not values:
                merged[key] = None
            elif all(isinstance(v, int) for v in values):
                merged[key] = statistics.median_low(values)  # counts stay whole numbers
            else:
                merged[key] = statistics.median(values)
        out.append(merged)
    return out


def _level(row: Mapping[str, Any]) -> str:
    if row["mode"] == "closed":
        return f"{row['concurrency']} in flight"
    return f"{row['rate']:g}/s"


def _one_line(row: Mapping[str, Any]) -> str:
    return (
        f"{row['series']} ({row['processes']} used), {_level(row)}: "
        f"{row['throughput_rps']} ok/s, "
        f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms, "
        f"errors {row['errors']}, dropped {row['dropped']}"
    )


if __name__ == "__main__":
    sys.exit(main())
