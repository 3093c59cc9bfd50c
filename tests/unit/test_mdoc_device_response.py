"""mdoc device authentication: DeviceResponse round trips, every session mismatch, tampering,
keyAuthorizations, deviceMac, selective disclosure, the transcript bytes, hostile input.

The transcript and the signed DeviceAuthentication are rebuilt here by hand with plain
`cbor2`, `hashlib` and `cryptography`, so the module is checked against the structures of
ISO/IEC 18013-5 and OpenID4VP 1.0 Appendix B.2.6.1, not against itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import (
    SigningKey,
    es256_sign,
    es256_verify,
    generate_p256_key,
    public_jwk,
)
from eudi_connect.core.mdoc import (
    PID_DOCTYPE,
    PID_NAMESPACE,
    IssuedMdoc,
    MdocVerificationError,
    SessionTranscriptError,
    UnknownElementError,
    ValidityInfo,
    VerifiedPresentation,
    check_session_transcript,
    issue_mdoc,
    make_device_response,
    open_mdoc,
    openid4vp_session_transcript,
    verify_device_response,
)
from eudi_connect.core.mdoc.presentation import MAX_ELEMENTS_LISTED
from eudi_connect.core.verdicts import VerificationFailureReason as Reason
from tests.unit.mdoc_fixtures import ES256_HEADER, SIGNED, issuer_certificate

NOW = SIGNED + timedelta(days=1)
ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": date(1984, 1, 26),
    "age_over_18": True,
}
EXTRA_NAMESPACE = "eu.example.extra.1"
DEVICE_NAMESPACE = "eu.example.device.1"
CLIENT_ID = "x509_san_dns:verifier.example"
NONCE = "n-0S6_WzA2Mj"
RESPONSE_URI = "https://verifier.example/response"


def _transcript(
    client_id: str = CLIENT_ID,
    nonce: str = NONCE,
    response_uri: str = RESPONSE_URI,
    jwk_thumbprint: bytes | None = None,
) -> bytes:
    return openid4vp_session_transcript(
        client_id=client_id, nonce=nonce, response_uri=response_uri, jwk_thumbprint=jwk_thumbprint
    )


TRANSCRIPT = _transcript()


@pytest.fixture(scope="module")
def issuer_key() -> SigningKey:
    return SigningKey("issuer-1", generate_p256_key())


@pytest.fixture(scope="module")
def certificate(issuer_key: SigningKey) -> bytes:
    return issuer_certificate(issuer_key)


@pytest.fixture(scope="module")
def holder_key() -> ec.EllipticCurvePrivateKey:
    return generate_p256_key()


@pytest.fixture(scope="module")
def issued(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> IssuedMdoc:
    return issue_mdoc(
        {PID_NAMESPACE: ELEMENTS, EXTRA_NAMESPACE: {"membership": "gold"}},
        doc_type=PID_DOCTYPE,
        holder_jwk=public_jwk(holder_key.public_key()),
        validity=ValidityInfo(SIGNED, SIGNED, SIGNED + timedelta(days=30)),
        signing_key=issuer_key,
        certificate_chain=[certificate],
    )


def _verify(
    response: str, certificate: bytes, transcript: bytes = TRANSCRIPT
) -> VerifiedPresentation:
    return verify_device_response(
        response, session_transcript=transcript, trust_anchors=[certificate], now=NOW
    )


def _failure(response: str, certificate: bytes, transcript: bytes = TRANSCRIPT) -> object:
    with pytest.raises(MdocVerificationError) as caught:
        _verify(response, certificate, transcript)
    return caught.value.failure


def _present(issued: IssuedMdoc, key: ec.EllipticCurvePrivateKey, **options: Any) -> str:
    options.setdefault("session_transcript", TRANSCRIPT)
    return make_device_response(issued.credential, holder_key=key, **options)


def _decoded(response: str) -> dict[str, Any]:
    value = cbor2.loads(b64url_decode(response))
    assert isinstance(value, dict)
    return value


def _document(response: dict[str, Any]) -> dict[str, Any]:
    document = response["documents"][0]
    assert isinstance(document, dict)
    return document


def _changed(response: str, change: Callable[[dict[str, Any]], object]) -> str:
    value = _decoded(response)
    change(value)
    return b64url_encode(cbor2.dumps(value))


# --- round trip and the structures by hand -----------------------------------------------------


def test_round_trip(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    verified = _verify(_present(issued, holder_key), certificate)
    assert verified.mdoc.doc_type == PID_DOCTYPE
    assert verified.mdoc.claims[PID_NAMESPACE] == ELEMENTS
    assert verified.mdoc.claims[EXTRA_NAMESPACE] == {"membership": "gold"}
    assert verified.mdoc.device_jwk == public_jwk(holder_key.public_key())
    assert verified.device_claims == {}


def test_response_has_the_18013_5_shape(
    issued: IssuedMdoc, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    response = _decoded(_present(issued, holder_key))
    assert response["version"] == "1.0"
    assert response["status"] == 0
    document = _document(response)
    assert document["docType"] == PID_DOCTYPE
    assert document["issuerSigned"] == cbor2.loads(issued.issuer_signed)
    device_signed = document["deviceSigned"]
    assert device_signed["nameSpaces"] == cbor2.CBORTag(24, b"\xa0")  # empty DeviceNameSpaces
    protected, unprotected, payload, signature = device_signed["deviceAuth"]["deviceSignature"]
    assert (protected, unprotected, payload) == (ES256_HEADER, {}, None)
    assert len(signature) == 64


def test_openid4vp_transcript_matches_appendix_b(
    issued: IssuedMdoc, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    """SessionTranscript = [null, null, ["OpenID4VPHandover", sha256(cbor(info))]]."""
    thumbprint = hashlib.sha256(b"verifier encryption key").digest()
    for tp in (None, thumbprint):
        info = cbor2.dumps([CLIENT_ID, NONCE, tp, RESPONSE_URI])
        expected = cbor2.dumps([None, None, ["OpenID4VPHandover", hashlib.sha256(info).digest()]])
        assert _transcript(jwk_thumbprint=tp) == expected
    # the head by hand: array(3), null, null, array(2), text(17) "OpenID4VPHandover", bstr(32)
    assert TRANSCRIPT[:5] == b"\x83\xf6\xf6\x82\x71"
    assert TRANSCRIPT[5:22] == b"OpenID4VPHandover"
    assert TRANSCRIPT[22:24] == b"\x58\x20"
    assert len(TRANSCRIPT) == 24 + 32


def test_device_signature_covers_device_authentication_by_hand(
    issued: IssuedMdoc, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    """Sig_structure over #6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript,
    DocType, DeviceNameSpacesBytes]), the payload detached."""
    document = _document(_decoded(_present(issued, holder_key)))
    device_namespaces = document["deviceSigned"]["nameSpaces"]
    protected, _, _, signature = document["deviceSigned"]["deviceAuth"]["deviceSignature"]
    device_authentication = [
        "DeviceAuthentication",
        cbor2.loads(TRANSCRIPT),
        PID_DOCTYPE,
        device_namespaces,
    ]
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(device_authentication)))
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    assert es256_verify(holder_key.public_key(), to_be_signed, signature)


def test_a_tagged_device_signature_is_accepted(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    def tag(response: dict[str, Any]) -> None:
        auth = _document(response)["deviceSigned"]["deviceAuth"]
        auth["deviceSignature"] = cbor2.CBORTag(18, auth["deviceSignature"])

    _verify(_changed(_present(issued, holder_key), tag), certificate)


def test_any_caller_transcript_works(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    """Protocol-agnostic: an ISO 18013-7 / proximity style transcript, bytes as given."""
    transcript = cbor2.dumps([cbor2.CBORTag(24, b"\xa0"), cbor2.CBORTag(24, b"\xa0"), None])
    response = _present(issued, holder_key, session_transcript=transcript)
    _verify(response, certificate, transcript)
    assert _failure(response, certificate) == Reason.KEY_BINDING_INVALID


# --- the session and the key ----------------------------------------------------------------


@pytest.mark.parametrize(
    "transcript",
    [
        _transcript(nonce="another nonce"),
        _transcript(client_id="x509_san_dns:evil.example"),
        _transcript(response_uri="https://evil.example/response"),
        _transcript(jwk_thumbprint=bytes(32)),
    ],
    ids=["nonce", "client_id", "response_uri", "jwk_thumbprint"],
)
def test_another_session_is_refused(
    transcript: bytes,
    issued: IssuedMdoc,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
) -> None:
    response = _present(issued, holder_key)
    assert _failure(response, certificate, transcript) == Reason.KEY_BINDING_INVALID


def test_another_holder_key_is_refused(issued: IssuedMdoc, certificate: bytes) -> None:
    response = _present(issued, generate_p256_key())
    assert _failure(response, certificate) == Reason.KEY_BINDING_INVALID


def test_issued_signed_alone_needs_device_authentication(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    assert _failure(issued.credential, certificate) == Reason.KEY_BINDING_REQUIRED
    assert open_mdoc(issued.credential).document is None


def test_issuer_side_failures_come_first(
    issued: IssuedMdoc, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    other = issuer_certificate(SigningKey("x", generate_p256_key()), "Other")
    assert _failure(_present(issued, holder_key), other) == Reason.UNKNOWN_ISSUER_KEY


# --- tampering ----------------------------------------------------------------------------


def test_tampered_device_namespaces_are_refused(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    def tamper(response: dict[str, Any]) -> None:
        forged = cbor2.dumps({DEVICE_NAMESPACE: {"over_21": True}})
        _document(response)["deviceSigned"]["nameSpaces"] = cbor2.CBORTag(24, forged)

    response = _changed(_present(issued, holder_key), tamper)
    assert _failure(response, certificate) == Reason.KEY_BINDING_INVALID


def test_document_doc_type_must_be_the_msos(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    def retype(response: dict[str, Any]) -> None:
        _document(response)["docType"] = "org.iso.18013.5.1.mDL"

    response = _changed(_present(issued, holder_key), retype)
    assert _failure(response, certificate) == Reason.KEY_BINDING_INVALID


def test_a_dropped_item_cannot_be_put_back_altered(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    def alter(response: dict[str, Any]) -> None:
        items = _document(response)["issuerSigned"]["nameSpaces"][PID_NAMESPACE]
        item = cbor2.loads(items[0].value)
        item["elementValue"] = "Forged"
        items[0] = cbor2.CBORTag(24, cbor2.dumps(item))

    response = _changed(_present(issued, holder_key, disclose=["given_name"]), alter)
    assert _failure(response, certificate) == Reason.DIGEST_MISMATCH


def test_an_unknown_element_is_named_with_its_likely_spelling_and_the_elements_held(
    issued: IssuedMdoc, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    """Disclosing an element the mdoc lacks names the likely one and every element held
    (in any namespace), rather than presenting less than asked."""
    with pytest.raises(UnknownElementError) as caught:
        _present(issued, holder_key, disclose=["given_name", "birthdate", "nickname"])
    assert caught.value.unknown == ("birthdate", "nickname")
    assert caught.value.available == (
        "age_over_18", "birth_date", "family_name", "given_name", "membership",
    )  # fmt: skip
    assert str(caught.value) == (
        "the mdoc has no element 'birthdate' (did you mean 'birth_date'?), 'nickname'; its "
        "elements: age_over_18, birth_date, family_name, given_name, membership"
    )


def test_the_elements_listed_with_an_unknown_one_are_bounded(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    """An mdoc with many elements lists a bounded number of them and counts the rest."""
    many = issue_mdoc(
        {PID_NAMESPACE: {f"element_{index:03d}": index for index in range(100)}},
        doc_type=PID_DOCTYPE,
        holder_jwk=public_jwk(holder_key.public_key()),
        validity=ValidityInfo(SIGNED, SIGNED, SIGNED + timedelta(days=30)),
        signing_key=issuer_key,
        certificate_chain=[certificate],
    )
    with pytest.raises(UnknownElementError) as caught:
        _present(many, holder_key, disclose=["nickname"])
    listed = str(caught.value).split("its elements: ", 1)[1]
    assert listed.endswith(f"element_{MAX_ELEMENTS_LISTED - 1:03d} and 60 more")
    assert listed.count("element_") == MAX_ELEMENTS_LISTED


# --- device-signed elements and keyAuthorizations -------------------------------------------


def test_device_signed_elements_need_key_authorizations(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    response = _present(issued, holder_key, device_signed={DEVICE_NAMESPACE: {"nickname": "E"}})
    assert _failure(response, certificate) == Reason.KEY_BINDING_INVALID


def _authorized_mdoc(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes, authorizations: dict[str, Any]
) -> IssuedMdoc:
    """The same mdoc with keyAuthorizations in its MSO, re-signed here by the issuer key."""
    issuer_signed = cbor2.loads(issued.issuer_signed)
    mso = cbor2.loads(cbor2.loads(issuer_signed["issuerAuth"][2]).value)
    mso["deviceKeyInfo"]["keyAuthorizations"] = authorizations
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso, canonical=True)))
    to_be_signed = cbor2.dumps(["Signature1", ES256_HEADER, b"", payload])
    signature = es256_sign(issuer_key.private_key, to_be_signed)
    issuer_signed["issuerAuth"] = [ES256_HEADER, {33: certificate}, payload, signature]
    data = cbor2.dumps(issuer_signed)
    return IssuedMdoc(b64url_encode(data), data, issued.doc_type, issued.validity)


@pytest.mark.parametrize(
    "authorizations",
    [
        {"nameSpaces": [DEVICE_NAMESPACE]},
        {"dataElements": {DEVICE_NAMESPACE: ["nickname"]}},
    ],
    ids=["namespace", "element"],
)
def test_authorized_device_signed_elements_verify(
    authorizations: dict[str, Any],
    issued: IssuedMdoc,
    issuer_key: SigningKey,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
) -> None:
    mdoc = _authorized_mdoc(issued, issuer_key, certificate, authorizations)
    response = _present(mdoc, holder_key, device_signed={DEVICE_NAMESPACE: {"nickname": "E"}})
    assert _verify(response, certificate).device_claims == {DEVICE_NAMESPACE: {"nickname": "E"}}
    other = _present(mdoc, holder_key, device_signed={DEVICE_NAMESPACE: {"age": 41}})
    if "nameSpaces" in authorizations:
        _verify(other, certificate)
    else:
        assert _failure(other, certificate) == Reason.KEY_BINDING_INVALID
    elsewhere = _present(mdoc, holder_key, device_signed={PID_NAMESPACE: {"given_name": "X"}})
    assert _failure(elsewhere, certificate) == Reason.KEY_BINDING_INVALID


def test_malformed_key_authorizations_are_malformed(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes
) -> None:
    mdoc = _authorized_mdoc(issued, issuer_key, certificate, {"nameSpaces": "not a list"})
    with pytest.raises(MdocVerificationError) as caught:
        _verify(mdoc.credential, certificate)
    assert caught.value.failure == Reason.MALFORMED


# --- deviceMac and the signature's shape -----------------------------------------------------


def test_device_mac_is_refused(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    def to_mac(response: dict[str, Any]) -> None:
        _document(response)["deviceSigned"]["deviceAuth"] = {
            "deviceMac": [b"\xa1\x01\x05", {}, None, bytes(32)]  # HMAC 256/256
        }

    response = _changed(_present(issued, holder_key), to_mac)
    with pytest.raises(MdocVerificationError) as caught:
        _verify(response, certificate)
    assert caught.value.failure == Reason.ALGORITHM_NOT_ALLOWED
    assert "deviceMac" in caught.value.detail


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        (lambda sig: sig.__setitem__(0, b"\xa1\x01\x38\x22"), Reason.ALGORITHM_NOT_ALLOWED),
        (lambda sig: sig.__setitem__(2, b"attached"), Reason.MALFORMED),
        (lambda sig: sig.__setitem__(3, "text"), Reason.MALFORMED),
        (lambda sig: sig.pop(), Reason.MALFORMED),
        (lambda sig: sig.__setitem__(1, {1: -7}), Reason.MALFORMED),
        (lambda sig: sig.__setitem__(3, bytes(64)), Reason.KEY_BINDING_INVALID),
    ],
    ids=["es384", "attached", "text-signature", "three-elements", "alg-twice", "zero-signature"],
)
def test_device_signature_shape(
    change: Callable[[list[Any]], object],
    failure: Reason,
    issued: IssuedMdoc,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
) -> None:
    def alter(response: dict[str, Any]) -> None:
        change(_document(response)["deviceSigned"]["deviceAuth"]["deviceSignature"])

    assert _failure(_changed(_present(issued, holder_key), alter), certificate) == failure


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(version="2.0"),
        lambda r: r.update(status=10),
        lambda r: r.update(documents=[]),
        lambda r: r.update(documents=r["documents"] * 2),
        lambda r: r.update(extra=1),
        lambda r: r["documents"][0].pop("deviceSigned"),
        lambda r: r["documents"][0].pop("issuerSigned"),
        lambda r: r["documents"][0]["deviceSigned"].update(nameSpaces=b"\xa0"),
        lambda r: r["documents"][0]["deviceSigned"].update(deviceAuth=[]),
        lambda r: r["documents"][0]["deviceSigned"]["deviceAuth"].update(other=1),
    ],
)
def test_device_responses_of_the_wrong_shape_are_malformed(
    change: Callable[[dict[str, Any]], object],
    issued: IssuedMdoc,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
) -> None:
    response = _changed(_present(issued, holder_key), change)
    assert _failure(response, certificate) == Reason.MALFORMED


def _signed_by_hand(
    response: str, key: ec.EllipticCurvePrivateKey, device_namespaces: bytes
) -> str:
    """The response with other DeviceNameSpaces, device-signed here, not by the module."""
    value = _decoded(response)
    device_authentication = ["DeviceAuthentication", cbor2.loads(TRANSCRIPT), PID_DOCTYPE]
    device_authentication.append(cbor2.CBORTag(24, device_namespaces))
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(device_authentication)))
    signature = es256_sign(key, cbor2.dumps(["Signature1", ES256_HEADER, b"", payload]))
    _document(value)["deviceSigned"] = {
        "nameSpaces": cbor2.CBORTag(24, device_namespaces),
        "deviceAuth": {"deviceSignature": [ES256_HEADER, {}, None, signature]},
    }
    return b64url_encode(cbor2.dumps(value))


@pytest.mark.parametrize(
    "device_namespaces",
    [cbor2.dumps([1]), cbor2.dumps({"ns": [1]}), cbor2.dumps({"ns": {7: 1}}), b"\xff"],
)
def test_device_namespaces_of_the_wrong_shape_are_malformed(
    device_namespaces: bytes,
    issued: IssuedMdoc,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
) -> None:
    response = _signed_by_hand(_present(issued, holder_key), holder_key, device_namespaces)
    assert _failure(response, certificate) == Reason.MALFORMED


def test_a_hand_signed_response_verifies(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    _verify(_signed_by_hand(_present(issued, holder_key), holder_key, b"\xa0"), certificate)


# --- selective disclosure ------------------------------------------------------------------


def test_selective_disclosure_drops_items_and_still_verifies(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    response = _present(issued, holder_key, disclose=["given_name", "age_over_18"])
    issuer_signed = _document(_decoded(response))["issuerSigned"]
    assert list(issuer_signed["nameSpaces"]) == [PID_NAMESPACE]  # extra namespace gone
    assert len(issuer_signed["nameSpaces"][PID_NAMESPACE]) == 2
    verified = _verify(response, certificate)
    assert verified.mdoc.claims == {PID_NAMESPACE: {"given_name": "Erika", "age_over_18": True}}


def test_disclosing_nothing_still_authenticates_the_device(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    response = _present(issued, holder_key, disclose=[])
    assert "nameSpaces" not in _document(_decoded(response))["issuerSigned"]
    assert _verify(response, certificate).mdoc.claims == {}


def test_holder_refuses_what_is_not_an_mdoc(holder_key: ec.EllipticCurvePrivateKey) -> None:
    for credential in ("not base64!", b64url_encode(cbor2.dumps([1])), "eyJ~"):
        with pytest.raises(ValueError, match="mdoc"):
            make_device_response(credential, holder_key=holder_key, session_transcript=TRANSCRIPT)


# --- the caller's transcript ------------------------------------------------------------------


@pytest.mark.parametrize(
    "transcript",
    [b"", b"\xff", cbor2.dumps([1, 2]), cbor2.dumps({"a": 1}), TRANSCRIPT + b"\x00"],
)
def test_unusable_transcripts_are_the_callers_error(
    transcript: bytes,
    issued: IssuedMdoc,
    certificate: bytes,
    holder_key: ec.EllipticCurvePrivateKey,
) -> None:
    with pytest.raises(SessionTranscriptError):
        check_session_transcript(transcript)
    with pytest.raises(SessionTranscriptError):
        _verify(_present(issued, holder_key), certificate, transcript)


@pytest.mark.parametrize(
    "fields",
    [
        {"client_id": ""},
        {"nonce": ""},
        {"response_uri": ""},
        {"jwk_thumbprint": b"short"},
    ],
)
def test_openid4vp_transcript_needs_every_field(fields: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "nonce": NONCE,
        "response_uri": RESPONSE_URI,
        **fields,
    }
    with pytest.raises(SessionTranscriptError):
        openid4vp_session_transcript(**arguments)


# --- hostile input --------------------------------------------------------------------------

_PROPERTY_ISSUER = SigningKey("k", generate_p256_key())
_PROPERTY_CERTIFICATE = issuer_certificate(_PROPERTY_ISSUER, "Property Issuer")
_PROPERTY_HOLDER = generate_p256_key()
_PROPERTY_RESPONSE = b64url_decode(
    make_device_response(
        issue_mdoc(
            {PID_NAMESPACE: {"given_name": "Erika"}},
            doc_type=PID_DOCTYPE,
            holder_jwk=public_jwk(_PROPERTY_HOLDER.public_key()),
            validity=ValidityInfo(SIGNED, SIGNED, SIGNED + timedelta(days=30)),
            signing_key=_PROPERTY_ISSUER,
            certificate_chain=[_PROPERTY_CERTIFICATE],
        ).credential,
        holder_key=_PROPERTY_HOLDER,
        session_transcript=TRANSCRIPT,
    )
)


def _only_typed_errors(data: bytes) -> None:
    """Success is allowed (a mutation may change nothing); any other exception fails."""
    try:
        verify_device_response(
            b64url_encode(data),
            session_transcript=TRANSCRIPT,
            trust_anchors=[_PROPERTY_CERTIFICATE],
            now=NOW,
        )
    except MdocVerificationError as exc:
        failure = exc.failure
    else:
        return
    assert isinstance(failure, Reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_typed_errors(data: bytes) -> None:
    _only_typed_errors(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_device_responses_raise_only_typed_errors(data: st.DataObject) -> None:
    mutated = bytearray(_PROPERTY_RESPONSE)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(mutated) - 1))
        mutated[index] = data.draw(st.integers(min_value=0, max_value=255))
    _only_typed_errors(bytes(mutated))


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=12)
    | st.binary(max_size=40)
    | st.sampled_from(
        ["1.0", 0, "documents", "docType", "issuerSigned", "deviceSigned", "deviceAuth"]
    )
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.integers(-8, 8), inner, max_size=4)
        | st.builds(cbor2.CBORTag, st.sampled_from([0, 18, 24, 1004, 55799]), inner)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_VALUES, _VALUES)
def test_random_device_response_structures_raise_only_typed_errors(
    documents: Any, device_signed: Any
) -> None:
    candidates = [
        {"version": "1.0", "documents": documents, "status": 0},
        {
            "version": "1.0",
            "status": 0,
            "documents": [
                {
                    "docType": PID_DOCTYPE,
                    "issuerSigned": cbor2.loads(_PROPERTY_RESPONSE)["documents"][0]["issuerSigned"],
                    "deviceSigned": device_signed,
                }
            ],
        },
    ]
    for value in candidates:
        try:
            data = cbor2.dumps(value)
        except (cbor2.CBOREncodeError, ValueError, TypeError):
            continue
        _only_typed_errors(data)
