"""A package's `_`-prefixed modules are its own: nothing outside it imports them.

import-linter guards the layers of `eudi_connect`; this guards the privacy of modules
across the service, the tests and the load tools, which import-linter does not read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ("eudi_connect", "tests", "loadtest")


def _module_of(path: Path) -> str:
    """The dotted name Python imports `path` under (a package for its `__init__.py`)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    """Whether `dotted` names a module or package of ours, not a function or constant."""
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imported(path: Path, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Each name an import statement may load as a module, absolute, with its line."""
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _private_module(dotted: str) -> str | None:
    """The first private module on `dotted`'s path, if there is one."""
    parts = dotted.split(".")
    for index, part in enumerate(parts[1:], start=2):
        if part.startswith("_") and not part.startswith("__"):
            module = ".".join(parts[:index])
            return module if _is_module(module) else None
    return None


def _trespassing(path: Path, tree: ast.Module) -> set[tuple[int, str]]:
    """The private modules `path` imports from packages it is not inside, with their lines."""
    importer = _module_of(path) + "."
    found: set[tuple[int, str]] = set()
    for line, dotted in _imported(path, tree):
        module = _private_module(dotted) if dotted.split(".")[0] in TREES else None
        if module is not None and not importer.startswith(module.rpartition(".")[0] + "."):
            found.add((line, module))
    return found


def test_no_module_imports_another_packages_private_module() -> None:
    """Every import of a `_`-prefixed module comes from inside the package that holds it."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for tree_name in TREES
        for path in sorted((ROOT / tree_name).rglob("*.py"))
        for line, module in sorted(
            _trespassing(path, ast.parse(path.read_bytes(), filename=str(path)))
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "file", "expected"),
    [
        ("from eudi_connect.core.sdjwt._common import SD_KEY", "eudi_connect/core/x.py", True),
        ("from eudi_connect.core.sdjwt import _common", "tests/unit/x.py", True),
        ("import eudi_connect.core.sdjwt._verifier", "loadtest/x.py", True),
        ("from ._common import SD_KEY", "eudi_connect/core/sdjwt/x.py", False),
        ("from eudi_connect.core.sdjwt import issue_sd_jwt_vc", "tests/unit/x.py", False),
    ],
)
def test_trespass_detection(source: str, file: str, expected: bool) -> None:
    """The scan flags a private module imported from outside its package, and only that."""
    assert bool(_trespassing(ROOT / file, ast.parse(source))) is expected
