"""A blocking client for the CLI: one channel (plain or TLS), the API key on every call."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.cli.inputs import read_bytes
from eudi_connect.cli.output import message_json, print_json

if TYPE_CHECKING:  # each command loads only the stubs it calls
    from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
    from eudi.connect.v1 import offer_service_pb2_grpc as opb_grpc
    from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
    from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc

__all__ = [
    "ADDRESS_ENV",
    "API_KEY_ENV",
    "DEFAULT_ADDRESS",
    "ClientConfig",
    "ClientTls",
    "add_client_flags",
    "credential_stub",
    "message_json",
    "print_json",
    "template_stub",
    "trust_stub",
]

ADDRESS_ENV = "EUDI_CONNECT_ADDRESS"
API_KEY_ENV = "EUDI_CONNECT_API_KEY"
DEFAULT_ADDRESS = "127.0.0.1:50051"
#: Any standard OTLP variable set: the CLI may have to trace (checked without importing
#: the telemetry packages, which cost a tenth of a second).
_OTLP_PREFIX = "OTEL_EXPORTER_OTLP_"

_Response = TypeVar("_Response")


class _Page(Protocol):
    next_page_token: str


_PageT = TypeVar("_PageT", bound=_Page)


@dataclass(frozen=True)
class ClientTls:
    """TLS to the server: `ca` the roots that vouch for it (None: the system's), and for
    mutual TLS a client certificate chain and its key (PEM files)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        roots = read_bytes(self.ca, "TLS CA file (--tls-ca)") if self.ca else None
        chain = read_bytes(self.cert, "TLS certificate (--tls-cert)") if self.cert else None
        key = read_bytes(self.key, "TLS private key (--tls-key)") if self.key else None
        return grpc.ssl_channel_credentials(
            root_certificates=roots, private_key=key, certificate_chain=chain
        )


@dataclass(frozen=True)
class ClientConfig:
    address: str
    api_key: str
    timeout: float = 30.0
    tls: ClientTls | None = None

    @classmethod
    def from_args(cls, address: str | None, api_key: str | None) -> ClientConfig:
        return cls(
            address=address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
            api_key=api_key or os.environ.get(API_KEY_ENV, ""),
        )

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> ClientConfig:
        """From the flags `add_client_flags` adds."""
        plain = cls.from_args(args.address, args.api_key)
        return cls(
            address=plain.address,
            api_key=plain.api_key,
            timeout=getattr(args, "timeout", None) or plain.timeout,
            tls=_tls_of(args),
        )

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.api_key),)

    def call(self, method: Callable[..., _Response], request: Any) -> _Response:
        """A unary call with the API key and the timeout."""
        return method(request, metadata=self.metadata, timeout=self.timeout)

    def pages(
        self, method: Callable[..., _PageT], request_for: Callable[[str], Any]
    ) -> Iterator[_PageT]:
        """Every page of a listing: `request_for(page_token)` asks for the next one."""
        token = ""
        while True:
            page = self.call(method, request_for(token))
            yield page
            token = page.next_page_token
            if not token:
                return

    @contextmanager
    def channel(self) -> Iterator[grpc.Channel]:
        """The channel to the server, traced when OTLP export is configured."""
        if self.tls is None:
            opened = grpc.insecure_channel(self.address)
        else:
            options = []
            if self.tls.server_name:
                options.append(("grpc.ssl_target_name_override", self.tls.server_name))
            opened = grpc.secure_channel(self.address, self.tls.credentials(), options=options)
        with opened, traced(opened) as used:
            yield used


def _tls_of(args: argparse.Namespace) -> ClientTls | None:
    ca, cert, key = (getattr(args, name, None) for name in ("tls_ca", "tls_cert", "tls_key"))
    server_name = getattr(args, "tls_server_name", None)
    if (cert is None) != (key is None):
        raise CliError("--tls-cert and --tls-key go together (mutual TLS)", Exit.USAGE)
    if not (getattr(args, "tls", False) or ca or cert or server_name):
        return None
    return ClientTls(ca=ca, cert=cert, key=key, server_name=server_name)


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    """Where the server is, the tenant's key, and TLS like `serve`'s."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--address",
        help=f"the server's host:port (default: ${ADDRESS_ENV}, else {DEFAULT_ADDRESS})",
    )
    group.add_argument(
        "--api-key", help=f"the tenant's API key (default: ${API_KEY_ENV})", metavar="KEY"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for each answer",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        help="connect over TLS, trusting the system's CAs (implied by the --tls-* options)",
    )
    group.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="CA certificates that vouch for the server (serve --tls-cert)",
    )
    group.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="client certificate chain, for a server that requires one (serve --tls-client-ca)",
    )
    group.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    group.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="the name the server's certificate must carry, when not the --address host",
    )


@contextmanager
def traced(channel: grpc.Channel) -> Iterator[grpc.Channel]:
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, every call on the channel opens a client span
    (sent when the block ends, so the server's spans join the same trace); else as is."""
    if not any(name.startswith(_OTLP_PREFIX) for name in os.environ):
        yield channel
        return
    from eudi_connect.api.tracing import traced_channel
    from eudi_connect.monitoring.telemetry import otlp_configured, setup_telemetry

    if not otlp_configured():
        yield channel
        return
    telemetry = setup_telemetry()
    try:
        provider = telemetry.tracer_provider
        yield channel if provider is None else traced_channel(channel, provider)
    finally:
        telemetry.shutdown()


@contextmanager
def credential_stub(config: ClientConfig) -> Iterator[pb_grpc.CredentialServiceStub]:
    from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

    with config.channel() as channel:
        yield pb_grpc.CredentialServiceStub(channel)


@contextmanager
def template_stub(config: ClientConfig) -> Iterator[tpb_grpc.TemplateServiceStub]:
    from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc

    with config.channel() as channel:
        yield tpb_grpc.TemplateServiceStub(channel)


@contextmanager
def trust_stub(config: ClientConfig) -> Iterator[trust_grpc.TrustServiceStub]:
    from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc

    with config.channel() as channel:
        yield trust_grpc.TrustServiceStub(channel)


@contextmanager
def offer_stub(config: ClientConfig) -> Iterator[opb_grpc.OfferServiceStub]:
    from eudi.connect.v1 import offer_service_pb2_grpc as opb_grpc

    with config.channel() as channel:
        yield opb_grpc.OfferServiceStub(channel)
