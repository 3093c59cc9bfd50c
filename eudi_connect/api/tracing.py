"""OpenTelemetry gRPC instrumentation, used only when a tracer provider exports spans.

Health checks and reflection are not traced: probes would drown the real calls, and
health ``Watch`` writes with ``context.write``, which the instrumentation's stream
wrapper does not handle.
"""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import (
    aio_server_interceptor,
    client_interceptor,
)
from opentelemetry.instrumentation.grpc.filters import any_of, negate, service_prefix
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.trace import TracerProvider

__all__ = ["server_tracing_interceptor", "traced_channel"]

UNTRACED_SERVICE_PREFIXES = ("grpc.health.", "grpc.reflection.")


def _traced_services() -> Any:
    return negate(any_of(*(service_prefix(prefix) for prefix in UNTRACED_SERVICE_PREFIXES)))


def server_tracing_interceptor(tracer_provider: TracerProvider) -> grpc.aio.ServerInterceptor:  # type: ignore[type-arg]
    """A server span per RPC (rpc.* attributes; no metadata values besides user-agent)."""
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[type-arg]
        tracer_provider=tracer_provider, filter_=_traced_services()
    )
    return interceptor


def traced_channel(channel: grpc.Channel, tracer_provider: TracerProvider) -> grpc.Channel:
    """A blocking channel whose calls each open a client span (and carry its context)."""
    # The instrumentation's sync interceptor has its own channel-wrapping helper.
    traced: grpc.Channel = intercept_channel(
        channel, client_interceptor(tracer_provider=tracer_provider)
    )
    return traced
