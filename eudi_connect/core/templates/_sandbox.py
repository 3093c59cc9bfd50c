"""The Jinja2 sandbox claims templates run in, and the limits it enforces.

Templates are written by tenants: untrusted code inside a shared service. Jinja's
`ImmutableSandboxedEnvironment` already refuses private attributes and mutation of lists and
dicts. On top of it:

* `prepare` rejects, before compiling, what a claims template has no use for and what the
  known escapes and resource attacks are built from: private names and attributes, host
  globals (`cycler`, `lipsum`, `config`, `self` ...), macros, imports, inheritance,
  recursive loops and namespace writes;
* it then rewrites the parsed template: every `{{ ... }}` output is JSON-encoded (an unquoted
  string cannot inject claims; notification templates write text instead, which their HTML
  environment escapes), every `~` is size-checked, every `for` loop draws from a
  per-render iteration budget, and the subject filters learn which field they were given;
* `ClaimsSandbox` bounds the operators and methods that turn a small input into a huge value
  (`*`, `**`, `+`, `%`, `str.format`, `str.center` ...), and every call, operator, collection
  filter and loop step checks a per-render CPU-time deadline.
"""

from __future__ import annotations

import functools
import json
import marshal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from types import CodeType
from typing import Any, Literal, NoReturn, TypeVar, cast

from jinja2 import Environment, StrictUndefined, Template, Undefined, nodes, pass_environment
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.lexer import TOKEN_INTEGER, Lexer
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from eudi_connect.reasons import Reason

#: Claims never need integers this large; the cap stops `2 ** 10000000` style CPU bombs.
MAX_INT_BITS = 1024
#: Decimal digits of the largest integer the cap allows (2 ** 1024 has 309).
MAX_INT_DIGITS = len(str(2**MAX_INT_BITS))

#: Names a host framework injects into Jinja (Jinja's own helpers, Flask's request globals,
#: the template's `self`). A claims template naming one is probing for a host object, not
#: reading subject data; subject fields with these names stay readable as `subject.<name>`.
RESERVED_NAMES = frozenset(
    {
        "self",
        "cycler",
        "joiner",
        "lipsum",
        "namespace",
        "dict",
        "config",
        "request",
        "session",
        "g",
        "url_for",
        "get_flashed_messages",
    }
)

_FORBIDDEN_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Extends, "template inheritance"),
    (nodes.Block, "blocks"),
    (nodes.Include, "include"),
    (nodes.Import, "import"),
    (nodes.FromImport, "import"),
    (nodes.Macro, "macros"),
    (nodes.CallBlock, "call blocks"),
    (nodes.NSRef, "namespace assignment"),
    (nodes.EvalContextModifier, "autoescape blocks"),
)

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


class LimitExceeded(Exception):
    """A resource bound was hit; `reason` is the error reason to report."""

    def __init__(self, message: str, *, reason: Reason = Reason.TEMPLATE_LIMIT_EXCEEDED) -> None:
        super().__init__(message)
        self.reason = reason


