"""Every ErrorInfo reason is a member of `eudi_connect.reasons.Reason`, and only there.

The scan reads the service's source (tests are out of its scope) and refuses a reason
written as a string: passed as `reason=`, assigned to `default_reason`, a `reason`
parameter's default, compared with an error's `.reason`, an UPPER_SNAKE argument of a
call inside `raise`, or any string equal to a registry value outside the bodies of Enum
classes (those are other vocabularies, documented in the registry's docstring).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eudi_connect.core.oid4vci import WalletErrorCode
from eudi_connect.core.oid4vp import ErrorCode
from eudi_connect.devtools.reasons import README, readme_table, table
from eudi_connect.reasons import Reason

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "eudi_connect"
REGISTRY = PACKAGE / "reasons.py"
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
#: In `raise` an UPPER_SNAKE word with an underscore is a reason even if not registered yet.
REASON_LIKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
VALUES = frozenset(reason.value for reason in Reason)


def _is_enum_class(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if name.endswith("Enum"):
            return True
    return False


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _LiteralReasons(ast.NodeVisitor):
    """Collects (line, text, why) for each reason written as a string."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str, str]] = []
        self._ignored: set[int] = set()  # docstrings, f-string parts, `__all__` entries
        self._enum_depth = 0
        self._raise_depth = 0

    def _flag(self, node: ast.AST | None, why: str, pattern: re.Pattern[str]) -> None:
        text = _string(node)
        if node is not None and text is not None and pattern.match(text):
            self.found.append((getattr(node, "lineno", 0), text, why))
            self._ignored.add(id(node))

    def _ignore_docstring(self, body: list[ast.stmt]) -> None:
        if body and isinstance(body[0], ast.Expr) and _string(body[0].value) is not None:
            self._ignored.add(id(body[0].value))

    def visit_Module(self, node: ast.Module) -> None:
        self._ignore_docstring(node.body)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._ignore_docstring(node.body)
        for item in node.body:
            targets = (
                item.targets
                if isinstance(item, ast.Assign)
                else [item.target]
                if isinstance(item, ast.AnnAssign)
                else []
            )
            if any(isinstance(t, ast.Name) and t.id == "default_reason" for t in targets):
                assert isinstance(item, ast.Assign | ast.AnnAssign)
                self._flag(item.value, "default_reason", re.compile(".*"))
        enum = _is_enum_class(node)
        self._enum_depth += enum
        self.generic_visit(node)
        self._enum_depth -= enum

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._ignore_docstring(node.body)
        arguments = node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        with_defaults = positional[len(positional) - len(arguments.defaults) :]
        pairs = [
            *zip(with_defaults, arguments.defaults, strict=True),
            *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
        ]
        for argument, default in pairs:
            if argument.arg == "reason":
                self._flag(default, "default of a reason parameter", UPPER_SNAKE)
        self.generic_visit(node)

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            self._ignored.update(id(n) for n in ast.walk(node.value))
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._ignored.update(id(n) for n in ast.walk(node))

    def visit_Raise(self, node: ast.Raise) -> None:
        self._raise_depth += 1
        self.generic_visit(node)
        self._raise_depth -= 1

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            if keyword.arg == "reason":
                self._flag(keyword.value, "reason=", UPPER_SNAKE)
        if self._raise_depth:
            for argument in node.args:
                self._flag(argument, "argument in raise", REASON_LIKE)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        if any(isinstance(side, ast.Attribute) and side.attr == "reason" for side in sides):
            for side in sides:
                items = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                for item in items:
                    self._flag(item, "compared with .reason", UPPER_SNAKE)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = _string(node)
        if text in VALUES and id(node) not in self._ignored and not self._enum_depth:
            self.found.append((node.lineno, text, "a registry value as a string"))


def literal_reasons(source: str) -> list[tuple[int, str, str]]:
    finder = _LiteralReasons()
    finder.visit(ast.parse(source))
    return finder.found


def _service_sources() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != REGISTRY:
            yield path


