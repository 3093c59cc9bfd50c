"""The files the prose names exist: every source path written in backticks in docs/ and
the README (`services/issuance.py`, `eudi_connect/store/base.py:Store`, `loadtest/lib/`)
is in the tree, and every bare module name (`rows.py`) is the name of one of its files.
A moved or renamed module fails here until the prose follows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eudi_connect.devtools.protogen import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "eudi_connect"
DOCUMENTS = sorted([PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")])
# Folders a path may start from: the package's own (written without `eudi_connect/`, as
# the prose does) and the repository's top level.
PACKAGE_FOLDERS = ("api", "cli", "core", "devtools", "monitoring", "services", "store")
TOP_FOLDERS = ("eudi_connect", "loadtest", "tests", "protos", "generated", "docs")

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(
    r"^(?P<path>(?:" + "|".join(PACKAGE_FOLDERS + TOP_FOLDERS) + r")/[\w./-]*)(?::[\w.]+)?$"
)
_MODULE = re.compile(r"^(?P<name>[\w-]+\.py)(?::[\w.]+)?$")
# What a file name may end in; `core/sdjwt.issue_sd_jwt_vc` is a package and a name in it.
_FILE_ENDINGS = frozenset({"py", "pyi", "sql", "proto", "md", "toml", "json", "j2", "yaml"})


def _spans(document: Path) -> list[str]:
    return _CODE_SPAN.findall(document.read_text(encoding="utf-8"))


def _exists(path: str) -> bool:
    """A path from the repository root, or from inside the package."""
    folder, _, last = path.rpartition("/")
    stem, dot, ending = last.partition(".")
    if dot and ending.split(".")[0] not in _FILE_ENDINGS:
        path = f"{folder}/{stem}"
    head = path.split("/", 1)[0]
    base = PACKAGE if head in PACKAGE_FOLDERS else PROJECT_ROOT
    return (base / path.rstrip("/")).exists()


def _module_names() -> set[str]:
    folders = [PACKAGE, PROJECT_ROOT / "loadtest", PROJECT_ROOT / "tests"]
    return {path.name for folder in folders for path in folder.rglob("*.py")}


def named_paths(document: Path) -> list[str]:
    """The source paths a document names; a span with a placeholder (`<backend>`, `*`,
    `NNNN`) names a pattern, not a file, and is left out."""
    found = []
    for span in _spans(document):
        for word in span.split():
            match = _PATH.match(word.strip(",;()"))
            if match and not re.search(r"[<>*]|NNNN", match.group("path")):
                found.append(match.group("path"))
    return found


def named_modules(document: Path) -> list[str]:
    """Bare module file names in a document (`rows.py`, `sd_jwt.py:SdJwtVerifier`)."""
    found = []
    for span in _spans(document):
        for word in re.split(r"[\s,]+", span):
            match = _MODULE.match(word)
            if match:
                found.append(match.group("name"))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_named_path_exists(document: Path) -> None:
    """Each source path a document names in backticks is a file or folder of the tree."""
    missing = sorted({path for path in named_paths(document) if not _exists(path)})
    assert missing == [], f"{document.name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_named_module_exists(document: Path) -> None:
    """Each bare module name a document writes in backticks is the name of a file of the
    package, the load tools or the tests."""
    modules = _module_names()
    missing = sorted({name for name in named_modules(document) if name not in modules})
    assert missing == [], f"{document.name} names modules that do not exist: {missing}"


def test_the_checks_see_the_paths_the_documents_name() -> None:
    """The readers find paths in every form the prose uses, so an empty list above means
    the documents were read, not skipped."""
    architecture = PROJECT_ROOT / "docs" / "architecture.md"
    assert "store/base.py" in named_paths(architecture)
    paths = [path for document in DOCUMENTS for path in named_paths(document)]
    assert any(path.startswith("eudi_connect/") for path in paths)
    assert any(named_modules(document) for document in DOCUMENTS)
    assert _exists("core/sdjwt.issue_sd_jwt_vc")
    assert not _exists("store/no_such_module.py")
