"""The outermost interceptor: times every RPC, records it in the metrics and writes its
access-log line.

It wraps the handler that the inner interceptors (authentication) already wrapped, so an
authentication failure is seen with its real status, and the tenant that authentication
put in the call's context is there to read once the inner behaviour has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from time import perf_counter
from typing import Any

import grpc

from eudi_connect.api.context import current_tenant_or_none
from eudi_connect.api.interceptors import (
    Context,
    Handler,
    StreamBehavior,
    UnaryBehavior,
    WrappedHandlers,
    WrappingInterceptor,
    wrap_handler,
)
from eudi_connect.monitoring.logs import access_log, log_access
from eudi_connect.monitoring.performance_metrics import NO_TENANT, PerformanceMonitor

__all__ = ["MetricsInterceptor", "final_status"]

# A client-chosen request id is logged, but a hostile one must not flood the log.
MAX_LOGGED_REQUEST_ID = 128


def final_status(context: Context, raised: BaseException | None) -> grpc.StatusCode:
    """The status the client gets: what the handler set or aborted with; else what the
    escaping exception becomes in grpc.aio (CANCELLED, UNKNOWN); else OK."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if raised is None or isinstance(raised, grpc.aio.AbortError):
        return grpc.StatusCode.OK
    if isinstance(raised, asyncio.CancelledError | GeneratorExit):
        # The client went away (or the server is stopping): the handler was cancelled,
        # or its response stream closed before the end.
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


def _request_id(request: Any) -> str | None:
    request_id = getattr(request, "request_id", None)
    if isinstance(request_id, str) and request_id:
        return request_id[:MAX_LOGGED_REQUEST_ID]
    return None


def _peer(context: Context) -> str | None:
    """The peer, read while the call is surely alive.

    Why at the start: grpcio 1.85 (up to 1.85.3, the newest release) crashes the whole
    process with a segmentation fault when `context.peer()` is called once grpc.aio has
    released the call, which a stream abandoned by its client used to reach from its
    clean-up (see `eudi_connect.api.streams`). Nothing reads it later.
    """
    if not access_log.isEnabledFor(logging.INFO):
        return None
    peer: str = context.peer()
    return peer


class _Observer:
    """Records one method's calls: the method name is bound once, not looked up per call."""

    __slots__ = ("_method", "_monitor")

    def __init__(self, method: str, monitor: PerformanceMonitor) -> None:
        self._method = method
        self._monitor = monitor

    def finish(
        self,
        request: Any,
        context: Context,
        started: float,
        raised: BaseException | None,
        peer: str | None,
        *,
        items: int | None = None,
        first_item_ms: float | None = None,
    ) -> None:
        elapsed_ms = (perf_counter() - started) * 1000.0
        logging_on = access_log.isEnabledFor(logging.INFO)
        if not (logging_on or self._monitor.recording):
            return
        status = final_status(context, raised).name
        tenant = current_tenant_or_none() or NO_TENANT
        self._monitor.record_rpc(
            self._method, status, tenant, elapsed_ms, items=items, first_item_ms=first_item_ms
        )
        if logging_on:
            fields: dict[str, Any] = {
                "method": self._method,
                "status": status,
                "duration_ms": round(elapsed_ms, 3),
                "tenant": tenant,
                "peer": peer,
            }
            request_id = _request_id(request)
            if request_id is not None:
                fields["request_id"] = request_id
            if items is not None:
                fields["items"] = items
            log_access("rpc", fields)

    def unary(self, inner: UnaryBehavior) -> UnaryBehavior:
        async def observed(request: Any, context: Context) -> Any:
            started = perf_counter()
            peer = _peer(context)
            raised: BaseException | None = None
            try:
                return await inner(request, context)
            except BaseException as exc:
                raised = exc
                raise
            finally:
                self.finish(request, context, started, raised, peer)

        return observed

    def stream(self, inner: StreamBehavior) -> StreamBehavior:
        async def observed(request: Any, context: Context) -> AsyncGenerator[Any, None]:
            started = perf_counter()
            peer = _peer(context)
            raised: BaseException | None = None
            items = 0
            first_item_ms: float | None = None
            try:
                async with contextlib.aclosing(inner(request, context)) as stream:
                    async for item in stream:
                        if first_item_ms is None:
                            first_item_ms = (perf_counter() - started) * 1000.0
                        items += 1
                        yield item
            except BaseException as exc:
                raised = exc
                raise
            finally:
                self.finish(
                    request,
                    context,
                    started,
                    raised,
                    peer,
                    items=items,
                    first_item_ms=first_item_ms,
                )

        return observed


class MetricsInterceptor(WrappingInterceptor):
    """Put it first in the server's interceptor list, so that it wraps all the others."""

    def __init__(self, monitor: PerformanceMonitor) -> None:
        self._monitor = monitor
        self._handlers = WrappedHandlers(self._observed)

    def _observed(self, method: str, handler: Handler) -> Handler:
        observer = _Observer(method, self._monitor)
        return wrap_handler(handler, unary=observer.unary, stream=observer.stream)
