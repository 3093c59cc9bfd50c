"""The Node wallet of tests/interop/ (oid4vc-ts, @sd-jwt and jose from npm): its packages
installed once from the committed lockfile into pytest's cache, and one run of it per job."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

INTEROP_DIR = Path(__file__).resolve().parents[2] / "interop"
PRESENT_SCRIPT = "wallet.mjs"
ISSUE_SCRIPT = "issue.mjs"
SCRIPTS = (PRESENT_SCRIPT, ISSUE_SCRIPT)
INSTALL_TIMEOUT = 300.0
RUN_TIMEOUT = 60.0
MINIMUM_NODE = 20
CACHE_PREFIX = "interop-node-"
# Written once `npm ci` finished: an interrupted install is redone, not trusted.
INSTALLED_MARKER = ".installed"


@dataclass(frozen=True)
class NodeWallet:
    """An installed copy of the Node wallet: its scripts next to their node_modules."""

    node: str
    directory: Path

    def run(self, job: dict[str, Any], script: str = PRESENT_SCRIPT) -> dict[str, Any]:
        """Runs a wallet script on one job (stdin JSON) and returns its outcome (stdout
        JSON): `wallet.mjs` presents over OpenID4VP, `issue.mjs` collects over OpenID4VCI."""
        finished = subprocess.run(
            [self.node, script],
            cwd=self.directory,
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        outcome: dict[str, Any] = json.loads(finished.stdout)
        return outcome

    def version(self, package: str) -> str:
        """The installed version of an npm package, as its package.json says."""
        manifest = self.directory / "node_modules" / package / "package.json"
        version: str = json.loads(manifest.read_text())["version"]
        return version


def _missing(what: str) -> NoReturn:
    """Without node or npm a developer's run skips; CI must run the interop tests."""
    message = f"{what} is not installed: the Node interop wallet cannot run"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _require_node_version(node: str) -> None:
    """@sd-jwt needs Node 20 or later (the `engines` of tests/interop/package.json)."""
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30.0, check=True
    ).stdout.strip()
    major = int(version.removeprefix("v").split(".")[0])
    if major < MINIMUM_NODE:
        _missing(f"Node.js {MINIMUM_NODE} or later (found {version})")


def install_node_wallet(root: Path) -> NodeWallet:
    """`npm ci` from the lockfile into a directory of `root` named after the manifests'
    hash, once (older such directories are removed); the scripts are copied in on every
    session so edits to them take effect."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None:
        _missing("node")
    if npm is None:
        _missing("npm")
    _require_node_version(node)
    lock = (INTEROP_DIR / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock + (INTEROP_DIR / "package.json").read_bytes()).hexdigest()
    name = f"{CACHE_PREFIX}{digest[:16]}"
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f"{CACHE_PREFIX}*"):
        if stale.name != name:
            shutil.rmtree(stale, ignore_errors=True)
    installed = directory / INSTALLED_MARKER
    if not installed.exists():
        shutil.rmtree(directory / "node_modules", ignore_errors=True)
        for manifest in ("package.json", "package-lock.json"):
            shutil.copyfile(INTEROP_DIR / manifest, directory / manifest)
        finished = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        assert finished.returncode == 0, f"npm ci failed: {finished.stderr}"
        installed.write_text(digest)
    for script in SCRIPTS:
        shutil.copyfile(INTEROP_DIR / script, directory / script)
    return NodeWallet(node, directory)
