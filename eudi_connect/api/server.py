"""Assembles and runs the asyncio gRPC server: CredentialService, health, reflection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from eudi_connect.api.credential_servicer import CredentialServicer
from eudi_connect.api.interceptors import AuthInterceptor
from eudi_connect.services.app import Services, default_sign_workers, open_services
from eudi_connect.services.batch import DEFAULT_MAX_ITEMS, BatchIssuer
from eudi_connect.services.settings import ServiceSettings

log = logging.getLogger(__name__)

CREDENTIAL_SERVICE = pb.DESCRIPTOR.services_by_name["CredentialService"].full_name
# Large enough for a 10,000-item batch request; anything bigger is refused by gRPC itself.
MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 50051
    db_url: str = "sqlite:///./eudi-connect.db"
    grace_seconds: float = 10.0
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    max_receive_message_bytes: int = MAX_RECEIVE_MESSAGE_BYTES
    max_batch_items: int = DEFAULT_MAX_ITEMS
    # Processes that sign batch groups; None picks one when a second core exists.
    sign_workers: int | None = None


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: HealthServicer
    services: Services

    async def stop(self, grace: float | None) -> None:
        """Refuses new calls, lets running ones finish within `grace`, then closes the store."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.services.close()


async def start_server(services: Services, options: ServerOptions) -> RunningServer:
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(services.tenants)],
        options=[
            ("grpc.max_receive_message_length", options.max_receive_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    batch = BatchIssuer(
        services.issuance, max_items=options.max_batch_items, pool=services.signing_pool
    )
    pb_grpc.add_CredentialServiceServicer_to_server(CredentialServicer(services, batch), server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (CREDENTIAL_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = server.add_insecure_port(f"{options.host}:{options.port}")
    if port == 0:
        raise OSError(f"cannot listen on {options.host}:{options.port}")
    await server.start()
    for name in ("", CREDENTIAL_SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=port, health=health_servicer, services=services)


async def serve(options: ServerOptions, *, ready_stream: object = sys.stdout) -> None:
    """Runs until SIGTERM or SIGINT, then shuts down gracefully."""
    sign_workers = default_sign_workers() if options.sign_workers is None else options.sign_workers
    services = await open_services(options.db_url, options.settings, sign_workers=sign_workers)
    running = await start_server(services, options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("serving on %s:%d", options.host, running.port)
    print(f"READY {running.port}", file=ready_stream, flush=True)  # type: ignore[call-overload]
    try:
        await stop.wait()
    finally:
        log.info("shutting down; in-flight calls get %.1f s", options.grace_seconds)
        await running.stop(options.grace_seconds)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run(options: ServerOptions, *, use_uvloop: bool = True) -> None:
    if use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.run(serve(options))
            return
    asyncio.run(serve(options))
