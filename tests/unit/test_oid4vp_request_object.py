"""The signed request object: client identifiers from the verifier certificate, the claims
each response mode needs, the consistency checks, the JWS as the independent jwcrypto
library verifies it against the x5c leaf, the `openid4vp://` URI, and the wallet's POST to
the request URI with its metadata (the specification's example body).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import generate_p256_key
from eudi_connect.core.oid4vp import (
    REQUEST_OBJECT_TYP,
    AuthorizationRequest,
    ClientIdPrefix,
    ProtocolError,
    ResponseEncryptionKey,
    ResponseMode,
    VerifierIdentityError,
    authorization_request_uri,
    check_client_id,
    client_id_for,
    encode_transaction_data,
    negotiate_enc_values,
    parse_dcql,
    parse_request_uri_post,
    random_value,
    sign_request_object,
    split_client_id,
    x509_hash,
)
from eudi_connect.errors import InvalidArgumentError
from tests.unit import oid4vp_examples as examples

jwk_module: Any = pytest.importorskip("jwcrypto.jwk")
jws_module: Any = pytest.importorskip("jwcrypto.jws")

DNS = "client.example.org"
RESPONSE_URI = f"https://{DNS}/post"
QUERY = parse_dcql(examples.MULTI_CREDENTIALS)


def _certificate(key: ec.EllipticCurvePrivateKey, *dns: str) -> bytes:
    """A self-signed verifier certificate with the given dNSName SANs."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Verifier")])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]), critical=False
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def signer() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = generate_p256_key()
    return key, _certificate(key, DNS, "other.example.org")


@pytest.fixture(scope="module")
def encryption() -> ResponseEncryptionKey:
    return ResponseEncryptionKey.generate()


def _request(encryption: ResponseEncryptionKey, **changes: Any) -> AuthorizationRequest:
    fields: dict[str, Any] = {
        "client_id": f"x509_san_dns:{DNS}",
        "response_mode": ResponseMode.DIRECT_POST_JWT,
        "nonce": "n-0S6_WzA2Mj",
        "state": "eyJhb-6-sVA",
        "dcql_query": QUERY,
        "response_uri": RESPONSE_URI,
        "encryption_jwk": encryption.public_jwk(),
        "issued_at": 1_700_000_000,
        "expires_at": 1_700_000_300,
    }
    fields.update(changes)
    return AuthorizationRequest(**fields)


def test_client_ids_from_the_certificate(signer: tuple[Any, bytes]) -> None:
    """x509_hash is the base64url SHA-256 of the DER; x509_san_dns a dNSName SAN."""
    _, der = signer
    expected_hash = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert x509_hash(der) == expected_hash
    assert client_id_for(ClientIdPrefix.X509_HASH, der) == f"x509_hash:{expected_hash}"
    assert client_id_for(ClientIdPrefix.X509_SAN_DNS, der) == f"x509_san_dns:{DNS}"
    assert (
        client_id_for(ClientIdPrefix.X509_SAN_DNS, der, dns_name="other.example.org")
        == "x509_san_dns:other.example.org"
    )
    check_client_id(f"x509_hash:{expected_hash}", der)
    check_client_id("x509_san_dns:OTHER.example.org", der)


def test_client_id_refusals(signer: tuple[Any, bytes]) -> None:
    """A name the certificate lacks, a certificate without SANs, another hash, an unknown
    prefix and bytes that are no certificate are all refused."""
    key, der = signer
    with pytest.raises(VerifierIdentityError):
        client_id_for(ClientIdPrefix.X509_SAN_DNS, der, dns_name="evil.example")
    with pytest.raises(VerifierIdentityError):
        client_id_for(ClientIdPrefix.X509_SAN_DNS, _certificate(key))
    with pytest.raises(VerifierIdentityError):
        check_client_id(f"x509_hash:{x509_hash(b'other')}", der)
    with pytest.raises(VerifierIdentityError):
        check_client_id("x509_san_dns:evil.example", der)
    with pytest.raises(VerifierIdentityError):
        client_id_for(ClientIdPrefix.X509_HASH, b"not a certificate")
    for bad in ("redirect_uri:https://x", "x509_hash:", "plain"):
        with pytest.raises(InvalidArgumentError) as caught:
            split_client_id(bad)
        assert caught.value.reason == "CLIENT_ID_INVALID"


