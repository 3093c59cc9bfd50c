"""A throwaway PostgreSQL cluster for tests and benchmarks.

`ThrowawayCluster.start()` runs `initdb` in a new temporary folder (trust authentication,
superuser `postgres`), starts one `postgres` process on 127.0.0.1 at a free port, and
`stop()` ends that process by its PID (fast shutdown) and removes the folder. Nothing is
installed, no system service is touched.

`initdb` refuses to run as root, and CI runs as root: then the cluster runs as an
unprivileged user (`postgres` when the Debian package made one, else a `eudi-test`
system user created here) through `setpriv`, which switches user without forking, so the
PID we hold is the server's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SUPERUSER = "postgres"
FALLBACK_USER = "eudi-test"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")


class PostgresNotFoundError(RuntimeError):
    """No PostgreSQL server binaries (initdb, postgres) on this machine."""


def find_postgres_bin() -> Path | None:
    """The folder holding `initdb` and `postgres`: PATH first, then Debian's versioned
    folders (`/usr/lib/postgresql/<version>/bin`, newest first)."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        folder = Path(on_path).resolve().parent
        if (folder / "postgres").exists():
            return folder
    if _DEBIAN_ROOT.is_dir():
        versions = sorted(
            (p for p in _DEBIAN_ROOT.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        for version in versions:
            folder = version / "bin"
            if (folder / "initdb").exists() and (folder / "postgres").exists():
                return folder
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (another process may still take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def run_in_thread(make: Callable[[], Awaitable[T]]) -> T:
    """Runs a coroutine to completion on a private event loop in a new thread.

    For synchronous callers (session fixtures, benchmark set-up) that may sit inside
    another event loop's lifetime: a thread's loop never touches the caller's.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    async def wrapped() -> T:
        return await make()

    def target() -> None:
        try:
            result.append(asyncio.run(wrapped()))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=target, name="pgcluster-admin")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def create_schema(server_url: str, name: str | None = None) -> str:
    """Creates an empty schema on the server of `server_url`; returns a URL whose
    `search_path` is that schema alone, so a store opened on it sees nothing else.

    A schema is the cheap unit of isolation here: ~1 ms to create, where a database costs a
    copy of template1 and a checkpoint (0.1 to 1 s on a busy machine).
    """
    import asyncpg  # only the helpers that talk to the server need the driver

    name = name or f"eudi_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(server_url)
    try:
        # A schema name cannot be a bind parameter; `name` is ours, quoted anyway.
        await connection.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await connection.close()
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}search_path={name}"


async def drop_schema(server_url: str, url: str) -> None:
    """Drops the schema that `url` (from `create_schema`) names, with everything in it."""
    import asyncpg

    name = url.rsplit("search_path=", 1)[1].split("&", 1)[0]
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()


def _unprivileged_user() -> pwd.struct_passwd:
    """`postgres` if the system has it, else `eudi-test` (created as a system user)."""
    for name in (SUPERUSER, FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    # A fixed command line with no outside input; useradd is found on PATH like any tool.
    subprocess.run([*useradd, FALLBACK_USER], check=True, capture_output=True)  # noqa: S603
    return pwd.getpwnam(FALLBACK_USER)


@dataclass
class ThrowawayCluster:
    """One running test server; `url` connects as the superuser to database `postgres`."""

    bin_dir: Path
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(
        cls,
        *,
        bin_dir: Path | None = None,
        durable: bool = False,
        settings: Sequence[tuple[str, str]] = (),
        ready_timeout: float = 60.0,
    ) -> ThrowawayCluster:
        """initdb + postgres. `durable=False` turns fsync off (tests); `durable=True` keeps
        fsync but commits asynchronously (synchronous_commit=off), which is what the SQLite
        store's default (WAL, synchronous=NORMAL) promises: a process crash loses nothing,
        a power cut may lose the last commits."""
        folder = bin_dir or find_postgres_bin()
        if folder is None:
            raise PostgresNotFoundError(
                "PostgreSQL server binaries (initdb, postgres) were not found on PATH "
                f"or in {_DEBIAN_ROOT}/<version>/bin"
            )
        root = Path(tempfile.mkdtemp(prefix="eudi-pg-"))
        prefix: list[str] = []
        try:
            if os.geteuid() == 0:
                user = _unprivileged_user()
                os.chown(root, user.pw_uid, user.pw_gid)
                prefix = [
                    "setpriv",
                    f"--reuid={user.pw_uid}",
                    f"--regid={user.pw_gid}",
                    "--clear-groups",
                    "--",
                ]
            data = root / "data"
            subprocess.run(  # noqa: S603 - our own arguments, no outside input
                [
                    *prefix,
                    str(folder / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                cwd=root,
            )
            options = [
                ("listen_addresses", "127.0.0.1"),
                ("unix_socket_directories", str(root)),
                ("max_connections", "200"),
                *(
                    [("synchronous_commit", "off")]
                    if durable
                    else [("fsync", "off"), ("full_page_writes", "off")]
                ),
                *settings,
            ]
            return cls._launch(folder, root, data, prefix, options, ready_timeout)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    @classmethod
    def _launch(
        cls,
        folder: Path,
        root: Path,
        data: Path,
        prefix: list[str],
        options: list[tuple[str, str]],
        ready_timeout: float,
    ) -> ThrowawayCluster:
        attempts = 3  # a free port may be taken between the probe and the bind
        for attempt in range(attempts):
            port = free_port()
            with open(root / "postgres.log", "ab") as log:
                process = subprocess.Popen(  # noqa: S603 - our own arguments only
                    [
                        *prefix,
                        str(folder / "postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(port),
                        *(item for name, value in options for item in ("-c", f"{name}={value}")),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=root,
                )
            cluster = cls(bin_dir=folder, root=root, port=port, process=process)
            if cluster._wait_ready(data / "postmaster.pid", ready_timeout):
                return cluster
            cluster._end_process()
            if attempt == attempts - 1:
                tail = (root / "postgres.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the test PostgreSQL server did not start:\n{tail}")
        raise AssertionError("unreachable")

    def _wait_ready(self, pid_file: Path, timeout: float) -> bool:
        """True once postmaster.pid says "ready"; False if the server exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                # Line 8 is the postmaster's status ("starting", "ready", ...).
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return True
            time.sleep(0.02)
        return False

    def _end_process(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL: this PID only."""
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            if self.process.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Stops the server (it is our child, so it is reaped) and removes its folder."""
        try:
            self._end_process()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, characters: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "postgres.log").read_text(errors="replace")[-characters:]
        return ""
