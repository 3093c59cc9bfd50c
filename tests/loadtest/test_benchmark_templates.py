"""The template benchmark runs end to end on a tiny configuration."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.benchmark_templates import main


def test_benchmark_templates_smoke(tmp_path: Path) -> None:
    """A tiny in-process run prints its table and writes every row to the JSON file."""
    out = tmp_path / "rows.json"
    argv = ["--num-templates", "2", "--num-alerts", "3", "--rounds", "1", "--issuances", "6"]
    assert main([*argv, "--json", str(out)]) == 0
    runs = {row["run"]: row for row in json.loads(out.read_text())["runs"]}
    assert runs["batch renders (3 items per call)"]["renders"] == 2 * 2 * 3
    assert runs["IssueCredential in process, my-pid"]["renders"] == 6