def test_direct_post_jwt_claims(encryption: ResponseEncryptionKey) -> None:
    """The request object holds what section 5 asks, with the encryption key, both AES-GCM
    sizes and the formats the verifier checks in client_metadata."""
    claims = _request(encryption).claims()
    assert claims["response_type"] == "vp_token"
    assert claims["response_mode"] == "direct_post.jwt"
    assert claims["client_id"] == f"x509_san_dns:{DNS}"
    assert claims["response_uri"] == RESPONSE_URI
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["state"] == "eyJhb-6-sVA"
    assert claims["aud"] == "https://self-issued.me/v2"
    assert claims["dcql_query"] == QUERY.to_json()
    metadata = claims["client_metadata"]
    assert metadata["jwks"] == {"keys": [encryption.public_jwk()]}
    assert metadata["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert metadata["vp_formats_supported"]["dc+sd-jwt"]["kb-jwt_alg_values"] == ["ES256"]
    assert metadata["vp_formats_supported"]["mso_mdoc"]["deviceauth_alg_values"] == [-7]
    assert "expected_origins" not in claims


def test_direct_post_has_no_encryption_metadata(encryption: ResponseEncryptionKey) -> None:
    """A plaintext direct_post request advertises no key and no enc values."""
    claims = _request(
        encryption, response_mode=ResponseMode.DIRECT_POST, encryption_jwk=None
    ).claims()
    assert set(claims["client_metadata"]) == {"vp_formats_supported"}


def test_dc_api_claims(encryption: ResponseEncryptionKey) -> None:
    """Over the DC API: expected_origins, no response_uri and no state (Appendix A.2)."""
    claims = _request(
        encryption,
        response_mode=ResponseMode.DC_API_JWT,
        response_uri=None,
        state=None,
        expected_origins=["https://verifier.example"],
    ).claims()
    assert claims["expected_origins"] == ["https://verifier.example"]
    assert "response_uri" not in claims
    assert "state" not in claims


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nonce": "has space"}, "REQUEST_INVALID"),
        ({"nonce": ""}, "REQUEST_INVALID"),
        ({"state": "a/b"}, "REQUEST_INVALID"),
        ({"encryption_jwk": None}, "REQUEST_INVALID"),
        ({"enc_values": ("A128CBC-HS256",)}, "REQUEST_INVALID"),
        ({"enc_values": ()}, "REQUEST_INVALID"),
        ({"response_uri": None}, "RESPONSE_URI_INVALID"),
        ({"response_uri": "ftp://client.example.org/post"}, "RESPONSE_URI_INVALID"),
        ({"response_uri": "https://evil.example/post"}, "RESPONSE_URI_INVALID"),
        ({"expected_origins": ["https://v.example"]}, "REQUEST_INVALID"),
        ({"response_mode": ResponseMode.DC_API_JWT, "response_uri": None}, "REQUEST_INVALID"),
        (
            {"response_mode": ResponseMode.DC_API, "response_uri": None, "state": None},
            "REQUEST_INVALID",
        ),
        (
            {
                "response_mode": ResponseMode.DC_API,
                "response_uri": None,
                "state": None,
                "expected_origins": ["https://v.example/path"],
            },
            "REQUEST_INVALID",
        ),
    ],
)
def test_inconsistent_requests_are_refused(
    encryption: ResponseEncryptionKey, changes: dict[str, Any], reason: str
) -> None:
    """Bad nonce or state characters, encryption without a key or with other algorithms,
    a response URI off the client's host, DC API parameters in the wrong mode."""
    with pytest.raises(InvalidArgumentError) as caught:
        _request(encryption, **changes).claims()
    assert caught.value.reason == reason


def test_private_encryption_key_is_never_advertised(encryption: ResponseEncryptionKey) -> None:
    """A JWK with its private part cannot go into client_metadata."""
    with pytest.raises(InvalidArgumentError):
        _request(encryption, encryption_jwk=encryption.private_jwk()).claims()


def test_x509_hash_allows_any_response_host(encryption: ResponseEncryptionKey) -> None:
    """The host rule belongs to x509_san_dns only."""
    claims = _request(
        encryption, client_id="x509_hash:abc", response_uri="https://127.0.0.1:8443/post"
    ).claims()
    assert claims["response_uri"] == "https://127.0.0.1:8443/post"


