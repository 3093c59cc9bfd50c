"""The test wallet checked on its own: its JWTs, URLs, offer parsing, HTTP steps and holder checks.

Everything it signs is verified here with jwcrypto and compared member by member with what
the specifications require; its HTTP steps run against a small loopback issuer written in
this file from OpenID4VCI and RFC 9449; its holder checks run on credentials made by the
independent `sd-jwt` and `pycose` packages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import cbor2
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from pycose.algorithms import Es256
from pycose.headers import Algorithm, X5chain
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from tests.wallet import (
    ATTESTATION_HEADER,
    ATTESTATION_POP_HEADER,
    ISO_18045_MODERATE,
    CertificateAuthority,
    CredentialRejected,
    DpopOptions,
    FlowFailed,
    KeyPair,
    ProtocolViolation,
    ProviderHost,
    Wallet,
    WalletError,
    WalletProvider,
    access_token_hash,
    authorization_server_metadata_url,
    credential_issuer_metadata_url,
    decode_jwt,
    dpop_proof,
    jwt_key_proof,
    jwt_vc_issuer_metadata_url,
    parse_offer_uri,
    status_reference,
    unsigned_jwt,
    validate_chain,
    verify_jwt,
    verify_mdoc,
    verify_sd_jwt_vc,
)
from tests.wallet.attestations import status_list_bytes
from tests.wallet.encoding import b64url_decode, b64url_encode
from tests.wallet.holder import certificates_from_x5c
from tests.wallet.replies import parse_www_authenticate
from tests.wallet.urls import check_issuer_identifier


def jwcrypto_verify(token: str, jwk: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verifies with jwcrypto directly and returns the protected header and the claims."""
    jws = JWS()
    jws.deserialize(token)
    jws.verify(JWK(**jwk))
    return dict(jws.jose_header), json.loads(jws.payload)


# -- DPoP proofs (RFC 9449 §4.2) ---------------------------------------------------------


def test_dpop_proof_carries_exactly_the_required_members() -> None:
    """A DPoP proof has typ/alg/jwk in its header and jti/htm/htu/iat as claims, nothing more."""
    key = KeyPair.generate()
    proof = dpop_proof(key, method="post", url="http://127.0.0.1:1/token?x=1#frag")
    header, claims = jwcrypto_verify(proof, decode_jwt(proof)[0]["jwk"])
    assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()}
    assert "d" not in header["jwk"]
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    assert claims["htm"] == "POST"
    assert claims["htu"] == "http://127.0.0.1:1/token"
    assert abs(claims["iat"] - time.time()) < 5
    assert len(b64url_decode(claims["jti"])) >= 12


def test_dpop_proof_binds_the_access_token_and_the_nonce() -> None:
    """With a token and a nonce the proof adds `ath` (SHA-256 of the token) and `nonce`."""
    key = KeyPair.generate()
    proof = dpop_proof(
        key, method="POST", url="http://127.0.0.1:1/credential", access_token="tok", nonce="n1"
    )
    _, claims = jwcrypto_verify(proof, key.public_jwk())
    expected = base64.urlsafe_b64encode(hashlib.sha256(b"tok").digest()).rstrip(b"=").decode()
    assert claims["ath"] == expected
    assert claims["nonce"] == "n1"
    assert set(claims) == {"jti", "htm", "htu", "iat", "ath", "nonce"}


def test_ath_matches_the_rfc9449_example() -> None:
    """`access_token_hash` reproduces the `ath` of RFC 9449 §7.1's example."""
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_dpop_proofs_get_fresh_jtis_and_overrides_break_one_member() -> None:
    """Each proof has its own `jti`; `claims` and `drop` change only what they name."""
    key = KeyPair.generate()
    first = decode_jwt(dpop_proof(key, method="GET", url="http://127.0.0.1/x"))[1]
    second = decode_jwt(dpop_proof(key, method="GET", url="http://127.0.0.1/x"))[1]
    assert first["jti"] != second["jti"]
    broken = dpop_proof(
        key,
        method="POST",
        url="http://127.0.0.1/x",
        access_token="tok",
        nonce="n",
        claims={"ath": "wrong"},
        drop=("nonce",),
    )
    _, claims = jwcrypto_verify(broken, key.public_jwk())
    assert claims["ath"] == "wrong"
    assert "nonce" not in claims
    assert {"jti", "htm", "htu", "iat"} <= set(claims)


# -- Key proofs (OpenID4VCI Appendix F.1) ------------------------------------------------


