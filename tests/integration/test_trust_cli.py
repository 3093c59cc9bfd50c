"""The `eudi-connect trust` commands against a real server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from eudi_connect.api.server import RunningServer

from .client_helpers import run_cli
from .conftest import Tenant
from .foreign_issuer import ForeignIssuer, make_pki


async def test_trust_commands_round_trip(
    capsys: pytest.CaptureFixture[str], server: RunningServer, tenant: Tenant, tmp_path: Path
) -> None:
    """add-issuer (inline JWKS), add-anchor (PEM), list, remove-issuer, remove-anchor."""
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(ForeignIssuer.new().jwks()), encoding="utf-8")
    root = tmp_path / "root.pem"
    root.write_bytes(make_pki().root.public_bytes(serialization.Encoding.PEM))

    added = json.loads(
        await run_cli(
            capsys, server, tenant, "trust", "add-issuer", "https://i.example", "--jwks", str(jwks)
        )
    )
    assert added["issuer"] == "https://i.example"
    anchor = json.loads(await run_cli(capsys, server, tenant, "trust", "add-anchor", str(root)))
    assert anchor["subject"] == "CN=Foreign Root CA"
    listed = json.loads(await run_cli(capsys, server, tenant, "trust", "list"))
    assert [(i["issuer"], i["keys"]) for i in listed["trusted_issuers"]] == [
        ("https://i.example", "inline JWKS")
    ]
    assert [(a["anchor_id"], a["subject"]) for a in listed["trust_anchors"]] == [
        (anchor["anchor_id"], "CN=Foreign Root CA")
    ]
    table = await run_cli(capsys, server, tenant, "trust", "list", "-o", "table")
    assert table.splitlines()[:3] == [
        "trusted_issuers:",
        f"issuer{' ' * 13}keys{' ' * 9}created_at",
        f"https://i.example  inline JWKS  {listed['trusted_issuers'][0]['created_at']}",
    ]
    await run_cli(capsys, server, tenant, "trust", "remove-issuer", "https://i.example")
    await run_cli(capsys, server, tenant, "trust", "remove-anchor", anchor["anchor_id"])
    emptied = json.loads(await run_cli(capsys, server, tenant, "trust", "list"))
    assert emptied == {"trusted_issuers": [], "trust_anchors": []}
    with pytest.raises(SystemExit):
        await run_cli(capsys, server, tenant, "trust", "remove-anchor", anchor["anchor_id"])
    assert "NOT_FOUND" in capsys.readouterr().err
