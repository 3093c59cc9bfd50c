"""The files that hold secrets (the SQLite database with its -wal and -shm files, and the
master key file beside it) are private to the service's user, whatever the umask; an
existing one that is not gets one warning in the log."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.core.keys import MasterKey
from eudi_connect.services.app import MASTER_KEY_FILE

from .client_helpers import pid_request
from .processes import CLI, serving

PERMISSIVE_UMASK = 0o000  # what SQLite's own 0644 default would then give: 0644
DB_NAME = "issuer.db"


def _mode(path: Path) -> str:
    return f"{path.stat().st_mode & 0o777:04o}"


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EUDI_CONNECT_")}


def _tenant_create(folder: Path) -> dict[str, str]:
    completed = subprocess.run(
        [*CLI, "tenant", "create", "Private Issuer", "--db", f"sqlite:///{folder / DB_NAME}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        umask=PERMISSIVE_UMASK,
        env=_environment(),
    )
    created: dict[str, str] = json.loads(completed.stdout)
    return created


@contextmanager
def _serving(folder: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """`eudi-connect serve` on `folder`'s database under a permissive umask; yields its
    address and, once it has stopped, fills the list with its JSON log lines."""
    log_file = folder / "serve.log"
    lines: list[dict[str, Any]] = []
    command = [*CLI, "serve", "--port", "0", "--db", f"sqlite:///{folder / DB_NAME}"]
    with (
        log_file.open("w") as log,
        serving(command, stderr=log, umask=PERMISSIVE_UMASK, env=_environment()) as address,
    ):
        yield address, lines
    lines.extend(json.loads(text) for text in log_file.read_text().splitlines() if text[:1] == "{")


def _permission_warnings(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["level"] == "WARNING" and "mode" in line]


def test_tenant_create_makes_the_database_and_key_file_private(tmp_path: Path) -> None:
    """A first `tenant create` writes the database and the master key file 0600 even with
    umask 000."""
    _tenant_create(tmp_path)
    assert _mode(tmp_path / DB_NAME) == "0600"
    assert _mode(tmp_path / MASTER_KEY_FILE) == "0600"
    for leftover in (tmp_path / f"{DB_NAME}-wal", tmp_path / f"{DB_NAME}-shm"):
        if leftover.exists():
            assert _mode(leftover) == "0600"


def test_serve_keeps_database_wal_and_shm_private(tmp_path: Path) -> None:
    """While a server writes to a new database, the file and its -wal and -shm files are
    0600, and a start on private files logs no permission warning."""
    with _serving(tmp_path) as (address, lines):
        tenant = _tenant_create(tmp_path)
        with grpc.insecure_channel(address) as channel:
            pb_grpc.CredentialServiceStub(channel).IssueCredential(
                pid_request(), metadata=(("x-api-key", tenant["api_key"]),), timeout=30
            )
        for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", MASTER_KEY_FILE):
            assert _mode(tmp_path / name) == "0600", name
    assert _permission_warnings(lines) == []


def test_readable_key_and_database_files_are_reported_once(tmp_path: Path) -> None:
    """An existing master key file and database open to others each get one warning that
    names the file and its mode; the server still starts and their modes are left alone."""
    key_file = tmp_path / MASTER_KEY_FILE
    key_file.write_text(MasterKey.generate().to_text() + "\n")
    key_file.chmod(0o644)
    (tmp_path / DB_NAME).touch()
    (tmp_path / DB_NAME).chmod(0o640)
    with _serving(tmp_path) as (_, lines):
        pass
    warnings = {line["path"]: line["mode"] for line in _permission_warnings(lines)}
    assert warnings == {str(key_file): "0644", str(tmp_path / DB_NAME): "0640"}
    assert len(_permission_warnings(lines)) == 2
    assert _mode(key_file) == "0644"
