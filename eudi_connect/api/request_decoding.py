"""A request message that cannot be parsed is the client's error: INVALID_ARGUMENT.

grpc.aio parses a unary request before any handler or interceptor code runs, and when
the parser raises (corrupt wire format, invalid UTF-8 in a string field, nesting too
deep) it answers UNKNOWN with the exception's repr. So the parser is wrapped: for a unary
request it returns a `MalformedRequest` in place of the message, which the handler
refuses before doing anything else; for a streamed request, whose messages are parsed as
the handler reads them, it raises the domain error in the handler, where it is mapped
like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

__all__ = ["MalformedRequest", "checked_deserializer"]

Deserializer = Callable[[bytes], Any]


class MalformedRequest:
    """Stands in for a unary request message that could not be parsed."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgumentError) -> None:
        self.error = error


def _message_name(deserializer: Deserializer) -> str:
    """The full name of the message type a generated `FromString` parses, else a plain word."""
    message_class = getattr(deserializer, "__self__", None)
    descriptor = getattr(message_class, "DESCRIPTOR", None)
    name = getattr(descriptor, "full_name", None)
    return name if isinstance(name, str) else "request"


def _malformed(name: str, error: DecodeError) -> InvalidArgumentError:
    # The parser says "Error parsing message with type 'T': <what was wrong>"; keep the part
    # after the type, which names the fault without echoing any of the bytes.
    text = str(error)
    fault = text.rpartition("': ")[2] if "': " in text else text
    message = f"the request is not a valid {name} message"
    return InvalidArgumentError(
        f"{message}: {fault}" if fault else message, reason=Reason.MALFORMED_REQUEST
    )


def checked_deserializer(
    deserializer: Deserializer | None, *, streaming: bool
) -> Deserializer | None:
    """`deserializer` that reports unparsable bytes as described above (None stays None)."""
    if deserializer is None:
        return None
    name = _message_name(deserializer)
    parse = deserializer

    if streaming:

        def parse_streamed(raw: bytes) -> Any:
            try:
                return parse(raw)
            except DecodeError as error:
                raise _malformed(name, error) from None

        return parse_streamed

    def parse_unary(raw: bytes) -> Any:
        try:
            return parse(raw)
        except DecodeError as error:
            return MalformedRequest(_malformed(name, error))

    return parse_unary
