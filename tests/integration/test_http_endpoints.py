"""The public HTTP endpoints, fetched over real HTTP from a server whose --public-url points
at them: status lists, JWT VC issuer metadata, JWKS, health and metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.http_endpoints import STATUS_LIST_MEDIA_TYPE, well_known_issuer_path
from eudi_connect.core.jose import public_key_from_jwk, split_jws
from eudi_connect.core.status_list import TokenStatus, decode_status_list_token
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import Services
from eudi_connect.services.settings import ServiceSettings

from .conftest import Tenant
from .observed import Observed, observed_server
from .processes import free_port

BASE_PATH = "/eudi"


@pytest.fixture
def http_port() -> int:
    return free_port()


@pytest.fixture
def settings(http_port: int) -> ServiceSettings:
    """Credentials point at this test's HTTP server, under a base path."""
    return ServiceSettings(
        public_url=f"http://127.0.0.1:{http_port}{BASE_PATH}/",
        status_list_size=1024,
        status_lease_size=16,
    )


@pytest.fixture
async def observed(services: Services, http_port: int) -> AsyncIterator[Observed]:
    # One port for the public endpoints and /metrics.
    async with observed_server(services, http_port=http_port, metrics_port=http_port) as running:
        yield running


@pytest.fixture
async def stub(observed: Observed) -> AsyncIterator[pb_grpc.CredentialServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{observed.running.port}") as channel:
        yield pb_grpc.CredentialServiceStub(channel)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def issue(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> pb.IssueCredentialResponse:
    request = pb.IssueCredentialRequest(
        template_id="pid", subject=dict_to_struct(dict(PID_EXAMPLE_SUBJECT))
    )
    response: pb.IssueCredentialResponse = await stub.IssueCredential(
        request, metadata=tenant.metadata
    )
    return response


def issuer_jwt(credential: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = split_jws(credential.split("~")[0])
    return parts.header, parts.payload


async def get_json(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        body: dict[str, Any] = await response.json()
        return body


async def test_status_uri_in_credential_resolves_to_the_token(
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    http: aiohttp.ClientSession,
    settings: ServiceSettings,
) -> None:
    """The status list URI in an issued credential serves the token GetStatusList returns."""
    issued = await issue(stub, tenant)
    _, payload = issuer_jwt(issued.credential)
    uri = payload["status"]["status_list"]["uri"]
    assert uri == settings.status_list_uri(issued.status_list_id)
    async with http.get(uri) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == STATUS_LIST_MEDIA_TYPE
        assert response.headers["Cache-Control"] == (
            f"public, max-age={settings.status_list_ttl_seconds}"
        )
        assert response.headers["ETag"]
        token = await response.text()
    via_grpc = await stub.GetStatusList(
        pb.GetStatusListRequest(status_list_id=issued.status_list_id), metadata=tenant.metadata
    )
    assert token == via_grpc.token
    assert via_grpc.uri == uri


async def test_status_list_decodes_with_the_published_key_and_shows_revocation(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """A verifier's path: the token decodes with the key from the issuer metadata, and a
    revocation shows at the credential's index."""
    issued = await issue(stub, tenant)
    header, payload = issuer_jwt(issued.credential)
    await stub.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id), metadata=tenant.metadata
    )
    metadata = await get_json(http, well_known_url(payload["iss"]))
    keys = {key["kid"]: key for key in metadata["jwks"]["keys"]}
    uri = payload["status"]["status_list"]["uri"]
    async with http.get(uri) as response:
        token = await response.text()
    decoded = decode_status_list_token(
        token,
        public_key=public_key_from_jwk(keys[split_jws(token).header["kid"]]),
        expected_uri=uri,
    )
    index = payload["status"]["status_list"]["idx"]
    assert decoded.status_list.get(index) == TokenStatus.INVALID
    assert header["kid"] in keys


async def test_status_list_etag_gives_not_modified(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """A conditional GET with the ETag just served answers 304 without a body."""
    issued = await issue(stub, tenant)
    uri = issuer_jwt(issued.credential)[1]["status"]["status_list"]["uri"]
    async with http.get(uri) as response:
        etag = response.headers["ETag"]
    async with http.get(uri, headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert response.headers["ETag"] == etag
        assert await response.read() == b""
    async with http.get(uri, headers={"If-None-Match": '"other"'}) as response:
        assert response.status == 200


async def test_unknown_status_list_is_404(observed: Observed, http: aiohttp.ClientSession) -> None:
    """An unknown status list id is 404 and not cacheable."""
    async with http.get(f"{observed.http_url}{BASE_PATH}/status-lists/{'0' * 32}") as response:
        assert response.status == 404
        assert response.headers["Cache-Control"] == "no-store"


def well_known_url(issuer: str) -> str:
    origin = issuer[: issuer.index("/", len("http://"))]
    return origin + well_known_issuer_path(issuer)


async def test_issuer_metadata_at_well_known_path_lists_the_signing_kid(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """The JWT VC issuer metadata sits where the draft puts it for the credential's iss,
    names that iss, and its JWKS holds the kid in the credential's header."""
    issued = await issue(stub, tenant)
    header, payload = issuer_jwt(issued.credential)
    url = well_known_url(payload["iss"])
    assert url.endswith(f"/.well-known/jwt-vc-issuer{BASE_PATH}/issuers/{tenant.tenant_id}")
    metadata = await get_json(http, url)
    assert metadata["issuer"] == payload["iss"]
    assert "jwks_uri" not in metadata
    assert header["kid"] in {key["kid"] for key in metadata["jwks"]["keys"]}
    assert all("d" not in key for key in metadata["jwks"]["keys"])


async def test_jwks_json_matches_grpc_keys(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """/issuers/{tenant}/jwks.json is the tenant's key set, as GetIssuerKeys gives it."""
    issued = await issue(stub, tenant)
    issuer = issuer_jwt(issued.credential)[1]["iss"]
    jwks = await get_json(http, f"{issuer}/jwks.json")
    via_grpc = await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)
    assert jwks == json.loads(via_grpc.jwks)


async def test_certificates_pem_matches_grpc_and_the_key(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """/issuers/{tenant}/certificates.pem is the PEM bundle of GetIssuerKeys' certificates,
    and the certificate holds the key that signed the credential."""
    issued = await issue(stub, tenant)
    header, payload = issuer_jwt(issued.credential)
    async with http.get(f"{payload['iss']}/certificates.pem") as response:
        assert response.status == 200
        assert response.content_type == "application/pem-certificate-chain"
        pem = await response.read()
    certificates = x509.load_pem_x509_certificates(pem)
    via_grpc = await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)
    assert [c.public_bytes(serialization.Encoding.DER) for c in certificates] == list(
        via_grpc.certificates
    )
    jwks = json.loads(via_grpc.jwks)
    signer = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert certificates[0].public_key() == public_key_from_jwk(signer)


async def test_tenants_without_keys_are_404_and_get_none_created(
    observed: Observed, tenant: Tenant, services: Services, http: aiohttp.ClientSession
) -> None:
    """Unknown tenants, and tenants that never issued, are 404; a GET creates no key."""
    for tenant_id in ("f" * 32, tenant.tenant_id):
        issuer = f"{observed.http_url}{BASE_PATH}/issuers/{tenant_id}"
        for url in (well_known_url(issuer), issuer + "/jwks.json", issuer + "/certificates.pem"):
            async with http.get(url) as response:
                assert response.status == 404, url
    assert await services.store.list_issuer_keys(tenant.tenant_id) == []


async def test_healthz_answers_ok_then_503_when_shutting_down(
    observed: Observed, http: aiohttp.ClientSession
) -> None:
    """/healthz is 200 while the store answers and 503 once shutdown has begun."""
    async with http.get(observed.http_url + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
    assert observed.running.http is not None
    observed.running.http.begin_shutdown()
    async with http.get(observed.http_url + "/healthz") as response:
        assert response.status == 503


async def test_metrics_share_the_port_and_count_http_requests(
    observed: Observed, http: aiohttp.ClientSession
) -> None:
    """With one port for both, /metrics is served there and counts HTTP requests by route."""
    async with http.get(f"{observed.http_url}{BASE_PATH}/status-lists/nope") as response:
        assert response.status == 404
    async with http.get(observed.http_url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    route = f'operation="HTTP GET {BASE_PATH}/status-lists/{{status_list_id}}"'
    assert any(
        line.startswith("operation_count_total{")
        and route in line
        and 'http_response_status_code="404"' in line
        for line in text.splitlines()
    ), text


async def test_http_server_stops_with_the_grpc_server(
    services: Services, http: aiohttp.ClientSession
) -> None:
    """Stopping the server closes the HTTP listener too."""
    async with observed_server(services, http_port=0, metrics_port=None) as observed:
        url = observed.http_url + "/healthz"
        async with http.get(url) as response:
            assert response.status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(url):
            pass


def test_well_known_path_inserts_between_host_and_path() -> None:
    """The well-known segment goes before the issuer's path, trailing slash removed."""
    assert well_known_issuer_path("https://example.com") == "/.well-known/jwt-vc-issuer"
    assert (
        well_known_issuer_path("https://example.com/tenant/1234/")
        == "/.well-known/jwt-vc-issuer/tenant/1234"
    )
