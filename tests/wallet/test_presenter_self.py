"""Self-tests of the OpenID4VP holder: the spec's test vectors, DCQL evaluation, the
presentations checked by independent libraries (sd-jwt, pycose, jwcrypto), and whole
exchanges against a minimal verifier on loopback that checks what the wallet sends."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import cbor2
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from jwcrypto.common import JWException
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message
from sd_jwt.verifier import SDJWTVerifier

from tests.wallet.attestations import x5c_value
from tests.wallet.authorization_request import (
    RequestRefused,
    certificate_hash,
    parse_authorization_request_uri,
    verify_request_object,
)
from tests.wallet.dcql import (
    MSO_MDOC,
    SD_JWT_VC,
    DcqlInvalid,
    DcqlUnsatisfied,
    HeldCredential,
    evaluate,
    resolve_json_path,
)
from tests.wallet.jose_tools import sign_jwt
from tests.wallet.keys import KeyPair
from tests.wallet.presentations import (
    dc_api_session_transcript,
    device_authentication_bytes,
    held_sd_jwt_vc,
    present_mdoc,
    present_sd_jwt_vc,
    redirect_session_transcript,
)
from tests.wallet.presenter import PresentationWallet, ResponseOptions
from tests.wallet.response_encryption import encrypt_response, jwk_thumbprint
from tests.wallet.test_wallet_self import make_mdoc, sd_jwt_vc

# -- Test vectors of OpenID4VP 1.0 Appendix B.2.6 ------------------------------------------

SPEC_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
    "use": "enc",
    "alg": "ECDH-ES",
    "kid": "1",
}
SPEC_NONCE = "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA"


def test_the_jwk_thumbprint_matches_the_handover_example() -> None:
    """RFC 7638 over kty, crv, x, y only gives the bytes of the spec's handover example."""
    assert jwk_thumbprint(SPEC_JWK).hex() == (
        "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047"
    )


def test_the_redirect_session_transcript_matches_the_specification() -> None:
    """B.2.6.1: the SessionTranscript bytes equal the spec's example."""
    transcript = redirect_session_transcript(
        client_id="x509_san_dns:example.com",
        nonce=SPEC_NONCE,
        response_uri="https://example.com/response",
        jwk_thumbprint=jwk_thumbprint(SPEC_JWK),
    )
    assert transcript.hex() == (
        "83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8e"
        "ed494cefdd9d95240d254b046b11b68013722aad38ac"
    )


def test_the_dc_api_session_transcript_matches_the_specification() -> None:
    """B.2.6.2: the SessionTranscript bytes equal the spec's example."""
    transcript = dc_api_session_transcript(
        origin="https://example.com", nonce=SPEC_NONCE, jwk_thumbprint=jwk_thumbprint(SPEC_JWK)
    )
    assert transcript.hex() == (
        "83f6f682764f70656e4944345650444341504948616e646f7665725820fbece366f4"
        "212f9762c74cfdbf83b8c69e371d5d68cea09cb4c48ca6daab761a"
    )


# -- DCQL -----------------------------------------------------------------------------------

PID = HeldCredential(
    SD_JWT_VC,
    "pid",
    {
        "vct": "urn:eudi:pid:1",
        "given_name": "Erika",
        "age_over_18": True,
        "address": {"locality": "Berlin", "country": "DE"},
        "nationalities": ["DE", "FR"],
    },
    vct="urn:eudi:pid:1",
)
PID_MDOC = HeldCredential(
    MSO_MDOC,
    "mdoc",
    {"eu.europa.ec.eudi.pid.1": {"family_name": "Mustermann", "age_over_18": True}},
    doctype="eu.europa.ec.eudi.pid.1",
)
OTHER_PID = HeldCredential(SD_JWT_VC, "pid2", {**PID.claims, "given_name": "Max"}, vct=PID.vct)


