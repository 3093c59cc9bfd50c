"""A blocking client for the CLI: one channel, the API key attached to every call."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import offer_service_pb2_grpc as opb_grpc
from google.protobuf import json_format

from eudi_connect.api.tracing import traced_channel
from eudi_connect.monitoring.telemetry import otlp_configured, setup_telemetry

ADDRESS_ENV = "EUDI_CONNECT_ADDRESS"
API_KEY_ENV = "EUDI_CONNECT_API_KEY"
DEFAULT_ADDRESS = "127.0.0.1:50051"

_Response = TypeVar("_Response")


class _Page(Protocol):
    next_page_token: str


_PageT = TypeVar("_PageT", bound=_Page)


@dataclass(frozen=True)
class ClientConfig:
    address: str
    api_key: str
    timeout: float = 30.0

    @classmethod
    def from_args(cls, address: str | None, api_key: str | None) -> ClientConfig:
        return cls(
            address=address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
            api_key=api_key or os.environ.get(API_KEY_ENV, ""),
        )

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> ClientConfig:
        """From the flags `add_client_flags` adds."""
        return cls.from_args(args.address, args.api_key)

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


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address", help=f"host:port (default ${ADDRESS_ENV} or {DEFAULT_ADDRESS})"
    )
    parser.add_argument("--api-key", help=f"tenant API key (default ${API_KEY_ENV})")


def message_json(message: Any) -> dict[str, Any]:
    document: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return document


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


@contextmanager
def traced(channel: grpc.Channel) -> Iterator[grpc.Channel]:
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, every call on the channel opens a client span
    (sent when the block ends, so the server's spans join the same trace); else as is."""
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
    with grpc.insecure_channel(config.address) as channel, traced(channel) as used:
        yield pb_grpc.CredentialServiceStub(used)


@contextmanager
def offer_stub(config: ClientConfig) -> Iterator[opb_grpc.OfferServiceStub]:
    with grpc.insecure_channel(config.address) as channel, traced(channel) as used:
        yield opb_grpc.OfferServiceStub(used)
