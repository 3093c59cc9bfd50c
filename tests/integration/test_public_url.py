"""A tenant's issuer id and status list URIs outlive a change of --public-url, and a server
started without one serves what its credentials point at.

Real `eudi-connect serve` processes on a SQLite file, stopped and started again as an
operator would; the status list is fetched over HTTP from the URI inside the credential.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.core.jose import public_key_from_jwk, split_jws
from eudi_connect.core.status_list import TokenStatus, decode_status_list_token

from .client_helpers import pid_request
from .processes import CLI, create_tenant, free_port

OLD_URL = "https://old-issuer.example"
NEW_URL = "https://new-issuer.example/eudi"


@contextmanager
def serving(db: str, log: Path, *flags: str) -> Iterator[str]:
    """`eudi-connect serve --db DB FLAGS` until the block ends (SIGTERM, exit 0 checked);
    its gRPC address. Its log goes to `log`."""
    with open(log, "ab") as stderr:
        process = subprocess.Popen(
            [*CLI, "serve", "--db", db, "--sign-workers", "0", "--log-format", "text", *flags],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), log.read_text()[-3000:]
        yield f"127.0.0.1:{line.split()[1]}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    assert code == 0, log.read_text()[-3000:]


def issue(address: str, api_key: str) -> pb.IssueCredentialResponse:
    with grpc.insecure_channel(address) as channel:
        issued: pb.IssueCredentialResponse = pb_grpc.CredentialServiceStub(channel).IssueCredential(
            pid_request(), metadata=(("x-api-key", api_key),), timeout=30
        )
    return issued


def verify(address: str, api_key: str, credential: str) -> pb.VerifyCredentialResponse:
    with grpc.insecure_channel(address) as channel:
        verified: pb.VerifyCredentialResponse = pb_grpc.CredentialServiceStub(
            channel
        ).VerifyCredential(
            pb.VerifyCredentialRequest(credential=credential),
            metadata=(("x-api-key", api_key),),
            timeout=30,
        )
    return verified


def claims(credential: str) -> dict[str, object]:
    payload: dict[str, object] = split_jws(credential.split("~", 1)[0]).payload
    return payload


def status_uri(credential: str) -> str:
    status = claims(credential)["status"]
    assert isinstance(status, dict)
    return str(status["status_list"]["uri"])


def http_get(url: str) -> tuple[int, str, str]:
    """Status, content type and body of a GET (loopback only)."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_credentials_keep_verifying_after_a_restart_with_another_public_url(
    tmp_path: Path,
) -> None:
    """Issued under one --public-url, a credential still verifies (issuer and status) after
    a restart with another; new credentials keep the tenant's first issuer id and base, and
    the HTTP endpoints serve the old URIs' paths and metadata."""
    db = f"sqlite:///{tmp_path / 'eudi.db'}"
    tenant = create_tenant(db, "Moving Issuer")
    api_key, tenant_id = tenant["api_key"], tenant["tenant_id"]
    log = tmp_path / "servers.log"
    with serving(db, log, "--port", "0", "--public-url", OLD_URL, "--http-port", "0") as first:
        old = issue(first, api_key)
        assert verify(first, api_key, old.credential).valid
    assert claims(old.credential)["iss"] == f"{OLD_URL}/issuers/{tenant_id}"
    http_port = free_port()
    with serving(
        db, log, "--port", "0", "--public-url", NEW_URL, "--http-port", str(http_port)
    ) as second:
        verified = verify(second, api_key, old.credential)
        assert verified.valid, (verified.failure, verified.detail)
        assert verified.issuer == f"{OLD_URL}/issuers/{tenant_id}"
        assert verified.status == pb.CREDENTIAL_STATUS_VALID
        new = issue(second, api_key)
        assert claims(new.credential)["iss"] == f"{OLD_URL}/issuers/{tenant_id}"
        assert status_uri(new.credential).startswith(f"{OLD_URL}/status-lists/")
        # The old credential's status comes from its own list, under the old base.
        with grpc.insecure_channel(second) as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            metadata = (("x-api-key", api_key),)
            stub.RevokeCredential(
                pb.RevokeCredentialRequest(credential_id=old.credential_id), metadata=metadata
            )
            listed = stub.GetStatusList(
                pb.GetStatusListRequest(status_list_id=old.status_list_id), metadata=metadata
            )
        assert listed.uri == status_uri(old.credential)
        revoked = verify(second, api_key, old.credential)
        assert not revoked.valid
        assert revoked.failure == pb.VERIFICATION_FAILURE_REVOKED
        # Served at the old URI's path (the proxy in front maps the host), `sub` included.
        path = status_uri(old.credential).removeprefix(OLD_URL)
        code, media, token = http_get(f"http://127.0.0.1:{http_port}{path}")
        assert code == 200
        assert media == "application/statuslist+jwt"
        assert split_jws(token).payload["sub"] == status_uri(old.credential)
        _, _, metadata_body = http_get(
            f"http://127.0.0.1:{http_port}/.well-known/jwt-vc-issuer/issuers/{tenant_id}"
        )
        assert f'"issuer": "{OLD_URL}/issuers/{tenant_id}"' in metadata_body
    assert "tenants that issued under another public URL keep it" in log.read_text()


def test_serve_without_public_url_serves_the_status_list_its_credentials_name(
    tmp_path: Path,
) -> None:
    """Without --public-url (gRPC port picked, so the HTTP port is too) the status list URI
    in a credential answers an HTTP GET with the list's token, and one log line says the
    default URL is in use."""
    db = f"sqlite:///{tmp_path / 'eudi.db'}"
    tenant = create_tenant(db, "Local Issuer")
    log = tmp_path / "server.log"
    with serving(db, log, "--port", "0") as address:
        issued = issue(address, tenant["api_key"])
        uri = status_uri(issued.credential)
        assert uri.startswith("http://127.0.0.1:")
        code, media, token = http_get(uri)
        base = uri.split("/status-lists/", 1)[0]
        _, _, jwks = http_get(f"{base}/issuers/{tenant['tenant_id']}/jwks.json")
    assert code == 200
    assert media == "application/statuslist+jwt"
    keys = {key["kid"]: public_key_from_jwk(key) for key in json.loads(jwks)["keys"]}
    decoded = decode_status_list_token(
        token, public_key=keys[split_jws(token).header["kid"]], expected_uri=uri
    )
    assert decoded.status_list.get(issued.status_index) == TokenStatus.VALID
    lines = [line for line in log.read_text().splitlines() if "no --public-url" in line]
    assert len(lines) == 1, lines


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_serve_with_every_default_serves_its_status_uris_on_8080(tmp_path: Path) -> None:
    """`serve` with no flags at all (what `make run` starts): credentials name
    http://127.0.0.1:8080, and that URL answers."""
    if not (_free(50051) and _free(8080)):
        pytest.skip("ports 50051 and 8080 are in use here")
    db = f"sqlite:///{tmp_path / 'eudi.db'}"
    tenant = create_tenant(db, "Default Issuer")
    with serving(db, tmp_path / "server.log") as address:
        assert address == "127.0.0.1:50051"
        issued = issue(address, tenant["api_key"])
        uri = status_uri(issued.credential)
        assert uri.startswith("http://127.0.0.1:8080/status-lists/")
        code, media, _ = http_get(uri)
    assert code == 200
    assert media == "application/statuslist+jwt"