def test_claims_path_pointers_follow_section_7() -> None:
    """Strings select keys, null every element, integers an index; a missing key is none."""
    assert resolve_json_path(PID.claims, ["address", "locality"]) == [("address", "locality")]
    assert resolve_json_path(PID.claims, ["nationalities", None]) == [
        ("nationalities", 0),
        ("nationalities", 1),
    ]
    assert resolve_json_path(PID.claims, ["nationalities", 1]) == [("nationalities", 1)]
    assert resolve_json_path(PID.claims, ["nationalities", 5]) == []
    assert resolve_json_path(PID.claims, ["given_name", "x"]) == []
    assert resolve_json_path(PID.claims, ["missing"]) == []


def _query(*credentials: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"credentials": list(credentials), **rest}


SD_QUERY = {
    "id": "pid",
    "format": SD_JWT_VC,
    "meta": {"vct_values": ["urn:eudi:pid:1"]},
    "claims": [{"path": ["given_name"]}, {"path": ["address", "locality"]}],
}
MDOC_QUERY = {
    "id": "mdl",
    "format": MSO_MDOC,
    "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
    "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"], "values": [True]}],
}


def test_dcql_selects_every_query_with_its_claims() -> None:
    """Without credential_sets every query is answered with all of its claims."""
    selection = evaluate(_query(SD_QUERY, MDOC_QUERY), [PID, PID_MDOC])
    assert selection.query_ids == ["pid", "mdl"]
    [pid] = selection.by_query["pid"]
    assert pid.paths == (("given_name",), ("address", "locality"))
    [mdl] = selection.by_query["mdl"]
    assert mdl.held is PID_MDOC
    assert mdl.paths == (("eu.europa.ec.eudi.pid.1", "age_over_18"),)


def test_dcql_refuses_when_a_claim_or_value_is_missing() -> None:
    """A claim the credential lacks, or a value that does not match exactly, answers nothing."""
    with pytest.raises(DcqlUnsatisfied):
        evaluate(_query({**SD_QUERY, "claims": [{"path": ["birth_date"]}]}), [PID])
    with pytest.raises(DcqlUnsatisfied):
        evaluate(_query({**SD_QUERY, "claims": [{"path": ["age_over_18"], "values": [1]}]}), [PID])
    with pytest.raises(DcqlUnsatisfied):
        evaluate(_query({**SD_QUERY, "meta": {"vct_values": ["urn:other"]}}), [PID])


def test_claim_sets_take_the_first_option_the_wallet_can_meet() -> None:
    """claim_sets: the first satisfiable option, and only its claims."""
    query = {
        **SD_QUERY,
        "claims": [
            {"id": "birth", "path": ["birth_date"]},
            {"id": "over18", "path": ["age_over_18"]},
            {"id": "name", "path": ["given_name"]},
        ],
        "claim_sets": [["birth"], ["over18"], ["name"]],
    }
    [chosen] = evaluate(_query(query), [PID]).by_query["pid"]
    assert chosen.claim_ids == ("over18",)
    assert chosen.paths == (("age_over_18",),)


def test_credential_sets_pick_an_option_and_skip_unmet_optional_sets() -> None:
    """A required set's first satisfiable option; an optional set that cannot be met is left."""
    unknown = {**MDOC_QUERY, "id": "other", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}}
    query = _query(
        SD_QUERY,
        MDOC_QUERY,
        unknown,
        credential_sets=[
            {"options": [["other"], ["mdl"], ["pid"]]},
            {"options": [["other"]], "required": False},
        ],
    )
    assert evaluate(query, [PID, PID_MDOC]).query_ids == ["mdl"]
    with pytest.raises(DcqlUnsatisfied):
        evaluate(_query(unknown, credential_sets=[{"options": [["other"]]}]), [PID])