def test_anonymous_jwt_proof_has_aud_iat_nonce_and_no_iss() -> None:
    """An anonymous-access jwt proof: typ openid4vci-proof+jwt, jwk header, aud/iat/nonce only."""
    key = KeyPair.generate()
    proof = jwt_key_proof(key, audience="https://issuer.example/t1", nonce="c-1")
    header, claims = jwcrypto_verify(proof, key.public_jwk())
    assert header == {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": key.public_jwk()}
    assert set(claims) == {"aud", "iat", "nonce"}
    assert claims["aud"] == "https://issuer.example/t1"
    assert claims["nonce"] == "c-1"


def test_jwt_proof_with_client_id_and_key_attestation() -> None:
    """With a client_id the proof carries `iss`; a key attestation rides in the header."""
    key = KeyPair.generate()
    attestation = WalletProvider().key_attestation([key], nonce="c-1")
    proof = jwt_key_proof(
        key, audience="https://i", nonce="c-1", issuer="client-1", key_attestation=attestation
    )
    header, claims = jwcrypto_verify(proof, key.public_jwk())
    assert header["key_attestation"] == attestation
    assert claims["iss"] == "client-1"


def test_unsigned_jwt_is_refused_by_an_independent_verifier() -> None:
    """An `alg: none` JWT made for refusal tests does not verify with jwcrypto."""
    token = unsigned_jwt({"typ": "openid4vci-proof+jwt"}, {"aud": "x"})
    assert decode_jwt(token)[0]["alg"] == "none"
    with pytest.raises(Exception, match=r"(?i)verif|alg|signature"):
        verify_jwt(token, KeyPair.generate().public_jwk())


@pytest.mark.parametrize(("curve", "alg"), [("P-256", "ES256"), ("P-384", "ES384")])
def test_keys_export_jwks_cose_keys_and_thumbprints(curve: str, alg: str) -> None:
    """JWK, RFC 7638 thumbprint and COSE_Key views agree with jwcrypto and RFC 9053."""
    key = KeyPair.generate(curve)
    reference = JWK.from_pyca(key.private_key)
    assert key.alg == alg
    exported = reference.export_public(as_dict=True)
    exported.pop("kid", None)  # jwcrypto names keys by their thumbprint
    assert key.public_jwk() == exported
    assert key.thumbprint() == reference.thumbprint()
    cose = key.cose_key()
    assert cose[1] == 2
    assert cose[-2] == b64url_decode(key.public_jwk()["x"])
    assert key.matches_jwk(key.public_jwk())
    assert not key.matches_jwk(key.private_jwk())
    assert not key.matches_jwk(KeyPair.generate(curve).public_jwk())


# -- Attestations (OpenID4VCI Appendix D, E) ---------------------------------------------


def test_key_attestation_signed_by_kid_carries_the_required_claims() -> None:
    """A kid-signed key attestation verifies with the provider's JWKS and lists its claims."""
    provider = WalletProvider()
    keys = [KeyPair.generate(), KeyPair.generate()]
    status = status_reference("http://127.0.0.1:1/status/1", 7)
    token = provider.key_attestation(
        keys, nonce="c-9", key_storage=[ISO_18045_MODERATE], status=status
    )
    jwk = provider.jwks()["keys"][0]
    header, claims = jwcrypto_verify(token, jwk)
    assert header == {"typ": "key-attestation+jwt", "alg": "ES256", "kid": jwk["kid"]}
    assert claims["attested_keys"] == [k.public_jwk() for k in keys]
    assert claims["key_storage"] == ["iso_18045_moderate"]
    assert claims["user_authentication"] == ["iso_18045_high"]
    assert claims["nonce"] == "c-9"
    assert claims["status"] == {"status_list": {"idx": 7, "uri": "http://127.0.0.1:1/status/1"}}
    assert claims["iat"] <= time.time() + 1 < claims["exp"]
    assert all("d" not in k for k in claims["attested_keys"])


def test_key_attestation_signed_by_x5c_chains_to_the_test_ca_without_the_root() -> None:
    """An x5c-signed attestation carries leaf and intermediate, chains to the root, verifies."""
    root = CertificateAuthority.generate()
    provider = WalletProvider(ca=root.intermediate("Test Intermediate"))
    token = provider.key_attestation([KeyPair.generate()])
    header, _ = decode_jwt(token)
    assert "kid" not in header
    chain = certificates_from_x5c(header["x5c"])
    assert len(chain) == 2
    assert root.certificate not in chain
    validate_chain(chain, [root.certificate])
    jwcrypto_verify(token, JWK.from_pyca(chain[0].public_key()).export_public(as_dict=True))
    with pytest.raises(CredentialRejected) as refused:
        validate_chain(chain, [CertificateAuthority.generate().certificate])
    assert refused.value.code == "chain_untrusted"


def test_expired_attestations_are_expired_and_consistent() -> None:
    """A negative lifetime gives `exp` in the past and `iat` before it, for both attestations."""
    provider = WalletProvider()
    _, key_claims = decode_jwt(provider.key_attestation([KeyPair.generate()], lifetime=-60))
    wallet = provider.wallet_attestation(lifetime=-60)
    _, wallet_claims = decode_jwt(wallet.jwt)
    for claims in (key_claims, wallet_claims):
        assert claims["iat"] < claims["exp"] < time.time()


def test_wallet_attestation_and_its_pop_follow_attestation_based_client_auth() -> None:
    """The attestation binds the instance key in cnf.jwk; each PoP is signed by it, fresh."""
    provider = WalletProvider(ca=CertificateAuthority.generate())
    attestation = provider.wallet_attestation(client_id="wallet-client")
    header, claims = decode_jwt(attestation.jwt)
    assert header["typ"] == "oauth-client-attestation+jwt"
    leaf = certificates_from_x5c(header["x5c"])[0]
    jwcrypto_verify(attestation.jwt, JWK.from_pyca(leaf.public_key()).export_public(as_dict=True))
    assert claims["iss"] == provider.identifier
    assert claims["sub"] == "wallet-client"
    assert claims["cnf"] == {"jwk": attestation.instance_key.public_jwk()}
    assert claims["exp"] > time.time()
    headers = attestation.headers("http://127.0.0.1:1/issuers/t1", challenge="ch")
    assert set(headers) == {ATTESTATION_HEADER, ATTESTATION_POP_HEADER}
    assert headers[ATTESTATION_HEADER] == attestation.jwt
    pop_header, pop = jwcrypto_verify(headers[ATTESTATION_POP_HEADER], claims["cnf"]["jwk"])
    assert pop_header == {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}
    assert pop["aud"] == "http://127.0.0.1:1/issuers/t1"
    assert pop["challenge"] == "ch"
    assert {"aud", "jti", "iat"} <= set(pop)
    again = decode_jwt(attestation.headers("http://127.0.0.1:1/issuers/t1")[ATTESTATION_POP_HEADER])
    assert again[1]["jti"] != pop["jti"]


def test_status_list_token_matches_the_status_list_example() -> None:
    """The status list encodes the draft's 16-entry example to its published `lst`."""
    statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    raw = status_list_bytes(dict(enumerate(statuses)), size=16)
    assert raw == bytes([0xB9, 0xA3])
    assert b64url_encode(zlib.compress(raw, 9)) == "eNrbuRgAAhcBXQ"
    provider = WalletProvider()
    token = provider.status_list_token("http://127.0.0.1:1/sl", {3: 1}, size=8)
    header, claims = jwcrypto_verify(token, provider.jwks()["keys"][0])
    assert header["typ"] == "statuslist+jwt"
    assert claims["sub"] == "http://127.0.0.1:1/sl"
    assert zlib.decompress(b64url_decode(claims["status_list"]["lst"])) == bytes([0b1000])


# -- URLs (OpenID4VCI §12.2, RFC 8414 §3.1) ---------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        (
            "https://issuer.example.com/tenant",
            "https://issuer.example.com/.well-known/openid-credential-issuer/tenant",
        ),
        (
            "https://tenant.issuer.example.com",
            "https://tenant.issuer.example.com/.well-known/openid-credential-issuer",
        ),
        (
            "http://127.0.0.1:8080/base/issuers/t-1",
            "http://127.0.0.1:8080/.well-known/openid-credential-issuer/base/issuers/t-1",
        ),
    ],
)
def test_credential_issuer_metadata_url_inserts_the_well_known_before_the_path(
    identifier: str, expected: str
) -> None:
    """The metadata URL follows §12.2.2, including both of its examples."""
    assert credential_issuer_metadata_url(identifier) == expected


