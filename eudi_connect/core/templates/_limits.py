"""The limits every render runs under: a per-render budget of CPU time and loop iterations,
the largest integer the sandbox computes with, and the size of values turned into text."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from eudi_connect.reasons import Reason

from ._values import fail_if_undefined

#: Claims never need integers this large; the cap stops `2 ** 10000000` style CPU bombs.
MAX_INT_BITS = 1024
#: Decimal digits of the largest integer the cap allows (2 ** 1024 has 309).
MAX_INT_DIGITS = len(str(2**MAX_INT_BITS))


class LimitExceeded(Exception):
    """A resource bound was hit; `reason` is the error reason to report."""

    def __init__(self, message: str, *, reason: Reason = Reason.TEMPLATE_LIMIT_EXCEEDED) -> None:
        super().__init__(message)
        self.reason = reason


def int_too_large(text: str) -> bool:
    """Whether the integer written as `text` (a Jinja or JSON literal: an optional sign,
    digits, '_' separators, a 0x / 0o / 0b prefix) lies outside +-2 ** MAX_INT_BITS."""
    digits = text.replace("_", "").lstrip("+-")
    if digits[:2].lower() not in ("0x", "0o", "0b") and len(digits) > MAX_INT_DIGITS:
        return True  # decided on the length alone: no conversion of a huge decimal string
    return int(digits, 0 if digits[:1] == "0" else 10).bit_length() > MAX_INT_BITS


# ---------------------------------------------------------------------------------------------
# Per-render budget: a deadline, a loop-iteration allowance and the most items a filter may
# walk, in a ContextVar so that concurrent renders on threads or tasks never share one. The
# deadline is in CPU time of the rendering thread: wall time would fail good templates
# whenever the host is overloaded.


@dataclass(slots=True)
class RenderBudget:
    deadline: float
    loop_iterations_left: int
    #: A filter that walks a collection (sort, map, unique, join ...) is a loop in disguise,
    #: one the deadline cannot interrupt: it may walk at most this many items per call.
    item_limit: int


_BUDGET: ContextVar[RenderBudget | None] = ContextVar("eudi_template_budget", default=None)


class OutOfTime(LimitExceeded):
    """The render's deadline passed."""

    def __init__(self) -> None:
        super().__init__("template ran out of time")


def start_budget(*, seconds: float, loop_iterations: int) -> object:
    """Opens a budget for one render; pass the returned token to `end_budget`."""
    budget = RenderBudget(time.thread_time() + seconds, loop_iterations, loop_iterations)
    return _BUDGET.set(budget)


def end_budget(token: object) -> None:
    _BUDGET.reset(cast("Any", token))


def check_deadline() -> None:
    """Called at every call, operator, collection filter and loop step. Compile-time constant
    folding runs outside any budget; it only sees template literals."""
    budget = _BUDGET.get()
    if budget is not None and time.thread_time() >= budget.deadline:
        raise OutOfTime()


def check_items(value: object) -> None:
    """Refuses a collection (or string) longer than a filter may walk in one call."""
    budget = _BUDGET.get()
    if budget is not None and isinstance(value, Sized) and len(value) > budget.item_limit:
        raise LimitExceeded(f"a filter was given more than {budget.item_limit} items")


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Iterates while spending the render's loop allowance; nested loops share it."""
    budget = _BUDGET.get()
    for item in iterable:
        if budget is not None:
            budget.loop_iterations_left -= 1
            if budget.loop_iterations_left < 0:
                raise LimitExceeded("template loops ran more iterations than allowed")
            if time.thread_time() >= budget.deadline:
                raise OutOfTime()
        yield item


_F = TypeVar("_F", bound=Callable[..., Any])


def guarded(function: _F, *, walks: bool = False) -> _F:
    """Wraps a filter so that each call checks the deadline, and, when it `walks` its input
    item by item, the size of that input; keeps Jinja's pass_* marker."""
    value_at = 0 if getattr(function, "jinja_pass_arg", None) is None else 1

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_deadline()
        if walks and len(args) > value_at:
            check_items(args[value_at])
        return function(*args, **kwargs)

    return cast("_F", wrapper)


# ---------------------------------------------------------------------------------------------
# Size bounds on values turned into text.


def min_text_size(value: object, limit: int) -> int:
    """A lower bound of the length of `value` as JSON or str(), stopping once past `limit`.

    Lets containers holding many references to one long string be refused before they are
    serialised, rather than after allocating the result.
    """
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        size = 2
        for key, item in value.items():
            size += min_text_size(key, limit - size) + min_text_size(item, limit - size) + 2
            if size > limit:
                break
        return size
    if isinstance(value, list | tuple):
        size = 2
        for item in value:
            size += min_text_size(item, limit - size) + 1
            if size > limit:
                break
        return size
    fail_if_undefined(value)
    return 1


def too_large(what: str, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"{what} exceeds the limit of {limit} characters",
        reason=Reason.TEMPLATE_OUTPUT_TOO_LARGE,
    )


def bounded_str(value: object, limit: int) -> str:
    """str(value), refused when the result would exceed `limit` characters."""
    if isinstance(value, str):
        text = value
    else:
        if isinstance(value, Mapping | list | tuple) and min_text_size(value, limit) > limit:
            raise too_large("a value", limit)
        text = str(value)  # raises for undefined values
    if len(text) > limit:
        raise too_large("a value", limit)
    return text