def test_multiple_returns_every_matching_credential() -> None:
    """multiple: every match; without it, the first only."""
    assert (
        len(evaluate(_query({**SD_QUERY, "multiple": True}), [PID, OTHER_PID]).by_query["pid"]) == 2
    )
    assert len(evaluate(_query(SD_QUERY), [PID, OTHER_PID]).by_query["pid"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"credentials": []},
        _query({**SD_QUERY, "id": "bad id"}),
        _query(SD_QUERY, SD_QUERY),
        _query({**SD_QUERY, "claim_sets": [["x"]]}),
        _query(SD_QUERY, credential_sets=[{"options": [["nope"]]}]),
        _query({k: v for k, v in SD_QUERY.items() if k != "meta"}),
    ],
)
def test_invalid_dcql_is_refused(query: dict[str, Any]) -> None:
    """Structural errors of section 6 are invalid_request, not an empty answer."""
    with pytest.raises(DcqlInvalid):
        evaluate(query, [PID])


# -- Presentations ------------------------------------------------------------------------


def test_an_sd_jwt_presentation_verifies_with_the_sd_jwt_package() -> None:
    """Only the selected disclosures go out, and the KB-JWT checks aud, nonce and sd_hash."""
    issuer, holder = KeyPair.generate(), KeyPair.generate()
    credential = sd_jwt_vc(issuer, holder)
    presentation = present_sd_jwt_vc(
        credential, holder, paths=[("address", "locality")], audience="x509_san_dns:v", nonce="n1"
    )
    assert len(presentation.split("~")) == 4  # JWT, address, locality, KB-JWT
    claims = SDJWTVerifier(
        presentation,
        lambda _iss, _header: issuer.jwcrypto_key(),
        expected_aud="x509_san_dns:v",
        expected_nonce="n1",
    ).get_verified_payload()
    assert claims["address"] == {"locality": "Berlin", "country": "DE"}
    assert "given_name" not in claims
    with pytest.raises(ValueError, match="nonce"):
        SDJWTVerifier(
            presentation,
            lambda _iss, _header: issuer.jwcrypto_key(),
            expected_aud="x509_san_dns:v",
            expected_nonce="other",
        )


def test_an_mdoc_device_signature_verifies_with_pycose_over_the_transcript() -> None:
    """The DeviceResponse shows the selected element only, signed over the session."""
    issuer, holder = KeyPair.generate(), KeyPair.generate()
    credential = make_mdoc(holder, issuer, _certificate(issuer, "issuer.example"))
    transcript = redirect_session_transcript(
        client_id="x509_san_dns:v", nonce="n1", response_uri="https://v/r", jwk_thumbprint=None
    )
    encoded = present_mdoc(
        credential,
        holder,
        paths=[("eu.europa.ec.eudi.pid.1", "age_over_18")],
        session_transcript=transcript,
    )
    response = cbor2.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    [document] = response["documents"]
    items = document["issuerSigned"]["nameSpaces"]["eu.europa.ec.eudi.pid.1"]
    assert [cbor2.loads(i.value)["elementIdentifier"] for i in items] == ["age_over_18"]
    device_signed = document["deviceSigned"]
    signature = device_signed["deviceAuth"]["deviceSignature"]
    assert signature[2] is None
    payload = device_authentication_bytes(
        transcript, document["docType"], device_signed["nameSpaces"].value
    )
    message = Sign1Message.from_cose_obj([signature[0], signature[1], payload, signature[3]], True)
    x, y = holder.cose_key()[-2], holder.cose_key()[-3]
    message.key = EC2Key(crv=P256, x=x, y=y)
    assert message.verify_signature()


# -- Request objects ----------------------------------------------------------------------


def _certificate(key: KeyPair, dns_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(key.private_key, hashes.SHA256())
    )


def _request_claims(client_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": "https://v.example/response",
        "nonce": "n1",
        "state": "s1",
        "dcql_query": _query(SD_QUERY),
        **extra,
    }


