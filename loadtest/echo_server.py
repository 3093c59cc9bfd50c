"""A bare grpc.aio echo server: the ceiling every service benchmark is compared with.

It has no proto file: one generic handler for ``/eudi.loadtest.Echo/Echo`` with identity
(de)serializers returns the request bytes. Whatever the credential service does on top
of gRPC shows up as the gap between its figures and this server's, measured in one run.

Run it as a separate process with ``python -m loadtest.echo_server --port 0``; it prints
``READY <port>`` once it accepts calls and stops gracefully on SIGTERM or SIGINT.

With ``--http`` it is the same ceiling for the HTTP endpoints: an aiohttp server (the
framework of the service's HTTP listener) on the same event loop that answers
``POST /echo`` with the request body and ``GET /echo`` with a small JSON object, each
``application/json`` and ``Cache-Control: no-store`` like the wallet endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:  # the server process itself does not need the load generator
    from loadtest.lib.spec import WorkerContext

__all__ = [
    "ECHO_METHOD",
    "HTTP_ECHO_PATH",
    "echo_scenario",
    "main",
    "serve",
    "start_echo_server",
    "start_http_echo_server",
]

SERVICE_NAME = "eudi.loadtest.Echo"
ECHO_METHOD = f"/{SERVICE_NAME}/Echo"
DEFAULT_PAYLOAD_SIZE = 200  # about the size of a small service request
HTTP_ECHO_PATH = "/echo"
_HTTP_GET_BODY = b'{"echo": "a small JSON document, like a nonce response"}'


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


def _echo_handler() -> grpc.GenericRpcHandler[bytes, bytes]:
    # No (de)serializers: grpc hands the raw bytes through in both directions.
    return grpc.method_handlers_generic_handler(
        SERVICE_NAME, {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )


async def start_echo_server(host: str = "127.0.0.1", port: int = 0) -> tuple[grpc.aio.Server, int]:
    """Start an echo server on the running loop and return it with its bound port.

    The event loop is whatever runs the caller; :func:`serve` picks uvloop for the
    stand-alone process. The caller stops the server (``await server.stop(grace)``).
    """
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_echo_handler(),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind the echo server to {host}:{port}")
    await server.start()
    return server, bound


async def start_http_echo_server(host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """The HTTP ceiling on the running loop: an aiohttp ``AppRunner`` and its bound port."""
    from aiohttp import web

    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}

    async def post(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), headers=headers)

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=_HTTP_GET_BODY, headers=headers)

    app = web.Application()
    app.router.add_post(HTTP_ECHO_PATH, post)
    app.router.add_get(HTTP_ECHO_PATH, get)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])


async def _serve_until_signalled(host: str, port: int, grace: float, *, http: bool) -> None:
    if http:
        runner, bound = await start_http_echo_server(host, port)
    else:
        server, bound = await start_echo_server(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {bound}", flush=True)
    try:
        await stop.wait()
    finally:
        # Finish in-flight calls, refuse new ones, then exit.
        if http:
            await runner.cleanup()
        else:
            await server.stop(grace)


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    use_uvloop: bool = True,
    grace: float = 2.0,
    http: bool = False,
) -> None:
    """Serve echo calls (gRPC, or HTTP with `http`) until SIGTERM or SIGINT, on uvloop
    when asked and installed."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if use_uvloop:
        try:
            import uvloop
        except ImportError:  # uvloop is optional (not on Windows)
            pass
        else:
            loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve_until_signalled(host, port, grace, http=http))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: ``python -m loadtest.echo_server --port P``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's own loop")
    parser.add_argument("--grace", type=float, default=2.0, help="seconds to finish calls")
    parser.add_argument("--http", action="store_true", help="the HTTP ceiling (aiohttp)")
    args = parser.parse_args(argv)
    serve(args.host, args.port, use_uvloop=not args.no_uvloop, grace=args.grace, http=args.http)
    return 0


async def echo_scenario(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> Callable[[int], Awaitable[object]]:
    """Load-generator scenario: one echo call per sequence number.

    Options: ``payload_size`` (bytes, default 200) and ``timeout`` (seconds per call,
    default 10). A reply that differs from the request raises, so it counts as an error.
    """
    size = int(worker.options.get("payload_size", DEFAULT_PAYLOAD_SIZE))
    timeout = float(worker.options.get("timeout", 10.0))
    payload = bytes(i % 251 for i in range(size))
    echo = channel.unary_unary(ECHO_METHOD, request_serializer=None, response_deserializer=None)

    async def call(seq: int) -> None:
        reply = await echo(payload, timeout=timeout)
        if reply != payload:
            raise ValueError(f"echo reply differs from the request (call {seq})")

    return call


if __name__ == "__main__":
    sys.exit(main())
