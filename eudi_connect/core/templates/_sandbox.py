"""The Jinja2 sandbox claims templates run in.

Templates are written by tenants: untrusted code inside a shared service. Jinja's
`ImmutableSandboxedEnvironment` already refuses private attributes and mutation of lists and
dicts. On top of it, `ClaimsSandbox` bounds the operators and methods that turn a small input
into a huge value (`*`, `**`, `+`, `%`, `str.format`, `str.center` ...), refuses integer
literals beyond the sandbox's bound while lexing, and checks the per-render CPU-time deadline
at every call and operator (the policy and the tree rewrite are in `_compile`, the budget in
`_limits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any, cast

from jinja2 import Environment, pass_environment
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.lexer import TOKEN_INTEGER, Lexer
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ._limits import MAX_INT_BITS, LimitExceeded, check_deadline, int_too_large, too_large
from ._values import ClaimsUndefined

# fmt: off
_SAFE_STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
    "isascii", "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper",
    "lower", "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rindex",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper",
})
# fmt: on

#: Methods of plain data that templates may call. Everything else on these types is refused,
#: mostly because it amplifies (`center`, `zfill`, `ljust`, `replace`, `to_bytes`) or formats
#: (`format`, `format_map`, whose width fields allocate at will).
_SAFE_METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (str, _SAFE_STR_METHODS),
    (Mapping, frozenset({"get", "items", "keys", "values"})),
    (list, frozenset({"count", "index"})),
    (tuple, frozenset({"count", "index"})),
    (date, frozenset({"isoformat", "isoweekday", "replace", "strftime", "toordinal", "weekday"})),
    (float, frozenset({"is_integer"})),
    (int, frozenset()),
)


class LiteralTooLarge(TemplateSyntaxError):
    """An integer literal in the source is larger than the sandbox computes with. Found
    while lexing, before Python is asked to convert it (it refuses decimal strings of more
    than 4,300 digits with a ValueError)."""


class _BoundedLexer(Lexer):
    """Jinja's lexer, refusing integer literals beyond MAX_INT_BITS as a syntax error."""

    def wrap(
        self,
        stream: Iterable[tuple[int, str, str]],
        name: str | None = None,
        filename: str | None = None,
    ) -> Iterator[Any]:
        return super().wrap(self._bounded(stream, name, filename), name, filename)

    @staticmethod
    def _bounded(
        stream: Iterable[tuple[int, str, str]], name: str | None, filename: str | None
    ) -> Iterator[tuple[int, str, str]]:
        for lineno, token, value in stream:
            if token == TOKEN_INTEGER and int_too_large(value):
                raise LiteralTooLarge(
                    f"an integer literal larger than {MAX_INT_BITS} bits", lineno, name, filename
                )
            yield lineno, token, value


@pass_environment
def bounded_range(environment: Environment, *args: int) -> range:
    """`range` capped at the loop allowance: a range that could never be iterated fails now."""
    result = range(*args)
    limit = cast("ClaimsSandbox", environment).max_loop_iterations
    try:
        length = len(result)
    except OverflowError:
        length = limit + 1
    if length > limit:
        raise LimitExceeded(f"range() of more than {limit} items")
    return result


class ClaimsSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with bounded operators, data methods on an allow-list
    and no `str.format`. Globals are only `range` (capped); filters are set by the owner."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(
        self, *, max_text_chars: int, max_loop_iterations: int, autoescape: bool = False
    ) -> None:
        super().__init__(
            undefined=ClaimsUndefined,
            # Claims are JSON, not HTML: HTML escaping would corrupt them. Injection is
            # prevented instead by JSON-encoding every {{ }} output (_Instrumenter.visit_Output).
            # Only the environment of HTML notification bodies escapes.
            autoescape=autoescape,
        )
        self.max_text_chars = max_text_chars
        self.max_loop_iterations = max_loop_iterations
        self.globals.clear()  # no cycler, joiner, lipsum, namespace, dict
        self.globals["range"] = bounded_range
        self._bounded_lexer = _BoundedLexer(self)

    @property
    def lexer(self) -> Lexer:
        return self._bounded_lexer

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if callable(value):
            for kind, allowed in _SAFE_METHODS:
                if isinstance(obj, kind):
                    return attr in allowed
        return True

    def wrap_str_format(self, value: Any) -> None:
        # str.format is not offered at all (its width fields allocate at will); returning None
        # sends `format` through is_safe_attribute, which refuses it.
        return None

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_deadline()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_deadline()
        if operator == "*":
            self._check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("'%' string formatting is not available; join text with '~'")
        result = self.binop_table[operator](left, right)
        if type(result) is int and result.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"an integer larger than {MAX_INT_BITS} bits")
        if (
            operator == "+"
            and isinstance(result, str | list | tuple)
            and len(result) > self.max_text_chars
        ):
            raise too_large("a value", self.max_text_chars)
        return result

    def _check_product(self, left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise LimitExceeded(f"an integer larger than {MAX_INT_BITS} bits")
            return
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                if len(sequence) * times > self.max_text_chars:
                    raise too_large("a repeated value", self.max_text_chars)
                return


def _check_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and (base.bit_length() - 1) * exponent > MAX_INT_BITS
    ):
        raise LimitExceeded(f"an integer larger than {MAX_INT_BITS} bits")
