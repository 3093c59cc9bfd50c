"""The committed stubs in generated/ are exactly what `make proto` produces."""

from __future__ import annotations

import filecmp
from pathlib import Path

from eudi_connect.devtools.protogen import PROJECT_ROOT, generate


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.suffix in {".py", ".pyi"}
    }


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    """Regenerating from protos/ gives byte-identical files, and no file is missing or extra."""
    generate(tmp_path)
    committed = PROJECT_ROOT / "generated"
    assert _files(tmp_path) == _files(committed)
    drifted = [
        name
        for name in sorted(_files(tmp_path))
        if not filecmp.cmp(tmp_path / name, committed / name, shallow=False)
    ]
    assert drifted == [], f"generated/ is stale; run `make proto`: {drifted}"
