"""Response streams run, and end, inside their call's own task.

grpc.aio iterates a handler's async generator itself, and when the client goes away
(cancel, deadline, a dropped connection) it cancels the call's task while that waits in a
write. The generator is then dropped unclosed: Python closes it later from a new task,
after grpc.aio has released the call. Everything its `finally` blocks do then happens
against a finished call and outside it: reading the peer there (`peer()`,
`auth_context()`, `peer_identities()`) crashes grpcio 1.85 with a segmentation fault,
the batch pipeline's signing and reading tasks are stopped at a time nobody controls,
and a pipeline stuck in its clean-up leaks its tasks for good.

`ResponseStreamInterceptor`, the outermost interceptor, gives grpc.aio instead a
coroutine that writes the generator's items itself and closes the generator in its
`finally`: every layer's clean-up runs in the call's task, before the call is released.
Each of our own generator layers closes the one it iterates (`contextlib.aclosing`); a
foreign layer that does not (OpenTelemetry's stream wrapper) has the stream it iterates
made with `closed_by_call`, which this interceptor then closes as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from grpc._cython import cygrpc  # type: ignore[attr-defined]  # the batch error grpc.aio raises

from eudi_connect.api.interceptors import (
    Context,
    Handler,
    StreamBehavior,
    WrappedHandlers,
    WrappingInterceptor,
    wrap_handler,
)

__all__ = ["ResponseStreamInterceptor", "StreamHandlers", "closed_by_call"]

log = logging.getLogger(__name__)

# The streams of the running call that its driver closes besides the one it iterates.
_call_streams: ContextVar[list[AsyncGenerator[Any, None]] | None] = ContextVar(
    "eudi_connect_call_streams", default=None
)


def closed_by_call(behaviour: StreamBehavior) -> StreamBehavior:
    """The same behaviour, whose stream is also closed when its call ends (in the call's
    task), whoever iterates it."""

    def opened(request: Any, context: Context) -> AsyncGenerator[Any, None]:
        stream = behaviour(request, context)
        held = _call_streams.get()
        if held is not None:
            held.append(stream)
        return stream

    return opened


async def _close(stream: AsyncGenerator[Any, None]) -> None:
    """Closes a stream that may be suspended mid-way; a failing clean-up is logged, so that
    what ended the call (often the client's cancellation) is what propagates."""
    try:
        await stream.aclose()
    except Exception:
        log.exception("closing a response stream failed")


async def _write(context: Context, item: Any) -> None:
    """Writes one message. grpc core refuses a message (`ExecuteBatchError`) only once the
    call is over for the transport: the client reset the stream (it cancelled, its
    deadline passed, it died) before grpc.aio marked the call closed, so neither
    `cancelled()` nor `time_remaining()` tells yet. That ends the call as the caller's
    cancellation would, quietly; grpc.aio would log it as an error."""
    try:
        await context.write(item)
    except cygrpc.ExecuteBatchError:
        raise asyncio.CancelledError from None


def _driven(behaviour: StreamBehavior) -> Callable[[Any, Context], Awaitable[None]]:
    """A coroutine that writes the stream's items and closes it before it returns."""

    async def drive(request: Any, context: Context) -> None:
        held: list[AsyncGenerator[Any, None]] = []
        _call_streams.set(held)
        stream = behaviour(request, context)
        try:
            async for item in stream:
                await _write(context, item)
        finally:
            await _close(stream)
            for inner in held:
                await _close(inner)

    return drive


def _same(behaviour: Any) -> Any:
    return behaviour


class StreamHandlers:
    """Response-streaming handlers with their async generator behaviour passed through
    `wrap`, each wrapped once per method; other handlers unchanged (as are streaming ones
    written with ``context.write``: they already run in the call's task)."""

    __slots__ = ("_handlers",)

    def __init__(self, wrap: Callable[[StreamBehavior], Any]) -> None:
        self._handlers = WrappedHandlers(
            lambda _method, handler: wrap_handler(handler, unary=_same, stream=wrap)
        )

    def get(self, method: str, handler: Handler) -> Handler:
        if handler is None or not handler.response_streaming:
            return handler
        return self._handlers.get(method, handler)


class ResponseStreamInterceptor(WrappingInterceptor):
    """Put it first in the server's interceptor list: it drives the stream of every
    server-streaming method in the call's task."""

    def __init__(self) -> None:
        self._handlers = StreamHandlers(_driven)
