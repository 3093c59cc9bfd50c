"""Run a server under test as a separate process, optionally pinned to its own CPU cores.

Why a process: a server sharing the load generator's interpreter (or its cores) measures
the two together. The convention is that a server prints ``READY <port>`` on stdout once
it accepts calls (the echo server does, and the credential service will); the benchmark
then points the load at that port. Stopping sends SIGTERM to that one PID, then SIGKILL
after a grace period, so a server that hangs on shutdown cannot hang the benchmark.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from loadtest.lib import cpu

__all__ = ["ServerProcess", "ServerProcessError"]

READY_PREFIX = "READY "


class ServerProcessError(RuntimeError):
    """The server did not start, did not say READY in time, or exited early."""


class ServerProcess:
    """Context manager around a server subprocess that announces ``READY <port>``.

    ``cpus`` pins the server (all of its threads) to those cores. The server's stderr goes
    to ours so its errors stay visible; its stdout is drained by a thread so a chatty
    server never blocks on a full pipe, and the last lines are kept for error messages.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        ready_timeout: float = 30.0,
        stop_grace: float = 5.0,
        cpus: Iterable[int] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stderr_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not command:
            raise ValueError("the server command is empty")
        self.command = list(command)
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.cpus = sorted(set(cpus)) if cpus is not None else None
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        # None: the server's stderr is ours; a path: appended there (a chatty access log
        # would otherwise scroll a benchmark's progress bars away).
        self._stderr_path = stderr_path
        self._popen: subprocess.Popen[str] | None = None
        self._port: int | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port from the server's READY line."""
        if self._port is None:
            raise ServerProcessError("the server has not reported READY")
        return self._port

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._popen is None:
            raise ServerProcessError("the server has not been started")
        return self._popen.pid

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the loopback address load is sent to."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and wait for its READY line; stops it again on failure."""
        if self._popen is not None:
            raise ServerProcessError("the server is already started")
        with contextlib.ExitStack() as files:
            stderr = None
            if self._stderr_path is not None:
                stderr = files.enter_context(open(self._stderr_path, "ab"))
            self._popen = subprocess.Popen(
                self.command,
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
                bufsize=1,
                env=self._env,
                cwd=self._cwd,
            )
        try:
            if self.cpus is not None:
                cpu.pin_process(self._popen.pid, self.cpus)
            self._reader = threading.Thread(
                target=self._drain, name=f"server-{self._popen.pid}-stdout", daemon=True
            )
            self._reader.start()
            self._port = self._wait_ready()
            if self.cpus is not None:
                cpu.pin_process(self._popen.pid, self.cpus)  # threads started during boot
        except BaseException:
            self.stop()
            raise
        return self

    def _drain(self) -> None:
        popen = self._popen
        assert popen is not None
        assert popen.stdout is not None
        try:
            for line in popen.stdout:
                self._lines.put(line.rstrip("\n"))
        except (OSError, ValueError):  # stop() closed the pipe under us: output is over
            pass
        self._lines.put(None)  # end of output: the server closed stdout or exited

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerProcessError(
                    f"no READY line within {self.ready_timeout:.1f}s from {self.command!r}; "
                    f"last output: {list(self._tail)!r}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self._popen.wait(timeout=self.stop_grace) if self._popen else None
                raise ServerProcessError(
                    f"server exited (code {code}) before READY; last output: {list(self._tail)!r}"
                )
            self._tail.append(line)
            if line.startswith(READY_PREFIX):
                try:
                    return int(line[len(READY_PREFIX) :].split()[0])
                except (IndexError, ValueError):
                    raise ServerProcessError(f"malformed READY line: {line!r}") from None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the server process has used so far, or None (not Linux)."""
        return cpu.cpu_seconds(self.pid)

    def tree_cpu_seconds(self) -> float | None:
        """The same for the server and every process it started (``serve --workers``)."""
        return cpu.tree_cpu_seconds(self.pid)

    def resident_mb(self) -> float:
        """The server's resident memory in MiB (Linux /proc), NaN where unknown."""
        for line in Path(f"/proc/{self.pid}/status").read_text("ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def output_tail(self) -> list[str]:
        """The last lines the server printed on stdout, oldest first (for diagnostics)."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self._tail.append(line)
        return list(self._tail)

    def stop(self) -> int | None:
        """SIGTERM, wait ``stop_grace`` seconds, then SIGKILL; returns the exit code."""
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                print(
                    f"server {popen.pid} ignored SIGTERM for {self.stop_grace:.1f}s; killing it",
                    file=sys.stderr,
                )
                popen.kill()
                popen.wait(timeout=self.stop_grace)
        if self._reader is not None:
            self._reader.join(timeout=self.stop_grace)
        # A child the server started (a worker pool) may outlive it holding the pipe; then
        # the reader is still blocked in read() with the file's lock, and close() would
        # wait for it forever. The reader is a daemon thread: leave it and the pipe be.
        reader_done = self._reader is None or not self._reader.is_alive()
        if popen.stdout is not None and reader_done:
            popen.stdout.close()
        return popen.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
