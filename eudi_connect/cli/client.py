"""A blocking client for the CLI: one channel, the API key attached to every call."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.tracing import traced_channel
from eudi_connect.monitoring.telemetry import otlp_configured, setup_telemetry

ADDRESS_ENV = "EUDI_CONNECT_ADDRESS"
API_KEY_ENV = "EUDI_CONNECT_API_KEY"
DEFAULT_ADDRESS = "127.0.0.1:50051"


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

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.api_key),)


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
