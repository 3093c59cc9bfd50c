"""The `eudi-connect template` commands against a real server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eudi_connect.api.server import RunningServer

from .client_helpers import run_cli
from .conftest import Tenant


async def test_template_commands_round_trip(
    capsys: pytest.CaptureFixture[str], server: RunningServer, tenant: Tenant, tmp_path: Path
) -> None:
    """The template commands create (with an @file source), list, render, update without
    --etag and delete."""
    (tmp_path / "diploma.j2").write_text('{"degree": {{ degree }}}', encoding="utf-8")
    definition = {
        "template_id": "diploma",
        "data_schema": ["degree"],
        "credential": {
            "vct": "urn:example:diploma:1",
            "claims_template": "@diploma.j2",
            "default_validity_seconds": 60,
            "max_validity_seconds": 120,
        },
    }
    spec = tmp_path / "diploma.json"
    spec.write_text(json.dumps(definition), encoding="utf-8")
    data = tmp_path / "data.json"
    data.write_text('{"degree": "MSc"}', encoding="utf-8")

    created = json.loads(await run_cli(capsys, server, tenant, "template", "create", str(spec)))
    assert created["version"] == 1  # an int64, printed as a JSON number
    assert created["kind"] == "CREDENTIAL"
    listed = json.loads(await run_cli(capsys, server, tenant, "template", "list"))
    assert [row["template_id"] for row in listed] == ["diploma", "mdl", "pid"]
    rendered = await run_cli(
        capsys, server, tenant, "template", "render", "diploma", "--data", str(data)
    )
    assert json.loads(rendered) == {"degree": "MSc"}

    (tmp_path / "diploma.j2").write_text('{"degree": {{ degree }}, "v": 2}', encoding="utf-8")
    updated = json.loads(await run_cli(capsys, server, tenant, "template", "update", str(spec)))
    assert updated["version"] == 2
    rendered = await run_cli(
        capsys, server, tenant, "template", "render", "diploma", "--data", str(data)
    )
    assert json.loads(rendered) == {"degree": "MSc", "v": 2}

    await run_cli(capsys, server, tenant, "template", "delete", "diploma")
    with pytest.raises(SystemExit):
        await run_cli(capsys, server, tenant, "template", "get", "diploma")
    assert "NOT_FOUND" in capsys.readouterr().err
