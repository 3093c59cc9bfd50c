"""`eudi-connect serve`: the gRPC server and its HTTP endpoints (the only command that
loads the server)."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import socket
from typing import Any

from eudi_connect.api.server import ServerOptions, run
from eudi_connect.api.workers import reserve_port, run_workers
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.database import add_db_flag
from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.cli.parsing import (
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from eudi_connect.monitoring.logs import LOG_FORMATS, configure_logging
from eudi_connect.services.fetch import FetchSettings, parse_network, parse_networks
from eudi_connect.services.fetch.addresses import IPNetwork
from eudi_connect.services.settings import DEFAULT_HTTP_PORT, ServiceSettings, local_public_url
from eudi_connect.services.wallet_settings import WalletSettings

log = logging.getLogger("eudi_connect.cli")
#: Networks foreign fetches may reach besides public addresses, when no flag names any.
FETCH_ALLOW_NETWORKS_ENV = "EUDI_CONNECT_FETCH_ALLOW_NETWORKS"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def public_url_and_http_port(args: argparse.Namespace) -> tuple[str, int | None]:
    """--public-url and --http-port as given, or, without a public URL, the HTTP endpoints
    served here and a URL that names them, so that the status list URIs and issuer ids in
    credentials resolve: on --http-port, by default 8080, or a free port when --port is 0
    (whoever lets the gRPC port be picked lets the HTTP one be picked too)."""
    if args.public_url is not None:
        return args.public_url, args.http_port
    http_port = args.http_port
    if http_port is None:
        http_port = 0 if args.port == 0 else DEFAULT_HTTP_PORT
    if http_port == 0:  # the URL must name the port: pick it now
        http_port = _free_port(args.host or "0.0.0.0")  # noqa: S104 - probing, as --host says
    return local_public_url(args.host, http_port), http_port


def _check_ports(host: str, ports: dict[str, int | None]) -> None:
    """Refuses, before anything starts, a port that something already listens on."""
    checked: set[int] = set()
    for flag, port in ports.items():
        if not port or port in checked:
            continue
        checked.add(port)
        try:
            holder, _ = reserve_port(host, port)
        except OSError as error:
            raise CliError(
                f"{error}: is another server running? Stop it, or choose another {flag}",
                Exit.UNREACHABLE,
            ) from None
        holder.close()


def cmd_serve(args: argparse.Namespace) -> None:
    configure_logging(args.log_format, args.log_level or "INFO")
    public_url, http_port = public_url_and_http_port(args)
    _check_ports(
        args.host,
        {"--port": args.port, "--http-port": http_port, "--metrics-port": args.metrics_port},
    )
    if args.public_url is None:
        log.warning(
            "no --public-url: credentials name %s, which this process serves (HTTP port %d) "
            "but only this machine reaches; set --public-url to the address verifiers use",
            public_url,
            http_port,
        )
    settings = ServiceSettings(
        public_url=public_url,
        issuer_key_refresh_seconds=args.key_refresh_seconds,
        key_schedule_seconds=args.key_schedule_seconds,
        api_key_cache_seconds=args.api_key_cache_seconds,
        issuer_country=args.issuer_country,
        issuer_ca_cert=args.issuer_ca_cert,
        issuer_ca_key=args.issuer_ca_key,
        max_trust_entries=args.max_trust_entries,
        fetch=FetchSettings(allow_networks=_fetch_allow_networks(args)),
        wallet=WalletSettings(
            dpop_nonce_seconds=args.dpop_nonce_seconds,
            policy_cache_seconds=args.wallet_policy_cache_seconds,
        ),
    )
    options = ServerOptions(
        host=args.host,
        port=args.port,
        db_url=args.db,
        grace_seconds=args.grace,
        settings=settings,
        sign_workers=args.sign_workers,
        render_workers=args.render_workers,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        http_port=http_port,
        metrics_port=args.metrics_port,
    )
    try:
        if args.workers > 1:
            level = args.log_level or "INFO"
            setup = functools.partial(configure_logging, args.log_format, level)
            code = run_workers(
                options, workers=args.workers, use_uvloop=not args.no_uvloop, setup=setup
            )
            if code:
                raise SystemExit(code)
            return
        run(options, use_uvloop=not args.no_uvloop)
    except (OSError, RuntimeError) as error:  # a port taken between the check and the start
        if isinstance(error, RuntimeError) and "bind" not in str(error):
            raise
        raise CliError(f"cannot listen: {error}", Exit.UNREACHABLE) from None


def _fetch_allow_networks(args: argparse.Namespace) -> tuple[IPNetwork, ...]:
    """--fetch-allow-network flags, or else the environment variable's list."""
    if args.fetch_allow_network is not None:
        return tuple(args.fetch_allow_network)
    try:
        return parse_networks(os.environ.get(FETCH_ALLOW_NETWORKS_ENV, ""))
    except ValueError as exc:
        raise CliError(f"{FETCH_ALLOW_NETWORKS_ENV}: {exc}", Exit.REFUSED) from None


