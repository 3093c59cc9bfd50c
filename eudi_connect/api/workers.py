"""`eudi-connect serve --workers N`: N server processes behind one port.

One process serves on one core (docs/performance.md, "Ceilings"), so a machine with N cores runs N
workers. The parent process:

1. reserves the port: with `--port 0` it binds a free one itself, with SO_REUSEPORT, and
   holds it until the workers listen (a fixed port is first checked to be free, so the
   workers never join some other process's listener by accident);
2. starts the workers (multiprocessing "spawn": fresh interpreters, nothing inherited
   but the options); each runs the whole server with `grpc.so_reuseport` = 1, so the
   kernel spreads incoming connections over their listening sockets;
3. prints one `READY <port>` line once every worker has said it serves;
4. forwards SIGTERM/SIGINT to the workers, waits for their graceful shutdown, and exits
   0 when every worker did. A worker that dies on its own takes the others down and the
   parent exits 1: restarting is left to whatever runs the service (systemd, Kubernetes),
   which then restarts a whole, consistent group.

Workers share the store and nothing else (see README, "Running several instances"). A
worker whose parent disappears (SIGKILL) shuts itself down gracefully.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from types import FrameType
from typing import TYPE_CHECKING, Any

from eudi_connect.api.server import ServerOptions, run
from eudi_connect.errors import ConfigurationError
from eudi_connect.monitoring.thread_names import name_os_thread
from eudi_connect.reasons import Reason
from eudi_connect.services.app import master_key_for

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

log = logging.getLogger(__name__)

READY_PREFIX = "READY "
_FORWARDED = (signal.SIGTERM, signal.SIGINT)


class _ReadyPipe:
    """A text stream for `serve`'s READY line that sends each line to the parent."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._connection.send(line)
        return len(text)

    def flush(self) -> None:
        """Lines are sent as they complete; nothing is held back."""


def _stop_when_parent_dies() -> None:
    """SIGTERM to ourselves (a graceful stop) once the parent process has gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(
    options: ServerOptions,
    use_uvloop: bool,
    ready: Connection,
    setup: Callable[[], object] | None,
) -> None:
    # "worker-0", ... for the kernel: `top`, `ps` and the load tools tell the workers apart.
    name_os_thread(multiprocessing.current_process().name.removeprefix("eudi-connect-"))
    if setup is not None:
        setup()
    _stop_when_parent_dies()
    try:
        run(options, use_uvloop=use_uvloop, ready_stream=_ReadyPipe(ready))
    finally:
        ready.close()


def reserve_port(host: str, port: int) -> tuple[socket.socket, int]:
    """A bound (not listening) SO_REUSEPORT socket on host:port, and its port number.

    Held until the workers listen: it keeps the port ours (`--port 0` picks it here), but
    takes no connections, as only listening sockets share them. A fixed port somebody
    already listens on is refused, even if that listener allows SO_REUSEPORT.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ConfigurationError(
            f"cannot resolve host {host!r}", reason=Reason.LISTEN_ADDRESS
        ) from error
    if port != 0:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    holder = socket.socket(family, kind, proto)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(address)
    except BaseException:
        holder.close()
        raise
    return holder, int(holder.getsockname()[1])


def worker_options(options: ServerOptions, port: int, index: int) -> ServerOptions:
    """What worker `index` runs: the shared port with SO_REUSEPORT, its own metrics port
    (`metrics_port + index`: each worker keeps its own counters), and no signing process
    unless asked for (the workers already occupy the cores)."""
    return replace(
        options,
        port=port,
        reuse_port=True,
        sign_workers=0 if options.sign_workers is None else options.sign_workers,
        metrics_port=None if options.metrics_port is None else options.metrics_port + index,
    )


