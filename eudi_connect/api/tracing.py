"""OpenTelemetry gRPC instrumentation, used only when a tracer provider exports spans.

Health checks and reflection are not traced: probes would drown the real calls, and
health ``Watch`` writes with ``context.write``, which the instrumentation's stream
wrapper does not handle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import (
    aio_server_interceptor,
    client_interceptor,
)
from opentelemetry.instrumentation.grpc.filters import any_of, negate, service_prefix
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.trace import TracerProvider

from eudi_connect.api.interceptors import Handler
from eudi_connect.api.streams import StreamHandlers, closed_by_call

__all__ = ["server_tracing_interceptor", "traced_channel"]

UNTRACED_SERVICE_PREFIXES = ("grpc.health.", "grpc.reflection.")


def _traced_services() -> Any:
    return negate(any_of(*(service_prefix(prefix) for prefix in UNTRACED_SERVICE_PREFIXES)))


class _TracingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """The instrumentation's interceptor, with the response streams it iterates closed in
    their call's task: its stream wrapper drops the stream unclosed when it is closed
    itself (see `eudi_connect.api.streams`)."""

    def __init__(self, traced: grpc.aio.ServerInterceptor) -> None:  # type: ignore[type-arg]
        self._traced = traced
        self._handlers = StreamHandlers(closed_by_call)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        async def inner(details: grpc.HandlerCallDetails) -> Handler:
            return self._handlers.get(details.method, await continuation(details))

        return await self._traced.intercept_service(inner, handler_call_details)


def server_tracing_interceptor(tracer_provider: TracerProvider) -> grpc.aio.ServerInterceptor:  # type: ignore[type-arg]
    """A server span per RPC (rpc.* attributes; no metadata values besides user-agent)."""
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[type-arg]
        tracer_provider=tracer_provider, filter_=_traced_services()
    )
    return _TracingInterceptor(interceptor)


def traced_channel(channel: grpc.Channel, tracer_provider: TracerProvider) -> grpc.Channel:
    """A blocking channel whose calls each open a client span (and carry its context)."""
    # The instrumentation's sync interceptor has its own channel-wrapping helper.
    traced: grpc.Channel = intercept_channel(
        channel, client_interceptor(tracer_provider=tracer_provider)
    )
    return traced
