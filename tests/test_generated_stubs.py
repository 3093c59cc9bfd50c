"""The committed stubs in generated/ are exactly what the pinned generator produces, and
the runtime floors in pyproject.toml are the versions those stubs check at import."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from eudi_connect.devtools.protogen import (
    PROJECT_ROOT,
    GeneratorMismatchError,
    check_generator,
    generate,
    pinned_generator_version,
)
from tests.packaging.requirements import (
    declared_floor,
    stub_files,
    stubs_grpc_version,
    stubs_protobuf_version,
    version_tuple,
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.suffix in {".py", ".pyi"}
    }


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    """Regenerating from protos/ with the pinned grpcio-tools gives byte-identical files,
    and no file is missing or extra."""
    try:
        check_generator()
    except GeneratorMismatchError as mismatch:
        if _in_ci():
            pytest.fail(str(mismatch))
        pytest.skip(str(mismatch))
    generate(tmp_path)
    committed = PROJECT_ROOT / "generated"
    assert _files(tmp_path) == _files(committed)
    drifted = [
        name
        for name in sorted(_files(tmp_path))
        if not filecmp.cmp(tmp_path / name, committed / name, shallow=False)
    ]
    assert drifted == [], f"generated/ is stale; run `make proto`: {drifted}"


def test_committed_stubs_come_from_the_pinned_generator() -> None:
    """Every *_pb2_grpc.py names the grpcio-tools version pyproject.toml pins."""
    assert stub_files("_pb2_grpc.py")
    assert stubs_grpc_version() == {pinned_generator_version()}


def test_runtime_floors_cover_what_the_stubs_check() -> None:
    """The grpcio and protobuf floors are at least the versions the stubs refuse to run
    below, and the grpc companions start no lower than grpcio itself."""
    (grpc_needed,) = stubs_grpc_version()
    (protobuf_needed,) = stubs_protobuf_version()
    assert version_tuple(declared_floor("protobuf")) >= protobuf_needed
    for name in ("grpcio", "grpcio-health-checking", "grpcio-reflection", "grpcio-status"):
        assert version_tuple(declared_floor(name)) >= version_tuple(grpc_needed), name


def test_generator_mismatch_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`make proto` with another grpcio-tools than the pinned one writes nothing."""
    monkeypatch.setattr(
        "eudi_connect.devtools.protogen.installed_generator_version", lambda: "0.0.1"
    )
    with pytest.raises(GeneratorMismatchError):
        generate(tmp_path / "out")
    assert not (tmp_path / "out").exists()
