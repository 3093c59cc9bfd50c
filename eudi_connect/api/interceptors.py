"""Server interceptors. Each wraps a method handler's behaviour once per method, so the
per-call cost is one extra coroutine frame, and per-call state lives in the call's task."""

from __future__ import annotations

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


def guard_handler(handler: Handler, before: Before) -> Handler:
    """A handler that runs `before` (authentication) first and maps errors, for all 4 kinds."""
    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: Context) -> Any:
            try:
                await before(context)
                return await inner_uu(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                await before(context)
                async for item in inner_us(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_stream is not None:
        inner_ss = handler.stream_stream

        async def stream_stream(
            requests: AsyncIterator[Any], context: Context
        ) -> AsyncIterator[Any]:
            try:
                await before(context)
                async for item in inner_ss(requests, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, handler.request_deserializer, handler.response_serializer
        )
    inner_su = handler.stream_unary

    async def stream_unary(requests: AsyncIterator[Any], context: Context) -> Any:
        try:
            await before(context)
            return await inner_su(requests, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(context, exc)

    return grpc.stream_unary_rpc_method_handler(
        stream_unary, handler.request_deserializer, handler.response_serializer
    )


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Resolves `x-api-key` to a tenant for every non-public RPC and maps domain errors."""

    def __init__(self, tenants: TenantService) -> None:
        self._tenants = tenants
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def _authenticate(self, context: Context) -> None:
        set_current_tenant(
            await self._tenants.authenticate(metadata_value(context, API_KEY_METADATA))
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
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, guard_handler(handler, self._authenticate))
            self._wrapped[method] = cached
        return cached[1]
