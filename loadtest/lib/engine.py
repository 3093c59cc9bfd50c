"""The engine: one worker's share of a load run on the current event loop.

A worker opens its channels, sets the scenario up on each, warms up, waits for the common
start, then runs a closed or an open loop (see :mod:`loadtest.lib.spec`). Latencies are
appended raw to one array per second of completion while the load runs (an append takes
about 0.3 µs, an HdrHistogram record about 7 µs, which the client would spend on every
call) and folded into histograms once the load is over.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from loadtest.lib.histogram import Histogram
from loadtest.lib.spec import (
    CallFunction,
    LoadGenError,
    LoadResult,
    LoadSpec,
    ScenarioSetup,
    WorkerContext,
    merge_parts,
)

__all__ = ["Worker", "load_scenario", "open_channel", "run_load_inprocess", "share"]

_PROGRESS_INTERVAL = 0.25  # seconds between progress messages from a worker
_MAX_SAMPLE = 300  # characters kept of the first error message per code
# Event-loop timers wake up to ~1 ms late (epoll and libuv count in milliseconds), which
# would add that much to every open-loop latency; so a call may start up to this much
# before its slot instead, and is then timed from its actual start.
_EARLY_START = 0.001


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


def open_channel(
    target: str, root_cert: bytes | None = None, server_name: str | None = None
) -> grpc.aio.Channel:
    """A channel with its own connection; TLS when ``root_cert`` is given."""
    # A local subchannel pool gives each channel its own connection; without it, channels
    # with equal arguments in one process share a single HTTP/2 connection.
    options: list[tuple[str, Any]] = [("grpc.use_local_subchannel_pool", 1)]
    if root_cert is None:
        return grpc.aio.insecure_channel(target, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    credentials = grpc.ssl_channel_credentials(root_certificates=root_cert)
    return grpc.aio.secure_channel(target, credentials, options=options)


def share(amount: int, index: int, parts: int) -> int:
    """``index``'s share when ``amount`` is split as evenly as possible into ``parts``."""
    return amount // parts + (1 if index < amount % parts else 0)


class _Recorder:
    """Per-worker counters; latencies go into one raw array per second of completion."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.seconds: list[array[float]] = []
        self.error_seconds: list[int] = []
        self.codes: dict[str, int] = {}
        self.samples: dict[str, str] = {}
        self.started = 0
        self.completed = 0

    def _second(self, now: float) -> int:
        second = max(0, int(now - self.start))
        while len(self.seconds) <= second:
            self.seconds.append(array("d"))
            self.error_seconds.append(0)
        return second

    def ok(self, latency: float, now: float) -> None:
        self.seconds[self._second(now)].append(latency)
        self.completed += 1

    def error(self, code: str, detail: str | None, now: float) -> None:
        self.error_seconds[self._second(now)] += 1
        self.codes[code] = self.codes.get(code, 0) + 1
        if code not in self.samples:
            self.samples[code] = (detail or "")[:_MAX_SAMPLE]
        self.completed += 1


def _histogram(values: array[float]) -> Histogram:
    hist = Histogram()
    hist.record_many(values)
    return hist


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


class Worker:
    """One worker's share of the load, run on the current event loop."""

    def __init__(self, spec: LoadSpec, index: int, processes: int) -> None:
        self.spec = spec
        self.index = index
        self.processes = processes
        self.calls: list[CallFunction] = []
        self.dropped = 0
        self.late = 0
        self.lag: array[float] = array("d")
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
            lanes = share(spec.concurrency, self.index, self.processes)
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
        lanes = share(self.spec.concurrency, self.index, self.processes)
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
        cap = max(1, share(spec.max_in_flight, self.index, self.processes))
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
                self.lag.append(lag)
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
        channels = [
            open_channel(spec.target, root_cert, spec.tls_server_name) for _ in range(spec.channels)
        ]
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
        ok = sum(len(second) for second in rec.seconds)
        codes = dict(rec.codes)
        if ok:
            codes["OK"] = ok
        return {
            "index": self.index,
            "elapsed": elapsed,
            "seconds": [_histogram(second).to_dict() for second in rec.seconds],
            "error_seconds": list(rec.error_seconds),
            "codes": codes,
            "samples": rec.samples,
            "dropped": self.dropped,
            "late": self.late,
            "unfinished": rec.started - rec.completed,
            "lag": _histogram(self.lag).to_dict(),
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


async def run_load_inprocess(spec: LoadSpec) -> LoadResult:
    """Run the whole load as one worker on the running event loop (no subprocesses).

    For tests and tiny CI checks; ``processes``, ``use_uvloop`` and ``cpus`` are ignored.
    """
    spec.validate()

    async def start_now() -> float:
        return time.time()

    part = await Worker(spec, 0, 1).run(start_now, None)
    assert part is not None  # start_now never aborts
    return merge_parts(spec, 1, [part])
