"""Where Node.js is missing, the interop tests skip on a developer's machine and fail in CI
(which must run them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .node_wallet import install_node_wallet


def test_a_machine_without_node_skips_the_interop_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no node on PATH and CI unset, installing the wallet skips the test."""
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no node, no npm
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        install_node_wallet(tmp_path / "cache")


def test_ci_without_node_fails_the_interop_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no node on PATH and CI set, installing the wallet fails the test."""
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no node, no npm
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="node is not installed"):
        install_node_wallet(tmp_path / "cache")
