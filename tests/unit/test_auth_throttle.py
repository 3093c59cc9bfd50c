"""Failed-authentication throttling per peer host."""

from __future__ import annotations

import pytest

from eudi_connect.errors import ResourceExhaustedError
from eudi_connect.services.auth_throttle import AuthThrottle, peer_host


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("ipv4:127.0.0.1:50123", "127.0.0.1"),
        ("ipv6:[::1]:50123", "[::1]"),
        ("unix:/tmp/socket", "unix:/tmp/socket"),
        (None, "unknown"),
    ],
)
def test_peer_host_drops_the_port(peer: str | None, host: str) -> None:
    """Connections from one host count together whatever their source port."""
    assert peer_host(peer) == host


def test_locks_out_after_limit_then_recovers() -> None:
    """After the limit the peer is locked out for the rest of its window, others are not."""
    clock = FakeClock()
    throttle = AuthThrottle(max_failures=3, window_seconds=60, clock=clock)
    for port in range(3):
        assert throttle.lockout_remaining(f"ipv4:10.0.0.1:{port}") is None
        throttle.failed(f"ipv4:10.0.0.1:{port}")
    assert throttle.lockout_remaining("ipv4:10.0.0.1:9") == pytest.approx(60)
    assert throttle.lockout_remaining("ipv4:10.0.0.2:9") is None
    clock.now += 61
    assert throttle.lockout_remaining("ipv4:10.0.0.1:9") is None


def test_limited_error_carries_the_wait() -> None:
    """The refusal is RESOURCE_EXHAUSTED-typed with the retry delay."""
    error = AuthThrottle.limited_error(12.5)
    assert isinstance(error, ResourceExhaustedError)
    assert (error.reason, error.retry_after_seconds) == ("AUTH_RATE_LIMITED", 12.5)


def test_tracked_peers_are_bounded() -> None:
    """Many distinct peers cannot grow the table past its bound."""
    throttle = AuthThrottle(max_failures=1, max_tracked_peers=100)
    for i in range(1000):
        throttle.failed(f"ipv4:10.0.{i // 256}.{i % 256}:1")
    assert len(throttle._windows) == 100
