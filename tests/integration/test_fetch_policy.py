"""Through a real server: a tenant's JWKS URL or a credential's status list URI at a
loopback or private address is not fetched (nothing reaches the local server), the answer
says so with a generic reason that reads the same for an open and a closed port, nothing
of a fetched body is echoed, and `serve --fetch-allow-network` opens a network."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import trust_service_pb2 as trust_pb
from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc

from eudi_connect.cli.main import build_parser
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.fetch import FetchSettings
from eudi_connect.services.settings import ServiceSettings
from tests.integration.client_helpers import add_trusted_issuer, verify_credential
from tests.integration.conftest import Tenant
from tests.integration.foreign_issuer import ForeignIssuer, LoopbackServer, start_loopback
from tests.integration.processes import CLI, create_tenant, start_server
from tests.integration.template_helpers import expect_error

FORBIDDEN_DETAIL = "FORBIDDEN_ADDRESS: the host is not at an address this service fetches from"
MARKER = "internal-secret-7f3a"


@pytest.fixture
def fetch_settings() -> FetchSettings:
    """The default address policy; plain http allowed so only the address decides."""
    return FetchSettings(allow_http_loopback=True, timeout_seconds=1.0, min_cache_seconds=1)


@pytest.fixture
async def services(
    db_url: str, settings: ServiceSettings, fetch_settings: FetchSettings
) -> AsyncIterator[Services]:
    opened = await open_services(
        db_url, settings, master_key=MasterKey.generate(), fetch=fetch_settings
    )
    yield opened
    await opened.close()


@pytest.fixture
async def http() -> AsyncIterator[LoopbackServer]:
    server, runner = await start_loopback()
    yield server
    await runner.cleanup()


@pytest.fixture
def trust(channel: grpc.aio.Channel) -> trust_grpc.TrustServiceStub:
    return trust_grpc.TrustServiceStub(channel)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "169.254.169.254", "10.0.0.1", "[::ffff:127.0.0.1]"]
)
async def test_a_jwks_uri_at_a_forbidden_ip_is_refused_when_added(
    host: str, trust: trust_grpc.TrustServiceStub, tenant: Tenant, http: LoopbackServer
) -> None:
    """An IP outside the policy is INVALID_ARGUMENT at once; nothing is contacted."""
    port = http.base_url.rsplit(":", 1)[1]
    await expect_error(
        add_trusted_issuer(
            trust, tenant, "https://ssrf.example", jwks_uri=f"https://{host}:{port}/jwks.json"
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "JWKS_URI_INVALID",
    )
    assert http.hits == {}


async def test_a_jwks_uri_naming_loopback_is_refused_and_never_fetched(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    other_tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """`localhost` resolves to loopback: ISSUER_KEYS_UNAVAILABLE, FORBIDDEN_ADDRESS, no
    request at the server, and the same words for a port where nothing listens."""
    issuer = ForeignIssuer.new("https://jwks-url.example")
    served = http.serve("/jwks.json", json.dumps(issuer.jwks()), content_type="application/json")
    open_url = served.replace("127.0.0.1", "localhost")
    closed_url = f"http://localhost:{_closed_port()}/jwks.json"
    details = []
    for who, url in ((tenant, open_url), (other_tenant, closed_url)):
        await add_trusted_issuer(trust, who, issuer.issuer, jwks_uri=url)
        response = await verify_credential(stub, who, issuer.credential())
        assert response.failure == pb.VERIFICATION_FAILURE_ISSUER_KEYS_UNAVAILABLE
        assert FORBIDDEN_DETAIL in response.detail
        details.append(response.detail.replace(url, "URL"))
    assert details[0] == details[1]
    assert http.hits == {}


async def test_a_status_list_at_a_forbidden_address_reads_the_same_open_or_closed(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """Status list URIs by IP and by name, open port and closed: one reason, one detail,
    and the server that listens gets no request."""
    issuer = ForeignIssuer.new()
    await add_trusted_issuer(trust, tenant, issuer.issuer, jwks=issuer.jwks())
    served = http.serve("/lists/a", "")
    http.serve("/lists/a", issuer.status_list_token(served, {}))
    closed = f"http://127.0.0.1:{_closed_port()}/lists/a"
    uris = [served, closed, served.replace("127.0.0.1", "localhost")]
    answers = set()
    for uri in uris:
        credential = issuer.credential(status=StatusReference(uri, 3))
        response = await verify_credential(stub, tenant, credential)
        answers.add((response.failure, response.checks[-1].name, response.detail))
    unreachable = pb.VERIFICATION_FAILURE_STATUS_LIST_UNREACHABLE
    assert answers == {(unreachable, "status", FORBIDDEN_DETAIL)}
    assert http.hits == {}


class TestWithLoopbackAllowed:
    """The operator allows 127.0.0.0/8: the same URLs are fetched, and what comes back
    stays out of the tenant's answer when it is unusable."""

    @pytest.fixture
    def fetch_settings(self) -> FetchSettings:
        return FetchSettings(
            allow_http_loopback=True,
            timeout_seconds=1.0,
            min_cache_seconds=1,
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        )

    async def test_an_allowed_jwks_uri_is_fetched_and_verifies(
        self,
        stub: pb_grpc.CredentialServiceStub,
        trust: trust_grpc.TrustServiceStub,
        tenant: Tenant,
        http: LoopbackServer,
    ) -> None:
        """The same localhost URL that was refused by default is fetched once allowed."""
        issuer = ForeignIssuer.new("https://jwks-url.example")
        url = http.serve("/jwks.json", json.dumps(issuer.jwks()), content_type="application/json")
        await add_trusted_issuer(
            trust, tenant, issuer.issuer, jwks_uri=url.replace("127.0.0.1", "localhost")
        )
        response = await verify_credential(stub, tenant, issuer.credential())
        assert response.valid, response.detail
        assert http.hits == {"/jwks.json": 1}

    async def test_an_unusable_jwks_body_is_not_echoed(
        self,
        stub: pb_grpc.CredentialServiceStub,
        trust: trust_grpc.TrustServiceStub,
        tenant: Tenant,
        http: LoopbackServer,
    ) -> None:
        """A body whose values a parser would quote (a duplicated kid, broken JSON) gives
        ISSUER_KEYS_UNAVAILABLE with a generic detail."""
        issuer = ForeignIssuer.new("https://echo.example")
        key = {**issuer.key.public_jwk(), "kid": MARKER}
        bodies = {
            "/dup.json": json.dumps({"keys": [key, key]}),
            "/broken.json": '{"keys": [' + json.dumps(MARKER),
            "/error.json": None,
        }
        for path, body in bodies.items():
            if body is not None:
                http.serve(path, body, content_type="application/json")
            else:
                http.serve(path, MARKER, status=500)
            await add_trusted_issuer(
                trust, tenant, f"https://echo.example{path}", jwks_uri=http.base_url + path
            )
            credential = ForeignIssuer(f"https://echo.example{path}", issuer.key).credential()
            response = await verify_credential(stub, tenant, credential)
            assert response.failure == pb.VERIFICATION_FAILURE_ISSUER_KEYS_UNAVAILABLE
            assert MARKER not in response.detail, response.detail
            assert "500" not in response.detail.replace(http.base_url, "")
        assert all(http.hits[path] == 1 for path in bodies)


