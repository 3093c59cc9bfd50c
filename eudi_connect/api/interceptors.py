"""Server interceptors. Each wraps a method handler's behaviour once per method, so the
per-call cost is one extra coroutine frame, and per-call state lives in the call's task."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from eudi_connect.api.context import set_current_tenant
from eudi_connect.api.errors import grpc_status_of, internal_error_status, rich_status
from eudi_connect.errors import EudiConnectError
from eudi_connect.services.tenants import TenantService

log = logging.getLogger(__name__)

API_KEY_METADATA = "x-api-key"
# Health checking and reflection answer without an API key (load balancers, grpcurl, ghz).
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

# grpc-stubs types method handlers for the sync server only; aio handlers hold coroutines.
Handler = Any
Context = grpc.aio.ServicerContext[Any, Any]
Before = Callable[[Context], Awaitable[None]]


def metadata_value(context: Context, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else None
    return None


async def abort_with(context: Context, exc: Exception) -> None:
    """Ends the call with a rich status; unexpected errors become INTERNAL, never UNKNOWN."""
    if isinstance(exc, EudiConnectError):
        status = grpc_status_of(rich_status(exc))
    else:
        log.error("unexpected error in RPC", exc_info=exc)
        status = grpc_status_of(internal_error_status())
    await context.abort(status.code, status.details, status.trailing_metadata)


UnaryBehavior = Callable[[Any, Context], Awaitable[Any]]
StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]


def wrap_handler(
    handler: Handler,
    *,
    unary: Callable[[UnaryBehavior], UnaryBehavior],
    stream: Callable[[StreamBehavior], StreamBehavior],
) -> Handler:
    """The same handler with its behaviour wrapped, for all four RPC kinds.

    `unary` wraps behaviours that return their response (unary-unary, stream-unary, and a
    streaming one written with ``await context.write``, such as health ``Watch``); `stream`
    wraps async generators. Whether requests stream does not matter to a wrapper: it
    passes the request (or the request iterator) through.
    """
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        inner, factory = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        inner, factory = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    wrapped = stream(inner) if inspect.isasyncgenfunction(inner) else unary(inner)
    return factory(wrapped, handler.request_deserializer, handler.response_serializer)


def guard_handler(handler: Handler, before: Before) -> Handler:
    """A handler that runs `before` (authentication) first and maps errors, for all 4 kinds."""

    def unary(inner: UnaryBehavior) -> UnaryBehavior:
        async def guarded(request: Any, context: Context) -> Any:
            try:
                await before(context)
                return await inner(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return guarded

    def stream(inner: StreamBehavior) -> StreamBehavior:
        async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                await before(context)
                async for item in inner(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return guarded

    return wrap_handler(handler, unary=unary, stream=stream)


class WrappedHandlers:
    """Each method's handler wrapped once, and again only when the server hands out another
    handler for it: interceptors pay for wrapping per method, not per call."""

    __slots__ = ("_wrap", "_wrapped")

    def __init__(self, wrap: Callable[[str, Handler], Handler]) -> None:
        self._wrap = wrap
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def get(self, method: str, handler: Handler) -> Handler:
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, self._wrap(method, handler))
            self._wrapped[method] = cached
        return cached[1]


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Resolves `x-api-key` to a tenant for every non-public RPC and maps domain errors."""

    def __init__(self, tenants: TenantService) -> None:
        self._tenants = tenants
        self._handlers = WrappedHandlers(
            lambda _method, handler: guard_handler(handler, self._authenticate)
        )

    async def _authenticate(self, context: Context) -> None:
        set_current_tenant(
            await self._tenants.authenticate(
                metadata_value(context, API_KEY_METADATA), peer=context.peer()
            )
        )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_METHOD_PREFIXES):
            return handler
        return self._handlers.get(method, handler)
