"""`serve --workers N` pieces that need no server: port reservation and per-worker options."""

from __future__ import annotations

import socket

import pytest

from eudi_connect.api.server import ServerOptions
from eudi_connect.api.workers import reserve_port, run_workers, worker_options
from eudi_connect.cli.main import build_parser
from eudi_connect.errors import ConfigurationError


def test_port_zero_is_chosen_and_held_without_taking_connections() -> None:
    """With port 0 a free port is bound (not listening); SO_REUSEPORT listeners may join it."""
    holder, port = reserve_port("127.0.0.1", 0)
    try:
        assert port > 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))
            worker.listen()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                accepted, _ = worker.accept()
                accepted.close()
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as stranger,
            pytest.raises(OSError, match="in use"),
        ):
            stranger.bind(("127.0.0.1", port))  # held: nobody without SO_REUSEPORT gets it
    finally:
        holder.close()


def test_a_port_someone_listens_on_is_refused() -> None:
    """A fixed port with a listener is refused, even one that allows SO_REUSEPORT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            reserve_port("127.0.0.1", port)


def test_worker_options_share_the_port_and_split_metrics_ports() -> None:
    """Workers reuse the port, sign in-process unless told otherwise, and number metrics ports."""
    base = ServerOptions(port=0, metrics_port=9100)
    first, second = (worker_options(base, 5000, index) for index in range(2))
    assert (first.port, first.reuse_port, first.sign_workers, first.metrics_port) == (
        5000,
        True,
        0,
        9100,
    )
    assert second.metrics_port == 9101
    assert worker_options(ServerOptions(sign_workers=2), 1, 0).sign_workers == 2
    assert worker_options(ServerOptions(), 1, 0).metrics_port is None


def test_metrics_on_the_shared_http_port_is_refused_with_workers() -> None:
    """Workers share --http-port but each has its own metrics port, so the two cannot be
    the same port with --workers."""
    with pytest.raises(ConfigurationError) as caught:
        run_workers(ServerOptions(http_port=8080, metrics_port=8080), workers=2)
    assert caught.value.reason == "WORKERS_HTTP"


def test_cli_takes_workers_and_key_refresh() -> None:
    """serve --workers N --key-refresh-seconds S parse; zero workers is an error."""
    args = build_parser().parse_args(["serve", "--workers", "3", "--key-refresh-seconds", "5"])
    assert (args.workers, args.key_refresh_seconds) == (3, 5.0)
    assert build_parser().parse_args(["serve"]).workers == 1
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--workers", "0"])
