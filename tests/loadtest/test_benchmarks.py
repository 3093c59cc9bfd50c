"""The benchmark scripts in a tiny mode, so they cannot rot: they finish and write sound JSON.

Only completion and the shape of the output are checked here; the figures themselves are
the benchmarks' business (targets live in their reports, never in timed tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eudi_connect.devtools.softhsm import SoftToken
from loadtest import ghz_run
from loadtest.lib.service import REPO_ROOT, parse_writer_stats
from loadtest.lib.sla import OPERATIONS
from loadtest.scaling_test import concurrency_levels, find_knee, saturated
from loadtest.scaling_workers import cpu_ratios

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_module(module: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`python -m module args...` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_percentiles(row: dict[str, Any]) -> None:
    """A summary row with successful calls has ordered, positive percentiles."""
    assert row["ok"] > 0
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]


def test_credential_exchange_benchmark_tiny_run(tmp_path: Path) -> None:
    """A tiny benchmark run completes and writes every operation, the SLA and the targets."""
    out = tmp_path / "bench.json"
    done = run_module(
        "loadtest.benchmark_credential_exchange",
        *("--num-credentials", "60", "--concurrency", "4", "--unloaded-calls", "15"),
        *("--warmup", "3", "--open-loop-seconds", "0.5", "--json", str(out)),
        *("--no-pin", "--no-progress", "--in-process-load", "--single-session"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    summary = document["summary"]
    assert summary["echo_ceiling_rps"] > 0
    assert set(summary["operations"]) == {op.key for op in OPERATIONS}
    for figures in summary["operations"].values():
        assert figures["unloaded"]["errors"] == figures["loaded"]["errors"] == 0
        assert_percentiles(figures["unloaded"])
        assert_percentiles(figures["loaded"])
        assert figures["echo_fraction"] > 0
    assert_percentiles(summary["open_loop"])
    assert [row["operation"] for row in summary["sla"]] == [op.label for op in OPERATIONS]
    assert {row["verdict"] for row in summary["targets"]} <= {"pass", "FAIL"}
    (session,) = summary["writer"].values()  # the server logged its group-commit counters
    assert session[0]["items"] >= session[0]["groups"] > 0
    assert "SLA" in done.stdout


def test_signing_benchmark_tiny_run(tmp_path: Path) -> None:
    """A tiny signing micro-benchmark run writes every figure, ES256 alone beside them."""
    out = tmp_path / "signing.json"
    done = run_module(
        "loadtest.benchmark_signing", "--runs", "2", "--iterations", "5", "--json", str(out)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    figures = report["us_per_call"]
    assert set(figures) == {
        "es256_sign",
        "render_pid",
        "sd_jwt_build_and_sign",
        "pid_sd_jwt",
        "pid_mdoc",
    }
    assert all(value > 0 for value in figures.values())
    assert report["pid_within_target"] == (figures["pid_sd_jwt"] <= report["target_us_per_pid"])
    assert "ES256 alone" in done.stdout


def test_hsm_benchmark_tiny_run(tmp_path: Path, soft_token: SoftToken) -> None:
    """A tiny run of the PKCS#11 benchmark signs with both keys and issues every item of
    both batches (it makes its own SoftHSM2 token; the fixture only checks for one)."""
    out = tmp_path / "hsm.json"
    done = run_module(
        "loadtest.benchmark_hsm",
        *("--signatures", "20", "--items", "30", "--repeat", "1", "--json", str(out)),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    assert [row["run"] for row in document["signing"]] == [
        "ES256 sign, software key",
        "ES256 sign, PKCS#11 (SoftHSM2)",
    ]
    assert all(row["per_s"] > 0 for row in document["signing"])
    assert [(row["items"], row["ok"]) for row in document["batches"]] == [(30, 30), (30, 30)]


def test_throughput_benchmark_tiny_run(tmp_path: Path) -> None:
    """A tiny throughput run issues every credential of each kind from its client
    processes and accounts the server's CPU by thread: the event loop, the SQLite writer
    (named for the kernel) and the signing worker all took part in a batch."""
    out = tmp_path / "throughput.json"
    done = run_module(
        "loadtest.benchmark_throughput",
        *("--repeat", "1", "--items", "40", "--stream-items", "30", "--clients", "2"),
        *("--unary-total", "40", "--echo-total", "80", "--concurrency", "4", "--channels", "2"),
        *("--serve-args=--sign-workers 1", "--json", str(out)),
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    best = {row["run"]: row for row in document["best"]}
    assert set(best) == {
        "echo ceiling, 4 in flight",
        "IssueCredentialBatch 40 items from 2 clients",
        "IssueCredentialStream 30 items from 2 clients",
        "IssueCredential unary, 4 in flight",
    }
    for row in best.values():
        assert row["ok"] == row["items"]
        assert row["credentials_per_s"] > 0
    (batch,) = document["runs"]["IssueCredentialBatch 40 items from 2 clients"]
    assert batch["messages"] >= 2  # each client's results came in their own messages
    cpu = batch["server_cpu_us"]
    for thread in ("server: event loop", "server: sqlite-writer", "sign worker: event loop"):
        assert thread in cpu, sorted(cpu)
    assert "server CPU µs per credential" in done.stdout


def test_wallet_flow_benchmark_tiny_run(tmp_path: Path) -> None:
    """A tiny run of the wallet flow benchmark measures every step of both flows, the
    flows in flight, the HTTP echo ceiling and both targets."""
    out = tmp_path / "wallet.json"
    done = run_module(
        "loadtest.benchmark_wallet_flows",
        *("--flows", "4", "--warmup", "2", "--echo-requests", "20", "--concurrency", "2"),
        *("--no-pin", "--server-log-level", "WARNING", "--json", str(out)),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    phases = document["phases"]
    assert [(p["proofs"], p["in_flight"]) for p in phases.values()] == [(1, 1), (10, 1), (1, 2)]
    for phase in phases.values():
        steps = {row["step"]: row for row in phase["rows"]}
        assert set(steps) == {
            "offer",
            "offer_uri",
            "metadata",
            "token",
            "nonce",
            "proof_signing",
            "credential",
            "flow",
        }
        for row in steps.values():
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert phase["flows_per_s"] > 0
        assert phase["credentials_per_s"] == pytest.approx(phase["flows_per_s"] * phase["proofs"])
    assert [row["in_flight"] for row in document["echo"]] == [1, 2]
    assert all(row["requests_per_s"] > 0 for row in document["echo"])
    assert {row["verdict"] for row in document["targets"]} <= {"pass", "FAIL"}
    assert len(document["targets"]) == 2


def test_cli_startup_benchmark_tiny_run(tmp_path: Path) -> None:
    """A tiny run of the start-up benchmark times every client command, --help and the
    floors, each command having succeeded against its server."""
    out = tmp_path / "startup.json"
    done = run_module("loadtest.benchmark_cli_startup", "--runs", "1", "--json", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    commands = [row["command"] for row in document["timings"]]
    assert commands == [
        "python (no site)", "python", "python + grpc",
        "--help", "issue", "verify", "status", "template get", "offer create",
    ]  # fmt: skip
    assert all(row["wall_ms"] > 0 and row["cpu_ms"] > 0 for row in document["timings"])
    assert document["bytecode_cache"] is True


def test_scaling_test_tiny_run(tmp_path: Path) -> None:
    """A two-level sweep writes both plots and its points, with a knee among them."""
    done = run_module(
        "loadtest.scaling_test",
        *("--workers", "1", "--duration", "0.4", "--max-concurrency", "2", "--warmup", "3"),
        *("--out", str(tmp_path), "--no-pin", "--no-progress", "--in-process-load"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads((tmp_path / "scaling.json").read_text())
    assert [point["concurrency"] for point in document["points"]] == [1, 2]
    for point in document["points"]:
        assert_percentiles(point)
    assert document["knee"]["concurrency"] in (1, 2)
    assert document["timeline"]
    for name in ("scaling.png", "timeline.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


def test_scaling_workers_tiny_run(tmp_path: Path) -> None:
    """1 and 2 workers on SQLite finish and report 2 workers' CPU per credential against 1's."""
    out = tmp_path / "workers.json"
    done = run_module(
        "loadtest.scaling_workers",
        *("--stores", "sqlite", "--modes", "batch", "--duration", "1", "--batch-size", "5"),
        *("--batch-concurrency", "2", "--channels", "2", "--json", str(out)),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    assert [row["workers"] for row in document["medians"]] == [1, 2]
    (ratio,) = document["cpu_vs_1"]
    assert (ratio["store"], ratio["mode"], ratio["workers"]) == ("sqlite", "batch", 2)
    assert ratio["ratio"] > 0
    assert "CPU per credential, 2 workers vs 1" in done.stdout


def test_worker_cpu_ratios_pair_runs_of_one_repeat() -> None:
    """Each repeat's N-worker run is divided by its own 1-worker run, and the median kept."""

    def row(workers: int, us: float | None, mode: str = "unary") -> dict[str, Any]:
        return {"store": "sqlite", "mode": mode, "workers": workers, "server_us_per_cred": us}

    repeats = [
        [row(1, 1000.0), row(2, 1100.0), row(1, 500.0, "batch"), row(2, 500.0, "batch")],
        [row(1, 2000.0), row(2, 2000.0), row(1, 400.0, "batch"), row(2, None, "batch")],
        [row(1, 1500.0), row(2, 1800.0)],
    ]
    assert cpu_ratios(repeats) == {("sqlite", "unary", 2): 1.1, ("sqlite", "batch", 2): 1.0}


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[str, str]]:
    """A running service (address, API key), standing in for a staging deployment."""
    with ghz_run.own_server(no_pin=True) as running:
        yield running


