"""Presentation requests through a real server: created over gRPC, the signed request
object fetched by a wallet over HTTP, the verifier identity, and the creation refusals."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk

from eudi_connect.services.app import Services
from tests.integration.oid4vci.issuer_processes import IssuerProcess, new_tenant
from tests.integration.template_helpers import expect_error

from .verifier_client import (
    PID_QUERY,
    Presentations,
    jws_parts,
    request_parameters,
    state_name,
    verify_with_jwcrypto,
)

REQUEST_OBJECT_TYPE = "application/oauth-authz-req+jwt"


def leaf_of(header: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))


def public_jwk_of(certificate: x509.Certificate) -> dict[str, Any]:
    exported = jwk.JWK.from_pyca(certificate.public_key()).export_public(as_dict=True)
    return dict(exported)


async def fetch(session: aiohttp.ClientSession, uri: str, **form: str) -> tuple[int, str, str]:
    if form:
        async with session.post(uri, data=form) as response:
            return response.status, response.content_type, await response.text()
    async with session.get(uri) as response:
        return response.status, response.content_type, await response.text()


async def test_the_request_object_is_signed_for_the_client_id_its_certificate_names(
    presentations: Presentations, session: aiohttp.ClientSession, verifier: IssuerProcess
) -> None:
    """The wallet's GET returns a JWS of typ oauth-authz-req+jwt whose x5c leaf names the
    x509_san_dns client id, verifiable by jwcrypto, holding the whole request."""
    created = (await presentations.create()).transaction
    assert state_name(created) == "PENDING"
    parameters = request_parameters(created.authorization_request_uri)
    assert parameters == {"client_id": created.client_id, "request_uri": created.request_uri}
    assert created.client_id == "x509_san_dns:127.0.0.1"
    status, content_type, token = await fetch(session, created.request_uri)
    assert (status, content_type) == (200, REQUEST_OBJECT_TYPE)
    header, _ = jws_parts(token)
    assert header["typ"] == "oauth-authz-req+jwt"
    assert header["alg"] == "ES256"
    leaf = leaf_of(header)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["127.0.0.1"]
    claims = verify_with_jwcrypto(token, public_jwk_of(leaf))
    assert claims["client_id"] == created.client_id
    assert claims["response_type"] == "vp_token"
    assert claims["response_mode"] == "direct_post.jwt"
    assert urlsplit(claims["response_uri"]).netloc == verifier.netloc
    assert claims["aud"] == "https://self-issued.me/v2"
    assert claims["dcql_query"] == json.loads(created.dcql_query_json)
    assert claims["dcql_query"]["credentials"][0]["id"] == "pid"
    assert len(claims["nonce"]) >= 22
    assert len(claims["state"]) >= 22
    assert claims["exp"] == created.expires_at.seconds
    assert claims["iat"] <= claims["exp"]
    metadata = claims["client_metadata"]
    (key,) = metadata["jwks"]["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ECDH-ES", "enc")
    assert "d" not in key
    assert metadata["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert set(metadata["vp_formats_supported"]) == {"dc+sd-jwt", "mso_mdoc"}
    assert state_name(await presentations.get(created.transaction_id)) == "RETRIEVED"


async def test_an_x509_hash_client_id_is_the_hash_of_the_leaf(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """With x509_hash the client id is the base64url SHA-256 of the x5c leaf's DER."""
    created = (await presentations.create(client_id_prefix="x509_hash")).transaction
    _, _, token = await fetch(session, created.request_uri)
    header, payload = jws_parts(token)
    digest = hashlib.sha256(base64.b64decode(header["x5c"][0])).digest()
    expected = "x509_hash:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert created.client_id == payload["client_id"] == expected


async def test_the_verifier_identity_is_published_over_grpc_and_http(
    presentations: Presentations, session: aiohttp.ClientSession, verifier: IssuerProcess
) -> None:
    """GetVerifierIdentity names the DNS name, both client ids and the certificate the
    HTTP listener publishes next to the issuer certificates."""
    identity = await presentations.identity()
    assert identity.dns_name == "127.0.0.1"
    leaf = x509.load_pem_x509_certificate(identity.certificate_chain_pem.encode())
    der = leaf.public_bytes(serialization.Encoding.DER)
    digest = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert list(identity.client_ids) == ["x509_san_dns:127.0.0.1", f"x509_hash:{digest}"]
    url = f"{verifier.public_url}/verifiers/{presentations.tenant.tenant_id}/certificates.pem"
    async with session.get(url) as response:
        assert response.status == 200
        assert await response.text() == identity.certificate_chain_pem