def test_transaction_data(encryption: ResponseEncryptionKey) -> None:
    """Entries naming key-bound credential queries pass; others are refused by name."""
    good = encode_transaction_data({"type": "payment", "credential_ids": ["pid"]})
    assert _request(encryption, transaction_data=[good]).claims()["transaction_data"] == [good]
    raw = json.loads(examples.MULTI_CREDENTIALS)
    raw["credentials"][0]["require_cryptographic_holder_binding"] = False
    unbound = parse_dcql(raw)
    for entries, query in (
        ([encode_transaction_data({"type": "payment", "credential_ids": ["nope"]})], QUERY),
        ([encode_transaction_data({"credential_ids": ["pid"]})], QUERY),
        ([encode_transaction_data({"type": "t", "credential_ids": []})], QUERY),
        (["not base64url!"], QUERY),
        ([b64url_encode(b"[1]")], QUERY),
        ([good], unbound),
    ):
        with pytest.raises(InvalidArgumentError) as caught:
            _request(encryption, transaction_data=entries, dcql_query=query).claims()
        assert caught.value.reason == "TRANSACTION_DATA_INVALID"


def test_signed_request_verifies_with_jwcrypto(
    signer: tuple[ec.EllipticCurvePrivateKey, bytes], encryption: ResponseEncryptionKey
) -> None:
    """jwcrypto verifies the JWS with the public key of the x5c leaf; typ, x5c and the
    payload are what the wallet expects."""
    key, der = signer
    request = _request(encryption)
    token = sign_request_object(request, key, [der])
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header["typ"] == REQUEST_OBJECT_TYP
    assert header["alg"] == "ES256"
    leaf_der = base64.b64decode(header["x5c"][0])
    assert leaf_der == der
    leaf_key = x509.load_der_x509_certificate(leaf_der).public_key()
    pem = leaf_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = jws_module.JWS()
    verifier.deserialize(token)
    verifier.verify(jwk_module.JWK.from_pem(pem), alg="ES256")
    assert json.loads(verifier.payload) == request.claims()
    check_client_id(request.client_id, leaf_der)


def test_signing_refuses_a_mismatched_identity(
    signer: tuple[ec.EllipticCurvePrivateKey, bytes], encryption: ResponseEncryptionKey
) -> None:
    """Another key than the certificate's, a client id the certificate does not name, or
    no certificate at all are refused before signing."""
    key, der = signer
    with pytest.raises(VerifierIdentityError):
        sign_request_object(_request(encryption), generate_p256_key(), [der])
    with pytest.raises(VerifierIdentityError):
        sign_request_object(
            _request(encryption, client_id="x509_hash:abc", response_uri=RESPONSE_URI), key, [der]
        )
    with pytest.raises(VerifierIdentityError):
        sign_request_object(_request(encryption), key, [])


def test_authorization_request_uri() -> None:
    """By reference, encoded as the specification's example (section 5.4)."""
    uri = authorization_request_uri(
        client_id="x509_san_dns:client.example.org",
        request_uri="https://client.example.org/request/vapof4ql2i7m41m68uep",
        request_uri_method_post=True,
    )
    assert uri == (
        "openid4vp://?client_id=x509_san_dns%3Aclient.example.org"
        "&request_uri=https%3A%2F%2Fclient.example.org%2Frequest%2Fvapof4ql2i7m41m68uep"
        "&request_uri_method=post"
    )
    other = authorization_request_uri(
        client_id="x509_hash:a", request_uri="https://v/r", base="https://wallet.example/?x=1"
    )
    assert (
        other
        == "https://wallet.example/?x=1&client_id=x509_hash%3Aa&request_uri=https%3A%2F%2Fv%2Fr"
    )


def test_random_values_are_url_safe_and_fresh() -> None:
    """nonce and state values are 43 URL-safe characters and differ each time."""
    first, second = random_value(), random_value()
    assert first != second
    assert len(first) == 43
    assert all(c.isalnum() or c in "-_" for c in first)


#: Section 5.10: the example body of the wallet's POST to the request URI.
SPEC_POST_BODY = (
    "wallet_metadata=%7B%22vp_formats_supported%22%3A%7B%22dc%2Bsd-jwt%22%3A%7B%22sd-jwt_a"
    "lg_values%22%3A%20%5B%22ES256%22%5D%2C%22kb-jwt_alg_values%22%3A%20%5B%22ES256%22%5D%"
    "7D%7D%7D&"
    "wallet_nonce=qPmxiNFCR3QTm19POc8u"
)