def test_authorization_server_and_jwt_vc_metadata_urls_follow_rfc8414() -> None:
    """RFC 8414's example, with a terminating slash removed before the insertion."""
    assert (
        authorization_server_metadata_url("https://example.com/issuer1")
        == "https://example.com/.well-known/oauth-authorization-server/issuer1"
    )
    assert (
        authorization_server_metadata_url("https://example.com/issuer1/")
        == "https://example.com/.well-known/oauth-authorization-server/issuer1"
    )
    assert (
        jwt_vc_issuer_metadata_url("http://127.0.0.1:9/issuers/t")
        == "http://127.0.0.1:9/.well-known/jwt-vc-issuer/issuers/t"
    )


@pytest.mark.parametrize(
    "identifier",
    ["https://i.example/t?x=1", "https://i.example/t#f", "http://i.example/t", "i.example/t"],
)
def test_issuer_identifiers_with_query_fragment_or_plain_http_are_refused(identifier: str) -> None:
    """An identifier is https without query or fragment; http only on loopback."""
    with pytest.raises(ProtocolViolation):
        check_issuer_identifier(identifier)
    check_issuer_identifier("http://127.0.0.1:8080/issuers/t")
    check_issuer_identifier("http://[::1]:8080/issuers/t")


# -- Offers (OpenID4VCI §4.1) -------------------------------------------------------------

SPEC_OFFER_BY_VALUE = (
    "openid-credential-offer://?"
    "credential_offer=%7B%22credential_issuer%22:%22https://credential-issuer.exam"
    "ple.com%22,%22credential_configuration_ids%22:%5B%22org.iso.18013.5.1.mDL%22%"
    "5D,%22grants%22:%7B%22urn:ietf:params:oauth:grant-type:pre-authorized_code%22"
    ":%7B%22pre-authorized_code%22:%22oaKazRN8I0IbtZ0C7JuMn5%22,%22tx_code%22:%7B%"
    "22input_mode%22:%22text%22,%22description%22:%22Please%20enter%20the%20serial"
    "%20number%20of%20your%20physical%20drivers%20license%22%7D%7D%7D%7D"
)
SPEC_OFFER_BY_REFERENCE = (
    "openid-credential-offer://?"
    "credential_offer_uri=https%3A%2F%2Fserver%2Eexample%2Ecom%2Fcredential-offer"
    "%2FGkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM"
)


def test_offer_by_value_from_the_specification_parses() -> None:
    """The by-value example of §4.1.2 yields its issuer, configuration, code and tx_code."""
    link = parse_offer_uri(SPEC_OFFER_BY_VALUE)
    assert link.scheme == "openid-credential-offer"
    offer = link.offer
    assert offer is not None
    assert offer.credential_issuer == "https://credential-issuer.example.com"
    assert offer.credential_configuration_ids == ("org.iso.18013.5.1.mDL",)
    assert offer.pre_authorized_code == "oaKazRN8I0IbtZ0C7JuMn5"
    assert offer.tx_code is not None
    assert offer.tx_code.input_mode == "text"
    assert offer.tx_code.description == (
        "Please enter the serial number of your physical drivers license"
    )


def test_offer_by_reference_from_the_specification_parses() -> None:
    """The by-reference example of §4.1.3 yields the URL to GET."""
    link = parse_offer_uri(SPEC_OFFER_BY_REFERENCE)
    assert link.offer is None
    assert link.reference == (
        "https://server.example.com/credential-offer/GkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM"
    )


def offer_uri(document: Any) -> str:
    return "openid-credential-offer://?credential_offer=" + quote(json.dumps(document))


def test_an_empty_tx_code_object_still_requires_a_numeric_code() -> None:
    """`tx_code: {}` means a code is required, numeric by default (§4.1.1)."""
    offer = parse_offer_uri(
        offer_uri(
            {
                "credential_issuer": "https://i.example",
                "credential_configuration_ids": ["a"],
                "grants": {
                    "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                        "pre-authorized_code": "c",
                        "tx_code": {},
                    }
                },
            }
        )
    ).offer
    assert offer is not None
    assert offer.tx_code is not None
    assert offer.tx_code.input_mode == "numeric"
    assert offer.tx_code.length is None


GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
GOOD_OFFER = {
    "credential_issuer": "https://i.example",
    "credential_configuration_ids": ["a"],
    "grants": {GRANT: {"pre-authorized_code": "c"}},
}


