"""A real `eudi-connect serve` process with tenants made beforehand, an issuer CA on disk,
and the calls the trust and verification tests make against it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import trust_service_pb2 as trust_pb
from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc

from eudi_connect.core.jose import generate_p256_key

from .conftest import Tenant
from .foreign_issuer import ForeignIssuer, make_certificate
from .processes import create_tenant, start_server

#: The server's --public-url: the base of every issuer id and status list URI it writes.
PUBLIC_URL = "https://issuer.test"


@dataclass(frozen=True)
class ServerProcess:
    """A running server, its database and the tenants made before it started."""

    db: str
    address: str
    tenants: dict[str, Tenant]


@dataclass
class Served:
    """A connection to a server and its tenants, with the calls the tests make."""

    channel: grpc.aio.Channel
    tenants: dict[str, Tenant]

    @property
    def credentials(self) -> pb_grpc.CredentialServiceStub:
        return pb_grpc.CredentialServiceStub(self.channel)

    @property
    def trust(self) -> trust_grpc.TrustServiceStub:
        return trust_grpc.TrustServiceStub(self.channel)

    async def verify(
        self, tenant: Tenant, credential: str, **fields: Any
    ) -> pb.VerifyCredentialResponse:
        response: pb.VerifyCredentialResponse = await self.credentials.VerifyCredential(
            pb.VerifyCredentialRequest(credential=credential, **fields), metadata=tenant.metadata
        )
        return response

    async def add_anchor(self, tenant: Tenant, certificate: bytes) -> None:
        await self.trust.AddTrustAnchor(
            trust_pb.AddTrustAnchorRequest(certificate=certificate), metadata=tenant.metadata
        )

    async def trust_jwks(self, tenant: Tenant, issuer: str, jwks: dict[str, Any]) -> None:
        await self.trust.AddTrustedIssuer(
            trust_pb.AddTrustedIssuerRequest(
                trusted_issuer=trust_pb.TrustedIssuer(issuer=issuer, jwks=json.dumps(jwks))
            ),
            metadata=tenant.metadata,
        )

    async def trust_foreign(self, tenant: Tenant, issuer: ForeignIssuer) -> None:
        await self.trust_jwks(tenant, issuer.issuer, issuer.jwks())


def issuer_id(tenant: Tenant) -> str:
    """The `iss` the server writes into the tenant's SD-JWT VCs."""
    return f"{PUBLIC_URL}/issuers/{tenant.tenant_id}"


def status_list_uri(status_list_id: str) -> str:
    return f"{PUBLIC_URL}/status-lists/{status_list_id}"


def checks(response: pb.VerifyCredentialResponse) -> list[tuple[str, bool]]:
    return [(c.name, c.passed) for c in response.checks]


@contextlib.contextmanager
def server_process(
    folder: Path, *flags: str, tenants: Sequence[str] = ("Verifier", "Issuer")
) -> Iterator[ServerProcess]:
    """`eudi-connect serve` on a fresh SQLite file with `flags`; the tenants are created
    by `eudi-connect tenant create` first (which also makes the master key file). Starting
    processes is slow on a busy machine, so a test module shares one."""
    db = f"sqlite:///{folder / 'trust.db'}"
    made = {name: create_tenant(db, name) for name in tenants}
    process, address = start_server(db, "--public-url", PUBLIC_URL, "--sign-workers", "0", *flags)
    try:
        yield ServerProcess(
            db=db,
            address=address,
            tenants={n: Tenant(t["tenant_id"], t["api_key"]) for n, t in made.items()},
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@contextlib.asynccontextmanager
async def connected(address: str, tenants: dict[str, Tenant]) -> AsyncIterator[Served]:
    async with grpc.aio.insecure_channel(address) as channel:
        yield Served(channel, tenants)


def write_issuer_ca(folder: Path) -> tuple[str, str, x509.Certificate]:
    """An IACA-style CA as the PEM files `--issuer-ca-cert` / `--issuer-ca-key` take."""
    key = generate_p256_key()
    certificate = make_certificate("EUDI-Connect Test IACA", key, ca=True)
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path), certificate
