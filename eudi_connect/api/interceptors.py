"""Server interceptors. Each wraps a method handler's behaviour once per method, so the
per-call cost is one extra coroutine frame, and per-call state lives in the call's task."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol

import grpc

from eudi_connect.api.context import set_current_tenant
from eudi_connect.api.errors import grpc_status_of, internal_error_status, rich_status
from eudi_connect.api.request_decoding import MalformedRequest, checked_deserializer
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
StreamBehavior = Callable[[Any, Context], AsyncGenerator[Any, None]]


def wrap_handler(
    handler: Handler,
    *,
    unary: Callable[[UnaryBehavior], UnaryBehavior],
    stream: Callable[[StreamBehavior], Any],
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> Handler:
    """The same handler with its behaviour wrapped, for all four RPC kinds.

    `unary` wraps behaviours that return their response (unary-unary, stream-unary, and a
    streaming one written with ``await context.write``, such as health ``Watch``); `stream`
    wraps async generators. Whether requests stream does not matter to a wrapper: it
    passes the request (or the request iterator) through. `request_deserializer`, when
    given, replaces the handler's own.
    """
    deserializer = request_deserializer or handler.request_deserializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary), deserializer, handler.response_serializer
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            unary(handler.stream_unary), deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        inner, factory = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        inner, factory = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    wrapped = stream(inner) if inspect.isasyncgenfunction(inner) else unary(inner)
    return factory(wrapped, deserializer, handler.response_serializer)


def _refuse_malformed(request: Any) -> None:
    if type(request) is MalformedRequest:
        raise request.error


def guard_handler(handler: Handler, before: Before | None) -> Handler:
    """A handler that runs `before` (authentication) first, refuses a request that could
    not be parsed, and maps errors, for all 4 kinds.

    A stream closes the stream it iterates when it is closed itself, so the inner layers'
    clean-up runs in the call's task (see `eudi_connect.api.streams`).
    """

    def unary(inner: UnaryBehavior) -> UnaryBehavior:
        async def guarded(request: Any, context: Context) -> Any:
            try:
                if before is not None:
                    await before(context)
                _refuse_malformed(request)
                return await inner(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return guarded

    def stream(inner: StreamBehavior) -> StreamBehavior:
        async def guarded(request: Any, context: Context) -> AsyncGenerator[Any, None]:
            consumer_left = False
            try:
                if before is not None:
                    await before(context)
                _refuse_malformed(request)
                async with contextlib.aclosing(inner(request, context)) as items:
                    async for item in items:
                        try:
                            yield item
                        except GeneratorExit:
                            consumer_left = True
                            raise
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                if consumer_left:
                    raise  # a failed clean-up: nobody is left to tell, the driver logs it
                await abort_with(context, exc)

        return guarded

    streaming_requests = handler.request_streaming
    return wrap_handler(
        handler,
        unary=unary,
        stream=stream,
        request_deserializer=checked_deserializer(
            handler.request_deserializer, streaming=streaming_requests
        ),
    )


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


class HandlerCache(Protocol):
    def get(self, method: str, handler: Handler) -> Handler: ...


class WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """A server interceptor that wraps each method's handler once (`_handlers`, a
    `WrappedHandlers` or one built on it) and hands out the wrapped one on every call."""

    _handlers: HandlerCache

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)


class AuthInterceptor(WrappingInterceptor):
    """Resolves `x-api-key` to a tenant for every non-public RPC and maps domain errors;
    public RPCs get the same error mapping (a malformed request too), without a key."""

    def __init__(self, tenants: TenantService) -> None:
        self._tenants = tenants
        self._handlers = WrappedHandlers(self._guarded)

    def _guarded(self, method: str, handler: Handler) -> Handler:
        public = method.startswith(PUBLIC_METHOD_PREFIXES)
        return guard_handler(handler, None if public else self._authenticate)

    async def _authenticate(self, context: Context) -> None:
        # Runs first in the call's task, while the call is surely alive (the peer must
        # never be read once a call may have ended: see `eudi_connect.api.streams`).
        set_current_tenant(
            await self._tenants.authenticate(
                metadata_value(context, API_KEY_METADATA), peer=context.peer()
            )
        )
