"""The load tools' shared pieces: medians of repeated runs, SLA verdicts, CPU accounting
from /proc and standard JSON."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadtest.lib.cpu import cpu_seconds, process_tree, tree_cpu_seconds
from loadtest.lib.report import write_json
from loadtest.lib.runs import median_row, medians_by
from loadtest.lib.sla import operation, sla_row, target_rows, verdict


def test_median_row_sums_counts_and_takes_median_figures() -> None:
    """Counts add up over runs, figures are medians, other fields come from the last run."""
    rows = [
        {"ok": 10, "errors": 0, "p95_ms": 3.0, "throughput_rps": 100.0, "mode": "closed"},
        {"ok": 12, "errors": 1, "p95_ms": 5.0, "throughput_rps": 300.0, "mode": "closed"},
        {"ok": 8, "errors": 0, "p95_ms": 4.0, "throughput_rps": 200.0, "mode": "open"},
    ]
    merged = median_row(rows)
    assert (merged["ok"], merged["errors"], merged["runs"]) == (30, 1, 3)
    assert (merged["p95_ms"], merged["throughput_rps"]) == (4.0, 200.0)
    assert merged["p50_ms"] is None  # measured by no run
    assert merged["mode"] == "open"


def test_medians_by_groups_points_and_keeps_counts_whole() -> None:
    """Repeated runs of one point become one row; a count's median stays a whole number."""
    rows = [
        {"series": "1 proc", "concurrency": 2, "ok": 3, "p50_ms": 1.0},
        {"series": "1 proc", "concurrency": 2, "ok": 4, "p50_ms": 2.0},
        {"series": "1 proc", "concurrency": 4, "ok": 5, "p50_ms": 9.0},
    ]
    medians = medians_by(rows, ["series", "concurrency"])
    assert [(r["concurrency"], r["ok"], r["p50_ms"]) for r in medians] == [(2, 3, 1.5), (4, 5, 9.0)]


def test_sla_rows_judge_both_columns() -> None:
    """A P95 between the later and the MVP limit passes the MVP column only."""
    verification = operation("verification")
    row = sla_row(verification, 150.0, p95_ms=150.0)
    assert (row["operation"], row["mvp_ms"], row["later_ms"]) == ("verification", 200, 100)
    assert (row["mvp"], row["later"]) == ("pass", "FAIL")
    assert sla_row(verification, None)["mvp"] == "n/a"
    assert verdict(0.5, 0.6, at_least=True) == "FAIL"
    with pytest.raises(KeyError):
        operation("teleportation")


def test_targets_cover_the_measured_operations() -> None:
    """Only measured operations get a target row; capacity is a lower bound."""
    rows = target_rows({"issuance": 1.5}, 0.7, {"rate": 100.0, "p95_ms": 12.0})
    assert [row["verdict"] for row in rows] == ["pass", "pass", "FAIL"]
    assert rows[1]["limit"] == ">= 60%"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux /proc")
def test_tree_cpu_time_includes_a_busy_child() -> None:
    """The CPU a child process burns counts in its parent's tree, not in the parent."""
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", burn + "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while (cpu_seconds(child.pid) or 0.0) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        me = os.getpid()
        assert child.pid in process_tree(me)
        own, tree = cpu_seconds(me), tree_cpu_seconds(me)
        assert own is not None
        assert tree is not None
        assert tree - own >= 0.25
    finally:
        child.kill()
        child.wait(timeout=10)


def test_json_documents_write_nan_as_null(tmp_path: Path) -> None:
    """A second without successes (NaN) is written as null, so the JSON stays standard."""
    path = tmp_path / "out.json"
    write_json(path, {"p95_ms": math.nan, "timeline": [1.5, math.inf], "label": "x"})
    assert json.loads(path.read_text()) == {"p95_ms": None, "timeline": [1.5, None], "label": "x"}
