"""Compiling a claims template under the sandbox policy.

`prepare` rejects, before compiling, what a claims template has no use for and what the known
escapes and resource attacks are built from: private names and attributes, host globals
(`cycler`, `lipsum`, `config`, `self` ...), macros, imports, inheritance, recursive loops and
namespace writes. It then rewrites the parsed template: every `{{ ... }}` output is
JSON-encoded (an unquoted string cannot inject claims; notification templates write text
instead, which their HTML environment escapes), every `~` is size-checked, every `for` loop
draws from a per-render iteration budget, and the subject filters learn which field they
were given.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass
from types import CodeType
from typing import Literal, cast

from jinja2 import Template, nodes
from jinja2.visitor import NodeTransformer

from ._sandbox import ClaimsSandbox

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


class PolicyViolation(Exception):
    """The template uses a construct that claims templates may not use."""

    def __init__(self, message: str, lineno: int | None) -> None:
        super().__init__(message)
        self.lineno = lineno


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
