"""mdoc session transcripts of OpenID4VP requests against the byte-exact examples of
OpenID4VP 1.0 Appendix B.2.6.1 (redirects) and B.2.6.2 (Digital Credentials API).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import cbor2
import pytest

from eudi_connect.core.jose import InvalidJwkError, SigningKey, generate_p256_key, public_jwk
from eudi_connect.core.mdoc import (
    PID_DOCTYPE,
    PID_NAMESPACE,
    MdocVerificationError,
    SessionTranscriptError,
    ValidityInfo,
    check_session_transcript,
    issue_mdoc,
    make_device_response,
    verify_device_response,
)
from eudi_connect.core.oid4vp import (
    ResponseEncryptionKey,
    dc_api_audience,
    dc_api_session_transcript,
    redirect_session_transcript,
    thumbprint_bytes,
)
from eudi_connect.core.verdicts import VerificationFailureReason
from eudi_connect.errors import InvalidArgumentError
from tests.unit.mdoc_fixtures import SIGNED, issuer_certificate

#: The example encryption key of Appendix B.2.6 and its thumbprint as the info holds it.
EXAMPLE_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
    "use": "enc",
    "alg": "ECDH-ES",
    "kid": "1",
}
EXAMPLE_THUMBPRINT = "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047"
NONCE = "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA"
REDIRECT_TRANSCRIPT = (
    "83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8e"
    "ed494cefdd9d95240d254b046b11b68013722aad38ac"
)
DC_API_TRANSCRIPT = (
    "83f6f682764f70656e4944345650444341504948616e646f7665725820fbece366f4"
    "212f9762c74cfdbf83b8c69e371d5d68cea09cb4c48ca6daab761a"
)


def test_thumbprint_of_the_example_key() -> None:
    """The RFC 7638 thumbprint of the example JWK is the one the example info carries."""
    assert thumbprint_bytes(EXAMPLE_JWK) == bytes.fromhex(EXAMPLE_THUMBPRINT)
    assert thumbprint_bytes(None) is None


def test_redirect_transcript_is_the_specification_example() -> None:
    """client_id x509_san_dns:example.com, the example nonce, key and response URI give
    the SessionTranscript bytes of Appendix B.2.6.1."""
    transcript = redirect_session_transcript(
        client_id="x509_san_dns:example.com",
        nonce=NONCE,
        response_uri="https://example.com/response",
        encryption_jwk=EXAMPLE_JWK,
    )
    assert transcript.hex() == REDIRECT_TRANSCRIPT
    check_session_transcript(transcript)


def test_dc_api_transcript_is_the_specification_example() -> None:
    """Origin https://example.com, the example nonce and key give the bytes of B.2.6.2."""
    transcript = dc_api_session_transcript(
        origin="https://example.com", nonce=NONCE, encryption_jwk=EXAMPLE_JWK
    )
    assert transcript.hex() == DC_API_TRANSCRIPT


def test_unencrypted_responses_put_null_in_place_of_the_thumbprint() -> None:
    """direct_post and dc_api hash info arrays whose third element is CBOR null."""
    redirect = redirect_session_transcript(
        client_id="x509_hash:abc",
        nonce="n",
        response_uri="https://v.example/r",
        encryption_jwk=None,
    )
    info = cbor2.dumps(["x509_hash:abc", "n", None, "https://v.example/r"])
    assert cbor2.loads(redirect) == [
        None,
        None,
        ["OpenID4VPHandover", hashlib.sha256(info).digest()],
    ]
    dc_api = dc_api_session_transcript(origin="https://v.example", nonce="n", encryption_jwk=None)
    info = cbor2.dumps(["https://v.example", "n", None])
    assert cbor2.loads(dc_api) == [
        None,
        None,
        ["OpenID4VPDCAPIHandover", hashlib.sha256(info).digest()],
    ]


def test_transcript_binds_the_request_key() -> None:
    """Another encryption key, nonce, client or URI gives another transcript."""
    key = ResponseEncryptionKey.generate()
    base = {
        "client_id": "x509_hash:abc",
        "nonce": "n",
        "response_uri": "https://v.example/r",
        "encryption_jwk": key.public_jwk(),
    }
    first = redirect_session_transcript(**base)  # type: ignore[arg-type]
    for name, value in (
        ("client_id", "x509_hash:abd"),
        ("nonce", "m"),
        ("response_uri", "https://v.example/s"),
        ("encryption_jwk", ResponseEncryptionKey.generate().public_jwk()),
    ):
        assert redirect_session_transcript(**{**base, name: value}) != first  # type: ignore[arg-type]


def test_inputs_are_checked() -> None:
    """Empty values, an origin with its prefix and a JWK without coordinates are refused."""
    with pytest.raises(SessionTranscriptError):
        redirect_session_transcript(
            client_id="", nonce="n", response_uri="https://v.example/r", encryption_jwk=None
        )
    with pytest.raises(SessionTranscriptError):
        dc_api_session_transcript(origin="origin:https://v.example", nonce="n", encryption_jwk=None)
    with pytest.raises(InvalidJwkError):
        thumbprint_bytes({"kty": "EC"})


def test_dc_api_audience() -> None:
    """Over the DC API the KB-JWT audience is the origin prefixed with origin:."""
    assert dc_api_audience("https://v.example") == "origin:https://v.example"
    with pytest.raises(InvalidArgumentError):
        dc_api_audience("origin:https://v.example")


def test_device_response_binds_its_transcript() -> None:
    """A DeviceResponse signed over the DC API transcript of a request verifies against that
    transcript, and not against the redirect one of the same nonce and key."""
    issuer_key = SigningKey("issuer-1", generate_p256_key())
    certificate = issuer_certificate(issuer_key)
    holder_key = generate_p256_key()
    issued = issue_mdoc(
        {PID_NAMESPACE: {"given_name": "Erika"}},
        doc_type=PID_DOCTYPE,
        holder_jwk=public_jwk(holder_key.public_key()),
        validity=ValidityInfo(SIGNED, SIGNED, SIGNED + timedelta(days=30)),
        signing_key=issuer_key,
        certificate_chain=[certificate],
    )
    encryption = ResponseEncryptionKey.generate().public_jwk()
    dc_api = dc_api_session_transcript(
        origin="https://v.example", nonce=NONCE, encryption_jwk=encryption
    )
    redirect = redirect_session_transcript(
        client_id="x509_san_dns:v.example",
        nonce=NONCE,
        response_uri="https://v.example/response",
        encryption_jwk=encryption,
    )
    response = make_device_response(
        issued.credential, holder_key=holder_key, session_transcript=dc_api
    )
    verified = verify_device_response(
        response,
        session_transcript=dc_api,
        trust_anchors=[certificate],
        now=SIGNED + timedelta(days=1),
    )
    assert verified.mdoc.claims == {PID_NAMESPACE: {"given_name": "Erika"}}
    with pytest.raises(MdocVerificationError) as caught:
        verify_device_response(
            response,
            session_transcript=redirect,
            trust_anchors=[certificate],
            now=SIGNED + timedelta(days=1),
        )
    assert caught.value.failure == VerificationFailureReason.KEY_BINDING_INVALID
