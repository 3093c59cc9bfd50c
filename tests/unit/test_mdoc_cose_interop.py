"""Our COSE_Sign1 against an independent implementation (pycose), both ways.

mdoc interop stands on COSE: the issuer's `issuerAuth` and the device's `deviceSignature`
must verify in anyone's COSE library, and ours must accept what another library signed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.algorithms import Es256
from pycose.headers import Algorithm, X5chain
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message

from eudi_connect.core.encoding import b64url_decode
from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.key_encryption import new_issuer_key
from eudi_connect.core.mdoc import (
    ValidityInfo,
    issue_mdoc,
    make_issuer_certificate,
    verify_issuer_signed,
)
from eudi_connect.core.mdoc.device_response import open_mdoc, verify_device_response
from eudi_connect.core.mdoc.presentation import make_device_response
from eudi_connect.core.mdoc.session_transcript import (
    device_authentication_bytes,
    openid4vp_session_transcript,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def cose_key(private_key: ec.EllipticCurvePrivateKey, *, with_private: bool) -> EC2Key:
    numbers = private_key.public_key().public_numbers()
    fields: dict[str, Any] = {
        "crv": P256,
        "x": numbers.x.to_bytes(32, "big"),
        "y": numbers.y.to_bytes(32, "big"),
    }
    if with_private:
        fields["d"] = private_key.private_numbers().private_value.to_bytes(32, "big")
    return EC2Key(**fields)


def pycose_sign1(cose_obj: Any) -> Sign1Message:
    # cbor2 6 decodes arrays inside tags as tuples, which pycose 1.1 does not take, so the
    # untagged array goes in directly.
    return Sign1Message.from_cose_obj(list(cose_obj), True)


@pytest.fixture
def issued() -> tuple[Any, bytes, ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey, str]:
    issuer = new_issuer_key()
    certificate = make_issuer_certificate(
        issuer,
        issuer_name="Interop Issuer",
        country="DE",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
    )
    holder = generate_p256_key()
    mdoc = issue_mdoc(
        {"org.example.ns": {"given_name": "Erika", "age_over_18": True}},
        doc_type="org.example.doc.1",
        holder_jwk=public_jwk(holder.public_key()),
        validity=ValidityInfo(signed=NOW, valid_from=NOW, valid_until=NOW + timedelta(days=1)),
        signing_key=issuer,
        certificate_chain=[certificate],
    )
    return issuer, certificate, issuer.private_key, holder, mdoc.credential


def test_pycose_verifies_our_issuer_auth(issued: Any) -> None:
    _, certificate, issuer_key, _, credential = issued
    issuer_auth = cbor2.loads(b64url_decode(credential))["issuerAuth"]
    message = pycose_sign1(issuer_auth)
    assert message.phdr == {Algorithm: Es256}
    assert message.uhdr[X5chain] == certificate
    message.key = cose_key(issuer_key, with_private=False)
    assert message.verify_signature()
    # ... and refuses it once the payload changed: the signature covers the MSO.
    tampered = list(issuer_auth)
    tampered[2] = tampered[2][:-1] + bytes([tampered[2][-1] ^ 1])
    altered = pycose_sign1(tampered)
    altered.key = cose_key(issuer_key, with_private=False)
    assert not altered.verify_signature()


def test_we_verify_an_issuer_auth_that_pycose_signed(issued: Any) -> None:
    _, certificate, issuer_key, _, credential = issued
    issuer_signed = cbor2.loads(b64url_decode(credential))
    payload = issuer_signed["issuerAuth"][2]
    message = Sign1Message(phdr={Algorithm: Es256}, uhdr={X5chain: certificate}, payload=payload)
    message.key = cose_key(issuer_key, with_private=True)
    issuer_signed["issuerAuth"] = cbor2.loads(message.encode(tag=False))
    verified = verify_issuer_signed(
        cbor2.dumps(issuer_signed), trust_anchors=[certificate], now=NOW
    )
    assert verified.doc_type == "org.example.doc.1"
    assert verified.claims == {"org.example.ns": {"given_name": "Erika", "age_over_18": True}}


def test_pycose_verifies_our_device_signature(issued: Any) -> None:
    """The device signature of a DeviceResponse verifies in pycose over the detached
    DeviceAuthenticationBytes, rebuilt from the response's own parts."""
    _, certificate, _, holder, credential = issued
    transcript = openid4vp_session_transcript(
        client_id="x509_san_dns:verifier.example",
        nonce="n-1",
        response_uri="https://verifier.example/response",
    )
    response = make_device_response(credential, holder_key=holder, session_transcript=transcript)
    document = cbor2.loads(b64url_decode(response))["documents"][0]
    device_signed = document["deviceSigned"]
    signature = device_signed["deviceAuth"]["deviceSignature"]
    assert signature[2] is None  # detached, as ISO/IEC 18013-5 requires
    message = pycose_sign1(signature)
    message.key = cose_key(holder, with_private=False)
    detached = device_authentication_bytes(
        transcript, document["docType"], device_signed["nameSpaces"].value
    )
    assert message.verify_signature(detached_payload=detached)
    other = openid4vp_session_transcript(
        client_id="x509_san_dns:verifier.example",
        nonce="n-2",
        response_uri="https://verifier.example/response",
    )
    wrong = device_authentication_bytes(
        other, document["docType"], device_signed["nameSpaces"].value
    )
    assert not message.verify_signature(detached_payload=wrong)
    # Our verifier accepts the same response for the same session.
    assert open_mdoc(response).document is not None
    verified = verify_device_response(
        response, trust_anchors=[certificate], now=NOW, session_transcript=transcript
    )
    assert verified.mdoc.claims["org.example.ns"]["given_name"] == "Erika"
