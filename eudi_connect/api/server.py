"""Assembles and runs the asyncio gRPC server: CredentialService, TemplateService, health,
reflection."""

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
from eudi.connect.v1 import offer_service_pb2 as offer_pb
from eudi.connect.v1 import offer_service_pb2_grpc as offer_pb_grpc
from eudi.connect.v1 import presentation_service_pb2 as presentation_pb
from eudi.connect.v1 import presentation_service_pb2_grpc as presentation_pb_grpc
from eudi.connect.v1 import template_service_pb2 as template_pb
from eudi.connect.v1 import template_service_pb2_grpc as template_pb_grpc
from eudi.connect.v1 import trust_service_pb2 as trust_pb
from eudi.connect.v1 import trust_service_pb2_grpc as trust_pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from eudi_connect.api.credential_servicer import CredentialServicer
from eudi_connect.api.http_endpoints import HttpEndpoints
from eudi_connect.api.interceptors import AuthInterceptor
from eudi_connect.api.metrics_interceptor import MetricsInterceptor
from eudi_connect.api.offer_servicer import OfferServicer
from eudi_connect.api.presentation_servicer import PresentationServicer
from eudi_connect.api.streams import ResponseStreamInterceptor
from eudi_connect.api.template_servicer import TemplateServicer
from eudi_connect.api.tls import server_credentials
from eudi_connect.api.tracing import server_tracing_interceptor
from eudi_connect.api.trust_servicer import TrustServicer
from eudi_connect.errors import ConfigurationError
from eudi_connect.monitoring.logs import flush_access_log
from eudi_connect.monitoring.performance_metrics import current_monitor, monitor_installed
from eudi_connect.monitoring.telemetry import Telemetry, setup_telemetry
from eudi_connect.reasons import Reason
from eudi_connect.services.app import Services, default_sign_workers, open_services
from eudi_connect.services.batch import DEFAULT_MAX_ITEMS, BatchIssuer
from eudi_connect.services.settings import ServiceSettings

log = logging.getLogger(__name__)

CREDENTIAL_SERVICE = pb.DESCRIPTOR.services_by_name["CredentialService"].full_name
TEMPLATE_SERVICE = template_pb.DESCRIPTOR.services_by_name["TemplateService"].full_name
TRUST_SERVICE = trust_pb.DESCRIPTOR.services_by_name["TrustService"].full_name
OFFER_SERVICE = offer_pb.DESCRIPTOR.services_by_name["OfferService"].full_name
PRESENTATION_SERVICE = presentation_pb.DESCRIPTOR.services_by_name["PresentationService"].full_name
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
    # Processes that check, compile and render tenants' templates off the event loop; 0
    # runs that work in a thread of the server process instead.
    render_workers: int = 1
    # PEM files; with tls_client_ca set, clients need a certificate from it (mutual TLS).
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # Public HTTP endpoints and the Prometheus scrape endpoint; None: not served. The same
    # port for both serves both from one listener.
    http_port: int | None = None
    metrics_port: int | None = None
    # Metrics, traces and access log of every RPC; off only to measure what they cost.
    instrumentation: bool = True
    # Share the port with other processes (SO_REUSEPORT): set for `serve --workers N`.
    reuse_port: bool = False


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: HealthServicer
    services: Services
    http: HttpEndpoints | None = None
    housekeeping: asyncio.Task[None] | None = None
    # Scheduled key rotation, retired keys' publication end, key metrics.
    key_schedule: asyncio.Task[None] | None = None

    async def stop(self, grace: float | None) -> None:
        """Refuses new calls, lets running ones finish within `grace`, then closes the store."""
        for task in (self.housekeeping, self.key_schedule):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.http is not None:
            self.http.begin_shutdown()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.http is not None:
            await self.http.stop()
        await self.services.close()


def _interceptors(
    services: Services, options: ServerOptions, telemetry: Telemetry
) -> list[grpc.aio.ServerInterceptor]:  # type: ignore[type-arg]
    """Outermost first: response streams run in their call's task, whatever the layers
    below do; the tracing span covers the whole call; metrics see the status
    authentication ends a call with."""
    interceptors: list[grpc.aio.ServerInterceptor] = [ResponseStreamInterceptor()]  # type: ignore[type-arg]
    if options.instrumentation:
        if telemetry.tracer_provider is not None:
            interceptors.append(server_tracing_interceptor(telemetry.tracer_provider))
        interceptors.append(MetricsInterceptor(telemetry.monitor))
    interceptors.append(AuthInterceptor(services.tenants))
    return interceptors


