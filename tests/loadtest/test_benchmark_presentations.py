"""The OpenID4VP benchmark: its holder's session transcript against the spec's example, and
a tiny real run that measures every step, the server CPU, the echo ceiling and the target."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.lib import vp_holder
from tests.loadtest.test_benchmarks import run_module

# OpenID4VP 1.0 Appendix B.2.6.1's example key (its thumbprint is in the handover).
SPEC_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
    "alg": "ECDH-ES",
}


def test_the_holder_thumbprint_matches_the_specification() -> None:
    """The benchmark holder's RFC 7638 thumbprint of the spec's key is the handover's."""
    assert vp_holder._thumbprint(SPEC_JWK).hex() == (
        "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047"
    )


def test_presentation_benchmark_tiny_run(tmp_path: Path) -> None:
    """A tiny run verifies every exchange and reports each step for both phases, the
    server's CPU per exchange, the echo before and after, and the response target."""
    out = tmp_path / "verifier.json"
    done = run_module(
        "loadtest.benchmark_presentations",
        *("--exchanges", "4", "--warmup", "2", "--echo-requests", "20", "--concurrency", "2"),
        *("--no-pin", "--server-log-level", "WARNING", "--json", str(out)),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    phases = document["phases"]
    assert [p["in_flight"] for p in phases.values()] == [1, 2]
    for phase in phases.values():
        steps = {row["step"]: row for row in phase["rows"]}
        assert set(steps) == {"create", "fetch", "build", "response", "result", "exchange"}
        for row in steps.values():
            assert row["count"] == 4
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert phase["exchanges"] == 4
        assert phase["exchanges_per_s"] > 0
    assert [row["when"] for row in document["echo"]] == ["before", "before", "after", "after"]
    [target] = document["targets"]
    assert target["verdict"] in {"pass", "FAIL"}
