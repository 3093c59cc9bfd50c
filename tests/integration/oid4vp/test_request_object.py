"""The signed request object as any wallet meets it, checked without the test wallet's own
logic: jwcrypto and pyca/cryptography verify its signature with the key of the certificate
the tenant publishes (GetVerifierIdentity), and its header and claims are those OpenID4VP
1.0 §5 and RFC 9101 require."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from tests.integration.oid4vci.issuer_processes import IssuerProcess
from tests.wallet import load_pem_certificates
from tests.wallet.authorization_request import wallet_metadata_json
from tests.wallet.encoding import b64url_decode

from .verifier_helpers import Presentations, dcql, mdoc_query, sd_jwt_query

SELF_ISSUED = "https://self-issued.me/v2"


async def _fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url, headers={"Accept": "application/oauth-authz-req+jwt"}) as reply:
        return reply.status, reply.headers.get("Content-Type", ""), await reply.text()


async def test_the_request_object_verifies_against_the_published_certificate(
    presentations: Presentations, session: aiohttp.ClientSession, issuer: IssuerProcess
) -> None:
    """jwcrypto and a raw ECDSA check both verify the JWS with the certificate's key; x5c
    carries that certificate; the claims are the request's, with an encryption key."""
    identity = await presentations.identity()
    [leaf, *_rest] = load_pem_certificates(identity.certificate_chain_pem)
    query = dcql(sd_jwt_query(), mdoc_query())
    created = await presentations.create(query)
    transaction = created.transaction
    link = parse_qs(urlsplit(transaction.authorization_request_uri).query)
    assert link["client_id"] == [transaction.client_id]
    assert link["request_uri"] == [transaction.request_uri]
    assert transaction.request_uri.startswith(issuer.public_url)
    status, content_type, token = await _fetch(session, transaction.request_uri)
    assert status == 200, token
    assert content_type.split(";")[0] == "application/oauth-authz-req+jwt"

    public_key = leaf.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    jws = JWS()
    jws.deserialize(token)
    jws.verify(JWK.from_pyca(public_key))
    header, payload, signature = token.split(".")
    raw = b64url_decode(signature)
    half = len(raw) // 2
    der_signature = encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )
    public_key.verify(der_signature, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))

    protected = json.loads(b64url_decode(header))
    assert protected["typ"] == "oauth-authz-req+jwt"
    assert protected["alg"] == "ES256"
    assert base64.b64decode(protected["x5c"][0]) == leaf.public_bytes(Encoding.DER)
    claims = json.loads(b64url_decode(payload))
    assert claims["client_id"] == transaction.client_id
    assert transaction.client_id == f"x509_san_dns:{identity.dns_name}"
    assert transaction.client_id in identity.client_ids
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert identity.dns_name in san.get_values_for_type(x509.DNSName)
    assert claims["response_type"] == "vp_token"
    assert claims["response_mode"] == "direct_post.jwt"
    assert claims["response_uri"].startswith(issuer.public_url)
    assert "redirect_uri" not in claims
    assert claims["dcql_query"] == json.loads(query)
    assert len(claims["nonce"]) >= 16
    assert claims["state"]
    metadata = claims["client_metadata"]
    [encryption_key] = [k for k in metadata["jwks"]["keys"] if k.get("use", "enc") == "enc"]
    assert encryption_key["kty"] == "EC"
    assert encryption_key["crv"] == "P-256"
    assert encryption_key["alg"] == "ECDH-ES"
    assert "d" not in encryption_key
    assert set(metadata["vp_formats_supported"]) >= {"dc+sd-jwt", "mso_mdoc"}


async def test_each_transaction_has_its_own_nonce_state_and_key(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """Two requests: different nonces, states and request URIs."""
    tokens = []
    for _ in range(2):
        created = await presentations.create(dcql(sd_jwt_query()))
        status, _type, token = await _fetch(session, created.transaction.request_uri)
        assert status == 200
        tokens.append(json.loads(b64url_decode(token.split(".")[1])))
    first, second = tokens
    assert first["nonce"] != second["nonce"]
    assert first["state"] != second["state"]
    assert first["response_uri"] != second["response_uri"] or first["state"] != second["state"]


async def test_the_request_object_audience_with_static_discovery(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """§5.8: aud is https://self-issued.me/v2 when the verifier knows nothing of the wallet
    (a GET of the request URI)."""
    created = await presentations.create(dcql(sd_jwt_query()))
    status, _type, token = await _fetch(session, created.transaction.request_uri)
    assert status == 200, token
    assert json.loads(b64url_decode(token.split(".")[1]))["aud"] == SELF_ISSUED


async def test_the_request_object_audience_with_dynamic_discovery(
    presentations: Presentations, session: aiohttp.ClientSession
) -> None:
    """§5.8: aud is the wallet's `issuer` when it posted wallet metadata naming one, and
    the wallet_nonce is echoed."""
    posted = await presentations.create(dcql(sd_jwt_query()), request_uri_method="post")
    metadata = json.loads(wallet_metadata_json())
    metadata["issuer"] = "https://wallet.example"
    form = {"wallet_metadata": json.dumps(metadata), "wallet_nonce": "wn-1"}
    async with session.post(posted.transaction.request_uri, data=form) as reply:
        assert reply.status == 200, await reply.text()
        claims = json.loads(b64url_decode((await reply.text()).split(".")[1]))
    assert claims["aud"] == "https://wallet.example"
    assert claims["wallet_nonce"] == "wn-1"