def test_production_test_tiny_run(tmp_path: Path, deployment: tuple[str, str]) -> None:
    """The staging check runs every phase against a live server and writes its verdicts."""
    address, api_key = deployment
    out = tmp_path / "production.json"
    done = run_module(
        "loadtest.production_test",
        *("--api-key", api_key, "--endpoint", address, "--json", str(out)),
        *("--reads", "4", "--lifecycles", "2", "--verifications", "4", "--pool", "2"),
        *("--rate", "40", "--lifecycle-rate", "20"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["health"] == "SERVING"
    assert len(document["phases"]) == 5
    for phase in document["phases"]:
        assert phase["errors"] == 0
        assert_percentiles(phase)
    assert {row["operation"] for row in document["sla"]} == {"full lifecycle", "verification"}


def test_production_test_refuses_without_endpoint() -> None:
    """The staging check needs both an endpoint and a key; it never guesses a target."""
    done = run_module("loadtest.production_test", "--api-key", "ek_x", timeout=60)
    assert done.returncode == 2
    assert "--endpoint" in done.stderr


def test_knee_and_saturation_rules() -> None:
    """The knee is the first level at 90 % of the best; two flat doublings mean saturated."""
    points = [
        {"concurrency": c, "throughput_rps": rps}
        for c, rps in ((1, 300.0), (2, 560.0), (4, 700.0), (8, 720.0), (16, 730.0))
    ]
    knee = find_knee(points)
    assert knee is not None
    assert knee["concurrency"] == 4  # 700 >= 0.9 * 730
    assert saturated(points)
    assert not saturated(points[:4])  # a flat 8 is not enough: the sweep goes on to 16
    assert not saturated(points[:3])
    assert concurrency_levels(10) == [1, 2, 4, 8, 10]


def test_writer_stats_lines_are_added_up() -> None:
    """The group-commit lines a server's processes log on close are read back and summed."""
    log = (
        '{"message": "group commit: 100 items in 50 groups (mean 2.00, largest 4, failed 0)"}\n'
        "x group commit: 900 items in 250 groups (mean 3.60, largest 31, failed 0)\n"
    )
    stats = parse_writer_stats(log)
    assert stats is not None
    assert (stats.items, stats.groups, stats.largest, stats.mean) == (1000, 300, 31, 1000 / 300)
    assert parse_writer_stats("nothing here") is None
