"""Slows down API key guessing: a peer that fails authentication too often gets
RESOURCE_EXHAUSTED for its failures for a while, and its unknown keys are no longer looked
up in the store. Valid keys keep working from that peer too: behind a load balancer or a
NAT many tenants share one address, and one guesser must not lock them all out."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from eudi_connect.errors import ResourceExhaustedError
from eudi_connect.reasons import Reason


@dataclass
class _Window:
    started: float
    failures: int


def peer_host(peer: str | None) -> str:
    """The address part of a gRPC peer string ("ipv4:1.2.3.4:5678", "ipv6:[::1]:5678");
    the port changes with every connection, so it must not count."""
    if not peer:
        return "unknown"
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[: rest.find("]") + 1]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer


class AuthThrottle:
    """At most `max_failures` failed authentications per peer host per `window_seconds`."""

    def __init__(
        self,
        *,
        max_failures: int = 20,
        window_seconds: float = 60.0,
        max_tracked_peers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self._window = window_seconds
        self._max_tracked = max_tracked_peers
        self._clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def lockout_remaining(self, peer: str | None) -> float | None:
        """Seconds the peer stays locked out, None when it is not."""
        window = self._windows.get(peer_host(peer))
        if window is None or window.failures < self.max_failures:
            return None
        wait = window.started + self._window - self._clock()
        return wait if wait > 0 else None

    @staticmethod
    def limited_error(wait: float) -> ResourceExhaustedError:
        return ResourceExhaustedError(
            f"too many failed authentications from this peer; retry in {wait:.0f} s",
            reason=Reason.AUTH_RATE_LIMITED,
            retry_after_seconds=wait,
        )

    def failed(self, peer: str | None) -> None:
        host = peer_host(peer)
        now = self._clock()
        window = self._windows.get(host)
        if window is None or now - window.started >= self._window:
            window = _Window(started=now, failures=0)
            self._windows[host] = window
        window.failures += 1
        self._windows.move_to_end(host)
        while len(self._windows) > self._max_tracked:
            self._windows.popitem(last=False)
