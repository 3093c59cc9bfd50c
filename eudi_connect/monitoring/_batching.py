"""Deferred, batched work: a queue that a daemon thread drains every few milliseconds.

Per-call observations (a metric sample, an access-log line) cost several times more when
done one at a time between RPCs, with the caches cold from the RPC's own work, than in a
batch: measured in a real server, the batched form cut the access log's cost about four
times. Callers only append to a deque (atomic, no lock); the thread, or `flush`, applies
what is pending in order.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")


class Batcher(Generic[T]):
    """Applies `apply` to every added item, in order, within `interval` seconds."""

    def __init__(
        self, apply: Callable[[T], None], *, interval: float = 0.1, max_pending: int = 1024
    ) -> None:
        self._apply = apply
        self.interval = interval
        self._max_pending = max_pending
        self._pending: deque[T] = deque()
        self._lock = threading.Lock()  # one drainer at a time keeps items in order
        self._thread: threading.Thread | None = None
        _batchers.add(self)

    def add(self, item: T) -> None:
        self._pending.append(item)
        if self._thread is None:
            self._start()
        elif len(self._pending) >= self._max_pending:
            self.flush()  # a burst faster than the thread drains: the caller helps

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                # The thread holds only a weak reference: a dropped batcher (a test's
                # monitor) lets its thread end.
                self._thread = threading.Thread(
                    target=_drain_periodically,
                    args=(weakref.ref(self), self.interval),
                    name="batcher",
                    daemon=True,
                )
                self._thread.start()

    def flush(self) -> None:
        """Applies everything pending now, in the calling thread."""
        pending = self._pending
        with self._lock:
            while pending:
                self._apply(pending.popleft())

    def _after_fork(self) -> None:
        self._pending = deque()
        self._lock = threading.Lock()
        self._thread = None


def _drain_periodically(ref: weakref.ref[Batcher[T]], interval: float) -> None:
    while True:
        time.sleep(interval)
        batcher = ref()
        if batcher is None:
            return
        if batcher._pending:
            batcher.flush()
        del batcher


_batchers: weakref.WeakSet[Batcher[Any]] = weakref.WeakSet()


def _flush_all() -> None:
    for batcher in list(_batchers):
        batcher.flush()


def _after_fork_in_child() -> None:
    # A forked child has none of the parent's threads: every batcher starts afresh.
    for batcher in list(_batchers):
        batcher._after_fork()


atexit.register(_flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