def test_request_uri_post_of_the_specification() -> None:
    """The example body gives its metadata and wallet nonce; the nonce goes into the object."""
    posted = parse_request_uri_post(dict(parse_qsl(SPEC_POST_BODY)))
    assert posted.wallet_nonce == "qPmxiNFCR3QTm19POc8u"
    assert posted.wallet_metadata == {
        "vp_formats_supported": {
            "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
        }
    }
    assert parse_request_uri_post({}) == type(posted)(None, None)
    assert posted.audience == "https://self-issued.me/v2"


def test_request_uri_post_audience_is_the_wallet_issuer() -> None:
    """Section 5.8: wallet metadata naming an `issuer` makes it the request object's aud."""
    form = {"wallet_metadata": json.dumps({"issuer": "https://wallet.example"})}
    assert parse_request_uri_post(form).audience == "https://wallet.example"


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"wallet_metadata": "not json"}, "WALLET_METADATA_INVALID"),
        ({"wallet_metadata": "[1]"}, "WALLET_METADATA_INVALID"),
        ({"wallet_metadata": "{" * 20_000}, "WALLET_METADATA_INVALID"),
        ({"wallet_metadata": '{"issuer": 7}'}, "WALLET_METADATA_INVALID"),
        ({"wallet_metadata": '{"issuer": ""}'}, "WALLET_METADATA_INVALID"),
        ({"wallet_metadata": '{"issuer": "a\\nb"}'}, "WALLET_METADATA_INVALID"),
        ({"wallet_nonce": ""}, "WALLET_NONCE_INVALID"),
        ({"wallet_nonce": "a b"}, "WALLET_NONCE_INVALID"),
        ({"wallet_nonce": "x" * 257}, "WALLET_NONCE_INVALID"),
    ],
)
def test_request_uri_post_refusals(form: dict[str, str], reason: str) -> None:
    """Metadata that is not a bounded JSON object, or an odd wallet nonce, is refused."""
    with pytest.raises(ProtocolError) as caught:
        parse_request_uri_post(form)
    assert caught.value.reason == reason
    assert caught.value.code == "invalid_request"


def test_enc_values_follow_the_wallet() -> None:
    """A wallet listing A256GCM only is offered A256GCM only; one listing none, both."""
    metadata = {
        "client_id_prefixes_supported": ["x509_hash"],
        "authorization_encryption_alg_values_supported": ["ECDH-ES"],
        "authorization_encryption_enc_values_supported": ["A256GCM"],
        "request_object_signing_alg_values_supported": ["ES256"],
        "response_modes_supported": ["direct_post.jwt"],
    }
    mode, prefix = ResponseMode.DIRECT_POST_JWT, ClientIdPrefix.X509_HASH
    assert negotiate_enc_values(metadata, client_id_prefix=prefix, response_mode=mode) == (
        "A256GCM",
    )
    assert negotiate_enc_values(None, client_id_prefix=prefix, response_mode=mode) == (
        "A128GCM",
        "A256GCM",
    )


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"client_id_prefixes_supported": ["x509_san_dns"]}, "CLIENT_ID_PREFIX_UNSUPPORTED"),
        ({"request_object_signing_alg_values_supported": ["EdDSA"]}, "REQUEST_SIGNING_UNSUPPORTED"),
        ({"response_modes_supported": ["direct_post"]}, "RESPONSE_MODE_UNSUPPORTED"),
        ({"authorization_encryption_alg_values_supported": ["RSA-OAEP"]}, "ENCRYPTION_UNSUPPORTED"),
        ({"authorization_encryption_enc_values_supported": ["A192GCM"]}, "ENCRYPTION_UNSUPPORTED"),
    ],
)
def test_wallet_metadata_that_rules_the_request_out(metadata: dict[str, Any], reason: str) -> None:
    """A wallet that supports neither our prefix, signature, mode nor encryption is told so."""
    with pytest.raises(ProtocolError) as caught:
        negotiate_enc_values(
            metadata,
            client_id_prefix=ClientIdPrefix.X509_HASH,
            response_mode=ResponseMode.DIRECT_POST_JWT,
        )
    assert caught.value.reason == reason