class _Signals:
    """Records SIGTERM/SIGINT and wakes the supervisor's wait() through a socket pair."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        for sig in _FORWARDED:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._read.close()
        self._write.close()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        with contextlib.suppress(OSError):
            self._write.send(b"\0")

    @property
    def waitable(self) -> socket.socket:
        return self._read

    def drain(self) -> list[int]:
        with contextlib.suppress(OSError):
            while self._read.recv(64):
                pass
        taken, self.received = self.received, []
        return taken


class _Supervisor:
    """The worker processes, the pipes they report READY on, and their shutdown."""

    def __init__(self) -> None:
        self.processes: list[SpawnProcess] = []
        self.pipes: list[Connection] = []

    def start(
        self,
        options: ServerOptions,
        *,
        port: int,
        workers: int,
        use_uvloop: bool,
        setup: Callable[[], object] | None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        for index in range(workers):
            receive, send = context.Pipe(duplex=False)
            self.pipes.append(receive)
            process = context.Process(
                target=_worker_main,
                args=(worker_options(options, port, index), use_uvloop, send, setup),
                name=f"eudi-connect-worker-{index}",
            )
            process.start()
            send.close()
            self.processes.append(process)

    def close_pipes(self) -> None:
        for pipe in self.pipes:
            pipe.close()

    def alive(self) -> list[SpawnProcess]:
        return [process for process in self.processes if process.is_alive()]

    def signal_all(self, sig: int) -> None:
        for process in self.alive():
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)

    def wait_ready(self, signals: _Signals, timeout: float) -> bool:
        """True once every worker said READY; False if one died, a signal came, or time ran out."""
        waiting = dict(zip(self.pipes, self.processes, strict=True))
        deadline = time.monotonic() + timeout
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.error("workers not ready within %.0f s", timeout)
                return False
            objects: list[Any] = [*waiting, *(p.sentinel for p in self.processes), signals.waitable]
            for ready in wait(objects, timeout=remaining):
                if not isinstance(ready, Connection):
                    if ready is not signals.waitable:
                        log.error("a worker exited during start-up")
                    return False
                try:
                    line = ready.recv()
                except EOFError:
                    continue  # its sentinel reports the exit
                if isinstance(line, str) and line.startswith(READY_PREFIX):
                    waiting.pop(ready, None)
        return True

    def wait_for_signal_or_exit(self, signals: _Signals) -> int | None:
        """Blocks until SIGTERM/SIGINT (returned) or a worker's own exit (None)."""
        while True:
            objects: list[Any] = [*(p.sentinel for p in self.processes), signals.waitable]
            for ready in wait(objects):
                if ready is not signals.waitable:
                    return None
                received = signals.drain()
                if received:
                    return received[0]

    def stop(self, sig: int, timeout: float) -> bool:
        """Sends `sig`, waits up to `timeout`, then kills; True if all exited with 0."""
        self.signal_all(sig)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self.alive():
            log.error("worker %s did not stop within %.0f s; killing it", process.pid, timeout)
            process.kill()
            process.join()
        return all(process.exitcode == 0 for process in self.processes)


def run_workers(
    options: ServerOptions,
    *,
    workers: int,
    use_uvloop: bool = True,
    setup: Callable[[], object] | None = None,
    ready_stream: Any = None,
    ready_timeout: float = 120.0,
) -> int:
    """Runs `workers` server processes on one port until SIGTERM/SIGINT; the exit code.

    `setup` (picklable, e.g. a `functools.partial`) runs first in every worker: logging
    configuration does not cross a spawn.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if options.http_port is not None and options.http_port == options.metrics_port:
        raise ConfigurationError(
            "with --workers, each worker serves metrics on its own port (metrics_port + its "
            "number), so --metrics-port cannot equal the shared --http-port",
            reason=Reason.WORKERS_HTTP,
        )
    ready_stream = sys.stdout if ready_stream is None else ready_stream
    # Resolve the master key once, here: a new key file is created by the parent alone
    # (and a PostgreSQL store without the key in the environment fails before any fork).
    master_key_for(options.db_url)
    holder, port = reserve_port(options.host, options.port)
    http_holder = None
    if options.http_port is not None:
        # The public HTTP port is shared by every worker too (SO_REUSEPORT), like gRPC's.
        try:
            http_holder, http_port = reserve_port(options.host, options.http_port)
        except BaseException:
            holder.close()
            raise
        options = replace(options, http_port=http_port)
    supervisor = _Supervisor()
    stop_timeout = options.grace_seconds + 10
    try:
        with _Signals() as signals:
            supervisor.start(
                options, port=port, workers=workers, use_uvloop=use_uvloop, setup=setup
            )
            ready = supervisor.wait_ready(signals, ready_timeout)
            holder.close()  # the workers listen now (or never will): nothing left to hold
            if http_holder is not None:
                http_holder.close()
            if not ready:
                supervisor.stop(signal.SIGTERM, stop_timeout)
                return 0 if signals.drain() else 1
            log.info("%d workers serving on %s:%d", workers, options.host, port)
            if options.http_port is not None:
                log.info("HTTP on %s:%d, shared by the workers", options.host, options.http_port)
            print(f"{READY_PREFIX}{port}", file=ready_stream, flush=True)
            received = supervisor.wait_for_signal_or_exit(signals)
            if received is not None:
                # Forward the same signal: a worker shuts down gracefully on either.
                return 0 if supervisor.stop(received, stop_timeout) else 1
            crashed = [p for p in supervisor.processes if not p.is_alive()]
            log.error(
                "worker %s exited with %s; stopping the others",
                crashed[0].pid if crashed else "?",
                crashed[0].exitcode if crashed else "?",
            )
            supervisor.stop(signal.SIGTERM, stop_timeout)
            return 1
    finally:
        holder.close()
        if http_holder is not None:
            http_holder.close()
        supervisor.close_pipes()