@pytest.mark.parametrize(
    "uri",
    [
        "openid-credential-offer://?",
        "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa",
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fa&credential_offer_uri=https%3A%2F%2Fb",
        "openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fserver.example%2Fo",
        "openid-credential-offer://?credential_offer=%7Bnot-json",
        offer_uri({**GOOD_OFFER, "credential_configuration_ids": []}),
        offer_uri({**GOOD_OFFER, "credential_configuration_ids": ["a", "a"]}),
        offer_uri({**GOOD_OFFER, "credential_issuer": "https://i.example/?q=1"}),
        offer_uri({**GOOD_OFFER, "grants": {GRANT: {}}}),
        offer_uri(
            {
                **GOOD_OFFER,
                "grants": {GRANT: {"pre-authorized_code": "c", "tx_code": {"input_mode": "x"}}},
            }
        ),
        offer_uri(
            {
                **GOOD_OFFER,
                "grants": {
                    GRANT: {
                        "pre-authorized_code": "c",
                        "tx_code": {"description": "d" * 301},
                    }
                },
            }
        ),
    ],
)
def test_malformed_offers_are_refused(uri: str) -> None:
    """Both or neither parameter, repeats, http, bad JSON and bad members are all refused."""
    with pytest.raises(ProtocolViolation) as refused:
        parse_offer_uri(uri)
    assert refused.value.code in {"offer_malformed", "url_not_https", "issuer_identifier_invalid"}


def test_www_authenticate_challenges_are_parsed() -> None:
    """Quoted auth-params with escapes and several challenges in one value parse."""
    challenges = parse_www_authenticate(
        'Bearer realm="x", DPoP error="use_dpop_nonce", '
        'error_description="Resource server requires \\"nonce\\"", algs="ES256 ES384"'
    )
    assert [c.scheme for c in challenges] == ["Bearer", "DPoP"]
    assert challenges[0].params == {"realm": "x"}
    assert challenges[1].params["error"] == "use_dpop_nonce"
    assert challenges[1].params["error_description"] == 'Resource server requires "nonce"'
    assert challenges[1].params["algs"] == "ES256 ES384"


# -- HTTP steps against a loopback issuer written from the specification -----------------