def test_request_objects_are_checked_against_the_certificate_and_client_id() -> None:
    """x509_san_dns needs the leaf's dNSName, x509_hash its hash; others are refused."""
    key = KeyPair.generate()
    certificate = _certificate(key, "v.example")
    header = {"typ": "oauth-authz-req+jwt", "x5c": x5c_value([certificate])}
    good = sign_jwt(key, header, _request_claims("x509_san_dns:v.example"))
    assert verify_request_object(good, trusted=[certificate]).client_id == "x509_san_dns:v.example"
    hashed = f"x509_hash:{certificate_hash(certificate)}"
    assert (
        verify_request_object(
            sign_jwt(key, header, _request_claims(hashed)), trusted=[certificate]
        ).client_id_prefix
        == "x509_hash"
    )
    refusals = {
        "wrong_dns": sign_jwt(key, header, _request_claims("x509_san_dns:other.example")),
        "wrong_hash": sign_jwt(key, header, _request_claims("x509_hash:AAAA")),
        "typ": sign_jwt(key, {**header, "typ": "JWT"}, _request_claims("x509_san_dns:v.example")),
        "signer": sign_jwt(KeyPair.generate(), header, _request_claims("x509_san_dns:v.example")),
    }
    for name, token in refusals.items():
        with pytest.raises(RequestRefused):
            verify_request_object(token, trusted=[certificate])
        assert name
    with pytest.raises(RequestRefused) as untrusted:
        verify_request_object(good, trusted=[_certificate(KeyPair.generate(), "v.example")])
    assert untrusted.value.code == "invalid_client"


def test_an_x509_san_dns_client_answers_only_at_its_own_host() -> None:
    """§5.9.3: a response URI on another host than the DNS name is refused, unless the
    wallet trusts that client id by name."""
    key = KeyPair.generate()
    certificate = _certificate(key, "v.example")
    header = {"typ": "oauth-authz-req+jwt", "x5c": x5c_value([certificate])}
    claims = _request_claims("x509_san_dns:v.example", response_uri="https://evil.example/r")
    token = sign_jwt(key, header, claims)
    with pytest.raises(RequestRefused) as refused:
        verify_request_object(token, trusted=[certificate])
    assert refused.value.code == "invalid_request"
    trusted = verify_request_object(
        token, trusted=[certificate], trusted_client_ids=["x509_san_dns:v.example"]
    )
    assert trusted.response_uri == "https://evil.example/r"


def test_authorization_request_links_are_parsed() -> None:
    """client_id, request_uri and request_uri_method come from the link; others refused."""
    link = parse_authorization_request_uri(
        "openid4vp://?" + urlencode({"client_id": "x509_san_dns:v", "request_uri": "https://v/r"})
    )
    assert (link.client_id, link.request_uri, link.request_uri_method) == (
        "x509_san_dns:v",
        "https://v/r",
        "get",
    )
    with pytest.raises(RequestRefused) as refused:
        parse_authorization_request_uri(
            "openid4vp://?client_id=a&request_uri=https://v/r&request_uri_method=PUT"
        )
    assert refused.value.code == "invalid_request_uri_method"


def test_an_encrypted_response_decrypts_with_the_verifier_key() -> None:
    """ECDH-ES with the key's kid and the chosen enc; jwcrypto decrypts it."""
    verifier = JWK.generate(kty="EC", crv="P-256")
    public = {**verifier.export_public(as_dict=True), "alg": "ECDH-ES", "kid": "k1", "use": "enc"}
    token = encrypt_response({"vp_token": {"a": ["b"]}}, public, enc="A256GCM")
    jwe = JWE()
    jwe.deserialize(token, key=verifier)
    assert json.loads(jwe.payload) == {"vp_token": {"a": ["b"]}}
    assert jwe.jose_header["kid"] == "k1"
    assert jwe.jose_header["enc"] == "A256GCM"


# -- Whole exchanges against a minimal verifier --------------------------------------------


