"""mdoc verification: round trips, every tamper case, and hostile input.

Forgeries are built by hand with plain `cbor2` and `cryptography` (a Sig_structure signed
here, not by the module under test), so that each test controls exactly one defect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import SigningKey, es256_sign, generate_p256_key, public_jwk
from eudi_connect.core.mdoc import (
    MAX_MDOC_BYTES,
    PID_DOCTYPE,
    PID_NAMESPACE,
    IssuedMdoc,
    MdocVerificationError,
    ValidityInfo,
    VerifiedMdoc,
    issue_mdoc,
    verify_issuer_signed,
    verify_mdoc,
)
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.core.verdicts import VerificationFailureReason as Reason
from tests.unit.mdoc_fixtures import ES256_HEADER, SIGNED, issuer_certificate

NOW = SIGNED + timedelta(days=1)
VALID_UNTIL = SIGNED + timedelta(days=30)
ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": date(1984, 1, 26),
    "age_over_18": True,
    "nationality": ["DE", "FR"],
    "place_of_birth": {"locality": "Berlin", "country": "DE"},
    "issuing_country": "DE",
    "issuing_authority": "DE",
    "portrait": b"\xff\xd8\xff\xe0",
    "issuance_date": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
}
STATUS = StatusReference(uri="https://issuer.example/status/1", idx=42)


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
        {PID_NAMESPACE: ELEMENTS, "eu.example.extra.1": {"membership": "gold"}},
        doc_type=PID_DOCTYPE,
        holder_jwk=public_jwk(holder_key.public_key()),
        validity=ValidityInfo(SIGNED, SIGNED, VALID_UNTIL),
        signing_key=issuer_key,
        certificate_chain=[certificate],
        status=STATUS,
    )


def _verify(data: bytes, certificate: bytes, **options: Any) -> VerifiedMdoc:
    options.setdefault("now", NOW)
    return verify_issuer_signed(data, trust_anchors=[certificate], **options)


def _failure(data: bytes, certificate: bytes, **options: Any) -> object:
    with pytest.raises(MdocVerificationError) as caught:
        _verify(data, certificate, **options)
    return caught.value.failure


_PROPERTY_KEY = generate_p256_key()
_PROPERTY_CERTIFICATE = issuer_certificate(SigningKey("k", _PROPERTY_KEY))
_PROPERTY_MDOC = issue_mdoc(
    {PID_NAMESPACE: {"given_name": "Erika", "birth_date": date(1984, 1, 26)}},
    doc_type=PID_DOCTYPE,
    holder_jwk=public_jwk(generate_p256_key().public_key()),
    validity=ValidityInfo(SIGNED, SIGNED, VALID_UNTIL),
    signing_key=SigningKey("k", _PROPERTY_KEY),
    certificate_chain=[_PROPERTY_CERTIFICATE],
    status=STATUS,
)


# --- forging helpers -------------------------------------------------------------------------


def _decoded(issued: IssuedMdoc) -> dict[str, Any]:
    value = cbor2.loads(issued.issuer_signed)
    assert isinstance(value, dict)
    return value


def _mso(issuer_signed: dict[str, Any]) -> dict[str, Any]:
    payload = cbor2.loads(issuer_signed["issuerAuth"][2])
    mso = cbor2.loads(payload.value)
    assert isinstance(mso, dict)
    return mso


def _signed(
    mso: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    x5chain: bytes,
    protected: bytes = ES256_HEADER,
) -> list[Any]:
    """A COSE_Sign1 over `mso`, signed here rather than by the code under test."""
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso, canonical=True)))
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    return [protected, {33: x5chain}, payload, es256_sign(key, to_be_signed)]


def _items(issuer_signed: dict[str, Any], namespace: str = PID_NAMESPACE) -> list[Any]:
    items = issuer_signed["nameSpaces"][namespace]
    assert isinstance(items, list)
    return items


def _item(tagged: cbor2.CBORTag) -> dict[str, Any]:
    item = cbor2.loads(tagged.value)
    assert isinstance(item, dict)
    return item


def _tagged(item: dict[str, Any]) -> cbor2.CBORTag:
    return cbor2.CBORTag(24, cbor2.dumps(item, canonical=True))


def _digest(tagged: cbor2.CBORTag) -> bytes:
    return hashlib.sha256(cbor2.dumps(tagged)).digest()


def _index_of(issuer_signed: dict[str, Any], identifier: str) -> int:
    for index, tagged in enumerate(_items(issuer_signed)):
        if _item(tagged)["elementIdentifier"] == identifier:
            return index
    raise AssertionError(identifier)


def _with_item(
    issued: IssuedMdoc, identifier: str, change: Callable[[dict[str, Any]], None]
) -> bytes:
    issuer_signed = _decoded(issued)
    index = _index_of(issuer_signed, identifier)
    item = _item(_items(issuer_signed)[index])
    change(item)
    _items(issuer_signed)[index] = _tagged(item)
    return cbor2.dumps(issuer_signed)


def _resigned(
    issued: IssuedMdoc,
    issuer_key: SigningKey,
    certificate: bytes,
    change: Callable[[dict[str, Any]], None],
) -> bytes:
    issuer_signed = _decoded(issued)
    mso = _mso(issuer_signed)
    change(mso)
    issuer_signed["issuerAuth"] = _signed(mso, issuer_key.private_key, certificate)
    return cbor2.dumps(issuer_signed)


# --- round trips ---------------------------------------------------------------------------


def test_an_issued_mdoc_verifies_with_all_its_claims(
    issued: IssuedMdoc, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    verified = verify_mdoc(
        issued.credential, trust_anchors=[certificate], now=NOW, expected_doc_type=PID_DOCTYPE
    )
    assert verified.doc_type == PID_DOCTYPE
    assert verified.claims == {
        PID_NAMESPACE: ELEMENTS,
        "eu.example.extra.1": {"membership": "gold"},
    }
    assert verified.status == STATUS
    assert verified.device_jwk == public_jwk(holder_key.public_key())
    assert verified.validity == ValidityInfo(SIGNED, SIGNED, VALID_UNTIL)
    assert verified.issuer_certificate.public_bytes(serialization.Encoding.DER) == certificate


def test_a_holder_may_disclose_a_subset_of_items(issued: IssuedMdoc, certificate: bytes) -> None:
    issuer_signed = _decoded(issued)
    keep = _index_of(issuer_signed, "age_over_18")
    issuer_signed["nameSpaces"] = {PID_NAMESPACE: [_items(issuer_signed)[keep]]}
    verified = _verify(cbor2.dumps(issuer_signed), certificate)
    assert verified.claims == {PID_NAMESPACE: {"age_over_18": True}}
    del issuer_signed["nameSpaces"]
    assert _verify(cbor2.dumps(issuer_signed), certificate).claims == {}


def test_a_tagged_cose_sign1_is_accepted(issued: IssuedMdoc, certificate: bytes) -> None:
    issuer_signed = _decoded(issued)
    issuer_signed["issuerAuth"] = cbor2.CBORTag(18, issuer_signed["issuerAuth"])
    assert _verify(cbor2.dumps(issuer_signed), certificate).doc_type == PID_DOCTYPE


def test_an_mdoc_without_status_returns_no_reference(
    issuer_key: SigningKey, certificate: bytes, holder_key: ec.EllipticCurvePrivateKey
) -> None:
    mdoc = issue_mdoc(
        {PID_NAMESPACE: {"given_name": "Erika"}},
        doc_type=PID_DOCTYPE,
        holder_jwk=public_jwk(holder_key.public_key()),
        validity=ValidityInfo(SIGNED, SIGNED, VALID_UNTIL),
        signing_key=issuer_key,
        certificate_chain=[certificate],
    )
    assert verify_mdoc(mdoc.credential, trust_anchors=[certificate], now=NOW).status is None


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_ELEMENT_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.dates(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1, max_size=12), _ELEMENT_VALUES, min_size=1, max_size=6))
def test_element_values_round_trip(elements: dict[str, Any]) -> None:
    assume(_depth(elements) <= 12)
    key = SigningKey("k", _PROPERTY_KEY)
    mdoc = issue_mdoc(
        {"ns": elements},
        doc_type="example.doc",
        holder_jwk=public_jwk(_PROPERTY_KEY.public_key()),
        validity=ValidityInfo(SIGNED, SIGNED, VALID_UNTIL),
        signing_key=key,
        certificate_chain=[_PROPERTY_CERTIFICATE],
    )
    verified = verify_mdoc(mdoc.credential, trust_anchors=[_PROPERTY_CERTIFICATE], now=NOW)
    assert verified.claims == {"ns": elements}


# --- tampering with items ------------------------------------------------------------------


def test_an_altered_element_value_is_a_digest_mismatch(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    forged = _with_item(issued, "family_name", lambda item: item.update(elementValue="Musterfrau"))
    assert _failure(forged, certificate) == Reason.DIGEST_MISMATCH


def test_an_item_moved_to_another_digest_id_is_a_digest_mismatch(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    issuer_signed = _decoded(issued)
    other_id = _item(_items(issuer_signed)[_index_of(issuer_signed, "given_name")])["digestID"]
    forged = _with_item(issued, "family_name", lambda item: item.update(digestID=other_id))
    assert _failure(forged, certificate) == Reason.DIGEST_MISMATCH
    unknown_id = max(_mso(issuer_signed)["valueDigests"][PID_NAMESPACE]) + 1
    forged = _with_item(issued, "family_name", lambda item: item.update(digestID=unknown_id))
    assert _failure(forged, certificate) == Reason.DIGEST_MISMATCH


def test_an_item_whose_digest_is_not_in_the_mso_is_a_digest_mismatch(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes
) -> None:
    issuer_signed = _decoded(issued)
    removed_id = _item(_items(issuer_signed)[_index_of(issuer_signed, "birth_date")])["digestID"]
    forged = _resigned(
        issued,
        issuer_key,
        certificate,
        lambda mso: mso["valueDigests"][PID_NAMESPACE].pop(removed_id),
    )
    assert _failure(forged, certificate) == Reason.DIGEST_MISMATCH


def test_an_item_in_a_namespace_the_mso_lacks_is_a_digest_mismatch(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    issuer_signed = _decoded(issued)
    issuer_signed["nameSpaces"]["eu.example.other"] = list(_items(issuer_signed))
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.DIGEST_MISMATCH


def test_the_same_item_sent_twice_is_a_duplicate(issued: IssuedMdoc, certificate: bytes) -> None:
    issuer_signed = _decoded(issued)
    _items(issuer_signed).append(_items(issuer_signed)[0])
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.DUPLICATE_DISCLOSURE


def test_two_signed_items_for_one_element_are_a_duplicate(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes
) -> None:
    """Even an issuer-signed second value must not let a holder choose which one counts."""
    issuer_signed = _decoded(issued)
    second = _tagged(
        {
            "digestID": 2**31 - 1,
            "random": b"\x01" * 16,
            "elementIdentifier": "family_name",
            "elementValue": "Other",
        }
    )
    mso = _mso(issuer_signed)
    mso["valueDigests"][PID_NAMESPACE][2**31 - 1] = _digest(second)
    issuer_signed["issuerAuth"] = _signed(mso, issuer_key.private_key, certificate)
    _items(issuer_signed).append(second)
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.DUPLICATE_DISCLOSURE


@pytest.mark.parametrize(
    "change",
    [
        lambda item: item.update(random=b"short"),
        lambda item: item.update(digestID=-1),
        lambda item: item.update(digestID="1"),
        lambda item: item.update(elementIdentifier=7),
        lambda item: item.update(extra=1),
        lambda item: item.pop("random"),
        lambda item: item.update(elementValue=cbor2.CBORTag(24, b"\xa0")),  # no cbor2 types
        lambda item: item.update(elementValue=[cbor2.CBORTag(99, "x")]),
    ],
)
def test_items_of_the_wrong_shape_are_malformed(
    issued: IssuedMdoc, certificate: bytes, change: Callable[[dict[str, Any]], None]
) -> None:
    assert _failure(_with_item(issued, "given_name", change), certificate) == Reason.MALFORMED


def test_an_item_without_its_tag_24_is_malformed(issued: IssuedMdoc, certificate: bytes) -> None:
    issuer_signed = _decoded(issued)
    _items(issuer_signed)[0] = _items(issuer_signed)[0].value  # bare bstr
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.MALFORMED


# --- tampering with the signature and the MSO -----------------------------------------------


def test_an_mso_resigned_with_another_key_under_the_real_certificate_is_bad(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    attacker = SigningKey("attacker", generate_p256_key())
    forged = _resigned(issued, attacker, certificate, lambda mso: None)
    assert _failure(forged, certificate) == Reason.BAD_SIGNATURE


def test_an_mso_resigned_with_the_attackers_own_certificate_is_untrusted(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    attacker = SigningKey("attacker", generate_p256_key())
    forged = _resigned(issued, attacker, issuer_certificate(attacker), lambda mso: None)
    assert _failure(forged, certificate) == Reason.UNKNOWN_ISSUER_KEY


def test_a_flipped_signature_bit_is_bad(issued: IssuedMdoc, certificate: bytes) -> None:
    issuer_signed = _decoded(issued)
    signature = bytearray(issuer_signed["issuerAuth"][3])
    signature[5] ^= 0x01
    issuer_signed["issuerAuth"][3] = bytes(signature)
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.BAD_SIGNATURE


def test_a_changed_mso_under_the_old_signature_is_bad(
    issued: IssuedMdoc, certificate: bytes
) -> None:
    issuer_signed = _decoded(issued)
    mso = _mso(issuer_signed)
    mso["validityInfo"]["validUntil"] = datetime(2099, 1, 1, tzinfo=UTC)
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso, canonical=True)))
    issuer_signed["issuerAuth"][2] = payload
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "protected",
    [
        cbor2.dumps({1: -35}),  # ES384
        cbor2.dumps({1: -8}),  # EdDSA
        cbor2.dumps({1: "ES256"}),
        cbor2.dumps({}),
        b"",
    ],
)
def test_algorithms_other_than_es256_are_not_allowed(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes, protected: bytes
) -> None:
    issuer_signed = _decoded(issued)
    issuer_signed["issuerAuth"] = _signed(
        _mso(issuer_signed), issuer_key.private_key, certificate, protected
    )
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.ALGORITHM_NOT_ALLOWED


def test_alg_in_the_unprotected_header_does_not_count(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes
) -> None:
    issuer_signed = _decoded(issued)
    cose = _signed(_mso(issuer_signed), issuer_key.private_key, certificate, b"\xa0")
    cose[1][1] = -7
    issuer_signed["issuerAuth"] = cose
    assert _failure(cbor2.dumps(issuer_signed), certificate) == Reason.ALGORITHM_NOT_ALLOWED


def test_another_digest_algorithm_is_not_allowed(
    issued: IssuedMdoc, issuer_key: SigningKey, certificate: bytes
) -> None:
    forged = _resigned(
        issued, issuer_key, certificate, lambda mso: mso.update(digestAlgorithm="SHA-512")
    )
    assert _failure(forged, certificate) == Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize(
    "change",
    [
        lambda mso: mso.update(version="2.0"),
        lambda mso: mso.update(docType=7),
        lambda mso: mso.update(valueDigests={PID_NAMESPACE: {1: b"short"}}),
        lambda mso: mso.update(valueDigests={PID_NAMESPACE: {-1: b"\x00" * 32}}),
        lambda mso: mso.update(deviceKeyInfo={"deviceKey": {1: 1, -1: 6, -2: b"\x00" * 32}}),
        lambda mso: mso["deviceKeyInfo"]["deviceKey"].update({-3: b"\x00" * 32}),  # off curve
        lambda mso: mso["validityInfo"].update(validFrom="2025-03-01T12:00:00Z"),  # untagged
        lambda mso: mso["validityInfo"].update(validUntil=date(2025, 4, 1)),
        lambda mso: mso.pop("validityInfo"),
        lambda mso: mso.update(status={"status_list": {"idx": -1, "uri": "https://x"}}),
        lambda mso: mso.update(status={"identifier_list": {}}),
    ],
)
def test_a_signed_mso_of_the_wrong_shape_is_malformed(
    issued: IssuedMdoc,
    issuer_key: SigningKey,
    certificate: bytes,
    change: Callable[[dict[str, Any]], None],
) -> None:
    forged = _resigned(issued, issuer_key, certificate, change)
    assert _failure(forged, certificate) == Reason.MALFORMED


# --- validity, docType, certificates ---------------------------------------------------------


def test_validity_window_with_clock_skew(issued: IssuedMdoc, certificate: bytes) -> None:
    data = issued.issuer_signed
    skew = timedelta(seconds=60)
    assert _verify(data, certificate, now=VALID_UNTIL + skew).doc_type == PID_DOCTYPE
    assert _verify(data, certificate, now=SIGNED - skew).doc_type == PID_DOCTYPE
    later = VALID_UNTIL + skew + timedelta(seconds=1)
    assert _failure(data, certificate, now=later) == Reason.EXPIRED
    earlier = SIGNED - skew - timedelta(seconds=1)
    assert _failure(data, certificate, now=earlier) == Reason.NOT_YET_VALID
    assert _failure(data, certificate, now=VALID_UNTIL + skew, clock_skew_seconds=0) == (
        Reason.EXPIRED
    )


def test_a_wrong_doc_type_is_refused(issued: IssuedMdoc, certificate: bytes) -> None:
    expected = "org.iso.18013.5.1.mDL"
    assert _failure(issued.issuer_signed, certificate, expected_doc_type=expected) == (
        Reason.WRONG_TYPE
    )


def test_an_expired_issuer_certificate_is_invalid(issued: IssuedMdoc, certificate: bytes) -> None:
    later = SIGNED + timedelta(days=400)  # the chain is checked before the MSO window
    failure = _failure(issued.issuer_signed, certificate, now=later)
    assert failure == Reason.CERTIFICATE_INVALID


def test_an_issuer_nobody_configured_is_unknown(issued: IssuedMdoc) -> None:
    other = issuer_certificate(SigningKey("other", generate_p256_key()))
    assert _failure(issued.issuer_signed, other) == Reason.UNKNOWN_ISSUER_KEY


# --- hostile input -------------------------------------------------------------------------


_ISSUER_AUTH_KEY = cbor2.dumps("issuerAuth")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xa0",  # an empty map: no issuerAuth
        cbor2.dumps([1, 2]),
        cbor2.dumps({"issuerAuth": [ES256_HEADER, {}, b"", b""]}),  # no x5chain
        cbor2.dumps({"issuerAuth": [ES256_HEADER, {33: []}, b"", b""]}),
        cbor2.dumps({"issuerAuth": [ES256_HEADER, {33: b"x"}, b"", b""], "x": 1}),
        cbor2.dumps({"issuerAuth": cbor2.CBORTag(17, [])}),
        b"\xa2" + _ISSUER_AUTH_KEY + b"\x01" + _ISSUER_AUTH_KEY + b"\x02",  # duplicate key
        b"\xbf" + _ISSUER_AUTH_KEY + b"\x01\xff",  # indefinite-length map
        cbor2.dumps({"issuerAuth": cbor2.CBORTag(28, [1])}),  # shared reference
        cbor2.dumps({"issuerAuth": cbor2.CBORTag(2, b"\x01" * 64)}),  # bignum
        cbor2.dumps({"issuerAuth": cbor2.CBORTag(35, "(a+)+$")}),  # regular expression
        cbor2.dumps({1.5: 1}),
        b"\x81" * 5000,  # deep nesting
        b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",  # a byte string claiming 2^64 bytes
    ],
)
def test_hostile_cbor_is_malformed(data: bytes, certificate: bytes) -> None:
    assert _failure(data, certificate) == Reason.MALFORMED


def test_trailing_bytes_are_malformed(issued: IssuedMdoc, certificate: bytes) -> None:
    assert _failure(issued.issuer_signed + b"\x00", certificate) == Reason.MALFORMED


def test_oversized_input_is_refused_before_decoding(certificate: bytes) -> None:
    big = b"\x00" * (MAX_MDOC_BYTES + 1)
    assert _failure(big, certificate) == Reason.MALFORMED
    with pytest.raises(MdocVerificationError) as caught:
        verify_mdoc(b64url_encode(big), trust_anchors=[certificate], now=NOW)
    assert caught.value.failure == Reason.MALFORMED


@pytest.mark.parametrize("text", ["", "a", "abc=", "ab+c", "ab/c", "é", "~~~"])
def test_text_that_is_not_base64url_is_malformed(text: str, certificate: bytes) -> None:
    with pytest.raises(MdocVerificationError) as caught:
        verify_mdoc(text, trust_anchors=[certificate], now=NOW)
    assert caught.value.failure == Reason.MALFORMED


def _only_typed_errors(call: Callable[[], object]) -> None:
    """Success is allowed (a mutation may change nothing); any other exception fails."""
    try:
        call()
    except MdocVerificationError as exc:
        failure = exc.failure
    else:
        return
    assert isinstance(failure, Reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_typed_errors(data: bytes) -> None:
    _only_typed_errors(
        lambda: verify_issuer_signed(data, trust_anchors=[_PROPERTY_CERTIFICATE], now=NOW)
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ."))
def test_random_base64ish_text_raises_only_typed_errors(text: str) -> None:
    _only_typed_errors(lambda: verify_mdoc(text, trust_anchors=[_PROPERTY_CERTIFICATE], now=NOW))


_CBOR_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=40)
    | st.sampled_from(["issuerAuth", "nameSpaces", PID_NAMESPACE, "digestID", "elementValue"])
)
_CBOR_VALUES = st.recursive(
    _CBOR_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.one_of(st.integers(min_value=-40, max_value=40), st.text(max_size=12)),
            inner,
            max_size=5,
        )
        | st.builds(
            cbor2.CBORTag,
            st.sampled_from([0, 1, 2, 18, 24, 28, 29, 30, 100, 258, 1004, 55799, 9999]),
            inner,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CBOR_VALUES)
def test_random_cbor_structures_raise_only_typed_errors(value: Any) -> None:
    try:
        data = cbor2.dumps(value)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return  # not every generated tag content is encodable; nothing to verify then
    _only_typed_errors(
        lambda: verify_issuer_signed(data, trust_anchors=[_PROPERTY_CERTIFICATE], now=NOW)
    )


def _replace_at(value: Any, path: list[int], replacement: Any) -> Any:
    """Replaces the node reached by following `path` (indices modulo each node's width)."""
    if not path:
        return replacement
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, _replace_at(value.value, path, replacement))
    if isinstance(value, list) and value:
        index = path[0] % len(value)
        copy = list(value)
        copy[index] = _replace_at(value[index], path[1:], replacement)
        return copy
    if isinstance(value, dict) and value:
        key = list(value)[path[0] % len(value)]
        return {**value, key: _replace_at(value[key], path[1:], replacement)}
    if isinstance(value, bytes) and value:  # descend into embedded CBOR where there is some
        try:
            inner = cbor2.loads(value)
        except Exception:  # not CBOR: replace the bytes themselves
            return replacement
        return cbor2.dumps(_replace_at(inner, path[1:], replacement))
    return replacement


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=20), max_size=8), _CBOR_VALUES)
def test_valid_mdocs_with_a_node_replaced_raise_only_typed_errors(
    path: list[int], replacement: Any
) -> None:
    """Mutations deep inside a real mdoc reach the later checks that random bytes cannot."""
    original = cbor2.loads(_PROPERTY_MDOC.issuer_signed)
    try:
        data = cbor2.dumps(_replace_at(original, path, replacement))
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return
    _only_typed_errors(
        lambda: verify_issuer_signed(data, trust_anchors=[_PROPERTY_CERTIFICATE], now=NOW)
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_changed_byte_of_a_valid_mdoc_is_refused_with_a_typed_error(
    position: int, value: int
) -> None:
    data = bytearray(_PROPERTY_MDOC.issuer_signed)
    index = position % len(data)
    if data[index] == value:
        return
    data[index] = value
    with pytest.raises(MdocVerificationError):
        verify_issuer_signed(bytes(data), trust_anchors=[_PROPERTY_CERTIFICATE], now=NOW)


def test_b64url_helpers_agree_with_the_credential(issued: IssuedMdoc) -> None:
    assert b64url_decode(issued.credential) == issued.issuer_signed