def _network(text: str) -> IPNetwork:
    try:
        return parse_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_serve_command(sub: Any) -> None:
    serve = command_parser(sub, "serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=int, default=50051, help="gRPC port (0: a free one, printed as READY)"
    )
    add_db_flag(serve)
    serve.add_argument(
        "--public-url",
        help="base of the status list URIs and issuer ids of tenants that have not issued "
        "yet (a tenant keeps the one it first issued under). Default: this process serves "
        f"the HTTP endpoints itself, on --http-port (default {DEFAULT_HTTP_PORT}), and the "
        "URL names them",
    )
    serve.add_argument(
        "--grace", type=float, default=10.0, help="seconds in-flight calls get on shutdown"
    )
    serve.add_argument("--no-uvloop", action="store_true", help="use asyncio's own event loop")
    serve.add_argument("--tls-cert", metavar="PEM", help="certificate chain: serve gRPC over TLS")
    serve.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    serve.add_argument(
        "--tls-client-ca", metavar="PEM", help="CA: require client certificates (mutual TLS)"
    )
    serve.add_argument(
        "--sign-workers",
        type=int,
        help="processes that sign batch issuance groups (default: 1 with 2+ cores, else 0)",
    )
    serve.add_argument(
        "--http-port",
        type=int,
        help="serve status lists, issuer metadata and /healthz over HTTP here (default: "
        f"without --public-url {DEFAULT_HTTP_PORT}, or a free port with --port 0; else off)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus /metrics here (default: off; may equal --http-port)",
    )
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, default="json", help="log lines on standard error"
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT), about one per core",
    )
    serve.add_argument(
        "--key-refresh-seconds",
        type=float,
        default=ServiceSettings().issuer_key_refresh_seconds,
        help="how soon a key rotated elsewhere is used here",
    )
    serve.add_argument(
        "--key-schedule-seconds",
        type=positive_float,
        default=ServiceSettings().key_schedule_seconds,
        help="how often keys past their tenant's maximum age are rotated (and key metrics "
        "refreshed)",
    )
    serve.add_argument(
        "--api-key-cache-seconds",
        type=non_negative_float,
        default=ServiceSettings().api_key_cache_seconds,
        help="how soon an API key revoked elsewhere is refused here",
    )
    serve.add_argument(
        "--issuer-country",
        default=ServiceSettings().issuer_country,
        help="ISO 3166-1 alpha-2 code in issuer certificates",
    )
    serve.add_argument(
        "--issuer-ca-cert",
        metavar="PEM",
        help="certificate of a CA that signs the issuer certificates (default: self-signed)",
    )
    serve.add_argument("--issuer-ca-key", metavar="PEM", help="P-256 key of --issuer-ca-cert")
    serve.add_argument(
        "--max-trust-entries",
        type=positive_int,
        default=ServiceSettings().max_trust_entries,
        help="trusted issuers and trust anchors one tenant may configure, together",
    )
    serve.add_argument(
        "--fetch-allow-network",
        action="append",
        type=_network,
        metavar="CIDR",
        help="a private network (e.g. 10.0.0.0/8) foreign status lists and JWKS may also be "
        "fetched from; repeatable (default: public addresses only, or "
        f"${FETCH_ALLOW_NETWORKS_ENV}, comma-separated)",
    )
    serve.add_argument(
        "--render-workers",
        type=non_negative_int,
        default=1,
        help="processes that check, compile and render tenants' templates, so that a slow "
        "template never holds up other calls (0: a thread, which shares the GIL with the server)",
    )
    serve.add_argument(
        "--dpop-nonce-seconds",
        type=positive_int,
        default=WalletSettings().dpop_nonce_seconds,
        help="how long a DPoP server nonce stays good (it is good for one more window after)",
    )
    serve.add_argument(
        "--wallet-policy-cache-seconds",
        type=non_negative_float,
        default=WalletSettings().policy_cache_seconds,
        help="how long an instance uses a tenant's wallet policy before reading it again",
    )
    serve.set_defaults(func=cmd_serve)