# --- the serve flag and its environment variable -------------------------------------------


class ConnectionCounter:
    """A TCP listener on 127.0.0.1 that counts connections and hangs up on them."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> ConnectionCounter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@contextlib.contextmanager
def _serving(db: str, *extra: str) -> Iterator[str]:
    process, address = start_server(db, "--sign-workers", "0", *extra)
    try:
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


async def _jwks_detail(address: str, api_key: str, issuer_id: str, jwks_uri: str) -> str:
    """Trusts an issuer by `jwks_uri` on the served process and verifies one of its
    credentials; returns the detail of the ISSUER_KEYS_UNAVAILABLE it must answer."""
    metadata = (("x-api-key", api_key),)
    issuer = ForeignIssuer.new(issuer_id)
    async with grpc.aio.insecure_channel(address) as channel:
        await trust_grpc.TrustServiceStub(channel).AddTrustedIssuer(
            trust_pb.AddTrustedIssuerRequest(
                trusted_issuer=trust_pb.TrustedIssuer(issuer=issuer.issuer, jwks_uri=jwks_uri)
            ),
            metadata=metadata,
        )
        response = await pb_grpc.CredentialServiceStub(channel).VerifyCredential(
            pb.VerifyCredentialRequest(credential=issuer.credential()), metadata=metadata
        )
    assert response.failure == pb.VERIFICATION_FAILURE_ISSUER_KEYS_UNAVAILABLE
    detail: str = response.detail
    return detail


@pytest.mark.slow
async def test_serve_fetches_from_loopback_only_when_the_operator_allows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` alone never connects to https://localhost; with --fetch-allow-network
    127.0.0.0/8, or the same in EUDI_CONNECT_FETCH_ALLOW_NETWORKS, it does (the listener
    hangs up, so the keys stay unavailable, but not as FORBIDDEN_ADDRESS)."""
    monkeypatch.delenv("EUDI_CONNECT_FETCH_ALLOW_NETWORKS", raising=False)
    runs: list[tuple[tuple[str, ...], dict[str, str]]] = [
        ((), {}),
        (("--fetch-allow-network", "127.0.0.0/8"), {}),
    ]
    runs.append(((), {"EUDI_CONNECT_FETCH_ALLOW_NETWORKS": "10.0.0.0/8, 127.0.0.0/8"}))
    db = f"sqlite:///{tmp_path / 'flag.db'}"
    tenant = create_tenant(db, "Flagged")
    for number, (flags, env) in enumerate(runs):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        async with ConnectionCounter() as counter:
            with _serving(db, *flags) as address:
                url = f"https://localhost:{counter.port}/jwks.json"
                issuer = f"https://flag{number}.example"
                detail = await _jwks_detail(address, tenant["api_key"], issuer, url)
        if number == 0:
            assert FORBIDDEN_DETAIL in detail
            assert counter.connections == 0
        else:
            assert "FORBIDDEN_ADDRESS" not in detail, detail
            assert counter.connections >= 1


@pytest.mark.parametrize("value", ["10.1.2.3/8", "intranet", "::1/200"])
def test_a_mistyped_network_flag_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Host bits, a name or a bad prefix instead of a network: usage error naming it."""
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["serve", "--fetch-allow-network", value])
    assert raised.value.code == 2
    assert f"--fetch-allow-network: {value!r} is not an IP network" in capsys.readouterr().err


def test_a_mistyped_network_in_the_environment_stops_serve_before_it_starts(
    tmp_path: Path,
) -> None:
    """EUDI_CONNECT_FETCH_ALLOW_NETWORKS with one bad entry: serve exits naming it."""
    completed = subprocess.run(
        [*CLI, "serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EUDI_CONNECT_FETCH_ALLOW_NETWORKS": "10.0.0.0/8,not-a-net"},
    )
    assert completed.returncode == 1
    assert "EUDI_CONNECT_FETCH_ALLOW_NETWORKS: 'not-a-net' is not an IP network" in (
        completed.stderr
    )
    assert "READY" not in completed.stdout