class SpecVerifier:
    """A verifier on loopback that serves one signed request and checks the response with
    jwcrypto, sd-jwt and pycose, answering as OpenID4VP §8.2 says."""

    def __init__(self) -> None:
        self.base = ""
        self.key = KeyPair.generate()
        self.certificate = _certificate(self.key, "127.0.0.1")
        self.encryption = JWK.generate(kty="EC", crv="P-256")
        self.issuer = KeyPair.generate()
        self.nonce = secrets.token_urlsafe(16)
        self.state = secrets.token_urlsafe(16)
        self.mode = "direct_post.jwt"
        self.wallet_nonces: list[str | None] = []
        self.received: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/request", self.request_object),
                web.post("/request", self.request_object),
                web.post("/response", self.response),
            ]
        )

    @property
    def client_id(self) -> str:
        return "x509_san_dns:127.0.0.1"

    @property
    def public_encryption_jwk(self) -> dict[str, Any]:
        return {**self.encryption.export_public(as_dict=True), "alg": "ECDH-ES", "use": "enc"}

    def link(self, method: str = "get") -> str:
        return "openid4vp://?" + urlencode(
            {
                "client_id": self.client_id,
                "request_uri": f"{self.base}/request",
                "request_uri_method": method,
            }
        )

    async def request_object(self, request: web.Request) -> web.Response:
        form = dict(await request.post()) if request.method == "POST" else {}
        wallet_nonce = form.get("wallet_nonce")
        self.wallet_nonces.append(str(wallet_nonce) if wallet_nonce is not None else None)
        claims = _request_claims(
            self.client_id,
            response_mode=self.mode,
            response_uri=f"{self.base}/response",
            nonce=self.nonce,
            state=self.state,
            dcql_query=_query(
                {
                    **SD_QUERY,
                    "meta": {"vct_values": ["urn:example:pid"]},
                    "claims": [{"path": ["given_name"]}],
                },
                {**MDOC_QUERY, "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "family_name"]}]},
            ),
            client_metadata={
                "jwks": {"keys": [self.public_encryption_jwk]},
                "encrypted_response_enc_values_supported": ["A256GCM"],
                "vp_formats_supported": {"dc+sd-jwt": {}, "mso_mdoc": {}},
            },
            exp=int(time.time()) + 300,
        )
        if wallet_nonce is not None:
            claims["wallet_nonce"] = wallet_nonce
        header = {"typ": "oauth-authz-req+jwt", "x5c": x5c_value([self.certificate])}
        return web.Response(
            text=sign_jwt(self.key, header, claims), content_type="application/oauth-authz-req+jwt"
        )

    async def response(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.mode == "direct_post.jwt":
            if set(form) != {"response"}:
                return web.json_response({"error": "invalid_request"}, status=400)
            jwe = JWE()
            jwe.deserialize(form["response"], key=self.encryption)
            payload = json.loads(jwe.payload)
        else:
            payload = {k: json.loads(v) if k == "vp_token" else v for k, v in form.items()}
        self.received.append(payload)
        if payload.get("state") != self.state:
            return web.json_response({"error": "invalid_request"}, status=400)
        try:
            self.check(payload["vp_token"])
        except Exception as exc:  # any failed check is the wallet's fault here
            return web.json_response(
                {"error": "invalid_request", "error_description": str(exc)}, status=400
            )
        return web.json_response({"redirect_uri": f"{self.base}/done#response_code=c1"})

    def check(self, vp_token: dict[str, list[str]]) -> None:
        [sd] = vp_token["pid"]
        claims = SDJWTVerifier(
            sd, lambda _i, _h: self.issuer.jwcrypto_key(), self.client_id, self.nonce
        ).get_verified_payload()
        assert claims["given_name"] == "Erika"
        assert "address" not in claims
        [mdoc] = vp_token["mdl"]
        response = cbor2.loads(base64.urlsafe_b64decode(mdoc + "=" * (-len(mdoc) % 4)))
        [document] = response["documents"]
        signed = document["deviceSigned"]
        signature = signed["deviceAuth"]["deviceSignature"]
        thumbprint = jwk_thumbprint(self.public_encryption_jwk)
        transcript = redirect_session_transcript(
            client_id=self.client_id,
            nonce=self.nonce,
            response_uri=f"{self.base}/response",
            jwk_thumbprint=thumbprint if self.mode == "direct_post.jwt" else None,
        )
        payload = device_authentication_bytes(
            transcript, document["docType"], signed["nameSpaces"].value
        )
        message = Sign1Message.from_cose_obj(
            [signature[0], signature[1], payload, signature[3]], True
        )
        message.key = self.holder_cose_key
        assert message.verify_signature(), "device signature"

    holder_cose_key: EC2Key


@pytest.fixture
async def spec_verifier() -> AsyncIterator[SpecVerifier]:
    verifier = SpecVerifier()
    runner = web.AppRunner(verifier.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    verifier.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield verifier
    await runner.cleanup()


@pytest.fixture
async def holder_wallet(spec_verifier: SpecVerifier) -> AsyncIterator[PresentationWallet]:
    async with aiohttp.ClientSession() as session:
        wallet = PresentationWallet(session, trusted=[spec_verifier.certificate])
        holder = KeyPair.generate()
        wallet.hold(sd_jwt_vc(spec_verifier.issuer, holder), [holder])
        issuer_key = KeyPair.generate()
        wallet.hold(make_mdoc(holder, issuer_key, _certificate(issuer_key, "i.example")), [holder])
        x, y = holder.cose_key()[-2], holder.cose_key()[-3]
        spec_verifier.holder_cose_key = EC2Key(crv=P256, x=x, y=y)
        yield wallet


@pytest.mark.parametrize("mode", ["direct_post.jwt", "direct_post"])
async def test_a_whole_exchange_satisfies_an_independent_verifier(
    spec_verifier: SpecVerifier, holder_wallet: PresentationWallet, mode: str
) -> None:
    """Fetch, verify, answer both queries, encrypt when asked: the verifier accepts."""
    spec_verifier.mode = mode
    presented = await holder_wallet.present(spec_verifier.link())
    assert presented.reply.status == 200, presented.reply.describe()
    assert presented.redirect_uri == f"{spec_verifier.base}/done#response_code=c1"
    assert presented.response.encrypted is (mode == "direct_post.jwt")
    assert held_sd_jwt_vc(presented.response.payload["vp_token"]["pid"][0].rsplit("~", 1)[0] + "~")


async def test_request_uri_post_sends_wallet_metadata_and_checks_the_wallet_nonce(
    spec_verifier: SpecVerifier, holder_wallet: PresentationWallet
) -> None:
    """request_uri_method=post: a form with wallet_metadata and wallet_nonce, echoed back."""
    presented = await holder_wallet.present(spec_verifier.link("post"))
    assert presented.reply.status == 200
    [sent] = spec_verifier.wallet_nonces
    assert sent is not None
    assert presented.request.claims["wallet_nonce"] == sent


@pytest.mark.parametrize(
    "options",
    [
        ResponseOptions(nonce="wrong"),
        ResponseOptions(audience="x509_san_dns:other"),
        ResponseOptions(state="other"),
        ResponseOptions(drop_queries=["mdl"]),
        ResponseOptions(sign_with=KeyPair.generate()),
    ],
)
async def test_each_misbehaviour_is_caught_by_the_independent_verifier(
    spec_verifier: SpecVerifier, holder_wallet: PresentationWallet, options: ResponseOptions
) -> None:
    """Every knob breaks the response in a way a correct verifier refuses."""
    presented = await holder_wallet.present(spec_verifier.link(), options)
    assert presented.reply.status == 400
    assert presented.reply.error == "invalid_request"


async def test_a_jwe_to_another_key_is_not_readable_by_the_verifier(
    spec_verifier: SpecVerifier, holder_wallet: PresentationWallet
) -> None:
    """encrypt_to: the JWE goes to the given key, which the verifier cannot decrypt."""
    other = {**JWK.generate(kty="EC", crv="P-256").export_public(as_dict=True), "alg": "ECDH-ES"}
    request = await holder_wallet.fetch_request(spec_verifier.link())
    response = holder_wallet.build_response(request, ResponseOptions(encrypt_to=other))
    jwe = JWE()
    with pytest.raises(JWException):
        jwe.deserialize(response.form["response"], key=spec_verifier.encryption)
    assert hashlib.sha256(response.body.encode()).digest()  # a body exists to post
    plain = holder_wallet.build_response(request, ResponseOptions(plaintext=True))
    assert set(plain.form) == {"vp_token", "state"}
