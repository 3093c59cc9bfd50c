"""The load generator against a real echo server on a loopback port, plus its helpers."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

import loadtest
from loadtest.echo_server import start_echo_server
from loadtest.lib import report
from loadtest.lib.engine import run_load_inprocess
from loadtest.lib.pool import run_load
from loadtest.lib.server import ServerProcess, ServerProcessError
from loadtest.lib.spec import LoadGenError, LoadSpec, WorkerContext
from loadtest.loadgen import main

ECHO = "loadtest.echo_server:echo_scenario"
REPO_ROOT = str(Path(loadtest.__file__).resolve().parent.parent)


# Scenarios used below; named as f"{__name__}:function" so they import however pytest
# names this module.


async def unimplemented_scenario(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> Callable[[int], Awaitable[object]]:
    """Calls a method the echo server does not have: the server answers UNIMPLEMENTED."""
    missing = channel.unary_unary(
        "/eudi.loadtest.Echo/Missing", request_serializer=None, response_deserializer=None
    )

    async def call(seq: int) -> None:
        await missing(b"x", timeout=5)

    return call


async def hanging_scenario(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> Callable[[int], Awaitable[object]]:
    """Every call waits far longer than any test: only the bounds can end the run."""

    async def call(seq: int) -> None:
        await asyncio.sleep(3600)

    return call


async def stalling_scenario(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> Callable[[int], Awaitable[object]]:
    """Echo calls, but call 20 freezes the whole event loop for 200 ms (a stalled client)."""
    echo = channel.unary_unary(
        "/eudi.loadtest.Echo/Echo", request_serializer=None, response_deserializer=None
    )

    async def call(seq: int) -> None:
        if seq == 20:
            time.sleep(0.2)  # noqa: ASYNC251  # blocking the loop is the point of this test
        await echo(b"ping", timeout=5)

    return call


@pytest.fixture
async def echo_address() -> AsyncIterator[str]:
    """An echo server on the test's event loop, on a free loopback port."""
    server, port = await start_echo_server("127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_closed_loop_total_completes_every_call(echo_address: str) -> None:
    """A closed loop bounded by total=200 makes exactly 200 successful calls."""
    spec = LoadSpec(echo_address, ECHO, concurrency=8, total=200, warmup_calls=10)
    result = await run_load_inprocess(spec)
    assert result.codes == {"OK": 200}
    assert result.histogram.count == 200
    assert sum(point.ok for point in result.timeline) == 200
    assert result.unfinished == 0
    assert result.throughput > 0
    summary = result.summary()
    assert summary["ok"] == 200
    assert summary["errors"] == 0
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]


async def test_open_loop_keeps_to_the_rate(echo_address: str) -> None:
    """An open loop at 100 calls/s for 1 s makes about 100 calls and drops none."""
    spec = LoadSpec(echo_address, ECHO, rate=100, duration=1.0)
    result = await run_load_inprocess(spec)
    assert 90 <= result.calls <= 101
    assert result.ok == result.calls
    assert result.dropped == 0
    assert result.elapsed == pytest.approx(1.0, abs=0.3)


async def test_open_loop_counts_a_stall_as_latency(echo_address: str) -> None:
    """Calls scheduled during a 200 ms stall are timed from their slots, not hidden."""
    spec = LoadSpec(echo_address, f"{__name__}:stalling_scenario", rate=200, duration=1.0)
    result = await run_load_inprocess(spec)
    assert result.ok == result.calls > 150
    # ~40 slots fall inside the stall, so over 10 % of calls waited tens of milliseconds;
    # a generator that timed from the actual start would report ~1 ms for all of them.
    assert result.histogram.percentile(95) > 0.05
    assert result.histogram.max >= 0.15
    assert result.late > 10


async def test_open_loop_drops_calls_beyond_the_in_flight_cap(echo_address: str) -> None:
    """With every call hanging, only max_in_flight calls start; the rest are dropped."""
    spec = LoadSpec(
        echo_address,
        f"{__name__}:hanging_scenario",
        rate=200,
        duration=0.5,
        max_in_flight=5,
        hard_timeout=0.7,
    )
    result = await run_load_inprocess(spec)
    assert result.unfinished == 5
    assert result.dropped >= 80
    assert result.calls == 0


async def test_status_codes_are_counted_by_name(echo_address: str) -> None:
    """Calls failing with a gRPC status are counted under its code name, with a sample."""
    spec = LoadSpec(echo_address, f"{__name__}:unimplemented_scenario", concurrency=4, total=50)
    result = await run_load_inprocess(spec)
    assert result.codes == {"UNIMPLEMENTED": 50}
    assert result.errors == 50
    assert result.ok == 0
    assert result.histogram.count == 0
    assert sum(point.errors for point in result.timeline) == 50
    assert "UNIMPLEMENTED" in result.error_samples
    assert result.summary()["p99_ms"] is None