async def start_server(
    services: Services, options: ServerOptions, *, telemetry: Telemetry | None = None
) -> RunningServer:
    """Starts the gRPC server and, when asked for, the HTTP endpoints. `telemetry` defaults
    to recording into the process's monitor with no Prometheus registry."""
    telemetry = telemetry or Telemetry(monitor=current_monitor())
    if options.metrics_port is not None and telemetry.prometheus_registry is None:
        raise ValueError("metrics_port needs telemetry set up with prometheus=True")
    server = grpc.aio.server(
        interceptors=_interceptors(services, options, telemetry),
        options=[
            ("grpc.max_receive_message_length", options.max_receive_message_bytes),
            ("grpc.so_reuseport", 1 if options.reuse_port else 0),
        ],
    )
    batch = BatchIssuer(
        services.issuance, max_items=options.max_batch_items, pool=services.signing_pool
    )
    pb_grpc.add_CredentialServiceServicer_to_server(CredentialServicer(services, batch), server)
    template_pb_grpc.add_TemplateServiceServicer_to_server(TemplateServicer(services), server)
    trust_pb_grpc.add_TrustServiceServicer_to_server(TrustServicer(services), server)
    offer_pb_grpc.add_OfferServiceServicer_to_server(
        OfferServicer(services.offers, services.wallet_policies), server
    )
    presentation_pb_grpc.add_PresentationServiceServicer_to_server(
        PresentationServicer(services.presentations, services.verifier_identities), server
    )
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            CREDENTIAL_SERVICE,
            TEMPLATE_SERVICE,
            TRUST_SERVICE,
            OFFER_SERVICE,
            PRESENTATION_SERVICE,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    address = f"{options.host}:{options.port}"
    if bool(options.tls_cert) != bool(options.tls_key) or (
        options.tls_client_ca and not options.tls_cert
    ):
        raise ConfigurationError(
            "TLS needs both --tls-cert and --tls-key (and --tls-client-ca only with them)",
            reason=Reason.TLS,
        )
    if options.tls_cert and options.tls_key:
        credentials = server_credentials(options.tls_cert, options.tls_key, options.tls_client_ca)
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {options.host}:{options.port}")
    await server.start()
    http = None
    if options.http_port is not None or options.metrics_port is not None:
        http = HttpEndpoints(
            services,
            telemetry.monitor,
            prometheus_registry=telemetry.prometheus_registry,
            shutdown_timeout=options.grace_seconds,
        )
        try:
            await http.start(
                options.host,
                http_port=options.http_port,
                metrics_port=options.metrics_port,
                reuse_port=options.reuse_port,
            )
        except BaseException:
            await server.stop(None)
            raise
    for name in (
        "",
        CREDENTIAL_SERVICE,
        TEMPLATE_SERVICE,
        TRUST_SERVICE,
        OFFER_SERVICE,
        PRESENTATION_SERVICE,
    ):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(
        server=server,
        port=port,
        health=health_servicer,
        services=services,
        http=http,
        housekeeping=asyncio.get_running_loop().create_task(
            _housekeeping(services), name="wallet-housekeeping"
        ),
        key_schedule=asyncio.get_running_loop().create_task(
            services.keys.run_schedule(services.settings.key_schedule_seconds),
            name="key-schedule",
        ),
    )


async def _housekeeping(services: Services) -> None:
    """The periodic purges of the wallet protocols' expired state, until cancelled."""
    await asyncio.gather(
        services.wallet_issuer.housekeeping(), services.presentations.housekeeping()
    )


async def serve(options: ServerOptions, *, ready_stream: object = sys.stdout) -> None:
    """Runs until SIGTERM or SIGINT, then shuts down gracefully."""
    telemetry = setup_telemetry(prometheus=options.metrics_port is not None)
    try:
        with monitor_installed(telemetry.monitor):
            await _serve(options, telemetry, ready_stream)
    finally:
        flush_access_log()
        telemetry.shutdown()


async def _serve(options: ServerOptions, telemetry: Telemetry, ready_stream: object) -> None:
    sign_workers = default_sign_workers() if options.sign_workers is None else options.sign_workers
    services = await open_services(
        options.db_url,
        options.settings,
        sign_workers=sign_workers,
        render_workers=options.render_workers,
    )
    try:
        running = await start_server(services, options, telemetry=telemetry)
    except BaseException:
        await services.close()
        raise
    await _log_kept_public_urls(services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("serving on %s:%d", options.host, running.port)
    if running.http is not None:
        log.info(
            "HTTP on %s: public port %s, metrics port %s",
            options.host,
            running.http.http_port,
            running.http.metrics_port,
        )
    print(f"READY {running.port}", file=ready_stream, flush=True)  # type: ignore[call-overload]
    try:
        await stop.wait()
    finally:
        log.info("shutting down; in-flight calls get %.1f s", options.grace_seconds)
        await running.stop(options.grace_seconds)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _log_kept_public_urls(services: Services) -> None:
    """One line when tenants keep a public URL other than this start's --public-url."""
    kept = [
        url
        for url in await services.store.list_tenant_public_urls()
        if url != services.urls.default.base_url
    ]
    if kept:
        shown = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
        log.info(
            "tenants that issued under another public URL keep it (%s); %s applies to "
            "tenants that have not issued yet",
            shown,
            services.urls.default.base_url,
        )


def run(options: ServerOptions, *, use_uvloop: bool = True, ready_stream: object = None) -> None:
    """Serves until SIGTERM/SIGINT; the READY line goes to `ready_stream` (stdout if None)."""
    ready = sys.stdout if ready_stream is None else ready_stream
    if use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.run(serve(options, ready_stream=ready))
            return
    asyncio.run(serve(options, ready_stream=ready))
