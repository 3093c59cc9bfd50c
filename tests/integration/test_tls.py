"""TLS and mutual TLS on the gRPC port, with certificates made in the test."""

from __future__ import annotations

import datetime
import ipaddress
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.server import RunningServer, ServerOptions, start_server
from eudi_connect.services.app import Services
from eudi_connect.services.settings import ServiceSettings

from .client_helpers import run_cli
from .conftest import Tenant


@dataclass
class Pki:
    ca: bytes
    server_cert: Path
    server_key: Path
    client_cert: bytes
    client_key: bytes
    ca_file: Path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("Test CA", ca_key, None)
    server = _certificate(
        "localhost", server_key, ("Test CA", ca_key), usage=ExtendedKeyUsageOID.SERVER_AUTH
    )
    client = _certificate(
        "client", client_key, ("Test CA", ca_key), usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "server.pem").write_bytes(server.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(_pem_key(server_key))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    return Pki(
        ca=ca.public_bytes(pem),
        server_cert=tmp_path / "server.pem",
        server_key=tmp_path / "server.key",
        client_cert=client.public_bytes(pem),
        client_key=_pem_key(client_key),
        ca_file=tmp_path / "ca.pem",
    )


async def _tls_server(
    services: Services, settings: ServiceSettings, pki: Pki, *, mutual: bool
) -> RunningServer:
    options = ServerOptions(
        port=0,
        settings=settings,
        tls_cert=str(pki.server_cert),
        tls_key=str(pki.server_key),
        tls_client_ca=str(pki.ca_file) if mutual else None,
    )
    return await start_server(services, options)


@pytest.fixture
async def tls_server(
    services: Services, settings: ServiceSettings, pki: Pki
) -> AsyncIterator[RunningServer]:
    running = await _tls_server(services, settings, pki, mutual=False)
    yield running
    await running.stop(grace=1.0)


async def _keys(address: str, credentials: grpc.ChannelCredentials | None, tenant: Tenant) -> str:
    channel = (
        grpc.aio.secure_channel(address, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(address)
    )
    async with channel:
        stub = pb_grpc.CredentialServiceStub(channel)
        response = await stub.GetIssuerKeys(
            pb.GetIssuerKeysRequest(), metadata=tenant.metadata, timeout=5
        )
        return str(response.jwks)


async def test_tls(tls_server: RunningServer, pki: Pki, tenant: Tenant) -> None:
    """A client trusting the CA gets through; a plaintext client does not."""
    address = f"127.0.0.1:{tls_server.port}"
    assert "keys" in await _keys(address, grpc.ssl_channel_credentials(pki.ca), tenant)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _keys(address, None, tenant)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls(
    services: Services, settings: ServiceSettings, pki: Pki, tenant: Tenant
) -> None:
    """With a client CA configured, only clients with a certificate from it get through."""
    running = await _tls_server(services, settings, pki, mutual=True)
    address = f"127.0.0.1:{running.port}"
    try:
        with_cert = grpc.ssl_channel_credentials(pki.ca, pki.client_key, pki.client_cert)
        assert "keys" in await _keys(address, with_cert, tenant)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _keys(address, grpc.ssl_channel_credentials(pki.ca), tenant)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await running.stop(grace=1.0)


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mutual"])
async def test_cli_client_commands_speak_tls_and_mutual_tls(
    services: Services,
    settings: ServiceSettings,
    pki: Pki,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutual: bool,
) -> None:
    """The CLI's --tls-ca reaches a TLS server and --tls-cert/--tls-key a mutual TLS one;
    without them (the system's CAs, no client certificate) it stops with exit 6 and a
    line naming the options."""
    (tmp_path / "client.pem").write_bytes(pki.client_cert)
    (tmp_path / "client.key").write_bytes(pki.client_key)
    ca = ["--tls-ca", str(pki.ca_file)]
    client = ["--tls-cert", str(tmp_path / "client.pem"), "--tls-key", str(tmp_path / "client.key")]
    running = await _tls_server(services, settings, pki, mutual=mutual)
    try:
        flags = [*ca, *client] if mutual else ca
        assert "keys" in json.loads(await run_cli(capsys, running, tenant, "jwks", *flags))
        with pytest.raises(SystemExit) as refused:
            await run_cli(capsys, running, tenant, "jwks", *(ca if mutual else ["--tls"]))
        assert refused.value.code == 6
        assert "--tls-ca" in capsys.readouterr().err
    finally:
        await running.stop(grace=1.0)