async def test_duration_and_hard_limit_end_a_hanging_run(echo_address: str) -> None:
    """A run whose calls never finish still ends at its hard limit, reporting them."""
    spec = LoadSpec(
        echo_address,
        f"{__name__}:hanging_scenario",
        concurrency=6,
        duration=0.3,
        hard_timeout=0.6,
    )
    began = time.monotonic()
    result = await run_load_inprocess(spec)
    assert time.monotonic() - began < 3.0
    assert result.unfinished == 6
    assert result.calls == 0


async def test_duration_bounds_a_closed_loop(echo_address: str) -> None:
    """Without a total, a closed loop stops starting calls once its duration is over."""
    began = time.monotonic()
    result = await run_load_inprocess(LoadSpec(echo_address, ECHO, concurrency=4, duration=0.5))
    assert time.monotonic() - began < 2.0
    assert result.elapsed == pytest.approx(0.5, abs=0.2)
    assert result.ok > 0
    assert result.unfinished == 0


async def test_unreachable_target_fails_within_setup_timeout() -> None:
    """A target that never answers is reported as an error, not waited on forever."""
    spec = LoadSpec("127.0.0.1:1", ECHO, concurrency=1, total=1, setup_timeout=0.5)
    with pytest.raises(LoadGenError, match="longer than"):
        await run_load_inprocess(spec)


@pytest.mark.parametrize(
    "changes",
    [
        {"concurrency": None},  # neither closed nor open loop
        {"rate": 10.0},  # both
        {"total": None},  # unbounded
        {"scenario": "no_colon"},
        {"processes": 0},
    ],
)
def test_invalid_specs_are_refused(changes: dict[str, object]) -> None:
    """Contradictory or unbounded specs raise before anything starts."""
    spec = LoadSpec("127.0.0.1:1", ECHO, concurrency=1, total=1)
    for name, value in changes.items():
        setattr(spec, name, value)
    with pytest.raises(ValueError, match=r"."):
        spec.validate()


def test_processes_split_the_load_against_a_server_process() -> None:
    """Two spawned workers against an echo server process make 300 calls between them."""
    command = [sys.executable, "-m", "loadtest.echo_server", "--port", "0"]
    with ServerProcess(command, cwd=REPO_ROOT, ready_timeout=20) as server:
        assert server.port > 0
        spec = LoadSpec(server.address, ECHO, concurrency=8, total=300, processes=2)
        result = run_load(spec, progress=False)
        exit_code = server.stop()
    assert exit_code == 0  # SIGTERM is a graceful stop
    assert result.processes == 2
    assert result.codes == {"OK": 300}
    assert result.histogram.count == 300
    assert sum(point.ok for point in result.timeline) == 300


def test_command_line_starts_a_server_and_writes_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI runs a server process, applies the load, prints a table and writes JSON."""
    monkeypatch.chdir(REPO_ROOT)  # the server command imports loadtest from here
    out = tmp_path / "runs.jsonl"
    server = f"{sys.executable} -m loadtest.echo_server --port 0"
    argv = ["--server", server, "-c", "2", "-n", "40", "--no-progress", "--json", str(out)]
    assert main(argv) == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["ok"] == 40
    assert row["concurrency"] == 2
    assert "throughput_rps" in capsys.readouterr().out


def test_server_process_that_never_reports_ready_is_stopped() -> None:
    """A server without a READY line fails within the timeout and is not left running."""
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    server = ServerProcess(command, ready_timeout=0.5, stop_grace=2)
    began = time.monotonic()
    with pytest.raises(ServerProcessError, match="READY"):
        server.start()
    assert time.monotonic() - began < 5
    assert server._popen is not None
    assert server._popen.poll() is not None


def test_format_table_aligns_columns() -> None:
    """Numbers are right-aligned, text left-aligned, and missing values shown as '-'."""
    rows = [
        {"name": "echo", "rps": 3012.44, "p99_ms": 1.23456},
        {"name": "issue", "rps": 1480.0, "p99_ms": None},
    ]
    lines = report.format_table(rows, ["name", "rps", "p99_ms"]).splitlines()
    assert lines[0].split() == ["name", "rps", "p99_ms"]
    assert lines[2] == "echo   3012.4   1.235"
    assert lines[3] == "issue  1480.0       -"
    assert len({len(line) for line in lines[:3]}) == 1


async def test_plots_are_written(echo_address: str, tmp_path: Path) -> None:
    """The latency-over-time and scaling plots produce PNG files."""
    result = await run_load_inprocess(LoadSpec(echo_address, ECHO, concurrency=2, total=50))
    timeline_png = tmp_path / "timeline.png"
    scaling_png = tmp_path / "scaling.png"
    report.percentile_plot(result.timeline, timeline_png, title="echo")
    points = [result.summary() | {"concurrency": c, "series": "1 proc"} for c in (1, 2, 4)]
    report.scaling_plot(points, scaling_png)
    for png in (timeline_png, scaling_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
