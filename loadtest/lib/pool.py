"""Several worker processes for one load run: spawn, start together, collect, merge.

Each worker is spawned (its own interpreter and event loop, uvloop when installed, pinned
when asked) and gets its share of the concurrency, rate and call count. The parent waits
for every worker to connect and warm up, gives them one common start instant, shows a
progress bar and merges their per-second histograms.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue as queue_module
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from loadtest.lib.engine import Worker
from loadtest.lib.spec import LoadGenError, LoadResult, LoadSpec, merge_parts

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.queues import Queue

    MessageQueue = Queue[tuple[Any, ...]]

__all__ = ["run_load"]

_START_DELAY = 0.05  # seconds between the start signal and the common start instant


def _worker_process(
    spec: LoadSpec,
    index: int,
    processes: int,
    messages: MessageQueue,
    start_signal: Connection,
) -> None:
    """Entry point of a spawned worker: pin, pick the loop, run, send the result."""
    try:
        if spec.cpus:
            from loadtest.lib.cpu import pin_process

            pin_process(os.getpid(), spec.cpus)
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        if spec.use_uvloop:
            try:
                import uvloop
            except ImportError:  # optional: asyncio's own loop works, a bit slower
                pass
            else:
                loop_factory = uvloop.new_event_loop

        async def wait_for_start() -> float | None:
            messages.put(("ready", index))
            deadline = time.monotonic() + spec.setup_timeout * 2 + 30.0
            while not start_signal.poll():
                if time.monotonic() > deadline:
                    raise LoadGenError(f"worker {index}: no start signal from the parent")
                await asyncio.sleep(0.002)
            start: float | None = start_signal.recv()
            return start

        def progress(n: int) -> None:
            messages.put(("progress", index, n))

        worker = Worker(spec, index, processes)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(worker.run(wait_for_start, progress))
        messages.put(("result", index, result))
    except BaseException as exc:  # everything goes back to the parent
        detail = "".join(traceback.format_exception(exc))
        messages.put(("error", index, detail))
    finally:
        start_signal.close()


@dataclass
class _Pool:
    processes: list[SpawnProcess]
    signals: list[Connection]
    messages: MessageQueue

    def broadcast(self, start: float | None) -> None:
        for conn in self.signals:
            with contextlib.suppress(OSError):  # that worker is already gone
                conn.send(start)

    def shut_down(self, grace: float) -> None:
        """Join the workers; SIGTERM then SIGKILL (by PID) for any still running."""
        deadline = time.monotonic() + grace
        while any(proc.is_alive() for proc in self.processes) and time.monotonic() < deadline:
            # A worker exits only once its queued messages are read, so keep reading.
            with contextlib.suppress(queue_module.Empty):
                self.messages.get(timeout=0.05)
        for proc in self.processes:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2.0)
        for conn in self.signals:
            conn.close()
        for proc in self.processes:
            if not proc.is_alive():
                proc.close()
        self.messages.close()
        self.messages.join_thread()


def _receive(
    pool: _Pool, deadline: float, on_progress: Callable[[int], None]
) -> Iterator[tuple[Any, ...]]:
    """Yield ready/result/error messages until ``deadline``; feed progress on the way."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LoadGenError("load workers did not finish before the hard deadline")
        try:
            message = pool.messages.get(timeout=min(remaining, 0.2))
        except queue_module.Empty:
            for index, proc in enumerate(pool.processes):
                if proc.exitcode is not None and proc.exitcode != 0:
                    raise LoadGenError(
                        f"worker {index} died with exit code {proc.exitcode}"
                    ) from None
            continue
        if message[0] == "progress":
            on_progress(message[2])
        else:
            yield message


def run_load(
    spec: LoadSpec, *, progress: bool = True, on_start: Callable[[], None] | None = None
) -> LoadResult:
    """Spawn the worker processes, start them together, show progress, merge results.

    ``on_start`` is called in this process as the measured phase begins (after every
    worker has connected and warmed up), e.g. to read the server's CPU time.
    Raises :class:`LoadGenError` if a worker fails to connect or set up, or dies.
    Workers are spawned, so they re-import the caller's main module: call this from
    under ``if __name__ == "__main__":`` in scripts.
    """
    spec.validate()
    from tqdm import tqdm  # imported here so that importing loadtest stays fast

    processes = spec.worker_processes()
    context = multiprocessing.get_context("spawn")
    messages: MessageQueue = context.Queue()
    pool = _Pool([], [], messages)
    parts: list[dict[str, Any]] = []
    with tqdm(
        total=spec.total, unit="call", disable=not progress, dynamic_ncols=True, leave=False
    ) as bar:
        try:
            for index in range(processes):
                receiver, sender = context.Pipe(duplex=False)
                proc = context.Process(
                    target=_worker_process,
                    args=(spec, index, processes, messages, receiver),
                    name=f"loadgen-worker-{index}",
                    daemon=True,
                )
                proc.start()
                receiver.close()  # the child has its own copy
                pool.processes.append(proc)
                pool.signals.append(sender)

            def advance(n: int) -> None:
                bar.update(n)

            def started() -> None:
                bar.reset(total=spec.total)  # rates shown from the start, not the spawn
                if on_start is not None:
                    on_start()

            _gather(spec, pool, parts, advance, started)
        finally:
            pool.shut_down(grace=5.0)
    return merge_parts(spec, processes, sorted(parts, key=lambda part: int(part["index"])))


def _gather(
    spec: LoadSpec,
    pool: _Pool,
    parts: list[dict[str, Any]],
    on_progress: Callable[[int], None],
    on_start: Callable[[], None],
) -> None:
    """Wait for every worker to be ready, start them together, then collect results."""
    processes = len(pool.processes)
    ready: set[int] = set()
    setup_deadline = time.monotonic() + spec.setup_timeout + 30.0  # + interpreter start-up
    try:
        for message in _receive(pool, setup_deadline, on_progress):
            if message[0] == "error":
                raise LoadGenError(f"worker {message[1]} failed:\n{message[2]}")
            ready.add(message[1])
            if len(ready) == processes:
                break
    except BaseException:
        pool.broadcast(None)  # let the others leave cleanly
        raise
    pool.broadcast(time.time() + _START_DELAY)
    on_start()
    finish_deadline = time.monotonic() + _START_DELAY + spec.hard_limit() + 15.0
    for message in _receive(pool, finish_deadline, on_progress):
        if message[0] == "error":
            raise LoadGenError(f"worker {message[1]} failed:\n{message[2]}")
        if message[0] == "result" and message[2] is not None:
            parts.append(message[2])
        if len(parts) == processes:
            return