class SpecIssuer:
    """A minimal pre-authorized issuer on loopback: DPoP with server nonces on both the token
    and the resource endpoints, a nonce endpoint, batch credentials, deferral, notification.

    It checks what the wallet sends with jwcrypto, so a wallet bug shows as a failed request.
    `misbehave` names one deviation from the specification to serve.
    """

    def __init__(self) -> None:
        self.base = ""
        self.misbehave: set[str] = set()
        self.as_nonce = secrets.token_urlsafe(8)
        self.rs_nonce = secrets.token_urlsafe(8)
        self.c_nonces: set[str] = set()
        self.tokens: dict[str, str] = {}  # access token -> DPoP key thumbprint
        self.token_forms: list[dict[str, str]] = []
        self.credential_bodies: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/offers/1", self.offer),
                web.get("/.well-known/openid-credential-issuer/issuer", self.metadata),
                web.get("/.well-known/oauth-authorization-server/issuer", self.as_metadata),
                web.get("/.well-known/jwt-vc-issuer/issuer", self.jwt_vc_metadata),
                web.post("/issuer/token", self.token),
                web.post("/issuer/nonce", self.nonce),
                web.post("/issuer/credential", self.credential),
                web.post("/issuer/deferred", self.deferred),
                web.post("/issuer/notification", self.notification),
            ]
        )

    @property
    def issuer(self) -> str:
        return f"{self.base}/issuer"

    def offer_document(self) -> dict[str, Any]:
        return {
            "credential_issuer": self.issuer,
            "credential_configuration_ids": ["pid_sd_jwt", "later"],
            "grants": {
                "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                    "pre-authorized_code": "code-1"
                }
            },
        }

    async def offer(self, request: web.Request) -> web.Response:
        if "offer_as_text" in self.misbehave:
            return web.Response(text=json.dumps(self.offer_document()))
        return web.json_response(self.offer_document())

    async def metadata(self, request: web.Request) -> web.Response:
        proof_types = {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}
        return web.json_response(
            {
                "credential_issuer": self.issuer
                + ("/" if "issuer_mismatch" in self.misbehave else ""),
                "credential_endpoint": f"{self.issuer}/credential",
                "nonce_endpoint": f"{self.issuer}/nonce",
                "deferred_credential_endpoint": f"{self.issuer}/deferred",
                "notification_endpoint": f"{self.issuer}/notification",
                "batch_credential_issuance": {"batch_size": 3},
                "credential_configurations_supported": {
                    name: {
                        "format": "dc+sd-jwt",
                        "vct": "urn:example:pid",
                        "cryptographic_binding_methods_supported": ["jwk"],
                        "proof_types_supported": proof_types,
                    }
                    for name in ("pid_sd_jwt", "later")
                },
            }
        )

    async def as_metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "token_endpoint": f"{self.issuer}/token",
                "pre-authorized_grant_anonymous_access_supported": True,
                "dpop_signing_alg_values_supported": ["ES256"],
            }
        )

    async def jwt_vc_metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.issuer, "jwks": {"keys": []}})

    def check_dpop(self, request: web.Request, token: str | None) -> tuple[str, str | None]:
        """RFC 9449 §4.3 checks: returns the key thumbprint and the proof's nonce; raises
        `ValueError` for a proof that fails any other check."""
        proof = request.headers.get("DPoP")
        if proof is None:
            raise ValueError("no DPoP proof")
        jws = JWS()
        jws.deserialize(proof)
        header = jws.jose_header
        key = JWK(**header["jwk"])
        jws.verify(key)
        claims = json.loads(jws.payload)
        checks = [
            header["typ"] == "dpop+jwt",
            "d" not in header["jwk"],
            claims["htm"] == request.method,
            claims["htu"] == f"{self.base}{request.path}",
            abs(claims["iat"] - time.time()) < 60,
            token is None
            or claims.get("ath") == b64url_encode(hashlib.sha256(token.encode()).digest()),
        ]
        if not all(checks):
            raise ValueError("DPoP proof check failed")
        thumbprint: str = key.thumbprint()
        return thumbprint, claims.get("nonce")

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_forms.append({k: str(v) for k, v in form.items()})
        try:
            thumbprint, nonce = self.check_dpop(request, None)
        except ValueError:
            return web.json_response({"error": "invalid_dpop_proof"}, status=400)
        if nonce != self.as_nonce:
            return web.json_response(
                {
                    "error": "use_dpop_nonce",
                    "error_description": "Authorization server requires nonce",
                },
                status=400,
                headers={"DPoP-Nonce": self.as_nonce},
            )
        if form.get("pre-authorized_code") != "code-1":
            return web.json_response({"error": "invalid_grant"}, status=400)
        access_token = secrets.token_urlsafe(16)
        self.tokens[access_token] = thumbprint
        headers = {} if "no_store_missing" in self.misbehave else {"Cache-Control": "no-store"}
        if "token_500" in self.misbehave:
            return web.Response(status=500, text="boom")
        return web.json_response(
            {"access_token": access_token, "token_type": "DPoP", "expires_in": 300},
            headers=headers,
        )

    async def nonce(self, request: web.Request) -> web.Response:
        c_nonce = secrets.token_urlsafe(8)
        self.c_nonces.add(c_nonce)
        headers = {"Cache-Control": "no-store", "DPoP-Nonce": self.rs_nonce}
        if "rs_nonce_header_missing" in self.misbehave:
            del headers["DPoP-Nonce"]
        return web.json_response({"c_nonce": c_nonce}, headers=headers)

    def authorize(self, request: web.Request) -> str | web.Response:
        if "bearer_challenge" in self.misbehave:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer realm="x"'})
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "DPoP" or token not in self.tokens:
            return web.Response(
                status=401, headers={"WWW-Authenticate": 'DPoP error="invalid_token"'}
            )
        try:
            thumbprint, nonce = self.check_dpop(request, token)
        except ValueError:
            return web.Response(
                status=401, headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"'}
            )
        if nonce != self.rs_nonce:
            challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}
            if "rs_nonce_header_missing" not in self.misbehave:
                challenge["DPoP-Nonce"] = self.rs_nonce
            return web.Response(status=401, headers=challenge)
        if thumbprint != self.tokens[token]:
            return web.Response(
                status=401, headers={"WWW-Authenticate": 'DPoP error="invalid_token"'}
            )
        return token

    async def credential(self, request: web.Request) -> web.Response:
        authorized = self.authorize(request)
        if isinstance(authorized, web.Response):
            return authorized
        body = await request.json()
        self.credential_bodies.append(body)
        issued = []
        for proof in body["proofs"]["jwt"]:
            header = JWS()
            header.deserialize(proof)
            jwk = JWK(**header.jose_header["jwk"])
            header.verify(jwk)
            claims = json.loads(header.payload)
            assert header.jose_header["typ"] == "openid4vci-proof+jwt"
            assert claims["aud"] == self.issuer
            if claims.get("nonce") not in self.c_nonces:
                return web.json_response({"error": "invalid_nonce"}, status=400)
            issued.append({"credential": f"credential-for-{jwk.thumbprint()}"})
        if body["credential_configuration_id"] == "later":
            return web.json_response({"transaction_id": "tx-1", "interval": 1}, status=202)
        return web.json_response({"credentials": issued, "notification_id": "n-1"})

    async def deferred(self, request: web.Request) -> web.Response:
        authorized = self.authorize(request)
        if isinstance(authorized, web.Response):
            return authorized
        body = await request.json()
        if body != {"transaction_id": "tx-1"}:
            return web.json_response({"error": "invalid_transaction_id"}, status=400)
        return web.json_response({"credentials": [{"credential": "deferred-1"}]})

    async def notification(self, request: web.Request) -> web.Response:
        authorized = self.authorize(request)
        if isinstance(authorized, web.Response):
            return authorized
        self.notifications.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def spec_issuer() -> AsyncIterator[SpecIssuer]:
    issuer = SpecIssuer()
    runner = web.AppRunner(issuer.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    issuer.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield issuer
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def test_collect_runs_the_whole_flow_and_retries_once_per_dpop_nonce(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """collect() fetches the offer by reference, gets a DPoP token after one nonce retry, uses
    the resource server's nonce from the nonce response, and gets one credential per key; a
    resource request without that nonce is retried once after the 401 challenge."""
    wallet = Wallet(session)
    offer = "openid-credential-offer://?credential_offer_uri=" + quote(
        f"{spec_issuer.base}/offers/1"
    )
    collected = await wallet.collect(offer, copies=2)
    assert len(collected.token.dpop_proofs) == 2
    assert "nonce" not in decode_jwt(collected.token.dpop_proofs[0])[1]
    assert decode_jwt(collected.token.dpop_proofs[1])[1]["nonce"] == spec_issuer.as_nonce
    assert spec_issuer.token_forms[-1] == {
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        "pre-authorized_code": "code-1",
    }
    assert collected.token.token_type == "DPoP"
    assert sorted(collected.credentials) == sorted(
        f"credential-for-{k.thumbprint()}" for k in collected.holder_keys
    )
    assert collected.notification_id == "n-1"
    body = spec_issuer.credential_bodies[-1]
    assert set(body) == {"credential_configuration_id", "proofs"}
    assert len(body["proofs"]["jwt"]) == 2
    assert len(collected.reply.dpop_proofs) == 1
    assert decode_jwt(collected.reply.dpop_proofs[0])[1]["nonce"] == spec_issuer.rs_nonce
    del wallet.dpop_nonces["resource_server"]
    notified = await wallet.notify(collected.issuer, collected.access_token, "n-1")
    assert notified.status == 204
    assert len(notified.dpop_proofs) == 2
    assert "nonce" not in decode_jwt(notified.dpop_proofs[0])[1]
    assert wallet.dpop_nonces["resource_server"] == spec_issuer.rs_nonce
    assert spec_issuer.notifications == [{"notification_id": "n-1", "event": "credential_accepted"}]


async def test_deferred_issuance_returns_a_transaction_then_the_credentials(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """A 202 with a transaction_id is returned as it is; the deferred request then gets the
    credential."""
    wallet = Wallet(session)
    offer = "openid-credential-offer://?credential_offer=" + quote(
        json.dumps(spec_issuer.offer_document())
    )
    collected = await wallet.collect(offer, configuration_id="later")
    assert collected.reply.deferred
    assert collected.transaction_id == "tx-1"
    assert collected.credentials == []
    reply = await wallet.poll_deferred(collected.issuer, collected.access_token, "tx-1")
    assert reply.credentials == ["deferred-1"]
    wrong = await wallet.deferred_credential(collected.issuer, collected.access_token, "tx-2")
    assert wrong.error == "invalid_transaction_id"


async def test_a_stale_nonce_without_retry_returns_the_use_dpop_nonce_error(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """With retry_on_nonce=False the wallet sends the stale nonce once and returns the error."""
    wallet = Wallet(session)
    offer = await wallet.fetch_offer(f"{spec_issuer.base}/offers/1")
    _, server = await wallet.discover(offer)
    reply = await wallet.token(
        server, "code-1", dpop=DpopOptions(nonce="stale", retry_on_nonce=False)
    )
    assert reply.status == 400
    assert reply.error == "use_dpop_nonce"
    assert reply.dpop_nonce == spec_issuer.as_nonce
    assert decode_jwt(reply.dpop_proofs[0])[1]["nonce"] == "stale"
    assert len(reply.dpop_proofs) == 1
    with pytest.raises(WalletError) as no_field:
        _ = reply.access_token
    assert no_field.value.code == "not_successful"


async def test_a_wrong_ath_is_refused_at_the_resource_server(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """A broken `ath`, a proof by another key than the token's, or none at all is sent as
    asked, and the refusal comes back as a reply."""
    wallet = Wallet(session)
    offer = "openid-credential-offer://?credential_offer_uri=" + quote(
        f"{spec_issuer.base}/offers/1"
    )
    collected = await wallet.collect(offer)
    cases = [
        (DpopOptions(claims={"ath": "wrong"}), "invalid_dpop_proof"),
        (DpopOptions(key=KeyPair.generate()), "invalid_token"),
        (DpopOptions(send=False), "invalid_dpop_proof"),
    ]
    replies = []
    for options, error in cases:
        reply = await wallet.credential(
            collected.issuer,
            collected.access_token,
            configuration_id="pid_sd_jwt",
            proofs={"jwt": []},
            dpop=options,
        )
        assert (reply.status, reply.error) == (401, error)
        replies.append(reply)
    assert decode_jwt(replies[0].dpop_proofs[-1])[1]["ath"] == "wrong"
    assert "DPoP" not in replies[2].request_headers
    assert replies[2].request_headers["Authorization"] == f"DPoP {collected.access_token}"


@pytest.mark.parametrize(
    ("misbehaviour", "code"),
    [
        ("offer_as_text", "media_type"),
        ("issuer_mismatch", "issuer_mismatch"),
        ("no_store_missing", "cache_control"),
        ("token_500", "server_error"),
        ("rs_nonce_header_missing", "dpop_nonce_missing"),
        ("bearer_challenge", "challenge_scheme"),
    ],
)
async def test_issuer_deviations_are_reported_as_protocol_violations(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession, misbehaviour: str, code: str
) -> None:
    """A text offer, metadata for another identifier, a cacheable token, a 5xx, a nonce
    challenge without DPoP-Nonce and a non-DPoP challenge for a DPoP token all raise."""
    spec_issuer.misbehave.add(misbehaviour)
    wallet = Wallet(session)
    with pytest.raises(ProtocolViolation) as violation:
        await wallet.collect(
            "openid-credential-offer://?credential_offer_uri="
            + quote(f"{spec_issuer.base}/offers/1")
        )
    assert violation.value.code == code


async def test_lenient_mode_tolerates_soft_deviations_but_never_a_5xx(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """strict=False accepts a token without no-store; a 500 still raises."""
    spec_issuer.misbehave.add("no_store_missing")
    wallet = Wallet(session, strict=False)
    uri = "openid-credential-offer://?credential_offer_uri=" + quote(f"{spec_issuer.base}/offers/1")
    assert len((await wallet.collect(uri)).credentials) == 1
    spec_issuer.misbehave.add("token_500")
    with pytest.raises(ProtocolViolation):
        await wallet.collect(uri)


async def test_error_replies_surface_as_flow_failed(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """A refused token request stops collect() with the server's error code."""
    wallet = Wallet(session)
    document = spec_issuer.offer_document()
    document["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"][
        "pre-authorized_code"
    ] = "x"
    with pytest.raises(FlowFailed) as failed:
        await wallet.collect(
            "openid-credential-offer://?credential_offer=" + quote(json.dumps(document))
        )
    assert failed.value.code == "invalid_grant"
    assert failed.value.step == "token"


async def test_connect_to_routes_requests_but_keeps_host_and_htu(
    spec_issuer: SpecIssuer, session: aiohttp.ClientSession
) -> None:
    """With `connect_to`, requests go where it says while Host and the DPoP htu keep the
    public URL, as behind a load balancer."""
    public = spec_issuer.base.replace("127.0.0.1", "localhost")
    routed: list[str] = []

    def balancer(url: str) -> str:
        routed.append(url)
        return url.replace(public, spec_issuer.base)

    spec_issuer.base = public  # what the issuer publishes and checks htu against
    wallet = Wallet(session, connect_to=balancer)
    collected = await wallet.collect(
        "openid-credential-offer://?credential_offer_uri=" + quote(f"{public}/offers/1")
    )
    assert len(collected.credentials) == 1
    assert all(url.startswith(public) for url in routed)
    # offer, 2 metadata, token twice (nonce retry), nonce, credential (its DPoP-Nonce came
    # with the nonce response, so no retry)
    assert len(routed) == 7
    assert collected.reply.request_headers["Host"] == public.removeprefix("http://")


async def test_the_provider_host_serves_a_revocable_status_list(
    session: aiohttp.ClientSession,
) -> None:
    """The provider's status list flips an entry to INVALID on revoke and counts fetches."""
    provider = WalletProvider()
    async with ProviderHost(provider, size=16) as host:
        uri = host.status_list_uri()
        attestation = provider.key_attestation(
            [KeyPair.generate()], status=status_reference(uri, 5)
        )
        assert decode_jwt(attestation)[1]["status"]["status_list"]["uri"] == uri

        async def entry(index: int) -> int:
            async with session.get(uri) as response:
                assert response.content_type == "application/statuslist+jwt"
                token = await response.text()
            _, claims = jwcrypto_verify(token, provider.jwks()["keys"][0])
            assert claims["sub"] == uri
            raw = zlib.decompress(b64url_decode(claims["status_list"]["lst"]))
            return (raw[index // 8] >> (index % 8)) & 1

        assert await entry(5) == 0
        host.revoke(5)
        assert await entry(5) == 1
        assert host.fetches["1"] == 2
        async with session.get(host.jwks_uri) as response:
            assert await response.json() == provider.jwks()


def test_an_attester_can_attest_other_keys_than_the_proven_ones() -> None:
    """`attester(attested=...)` attests the given keys, not the ones the wallet proves."""
    provider = WalletProvider()
    mine, other = KeyPair.generate(), KeyPair.generate()
    token = provider.attester(attested=[other], key_storage=None)([mine], "n")
    _, claims = decode_jwt(token)
    assert claims["attested_keys"] == [other.public_jwk()]
    assert "key_storage" not in claims
    assert claims["nonce"] == "n"


async def test_the_wallet_refuses_hosts_outside_loopback(session: aiohttp.ClientSession) -> None:
    """Tests reach loopback only: any other host is refused before a connection is made."""
    wallet = Wallet(session)
    with pytest.raises(WalletError) as refused:
        await wallet.fetch_issuer_metadata("https://issuer.example.com/t")
    assert refused.value.code == "not_loopback"


# -- Holder checks: SD-JWT VC ------------------------------------------------------------

ISSUER = "https://issuer.example/issuers/t1"


def sd_jwt_vc(
    issuer_key: KeyPair,
    holder: KeyPair,
    *,
    typ: str = "dc+sd-jwt",
    header: dict[str, Any] | None = None,
) -> str:
    """An SD-JWT VC issued by the independent sd-jwt package."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
        "vct": "urn:example:pid",
        SDObj("given_name"): "Erika",
        SDObj("address"): {SDObj("locality"): "Berlin", "country": "DE"},
        "nationalities": [SDObj("DE"), "FR"],
    }
    issued: str = SDJWTIssuer(
        claims,
        issuer_key.jwcrypto_key(),
        holder_key=JWK.from_pyca(holder.private_key),
        add_decoy_claims=True,
        extra_header_parameters={"typ": typ, **(header or {"kid": "k1"})},
    ).sd_jwt_issuance
    return issued


def test_an_sd_jwt_vc_from_an_independent_issuer_verifies() -> None:
    """Signature by kid, every disclosure, iss, vct and the cnf.jwk binding all check out."""
    issuer_key, holder = KeyPair.generate(), KeyPair.generate()
    jwks = {
        "keys": [
            {**KeyPair.generate().public_jwk(), "kid": "k0"},
            {**issuer_key.public_jwk(), "kid": "k1"},
        ]
    }
    other = KeyPair.generate()
    verified = verify_sd_jwt_vc(
        sd_jwt_vc(issuer_key, holder),
        holder_keys=[other, holder],
        issuer_jwks=jwks,
        expected_issuer=ISSUER,
        expected_vct="urn:example:pid",
    )
    assert verified.holder_key_index == 1
    assert verified.claims["given_name"] == "Erika"
    assert verified.claims["address"] == {"locality": "Berlin", "country": "DE"}
    assert verified.claims["nationalities"] == ["DE", "FR"]
    assert not verified.by_certificate


def test_an_sd_jwt_vc_signed_by_x5c_verifies_against_the_anchor() -> None:
    """With trust anchors, the key is the x5c leaf certified by the CA."""
    ca = CertificateAuthority.generate("Issuer CA")
    issuer_key, holder = KeyPair.generate(), KeyPair.generate()
    leaf = ca.issue(issuer_key.public_key, "Issuer")
    x5c = [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()]
    credential = sd_jwt_vc(issuer_key, holder, header={"x5c": x5c})
    verified = verify_sd_jwt_vc(credential, holder_keys=holder, trust_anchors=[ca.certificate])
    assert verified.by_certificate
    with pytest.raises(CredentialRejected) as refused:
        verify_sd_jwt_vc(
            credential,
            holder_keys=holder,
            trust_anchors=[CertificateAuthority.generate().certificate],
        )
    assert refused.value.code == "chain_untrusted"


def test_sd_jwt_vc_holder_checks_refuse_what_they_must() -> None:
    """Another holder key, another issuer key, a foreign disclosure, a wrong typ are refused."""
    issuer_key, holder = KeyPair.generate(), KeyPair.generate()
    jwks = {"keys": [{**issuer_key.public_jwk(), "kid": "k1"}]}
    credential = sd_jwt_vc(issuer_key, holder)

    def code(text: str, **overrides: Any) -> str:
        options: dict[str, Any] = {"holder_keys": holder, "issuer_jwks": jwks, **overrides}
        with pytest.raises(CredentialRejected) as refused:
            verify_sd_jwt_vc(text, **options)
        return refused.value.code

    assert code(credential, holder_keys=KeyPair.generate()) == "binding_mismatch"
    assert (
        code(credential, issuer_jwks={"keys": [{**KeyPair.generate().public_jwk(), "kid": "k1"}]})
        == "signature_invalid"
    )
    assert code(credential, expected_issuer="https://other.example") == "issuer_mismatch"
    foreign = b64url_encode(json.dumps(["salt-salt-salt", "family_name", "X"]).encode())
    assert code(credential + foreign + "~") == "disclosure_unreferenced"
    assert code(credential + "eyJ") == "format_invalid"  # a trailing KB-JWT-like part
    assert code(sd_jwt_vc(issuer_key, holder, typ="vc+sd-jwt")) == "typ_invalid"


# -- Holder checks: mdoc -----------------------------------------------------------------


def make_mdoc(
    holder: KeyPair,
    signer: KeyPair,
    certificate: x509.Certificate,
    *,
    doc_type: str = "eu.europa.ec.eudi.pid.1",
    tamper: bool = False,
) -> str:
    """An IssuerSigned built with cbor2 and signed with pycose, as ISO/IEC 18013-5 §9.1.2."""
    namespace = doc_type
    elements = {"family_name": "Mustermann", "age_over_18": True}
    items = []
    digests = {}
    for digest_id, (name, value) in enumerate(elements.items()):
        item = {
            "digestID": digest_id,
            "random": secrets.token_bytes(16),
            "elementIdentifier": name,
            "elementValue": value,
        }
        tagged = cbor2.CBORTag(24, cbor2.dumps(item))
        digests[digest_id] = hashlib.sha256(cbor2.dumps(tagged)).digest()
        if tamper and name == "family_name":
            tagged = cbor2.CBORTag(24, cbor2.dumps({**item, "elementValue": "Forged"}))
        items.append(tagged)
    now = datetime.now(UTC).replace(microsecond=0)
    mso = {
        "version": "1.0",
        "digestAlgorithm": "SHA-256",
        "valueDigests": {namespace: digests},
        "deviceKeyInfo": {"deviceKey": holder.cose_key()},
        "docType": doc_type,
        "validityInfo": {
            "signed": now,
            "validFrom": now,
            "validUntil": now + timedelta(days=30),
        },
    }
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso)))
    der = certificate.public_bytes(serialization.Encoding.DER)
    message = Sign1Message(phdr={Algorithm: Es256}, uhdr={X5chain: der}, payload=payload)
    numbers = signer.private_key.private_numbers()
    public = numbers.public_numbers
    message.key = EC2Key(
        crv=P256,
        x=public.x.to_bytes(32, "big"),
        y=public.y.to_bytes(32, "big"),
        d=numbers.private_value.to_bytes(32, "big"),
    )
    issuer_auth = cbor2.loads(message.encode(tag=False))
    issuer_signed = {"nameSpaces": {namespace: items}, "issuerAuth": issuer_auth}
    return b64url_encode(cbor2.dumps(issuer_signed))


@pytest.fixture
def document_signer() -> tuple[CertificateAuthority, KeyPair, x509.Certificate]:
    ca = CertificateAuthority.generate("Test IACA")
    signer = KeyPair.generate()
    return ca, signer, ca.issue(signer.public_key, "Test Document Signer")


def test_an_mdoc_signed_with_pycose_verifies(
    document_signer: tuple[CertificateAuthority, KeyPair, x509.Certificate],
) -> None:
    """IssuerAuth, every digest, docType, validity and the deviceKey binding check out."""
    ca, signer, certificate = document_signer
    holder = KeyPair.generate()
    verified = verify_mdoc(
        make_mdoc(holder, signer, certificate),
        holder_keys=holder,
        trust_anchors=[ca.certificate],
        expected_doctype="eu.europa.ec.eudi.pid.1",
    )
    assert verified.trusted
    assert verified.claims == {
        "eu.europa.ec.eudi.pid.1": {"family_name": "Mustermann", "age_over_18": True}
    }
    assert verified.certificate_chain == (certificate,)


def test_mdoc_holder_checks_refuse_what_they_must(
    document_signer: tuple[CertificateAuthority, KeyPair, x509.Certificate],
) -> None:
    """Another device key, a changed element, another docType and an untrusted CA are refused."""
    ca, signer, certificate = document_signer
    holder = KeyPair.generate()
    good = make_mdoc(holder, signer, certificate)

    def code(text: str, **overrides: Any) -> str:
        options: dict[str, Any] = {
            "holder_keys": holder,
            "trust_anchors": [ca.certificate],
            **overrides,
        }
        with pytest.raises(CredentialRejected) as refused:
            verify_mdoc(text, **options)
        return refused.value.code

    assert code(good, holder_keys=KeyPair.generate()) == "binding_mismatch"
    assert code(make_mdoc(holder, signer, certificate, tamper=True)) == "digest_mismatch"
    assert code(good, expected_doctype="org.iso.18013.5.1.mDL") == "doctype_mismatch"
    assert (
        code(good, trust_anchors=[CertificateAuthority.generate().certificate]) == "chain_untrusted"
    )
    forged_signer = KeyPair.generate()
    assert code(make_mdoc(holder, forged_signer, certificate)) == "signature_invalid"
    assert code(base64.b64encode(b"\xff\xfe").decode() + "+/") == "format_invalid"
