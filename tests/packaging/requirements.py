"""What `pyproject.toml` and the committed stubs say about versions, read for the tests."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from eudi_connect.devtools.protogen import PROJECT_ROOT

GENERATED = PROJECT_ROOT / "generated"
# The packages whose versions the committed stubs are tied to.
STUB_RUNTIME = (
    "grpcio",
    "grpcio-health-checking",
    "grpcio-reflection",
    "grpcio-status",
    "protobuf",
    "googleapis-common-protos",
)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_FLOOR = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")
_GRPC_VERSION = re.compile(r"^GRPC_GENERATED_VERSION = '([0-9.]+)'$", re.MULTILINE)
_PROTOBUF_VERSION = re.compile(
    r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,"
    r"\s*(\d+),\s*(\d+),\s*(\d+),"
)


def runtime_requirements() -> dict[str, str]:
    """[project.dependencies] by lower-case name: the requirement text as written."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements: dict[str, str] = {}
    for requirement in project["project"]["dependencies"]:
        match = _NAME.match(requirement)
        assert match, requirement
        requirements[match.group(1).lower()] = requirement
    return requirements


def optional_requirements() -> dict[str, str]:
    """The packages of the user-facing extras ([project.optional-dependencies] but `dev`),
    by lower-case name: the requirement text as written."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements: dict[str, str] = {}
    for extra, listed in project["project"]["optional-dependencies"].items():
        if extra == "dev":
            continue
        for requirement in listed:
            match = _NAME.match(requirement)
            assert match, requirement
            requirements[match.group(1).lower()] = requirement
    return requirements


def declared_floor(name: str) -> str:
    """The `>=` version of a runtime dependency, as written (e.g. "1.85.1")."""
    requirement = runtime_requirements()[name]
    match = _FLOOR.search(requirement.split(";")[0])
    assert match, f"{name} has no >= floor: {requirement}"
    return match.group(1)


def version_tuple(version: str) -> tuple[int, ...]:
    """The numeric release part of a version, three parts at least ("1.74" and "1.74.0"
    -> (1, 74, 0); "0.64b0" -> (0, 64, 0))."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    assert match, version
    parts = [int(part) for part in match.group(0).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def stub_files(suffix: str) -> list[Path]:
    return sorted(GENERATED.rglob(f"*{suffix}"))


def stubs_grpc_version() -> set[str]:
    """The grpcio version every committed *_pb2_grpc.py requires at import."""
    return {
        match.group(1)
        for path in stub_files("_pb2_grpc.py")
        for match in _GRPC_VERSION.finditer(path.read_text(encoding="utf-8"))
    }


def stubs_protobuf_version() -> set[tuple[int, ...]]:
    """The protobuf runtime every committed *_pb2.py requires at import."""
    return {
        tuple(int(part) for part in match.groups())
        for path in stub_files("_pb2.py")
        for match in _PROTOBUF_VERSION.finditer(path.read_text(encoding="utf-8"))
    }
