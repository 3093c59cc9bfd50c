"""The issuer as wallets meet it: `eudi-connect serve` processes whose HTTP listener is
their `--public-url http://127.0.0.1:<port>`, the gRPC OfferService an internal service
drives, and the test wallet (`tests.wallet`) pointed at them.

Each process gets the master key and, for attestation status lists served over https by a
test wallet provider, `SSL_CERT_FILE` naming a test CA and the loopback networks in
`EUDI_CONNECT_FETCH_ALLOW_NETWORKS` (the operator's allow-list of foreign fetches).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eudi.connect.v1 import offer_service_pb2 as opb
from eudi.connect.v1 import offer_service_pb2_grpc as opb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.jose import generate_p256_key
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import Services, open_services
from tests.integration.conftest import Tenant
from tests.integration.foreign_issuer import make_certificate
from tests.integration.processes import CLI, free_port
from tests.wallet import (
    AuthorizationServerMetadata,
    CredentialOffer,
    CredentialReply,
    IssuerMetadata,
    KeyPair,
    TokenReply,
    Wallet,
    load_pem_certificates,
)

#: What the fetcher may reach besides public addresses: the test provider on loopback.
FETCH_ALLOW_NETWORKS = "127.0.0.0/8,::1/128"
PROVIDER_HOST = "localhost"


@dataclass
class ProviderTls:
    """A TLS CA the server processes trust (SSL_CERT_FILE) and a server context under it."""

    ca_file: Path
    server_context: ssl.SSLContext


def make_provider_tls(folder: Path, host: str = PROVIDER_HOST) -> ProviderTls:
    ca_key, host_key = generate_p256_key(), generate_p256_key()
    ca = make_certificate("Wallet Test TLS CA", ca_key, ca=True)
    leaf = make_certificate("tls", host_key, issuer=ca, issuer_key=ca_key, dns_name=host)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "tls.pem", folder / "tls.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        host_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return ProviderTls(ca_file, context)


@dataclass
class IssuerProcess:
    process: subprocess.Popen[str]
    grpc_address: str
    http_port: int
    public_url: str
    log: Path

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def issuer_url(self, tenant: Tenant) -> str:
        return f"{self.public_url}/issuers/{tenant.tenant_id}"


def server_env(master: MasterKey, ca: ProviderTls | None = None) -> dict[str, str]:
    env = {**os.environ, "EUDI_CONNECT_MASTER_KEY": master.to_text()}
    env["EUDI_CONNECT_FETCH_ALLOW_NETWORKS"] = FETCH_ALLOW_NETWORKS
    if ca is not None:
        env["SSL_CERT_FILE"] = str(ca.ca_file)
    return env


def start_issuer(
    db_url: str,
    *,
    env: Mapping[str, str],
    log: Path,
    public_url: str | None = None,
    extra: tuple[str, ...] = (),
    log_level: str = "WARNING",
) -> IssuerProcess:
    """`eudi-connect serve --port 0 --http-port P --public-url <public_url or its own>`;
    its log (`log_level`) goes to `log`."""
    http_port = free_port()
    url = public_url or f"http://127.0.0.1:{http_port}"
    command = [
        *CLI,
        "--log-level",
        log_level,
        "serve",
        "--port",
        "0",
        "--db",
        db_url,
        "--http-port",
        str(http_port),
        "--public-url",
        url,
        "--sign-workers",
        "0",
        "--grace",
        "5",
        *extra,
    ]
    with open(log, "ab") as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=dict(env),
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        raise AssertionError(f"no READY line ({line!r}); log:\n{log.read_text()[-3000:]}")
    return IssuerProcess(process, f"127.0.0.1:{line.split()[1]}", http_port, url, log)


def stop_issuer(issuer: IssuerProcess) -> int:
    """SIGTERM to this one process; its exit code."""
    issuer.process.send_signal(signal.SIGTERM)
    try:
        return issuer.process.wait(timeout=30)
    finally:
        if issuer.process.stdout is not None:
            issuer.process.stdout.close()


@contextmanager
def running_issuers(
    db_url: str,
    count: int = 1,
    *,
    ca: ProviderTls | None = None,
    extra: tuple[str, ...] = (),
    log_level: str = "WARNING",
) -> Iterator[tuple[list[IssuerProcess], MasterKey]]:
    """`count` server processes on one database and master key, all with the first one's
    public URL (one service behind one address); each checked to exit cleanly."""
    master = MasterKey.generate()
    env = server_env(master, ca)
    with tempfile.TemporaryDirectory(prefix="issuer-logs-") as name:
        log = Path(name) / "servers.log"
        started: list[IssuerProcess] = []
        try:
            for _ in range(count):
                public_url = started[0].public_url if started else None
                started.append(
                    start_issuer(
                        db_url,
                        env=env,
                        log=log,
                        public_url=public_url,
                        extra=extra,
                        log_level=log_level,
                    )
                )
            yield started, master
        finally:
            codes = [stop_issuer(issuer) for issuer in started]
            assert codes == [0] * len(started), log.read_text()[-3000:]


class Cluster:
    """Issuer processes on one database, with the master key they share."""

    def __init__(self, db_url: str, issuers: list[IssuerProcess], master: MasterKey) -> None:
        self.db_url = db_url
        self.issuers = issuers
        self.master = master

    @property
    def first(self) -> IssuerProcess:
        return self.issuers[0]


def sqlite_cluster(
    tmp_path_factory: pytest.TempPathFactory,
    *extra: str,
    count: int = 1,
    ca: ProviderTls | None = None,
) -> Iterator[Cluster]:
    """`count` processes on a new SQLite database, for a module (`extra`: serve flags;
    `ca`: the TLS CA they trust for wallet providers' status lists)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('wallet-db') / 'eudi.db'}"
    with running_issuers(db_url, count, ca=ca, extra=tuple(extra)) as (issuers, master):
        yield Cluster(db_url, issuers, master)


@asynccontextmanager
async def local_services(db_url: str, master: MasterKey) -> AsyncIterator[Services]:
    """An instance in the test's process: makes tenants, reads what the servers wrote."""
    services = await open_services(db_url, master_key=master)
    try:
        yield services
    finally:
        await services.close()


async def new_tenant(services: Services, name: str = "Wallet Issuer") -> Tenant:
    created = await services.tenants.create_tenant(name)
    return Tenant(created.tenant_id, created.api_key)


class Offers:
    """The OfferService as one tenant's internal service calls it."""

    def __init__(self, channel: grpc.aio.Channel, tenant: Tenant) -> None:
        self.stub = opb_grpc.OfferServiceStub(channel)
        self.tenant = tenant

    async def create(
        self,
        *,
        template: str = "pid",
        credential_format: str = "",
        subject: Mapping[str, Any] | None = PID_EXAMPLE_SUBJECT,
        deferred: bool = False,
        copies: int = 0,
        lifetime: int = 0,
        tx_code_length: int = 0,
        request_id: str = "",
    ) -> opb.CreateCredentialOfferResponse:
        request = opb.CreateCredentialOfferRequest(
            credentials=[opb.OfferedCredential(template_id=template, format=credential_format)],
            deferred=deferred,
            max_copies=copies,
            lifetime_seconds=lifetime,
            request_id=request_id,
        )
        if subject is not None and not deferred:
            request.subject.CopyFrom(dict_to_struct(dict(subject)))
        if tx_code_length:
            request.tx_code.CopyFrom(opb.TransactionCodePolicy(length=tx_code_length))
        response: opb.CreateCredentialOfferResponse = await self.stub.CreateCredentialOffer(
            request, metadata=self.tenant.metadata
        )
        return response

    async def get(self, offer_id: str) -> opb.CredentialOffer:
        response = await self.stub.GetCredentialOffer(
            opb.GetCredentialOfferRequest(offer_id=offer_id), metadata=self.tenant.metadata
        )
        offer: opb.CredentialOffer = response.offer
        return offer

    def watch(self, offer_id: str, *, timeout: float = 30.0) -> Any:
        return self.stub.WatchCredentialOffer(
            opb.WatchCredentialOfferRequest(offer_id=offer_id),
            metadata=self.tenant.metadata,
            timeout=timeout,
        )

    async def complete(
        self, offer_id: str, *, subject: Mapping[str, Any] | None = None, failure: str = ""
    ) -> opb.CredentialOffer:
        request = opb.CompleteDeferredOfferRequest(offer_id=offer_id)
        if subject is not None:
            request.subject.CopyFrom(dict_to_struct(dict(subject)))
        else:
            request.failure_reason = failure
        response = await self.stub.CompleteDeferredOffer(request, metadata=self.tenant.metadata)
        offer: opb.CredentialOffer = response.offer
        return offer

    async def set_policy(self, **fields: Any) -> opb.WalletPolicy:
        response = await self.stub.UpdateWalletPolicy(
            opb.UpdateWalletPolicyRequest(policy=opb.WalletPolicy(**fields)),
            metadata=self.tenant.metadata,
        )
        policy: opb.WalletPolicy = response.policy
        return policy

    async def policy(self) -> opb.WalletPolicy:
        response = await self.stub.GetWalletPolicy(
            opb.GetWalletPolicyRequest(), metadata=self.tenant.metadata
        )
        policy: opb.WalletPolicy = response.policy
        return policy


def wrong_code(code: str) -> str:
    """A transaction code of the same length that is not `code`."""
    return ("1" if code[0] != "1" else "2") + code[1:]


def state_name(offer: opb.CredentialOffer) -> str:
    return str(opb.OfferState.Name(offer.state)).removeprefix("OFFER_STATE_")


async def issuer_certificates(wallet: Wallet, issuer_url: str) -> list[x509.Certificate]:
    """The certificates the tenant publishes: the trust anchors of its mdocs."""
    async with wallet.session.get(f"{issuer_url}/certificates.pem") as response:
        assert response.status == 200, await response.text()
        return load_pem_certificates(await response.read())


@asynccontextmanager
async def wallet_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def raw_post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes | str,
    *,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any, Mapping[str, str]]:
    """A POST as a broken client sends it: (status, JSON body or None, headers)."""
    sent = {"Content-Type": content_type, **(headers or {})}
    async with session.post(url, data=body, headers=sent) as response:
        raw = await response.read()
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = None
        return response.status, document, dict(response.headers)