class SubjectValueError(ValueError):
    """A subject filter refused its input; `field` is the subject path when it is known."""

    def __init__(self, problem: str, field: str | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.field = field


class UndefinedValue(UndefinedError):
    """An undefined value was used; keeps what was looked up (`name`) and on what (`obj`)."""

    def __init__(self, message: str, *, name: str | int | None, obj: object) -> None:
        super().__init__(message)
        self.name = name
        self.obj = obj


class LiteralTooLarge(TemplateSyntaxError):
    """An integer literal in the source is larger than the sandbox computes with. Found
    while lexing, before Python is asked to convert it (it refuses decimal strings of more
    than 4,300 digits with a ValueError)."""


def int_too_large(text: str) -> bool:
    """Whether the integer written as `text` (a Jinja or JSON literal: an optional sign,
    digits, '_' separators, a 0x / 0o / 0b prefix) lies outside +-2 ** MAX_INT_BITS."""
    digits = text.replace("_", "").lstrip("+-")
    if digits[:2].lower() not in ("0x", "0o", "0b") and len(digits) > MAX_INT_DIGITS:
        return True  # decided on the length alone: no conversion of a huge decimal string
    return int(digits, 0 if digits[:1] == "0" else 10).bit_length() > MAX_INT_BITS


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


class PolicyViolation(Exception):
    """The template uses a construct that claims templates may not use."""

    def __init__(self, message: str, lineno: int | None) -> None:
        super().__init__(message)
        self.lineno = lineno


class ClaimsUndefined(StrictUndefined):
    """StrictUndefined that reports what was missing as data, not only as message text."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._undefined_exception is UndefinedError:
            raise UndefinedValue(
                self._undefined_message, name=self._undefined_name, obj=self._undefined_obj
            )
        raise self._undefined_exception(self._undefined_message)


# Undefined and StrictUndefined alias their dunders (__str__, __iter__, __eq__ ...) to the base
# class's function object, so the override above would only be reached through __getattr__.
for _name, _member in {**vars(Undefined), **vars(StrictUndefined)}.items():
    if _member is Undefined._fail_with_undefined_error:
        setattr(ClaimsUndefined, _name, ClaimsUndefined._fail_with_undefined_error)
del _name, _member


def fail_if_undefined(value: object) -> None:
    """Filters receive undefined values unevaluated; using one must raise, as in templates."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


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
        f"{what} exceeds the limit of {limit} characters", reason=Reason.TEMPLATE_OUTPUT_TOO_LARGE
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


# ---------------------------------------------------------------------------------------------
# The environment.


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


# ---------------------------------------------------------------------------------------------
# Compile: parse, check the policy, instrument, generate code.

#: Filters told which subject field they received (keyword `_field`), to name it in errors.
#: They work on single values in time linear in the value, so they also need no deadline.
LABELLED_FILTERS = frozenset(
    {"tojson", "as_int", "as_str", "iso_date", "age_in_years", "age_over", "country_code",
     "country_codes"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prepared:
    template: Template
    filename: str
    #: False when nothing in the template can loop, call or amplify (only labelled filters,
    #: no operators that the sandbox intercepts): its cost is then bounded by its size and the
    #: per-render budget is skipped.
    needs_budget: bool
    #: The module code Jinja generated; `template` was built from it.
    code: CodeType

    def bytecode(self) -> bytes:
        """The code in `marshal` form (what Jinja's own bytecode caches keep), so that one
        process can compile and another load; only valid for the same Python and Jinja."""
        return marshal.dumps(self.code)


def load_prepared(
    environment: ClaimsSandbox, bytecode: bytes, filename: str, *, needs_budget: bool
) -> Prepared:
    """A template compiled elsewhere by `Prepared.bytecode`, made runnable here at the cost
    of executing its module code (a few function definitions), not of compiling it. The
    bytes must come from this service's own worker processes: marshal data is code."""
    code = marshal.loads(bytecode)  # noqa: S302 - our own worker wrote it (see above)
    template = environment.template_class.from_code(
        environment, code, environment.make_globals(None)
    )
    return Prepared(template, filename, needs_budget, code)


#: How `{{ ... }}` outputs are written: "json" JSON-encodes each one (claims templates),
#: "text" writes plain text (notification templates; the HTML environment then escapes it).
OutputMode = Literal["json", "text"]


def prepare(
    environment: ClaimsSandbox, source: str, filename: str, *, output: OutputMode = "json"
) -> Prepared:
    """Compiles `source` for `environment` under the claims-template policy.

    Raises TemplateSyntaxError (from Jinja) or PolicyViolation.
    """
    tree = environment.parse(source, filename, filename)
    return prepare_tree(environment, tree, filename, output=output)


def prepare_tree(
    environment: ClaimsSandbox,
    tree: nodes.Template,
    filename: str,
    *,
    output: OutputMode = "json",
) -> Prepared:
    """`prepare` for a template already parsed; the tree is rewritten in place."""
    check_policy(tree)
    needs_budget = any(
        isinstance(node, nodes.For | nodes.Call | nodes.BinExpr | nodes.Concat)
        or (isinstance(node, nodes.Filter) and node.name not in LABELLED_FILTERS)
        for node in tree.find_all(nodes.Node)
    )
    assigned = frozenset(
        name.name
        for name in tree.find_all(nodes.Name)
        if name.ctx in ("store", "param")  # set, for, with targets
    )
    tree = cast("nodes.Template", _Instrumenter(assigned, output).visit(tree))
    tree.set_environment(environment)
    code = environment.compile(tree, filename, filename)
    assert not isinstance(code, str)  # raw=False always returns a code object
    template = environment.template_class.from_code(
        environment, code, environment.make_globals(None)
    )
    return Prepared(template, filename, needs_budget, code)


def check_policy(tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Node):
        for kind, what in _FORBIDDEN_NODES:
            if isinstance(node, kind):
                raise PolicyViolation(f"{what}: not available in templates", node.lineno)
        if isinstance(node, nodes.For) and node.recursive:
            raise PolicyViolation("recursive loops are not available", node.lineno)
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise PolicyViolation(f"attribute {node.attr!r} is not accessible", node.lineno)
        if isinstance(node, nodes.Name) and (
            node.name.startswith("_") or node.name in RESERVED_NAMES
        ):
            raise PolicyViolation(f"the name {node.name!r} is reserved", node.lineno)
        if isinstance(node, nodes.Filter | nodes.Test) and node.name.startswith("_"):
            raise PolicyViolation(f"{node.name!r} is not available", node.lineno)
        if isinstance(node, nodes.Keyword) and node.key.startswith("_"):
            raise PolicyViolation(f"keyword {node.key!r} is reserved", node.lineno)


class _Instrumenter(NodeTransformer):
    """Rewrites the checked tree; see the module docstring for what and why."""

    def __init__(self, assigned: frozenset[str], output: OutputMode = "json") -> None:
        self._assigned = assigned
        self._output = output
        self._loop_scopes: list[dict[str, str | None]] = []

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        if self._output == "text":
            node.nodes = [
                child if isinstance(child, nodes.TemplateData) else _filter(child, "_text")
                for child in node.nodes
            ]
            return node
        node.nodes = [
            child
            if isinstance(child, nodes.TemplateData)
            or (isinstance(child, nodes.Filter) and child.name == "tojson")
            else self._labelled(_filter(child, "tojson"), child)
            for child in node.nodes
        ]
        return node

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        subject = node.node
        self.generic_visit(node)
        if node.name in LABELLED_FILTERS and subject is not None:
            self._labelled(node, subject)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return _filter(parts, "_concat")

    def visit_For(self, node: nodes.For) -> nodes.Node:
        iter_path = self._path(node.iter)
        node.iter = _filter(self.visit(node.iter), "_counted")
        scope: dict[str, str | None] = {
            name.name: None for name in node.target.find_all(nodes.Name)
        }
        if isinstance(node.target, nodes.Name):
            scope[node.target.name] = None if iter_path is None else f"{iter_path}[]"
        self._loop_scopes.append(scope)
        try:
            node.body = [self.visit(child) for child in node.body]
            node.else_ = [self.visit(child) for child in node.else_]
            if node.test is not None:
                node.test = self.visit(node.test)
        finally:
            self._loop_scopes.pop()
        return node

    def _labelled(self, node: nodes.Filter, subject: nodes.Node) -> nodes.Filter:
        path = self._path(subject)
        if path is not None:
            keyword = nodes.Keyword("_field", nodes.Const(path, lineno=node.lineno))
            keyword.lineno = node.lineno
            # Jinja annotates Filter.kwargs as Pairs, but its parser stores Keywords there.
            node.kwargs.append(cast("nodes.Pair", keyword))
        return node

    def _path(self, node: nodes.Node) -> str | None:
        """The subject path an expression reads ("place_of_birth.locality"), when static."""
        suffix: list[str] = []
        while not isinstance(node, nodes.Name):
            if isinstance(node, nodes.Getattr):
                suffix.append(f".{node.attr}")
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                key = node.arg.value
                if isinstance(key, str):
                    suffix.append(f".{key}")
                elif isinstance(key, int) and not isinstance(key, bool):
                    suffix.append(f"[{key}]")
                else:
                    return None
            else:
                return None
            node = node.node
        tail = "".join(reversed(suffix))
        root = node.name
        for scope in reversed(self._loop_scopes):
            if root in scope:
                base = scope[root]
                return None if base is None else base + tail
        if root in self._assigned:
            return None
        if root == "subject":
            return tail[1:] if tail.startswith(".") else None
        return root + tail


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def template_line(exc: BaseException, filename: str) -> int | None:
    """The template line an exception was raised at, from Jinja's rewritten traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def find_path(root: Mapping[str, Any], target: object) -> str | None:
    """Where `target` sits inside the subject, by identity ("" for the subject itself)."""
    if target is root:
        return ""
    stack: list[tuple[object, str]] = [(root, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            children: Iterable[tuple[str, object]] = (
                (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
            )
        elif isinstance(value, list | tuple):
            children = ((f"{path}[{index}]", item) for index, item in enumerate(value))
        else:
            continue
        for child_path, item in children:
            if item is target:
                return child_path
            stack.append((item, child_path))
    return None


# JSON helpers shared by the filters and the output parser.


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    fail_if_undefined(value)
    raise TypeError(f"{type(value).__name__} values cannot be written as JSON")


JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
)
