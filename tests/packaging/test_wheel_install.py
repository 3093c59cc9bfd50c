"""What a user installs works: the wheel built from this tree, installed without extras into
a new virtual environment (grpcio, protobuf and their companions at the lowest versions
pyproject.toml allows), runs `eudi-connect --help`, `serve`, and issues through its own
generated stubs.

Everything runs from the new environment's own `eudi-connect`, in a folder outside the
source tree, so nothing is imported from the checkout. Runtime dependencies come from the
package index (or pip's cache); about 1 minute with a warm cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.devtools.protogen import PROJECT_ROOT
from tests.integration.processes import serving
from tests.packaging.requirements import STUB_RUNTIME, declared_floor, version_tuple

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# What the wheel is built from; a copy, so no build/ or egg-info lands in the checkout
# and no stale build output of an earlier run reaches the wheel.
SOURCES = ("pyproject.toml", "README.md", "eudi_connect", "generated")
DEV_ONLY_MODULES = ("grpc_tools", "pytest", "sd_jwt", "mypy", "aiosqlite")
# Run by the new environment's python: where eudi_connect comes from, which dev-only
# modules it can import, and the versions of the stubs' runtime packages.
PROBE = """
import importlib.metadata, importlib.util, json, sys
import eudi_connect
dev_only, runtime = json.loads(sys.argv[1])
print(json.dumps({
    "file": eudi_connect.__file__,
    "dev": [name for name in dev_only if importlib.util.find_spec(name)],
    "versions": {name: importlib.metadata.version(name) for name in runtime},
}))
"""


@dataclass(frozen=True)
class Installed:
    bin: Path
    work: Path
    environment: dict[str, str]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.work,
            env=self.environment,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return completed

    def python(self, code: str, *args: str) -> Any:
        return json.loads(self.run("python", "-c", code, *args).stdout)


def _environment() -> dict[str, str]:
    """This process's environment without what would point a child at the checkout or at
    this test run's own virtual environment and settings."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    return {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith("EUDI_CONNECT_")
    }


def _copy_sources(target: Path) -> None:
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc", ".stamp")
    for name in SOURCES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignored)
        else:
            shutil.copy2(source, target / name)


def _pip(*args: str, timeout: float) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environment(),
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, built and installed into a new virtual environment without extras."""
    root = tmp_path_factory.mktemp("wheel")
    source, dist, venv, work = (root / name for name in ("src", "dist", "venv", "work"))
    source.mkdir()
    work.mkdir()
    _copy_sources(source)
    # No build isolation: the setuptools of this environment builds it, offline.
    _pip(
        "wheel",
        str(source),
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(dist),
        timeout=180,
    )
    (wheel,) = dist.glob("eudi_connect-*.whl")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    floors = root / "floors.txt"
    floors.write_text("".join(f"{name}=={declared_floor(name)}\n" for name in STUB_RUNTIME))
    _pip(
        "--python",
        str(venv / "bin" / "python"),
        "install",
        "-q",
        "-c",
        str(floors),
        str(wheel),
        timeout=420,
    )
    return Installed(bin=venv / "bin", work=work, environment=_environment())


def test_installed_package_is_the_wheel_at_the_declared_floors(installed: Installed) -> None:
    """The environment imports eudi_connect from its own site-packages, has no dev-only
    package, and holds grpcio/protobuf and companions at exactly their declared floors."""
    found = installed.python(PROBE, json.dumps([DEV_ONLY_MODULES, STUB_RUNTIME]))
    assert Path(found["file"]).is_relative_to(installed.bin.parent)
    assert found["dev"] == []
    for name, version in found["versions"].items():
        assert version_tuple(version) == version_tuple(declared_floor(name)), name


def test_help_lists_the_commands(installed: Installed) -> None:
    """`eudi-connect --help` starts (every module the CLI imports is installed)."""
    shown = installed.run("eudi-connect", "--help").stdout
    for command in ("serve", "tenant", "issue", "issue-batch", "verify"):
        assert command in shown


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The installed `eudi-connect serve` on a loopback port, a new database and tenant."""
    db = f"sqlite:///{tmp_path / 'wheel.db'}"
    tenant = json.loads(
        installed.run("eudi-connect", "tenant", "create", "Wheel", "--db", db).stdout
    )
    serve = ["--log-level", "WARNING", "serve", "--port", "0", "--db", db, "--grace", "2"]
    with serving(
        [str(installed.bin / "eudi-connect"), *serve],
        stderr=subprocess.DEVNULL,
        cwd=installed.work,
        env=installed.environment,
    ) as address:
        yield address, tenant


def test_installed_server_issues_and_verifies(
    installed: Installed, served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The installed CLI issues a PID from the installed server, verifies it, and streams
    a small batch with its progress bar."""
    address, tenant = served
    client = ("--address", address, "--api-key", tenant["api_key"])
    subject = tmp_path / "subject.json"
    subject.write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)))
    issued = json.loads(
        installed.run(
            "eudi-connect", "issue", "--template", "pid", "--subject", str(subject), *client
        ).stdout
    )
    assert issued["format"] == "dc+sd-jwt"
    credential = tmp_path / "credential.txt"
    credential.write_text(issued["credential"])
    verified = json.loads(installed.run("eudi-connect", "verify", f"@{credential}", *client).stdout)
    assert verified["valid"] is True

    subjects = tmp_path / "subjects.jsonl"
    subjects.write_text("".join(json.dumps(dict(PID_EXAMPLE_SUBJECT)) + "\n" for _ in range(3)))
    out = tmp_path / "out.jsonl"
    installed.run(
        "eudi-connect",
        "issue-batch",
        "--template",
        "pid",
        "--subjects",
        str(subjects),
        "--out",
        str(out),
        *client,
    )
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == 3
    assert all("credential" in result for result in results)