@dataclass
class Authorized:
    """A flow up to its access token: what the credential endpoint tests start from."""

    wallet: Wallet
    offer: CredentialOffer
    issuer: IssuerMetadata
    server: AuthorizationServerMetadata
    token: TokenReply

    @property
    def access_token(self) -> str:
        return self.token.access_token

    @property
    def configuration_id(self) -> str:
        return self.offer.credential_configuration_ids[0]

    async def c_nonce(self) -> str:
        reply = await self.wallet.nonce(self.issuer)
        assert reply.ok, reply.describe()
        return reply.c_nonce

    async def request(
        self, keys: Sequence[KeyPair] | None = None, **options: Any
    ) -> CredentialReply:
        """A credential request with a jwt proof per key (one new key by default) under a
        fresh c_nonce; `options` go to `Wallet.credential` (`proofs`, `body`, `dpop`)."""
        if "proofs" not in options and "body" not in options and "raw_body" not in options:
            proofs = self.wallet.jwt_proofs(
                self.issuer, keys or [KeyPair.generate()], await self.c_nonce()
            )
            options["proofs"] = proofs
        options.setdefault("configuration_id", self.configuration_id)
        return await self.wallet.credential(self.issuer, self.access_token, **options)


async def authorized(wallet: Wallet, offer_uri: str, *, tx_code: str | None = None) -> Authorized:
    offer = await wallet.resolve_offer(offer_uri)
    issuer, server = await wallet.discover(offer)
    assert offer.pre_authorized_code is not None
    token = await wallet.token(server, offer.pre_authorized_code, tx_code=tx_code)
    assert token.ok, token.describe()
    return Authorized(wallet, offer, issuer, server, token)