async def test_creation_is_idempotent_on_the_request_id(presentations: Presentations) -> None:
    """The same request_id returns the same transaction, nonce and all."""
    first = (await presentations.create(request_id="order-1")).transaction
    again = (await presentations.create(request_id="order-1")).transaction
    assert again.transaction_id == first.transaction_id
    other = (await presentations.create(request_id="order-2")).transaction
    assert other.transaction_id != first.transaction_id


async def test_bad_requests_are_refused_with_a_reason(presentations: Presentations) -> None:
    """Invalid DCQL, NaN in the JSON text, unknown prefixes and modes, and lifetimes out
    of bounds are INVALID_ARGUMENT with their reasons."""
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await expect_error(presentations.create({"credentials": []}), invalid, "DCQL_INVALID")
    nan = json.dumps(PID_QUERY).replace('"claims"', '"x": NaN, "claims"')
    await expect_error(presentations.create(nan), invalid, "DCQL_INVALID")
    await expect_error(presentations.create("{"), invalid, "DCQL_INVALID")
    await expect_error(
        presentations.create(client_id_prefix="redirect_uri"), invalid, "CLIENT_ID_PREFIX_INVALID"
    )
    await expect_error(
        presentations.create(response_mode="query"), invalid, "RESPONSE_MODE_INVALID"
    )
    await expect_error(
        presentations.create(lifetime_seconds=3601), invalid, "PRESENTATION_LIFETIME_INVALID"
    )
    await expect_error(
        presentations.create(lifetime_seconds=-1), invalid, "PRESENTATION_LIFETIME_INVALID"
    )
    await expect_error(
        presentations.create(redirect_uri="http://rp.example/done"), invalid, "REDIRECT_URI_INVALID"
    )
    await expect_error(
        presentations.create(request_uri_method="put"), invalid, "REQUEST_URI_METHOD_INVALID"
    )
    await expect_error(
        presentations.create(transaction_data_json=['{"type": "x", "credential_ids": ["nope"]}']),
        invalid,
        "TRANSACTION_DATA_INVALID",
    )
    await expect_error(presentations.create(response_mode="dc_api.jwt"), invalid, "REQUEST_INVALID")


async def test_another_tenants_transaction_is_not_found(
    presentations: Presentations, channel: grpc.aio.Channel, local: Services
) -> None:
    """A transaction id of one tenant is NOT_FOUND for another."""
    created = (await presentations.create()).transaction
    other = Presentations(channel, await new_tenant(local, "Other Verifier"))
    await expect_error(
        other.get(created.transaction_id), grpc.StatusCode.NOT_FOUND, "PRESENTATION_NOT_FOUND"
    )


async def test_a_wallet_posting_its_metadata_gets_the_encryption_it_supports(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """request_uri_method=post: the POSTed wallet_metadata narrows the advertised enc
    values and the wallet_nonce comes back in the request object."""
    created = (await presentations.create(request_uri_method="post")).transaction
    assert request_parameters(created.authorization_request_uri)["request_uri_method"] == "post"
    metadata = json.dumps({"authorization_encryption_enc_values_supported": ["A256GCM"]})
    status, content_type, token = await fetch(
        session, created.request_uri, wallet_metadata=metadata, wallet_nonce="wn-1"
    )
    assert (status, content_type) == (200, REQUEST_OBJECT_TYPE)
    _, claims = jws_parts(token)
    assert claims["wallet_nonce"] == "wn-1"
    assert claims["client_metadata"]["encrypted_response_enc_values_supported"] == ["A256GCM"]


async def test_a_post_to_a_get_request_uri_is_refused(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """Without request_uri_method=post a POST is invalid_request_uri_method (HTTP 400)."""
    created = (await presentations.create()).transaction
    async with session.post(created.request_uri, data={"wallet_nonce": "x"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request_uri_method"


async def test_the_dc_api_request_object_is_returned_directly(
    presentations: Presentations,
) -> None:
    """dc_api.jwt returns the signed request (with expected_origins, no response_uri or
    state) and the navigator.credentials.get request; there is no request URI."""
    created = await presentations.create(
        response_mode="dc_api.jwt", expected_origins=["https://rp.example"]
    )
    assert created.transaction.authorization_request_uri == ""
    assert created.transaction.request_uri == ""
    header, claims = jws_parts(created.request_object)
    verify_with_jwcrypto(created.request_object, public_jwk_of(leaf_of(header)))
    assert claims["response_mode"] == "dc_api.jwt"
    assert claims["expected_origins"] == ["https://rp.example"]
    assert "response_uri" not in claims
    assert "state" not in claims
    request = json.loads(created.dc_api_request_json)
    assert request == {
        "protocol": "openid4vp-v1-signed",
        "data": {"request": created.request_object},
    }