def test_no_reason_is_written_as_a_string_outside_the_registry() -> None:
    """No module of the service writes an ErrorInfo reason as a string literal."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r} ({why})"
        for path in _service_sources()
        for line, text, why in literal_reasons(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use a Reason member:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ('raise InvalidArgumentError("bad", reason="SOME_NEW_REASON")', "reason="),
        ('class E(InvalidArgumentError):\n    default_reason = "SOME_REASON"', "default_reason"),
        ('def f(*, reason: str = "SOME_REASON") -> None: ...', "default of a reason parameter"),
        ('if refusal.reason == "SOME_REASON": pass', "compared with .reason"),
        ('if error.reason in ("A_REASON", "B_REASON"): pass', "compared with .reason"),
        ('raise _invalid("SOME_NEW_REASON", "message")', "argument in raise"),
        ('exists = ("the issuer is already trusted", "TRUSTED_ISSUER_EXISTS")', "a registry"),
    ],
)
def test_the_scan_finds_each_kind_of_literal(source: str, why: str) -> None:
    """Each way of writing a reason as a string is caught by the scan."""
    found = literal_reasons(source)
    assert found
    assert all(entry[2].startswith(why) for entry in found)


def test_the_scan_leaves_other_vocabularies_and_prose_alone() -> None:
    """Enum bodies, docstrings, f-strings, `__all__` and sentences are not reasons."""
    source = (
        '"""Raises NotFoundError(reason="TENANT_NOT_FOUND")."""\n'
        '__all__ = ["TLS"]\n'
        "class Failure(enum.StrEnum):\n"
        '    TOO_MANY_PRESENTATIONS = "TOO_MANY_PRESENTATIONS"\n'
        'raise InvalidArgumentError(f"TLS {x}", reason=Reason.TLS)\n'
        'raise InvalidArgumentError("no tenant", reason=Reason.TENANT_NOT_FOUND)\n'
        'request = pb.RevokeRequest(credential_id=cid, reason="device lost")\n'
    )
    assert literal_reasons(source) == []


def test_each_reason_has_a_one_line_meaning_and_its_name_as_value() -> None:
    """A member's wire value is its name, and it says in one line when it is given."""
    problems = [
        reason.name
        for reason in Reason
        if reason.value != reason.name
        or not UPPER_SNAKE.match(reason.value)
        or not reason.meaning.strip()
        or "\n" in reason.meaning
        or reason.meaning != reason.meaning.strip()
    ]
    assert problems == []
    assert len(Reason.__members__) == len(Reason), "two members share one value"


def test_the_readme_lists_exactly_the_registry() -> None:
    """The README's table of reasons is the one the registry generates."""
    listed = readme_table(README.read_text(encoding="utf-8"))
    assert listed is not None, "README.md lost its reasons markers"
    assert listed == table(), "run: python -m eudi_connect.devtools.reasons --write"


def _registry_names(tree: ast.Module) -> set[str]:
    """The names a module binds to the registry's enum (`Reason`, or an alias of it)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "eudi_connect.reasons"
        for alias in node.names
        if alias.name == "Reason"
    }


def test_every_reason_is_given_somewhere() -> None:
    """No member is dead: the service raises each one, or it is a wallet protocol code."""
    used = {code.name for code in [*WalletErrorCode, *ErrorCode]}
    for path in _service_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _registry_names(tree)
        used.update(
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in names
        )
    assert [reason.name for reason in Reason if reason.name not in used] == []


@pytest.mark.parametrize("code", [*WalletErrorCode, *ErrorCode], ids=lambda code: code.name)
def test_every_wallet_protocol_code_has_a_reason(code: WalletErrorCode | ErrorCode) -> None:
    """A ProtocolError without a finer reason reports its code's name, a registry member."""
    assert Reason[code.name].value == code.name


def test_the_registry_imports_only_the_standard_library() -> None:
    """Every layer, the core included, may import the registry: it imports nothing of ours."""
    tree = ast.parse(REGISTRY.read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert {name.split(".")[0] for name in imported} <= {*sys.stdlib_module_names, "__future__"}
