"""The public HTTP side of the service (aiohttp, on the gRPC server's event loop).

Public server (``--http-port``), for verifiers and wallets, no API key:

* ``GET <base>/status-lists/{id}``: the Token Status List token
  (``application/statuslist+jwt``), the target of every credential's ``status.status_list.uri``;
* ``GET /.well-known/jwt-vc-issuer<base>/issuers/{tenant_id}``: JWT VC Issuer Metadata
  (draft-ietf-oauth-sd-jwt-vc, "JWT VC Issuer Metadata": the well-known segment goes between
  the host and the path of the issuer id ``<public_url>/issuers/<tenant_id>``);
* ``GET <base>/issuers/{tenant_id}/jwks.json``: the same key set on its own;
* ``GET <base>/issuers/{tenant_id}/certificates.pem``: the X.509 certificates that vouch
  for the tenant's credentials (every key's, and the issuer CA's when one is configured),
  as ``application/pem-certificate-chain``: what mdoc and x5c verifiers configure as trust;
* the OpenID4VP verifier endpoints under ``<base>/verifiers/{tenant_id}``
  (`api.verifier_http`);
* ``GET /healthz``.

``<base>`` is the path of ``--public-url`` (usually empty), so the URLs written into
credentials resolve here when ``--public-url`` points at this server.

Each tenant is an issuer of its own, so there is one JWKS per tenant and no service-wide
one: a merged set would tell every verifier which issuers share this deployment.

Metrics server (``--metrics-port``): ``GET /metrics`` (Prometheus text format) and
``GET /healthz``. It is a separate listener so that tenant ids in metric labels stay on
an internal port; given the same port as ``--http-port``, one server serves both.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from eudi_connect.api.convert import pem_certificates
from eudi_connect.api.verifier_http import VerifierHandlers, add_verifier_routes
from eudi_connect.api.wallet_http import WalletHandlers, add_wallet_routes
from eudi_connect.errors import NotFoundError, UnavailableError
from eudi_connect.monitoring.logs import access_log, log_access
from eudi_connect.monitoring.performance_metrics import PerformanceMonitor
from eudi_connect.services.app import Services

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "JWKS_MAX_AGE_SECONDS",
    "STATUS_LIST_MEDIA_TYPE",
    "HttpEndpoints",
    "public_routes",
    "well_known_issuer_path",
]

log = logging.getLogger(__name__)

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
WELL_KNOWN_ISSUER = "/.well-known/jwt-vc-issuer"
# Keys rotate rarely and a retired key stays published, so verifiers may cache the set.
JWKS_MAX_AGE_SECONDS = 300
HEALTH_TIMEOUT_SECONDS = 2.0
#: Tenant ids the wallet endpoints remember as existing; past this the set starts over.
MAX_KNOWN_TENANTS = 100_000
# Ids are uuid hex; the pattern keeps junk from reaching the store at all.
ID_PATTERN = "[A-Za-z0-9_-]{1,64}"
MAX_LOGGED_PATH = 256
# Metric attributes take the method from this set, else "OTHER": a client must not be able
# to mint new time series by sending made-up methods.
KNOWN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _base_path(public_url: str) -> str:
    return urlsplit(public_url).path.rstrip("/")


def well_known_issuer_path(issuer_id: str) -> str:
    """Where the JWT VC Issuer Metadata of `issuer_id` lives: ``/.well-known/jwt-vc-issuer``
    inserted between the host and the path (any trailing ``/`` removed first)."""
    return WELL_KNOWN_ISSUER + urlsplit(issuer_id).path.rstrip("/")


def public_routes(public_url: str) -> dict[str, str]:
    """The route templates for a service whose ``--public-url`` is `public_url`."""
    base = _base_path(public_url)
    return {
        "status_list": f"{base}/status-lists/{{status_list_id:{ID_PATTERN}}}",
        "issuer_metadata": f"{WELL_KNOWN_ISSUER}{base}/issuers/{{tenant_id:{ID_PATTERN}}}",
        "jwks": f"{base}/issuers/{{tenant_id:{ID_PATTERN}}}/jwks.json",
        "certificates": f"{base}/issuers/{{tenant_id:{ID_PATTERN}}}/certificates.pem",
    }


def _public_headers(max_age: int) -> dict[str, str]:
    # Status lists and keys are public by design: any origin may read them.
    return {"Cache-Control": f"public, max-age={max_age}", "Access-Control-Allow-Origin": "*"}


#: Path parameters that are capabilities: an offer id fetches the offer, pre-authorized
#: code included, and a presentation's transaction id its request object (nonce and
#: state), so neither reaches a log line.
SECRET_PATH_PARAMETERS = ("offer_id", "transaction_id")


def _logged_path(request: web.Request) -> str:
    path = request.path
    for name in SECRET_PATH_PARAMETERS:
        value = request.match_info.get(name)
        if value:
            path = path.replace(value, "{" + name + "}")
    return path


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f"{what} not found", headers={"Cache-Control": "no-store"})


def _unavailable(error: UnavailableError) -> web.HTTPServiceUnavailable:
    """503 with the reason (an issuer key token that failed, say), never a 500."""
    return web.HTTPServiceUnavailable(
        text=f"{error.reason}: try again later",
        headers={"Cache-Control": "no-store", "Retry-After": "5"},
    )


class _Handlers:
    def __init__(
        self,
        services: Services,
        monitor: PerformanceMonitor,
        registry: CollectorRegistry | None,
    ) -> None:
        self._services = services
        self._monitor = monitor
        self.registry = registry
        self.stopping = False

    @web.middleware
    async def observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Times each request into ``operation.time`` under its route, and logs it."""
        started = perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            elapsed_ms = (perf_counter() - started) * 1000.0
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            method = request.method if request.method in KNOWN_METHODS else "OTHER"
            self._monitor.record_http(f"HTTP {method} {route}", status, elapsed_ms)
            if access_log.isEnabledFor(logging.INFO):
                log_access(
                    "http",
                    {
                        "method": method,
                        "path": _logged_path(request)[:MAX_LOGGED_PATH],
                        "status": status,
                        "duration_ms": round(elapsed_ms, 3),
                        "peer": request.remote,
                    },
                )

    async def status_list(self, request: web.Request) -> web.Response:
        status_list_id = request.match_info["status_list_id"]
        try:
            token = await self._services.status_lists.token(status_list_id, tenant_id=None)
        except NotFoundError:
            raise _not_found("status list") from None
        except UnavailableError as error:
            raise _unavailable(error) from None
        body = token.encode("ascii")
        response = web.Response(
            body=body,
            content_type=STATUS_LIST_MEDIA_TYPE,
            headers=_public_headers(self._services.settings.status_list_ttl_seconds),
        )
        response.etag = hashlib.sha256(body).hexdigest()[:32]
        return self._not_modified_or(request, response)

    @staticmethod
    def _not_modified_or(request: web.Request, response: web.Response) -> web.Response:
        etag = response.etag
        wanted = request.if_none_match
        if etag is None or not wanted:
            return response
        if any(tag.value in (etag.value, "*") for tag in wanted):
            not_modified = web.Response(status=304, headers=response.headers)
            del not_modified.headers["Content-Type"]
            return not_modified
        return response

    async def _jwks(self, tenant_id: str) -> dict[str, Any]:
        jwks = await self._services.keys.published_jwks(tenant_id)
        if jwks is None:
            raise _not_found("issuer")
        return jwks

    async def issuer_metadata(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        jwks = await self._jwks(tenant_id)
        # `jwks` by value, not `jwks_uri`: the draft allows exactly one of them.
        urls = await self._services.urls.current(tenant_id)
        body = {"issuer": urls.issuer_id(tenant_id), "jwks": jwks}
        return web.json_response(body, headers=_public_headers(JWKS_MAX_AGE_SECONDS))

    async def jwks(self, request: web.Request) -> web.Response:
        jwks = await self._jwks(request.match_info["tenant_id"])
        return web.json_response(jwks, headers=_public_headers(JWKS_MAX_AGE_SECONDS))

    async def certificates(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant_id"]
        certificates = await self._services.keys.published_certificates(tenant_id)
        if certificates is None:
            raise _not_found("issuer")  # never makes a key for an unknown tenant
        pem = pem_certificates(certificates)
        return web.Response(
            text=pem,
            content_type="application/pem-certificate-chain",
            headers=_public_headers(JWKS_MAX_AGE_SECONDS),
        )

    async def healthz(self, request: web.Request) -> web.Response:
        """200 while the store answers; 503 when it does not, or once shutdown began."""
        if self.stopping:
            return web.json_response({"status": "stopping"}, status=503)
        try:
            # A read that touches the database without needing any row to exist.
            await asyncio.wait_for(self._services.store.get_tenant(""), HEALTH_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("health check: the store did not answer: %s", type(exc).__name__)
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def metrics(self, request: web.Request) -> web.Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        assert self.registry is not None  # the route exists only with a registry
        # Collecting walks every series; keep it off the event loop.
        body = await asyncio.to_thread(generate_latest, self.registry)
        response = web.Response(body=body, headers={"Cache-Control": "no-store"})
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


class HttpEndpoints:
    """The public server and the metrics server (one listener when they share a port)."""

    def __init__(
        self,
        services: Services,
        monitor: PerformanceMonitor,
        *,
        prometheus_registry: CollectorRegistry | None = None,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self._handlers = _Handlers(services, monitor, prometheus_registry)
        self._store = services.store
        store = services.store

        # Tenants are never deleted, so one seen is remembered (up to a bound) and the
        # wallet endpoints skip the read on every later request.
        known: set[str] = set()

        async def tenant_exists(tenant_id: str) -> bool:
            if tenant_id in known:
                return True
            if await store.get_tenant(tenant_id) is None:
                return False
            if len(known) >= MAX_KNOWN_TENANTS:
                known.clear()
            known.add(tenant_id)
            return True

        self._wallet = WalletHandlers(services.wallet_issuer, tenant_exists)
        self._verifier = VerifierHandlers(
            services.presentations, services.verifier_identities, tenant_exists
        )
        self._public_url = services.settings.public_url
        self._shutdown_timeout = shutdown_timeout
        self._runners: list[web.AppRunner] = []
        self.http_port: int | None = None
        self.metrics_port: int | None = None

    def _app(
        self, *, public: bool, metrics: bool, tenant_urls: Sequence[str] = ()
    ) -> web.Application:
        """`tenant_urls`: the public URLs fixed for tenants; their paths are served too, so
        credentials issued under an earlier --public-url with another path still resolve."""
        handlers = self._handlers
        app = web.Application(middlewares=[handlers.observe])
        app.router.add_get("/healthz", handlers.healthz)
        if public:
            bases = {_base_path(url): url for url in (*tenant_urls, self._public_url)}
            for base in sorted(bases.values()):
                routes = public_routes(base)
                app.router.add_get(routes["status_list"], handlers.status_list)
                app.router.add_get(routes["issuer_metadata"], handlers.issuer_metadata)
                app.router.add_get(routes["jwks"], handlers.jwks)
                app.router.add_get(routes["certificates"], handlers.certificates)
                add_wallet_routes(app, self._wallet, _base_path(base))
                add_verifier_routes(app, self._verifier, _base_path(base))
        if metrics and handlers.registry is not None:
            app.router.add_get("/metrics", handlers.metrics)
        return app

    async def _listen(self, app: web.Application, host: str, port: int, *, reuse_port: bool) -> int:
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        return int(runner.addresses[0][1])

    async def start(
        self,
        host: str,
        *,
        http_port: int | None,
        metrics_port: int | None,
        reuse_port: bool = False,
    ) -> None:
        """Listens on the ports asked for (0 picks a free one; see `http_port`,
        `metrics_port`); `reuse_port` lets the worker processes of one server share a port.
        A failure stops what had started."""
        try:
            shared = http_port is not None and http_port == metrics_port and http_port != 0
            if http_port is not None:
                tenant_urls = await self._store.list_tenant_public_urls()
                app = self._app(public=True, metrics=shared, tenant_urls=tenant_urls)
                self.http_port = await self._listen(app, host, http_port, reuse_port=reuse_port)
                if shared:
                    self.metrics_port = self.http_port
            if metrics_port is not None and not shared:
                app = self._app(public=False, metrics=True)
                self.metrics_port = await self._listen(
                    app, host, metrics_port, reuse_port=reuse_port
                )
        except BaseException:
            await self.stop()
            raise

    def begin_shutdown(self) -> None:
        """``/healthz`` answers 503 from now on, so load balancers drain this instance."""
        self._handlers.stopping = True

    async def stop(self) -> None:
        """Closes the listeners and lets requests in progress finish (bounded)."""
        self.begin_shutdown()
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
