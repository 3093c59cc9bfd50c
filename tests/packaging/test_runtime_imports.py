"""Every third-party module the installed program imports, at start or later (the
PostgreSQL driver, exporters loaded on demand), comes from a package that
[project.dependencies] names itself: a dev-only or merely transitive one is missing or
unpinned for a user. The one exception is a user-facing extra (`hsm`): its packages are
imported only inside the functions that need them, so the program starts without them."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import re
import sys

from eudi_connect.devtools.protogen import PROJECT_ROOT
from tests.packaging.requirements import optional_requirements, runtime_requirements

PACKAGE = PROJECT_ROOT / "eudi_connect"
# Developer tools ship in the package but the service never imports them (stub
# generation, throwaway PostgreSQL clusters for tests and load runs).
DEV_TOOLS = PACKAGE / "devtools"
OWN = frozenset({"eudi_connect", "eudi"})


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> dict[str, set[str]]:
    """Absolute third-party imports of the package (outside devtools): module -> files."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(DEV_TOOLS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from a import b`: b may be a submodule (the precise owner) or a name.
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN:
                    found.setdefault(name, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def _top_level_imports() -> dict[str, set[str]]:
    """Third-party imports a module makes when it is loaded (its own body, not inside a
    function or a TYPE_CHECKING block): module -> files."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(DEV_TOOLS):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in sys.stdlib_module_names | OWN:
                    found.setdefault(name, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def _distribution_of_files() -> dict[str, str]:
    """Installed file (normalised path) -> the distribution that installed it."""
    owners: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = _canonical(distribution.metadata["Name"])
        for file in distribution.files or ():
            owners[os.path.normpath(str(distribution.locate_file(file)))] = name
    return owners


def _owner(module: str, owners: dict[str, str]) -> str | None:
    """The distribution that installed `module` (or the module that holds it, when it
    names an attribute); for a namespace package, the one that installed its files."""
    loaded = getattr(sys.modules.get(module), "__file__", None)
    if loaded:  # some modules (cryptography's serialization) carry no __spec__
        return owners.get(os.path.normpath(loaded))
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # `a.b` names an attribute of the module `a`
        spec = None
    if spec is None:
        parent = module.rpartition(".")[0]
        return _owner(parent, owners) if parent else None
    if spec.origin is not None:
        return owners.get(os.path.normpath(spec.origin))
    for folder in spec.submodule_search_locations or ():
        prefix = os.path.normpath(folder) + os.sep
        inside = {owner for path, owner in owners.items() if path.startswith(prefix)}
        if len(inside) == 1:
            return inside.pop()
    return None


def test_every_runtime_import_is_a_declared_dependency() -> None:
    """Each module imported by eudi_connect (devtools aside) is installed by a package
    listed in [project.dependencies]."""
    declared = {_canonical(name) for name in (*runtime_requirements(), *optional_requirements())}
    owners = _distribution_of_files()
    undeclared = {
        module: f"{_owner(module, owners)}, imported by {sorted(files)}"
        for module, files in sorted(_imported_modules().items())
        if _owner(module, owners) not in declared
    }
    assert undeclared == {}


def test_optional_extras_are_imported_only_when_used() -> None:
    """No module imports a package of an optional extra when it is loaded, so a base
    install starts (and says which extra a feature needs when it is used)."""
    optional = {_canonical(name) for name in optional_requirements()}
    owners = _distribution_of_files()
    eager = {
        module: sorted(files)
        for module, files in sorted(_top_level_imports().items())
        if _owner(module, owners) in optional
    }
    assert optional, "no optional extra is declared"
    assert eager == {}
