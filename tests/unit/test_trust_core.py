"""Core trust: HAIP x5c chains, trusted issuers' JWKS, status list tokens under that trust,
and the status list draft's Referenced Token vector."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.jose import (
    SigningKey,
    es256_verify,
    generate_p256_key,
    private_key_from_jwk,
    sign_jws,
    split_jws,
)
from eudi_connect.core.sdjwt import (
    Check,
    SdJwtVerificationError,
    parse_presentation,
    verify_presentation,
)
from eudi_connect.core.sdjwt import VerificationFailureReason as Reason
from eudi_connect.core.status_list import (
    StatusList,
    StatusListError,
    build_status_list_token,
    decode_status_list_token,
)
from eudi_connect.core.trust import (
    JwksError,
    certificate_names_issuer,
    decode_x5c,
    load_jwks,
    x5c_signer_key,
)
from eudi_connect.core.x509_chain import ChainError, ChainProblem
from tests.integration.foreign_issuer import der, make_certificate, make_pki

VECTOR = json.loads(
    (Path(__file__).parents[1] / "fixtures/status_list/referenced_token_example.json").read_text()
)
NOW = datetime.now(UTC)


def _x5c(*certs: bytes) -> list[str]:
    return [base64.b64encode(c).decode() for c in certs]


def test_a_haip_chain_gives_the_leaf_key() -> None:
    """Signer under a configured root; the root itself is not sent."""
    pki = make_pki()
    key, signer = x5c_signer_key(_x5c(der(pki.signer)), [pki.root], at=NOW)
    assert key.public_numbers() == pki.signer_key.public_key().public_numbers()
    assert signer == pki.signer


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("anchor_inside", ChainProblem.INVALID),
        ("self_signed_leaf", ChainProblem.INVALID),
        ("expired_leaf", ChainProblem.INVALID),
        ("no_key_usage", ChainProblem.INVALID),
        ("wrong_anchor", ChainProblem.UNTRUSTED),
        ("no_anchor", ChainProblem.UNTRUSTED),
        ("not_der", ChainProblem.MALFORMED),
    ],
)
def test_haip_refusals_name_their_problem(case: str, problem: ChainProblem) -> None:
    past = NOW - timedelta(days=10)
    all_options: dict[str, dict[str, Any]] = {
        "expired_leaf": {"not_before": past, "not_after": past + timedelta(days=1)},
        "no_key_usage": {"key_usage": False},
    }
    options = all_options.get(case, {})
    pki = make_pki(**options)
    chain, anchors = [der(pki.signer)], [pki.root]
    if case == "anchor_inside":
        chain.append(der(pki.root))
    elif case == "self_signed_leaf":
        own = make_certificate("Self", generate_p256_key())
        chain, anchors = [der(own)], [pki.root, own]
    elif case == "wrong_anchor":
        anchors = [make_pki("Other").root]
    elif case == "no_anchor":
        anchors = []
    elif case == "not_der":
        chain = [b"not a certificate"]
    with pytest.raises(ChainError) as raised:
        x5c_signer_key(_x5c(*chain), anchors, at=NOW)
    assert raised.value.problem == problem


@pytest.mark.parametrize("value", [None, [], ["%%"], [1], "MIIB"])
def test_x5c_that_is_not_a_base64_list_is_malformed(value: Any) -> None:
    with pytest.raises(ChainError) as raised:
        decode_x5c(value)
    assert raised.value.problem == ChainProblem.MALFORMED


@pytest.mark.parametrize(
    ("san", "iss", "named"),
    [
        ({"uri": "https://pid.example/i/1"}, "https://pid.example/i/1", True),
        ({"uri": "https://pid.example/i/1"}, "https://pid.example/i/2", False),
        ({"uri": "https://pid.example/i/1"}, "https://pid.example/i/1/", False),
        ({"uri": "urn:example:issuer"}, "urn:example:issuer", True),
        ({"dns_name": "pid.example"}, "https://pid.example/any/path", True),
        ({"dns_name": "pid.example"}, "https://PID.EXAMPLE./any", True),
        ({"dns_name": "pid.example"}, "https://pid.example:8443/i", True),
        ({"dns_name": "pid.example"}, "dns:pid.example", True),
        ({"dns_name": "pid.example"}, "DNS:Pid.Example", True),
        ({"dns_name": "pid.example"}, "http://pid.example/i", False),
        ({"dns_name": "pid.example"}, "https://user@pid.example/i", False),
        ({"dns_name": "pid.example"}, "https://sub.pid.example/i", False),
        ({"dns_name": "pid.example"}, "dns://server/pid.example", False),
        ({"dns_name": "*.pid.example"}, "https://a.pid.example/i", False),
        ({"dns_name": "*.pid.example"}, "https://*.pid.example/i", False),
        ({"dns_name": "127.0.0.1"}, "https://127.0.0.1/i", False),
        ({"uri": "https://pid.example/i/1"}, "https://pid.example/other", False),
        ({}, "https://pid.example/i/1", False),
    ],
)
def test_a_leaf_names_the_iss_of_its_san_only(san: dict[str, str], iss: str, named: bool) -> None:
    """URI SAN equal to iss, or a DNS SAN equal to the host of an https iss or to a dns:
    name; never a wildcard, an IP host, a host with userinfo, or plain http."""
    certificate = make_pki(**san).signer
    assert certificate_names_issuer(certificate, iss) is named


def test_jwks_keys_are_found_by_kid_or_all_without_one() -> None:
    a, b = SigningKey("a", generate_p256_key()), SigningKey("b", generate_p256_key())
    keys = load_jwks("https://i", {"keys": [a.public_jwk(), b.public_jwk()]})
    assert len(keys.candidates("a")) == 1
    assert keys.candidates("zzz") == []
    assert len(keys.candidates(None)) == 2


@pytest.mark.parametrize(
    "jwks",
    [
        [],
        {"keys": []},
        {"keys": ["x"]},
        {"keys": [{"kty": "RSA"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "", "y": "", "kid": 3}]},
    ],
)
def test_unusable_jwks_are_refused(jwks: Any) -> None:
    with pytest.raises(JwksError):
        load_jwks("https://i", jwks)


def _token(key: ec.EllipticCurvePrivateKey, **options: Any) -> str:
    return build_status_list_token(
        StatusList(16),
        uri="https://s/1",
        issued_at=1,
        expires_at=2**40,
        ttl=60,
        signing_key=SigningKey("k", key),
        **options,
    )


def test_a_status_list_token_carries_x5c_and_a_resolver_checks_it() -> None:
    pki = make_pki()
    token = _token(pki.signer_key, x5c=[der(pki.signer)])
    header = split_jws(token).header
    assert base64.b64decode(header["x5c"][0]) == der(pki.signer)

    def resolve(h: Any) -> list[ec.EllipticCurvePublicKey]:
        return [x5c_signer_key(h["x5c"], [pki.root], at=NOW)[0]]

    assert decode_status_list_token(token, public_key=resolve).sub == "https://s/1"
    with pytest.raises(StatusListError) as raised:
        decode_status_list_token(token, public_key=lambda h: [])
    assert raised.value.reason == "STATUS_LIST_BAD_SIGNATURE"


def test_unsigned_status_lists_are_their_own_reason() -> None:
    key = generate_p256_key()
    token = _token(key)
    for unsigned in (token.rsplit(".", 1)[0] + ".", '{"bits": 1, "lst": "eNrbuRgAAhcBXQ"}'):
        with pytest.raises(StatusListError) as raised:
            decode_status_list_token(unsigned, public_key=key.public_key())
        assert raised.value.reason == "STATUS_LIST_UNSIGNED"


def test_the_drafts_referenced_token_verifies_under_the_rfc9901_key() -> None:
    """The draft's printed SD-JWT is signed with RFC 9901's example key; its status list
    (signed here with that key, from the draft's claims) has index 0 INVALID. As printed,
    an SD-JWT VC verifier refuses its typ (example+sd-jwt)."""
    key = private_key_from_jwk(VECTOR["issuer_private_jwk"])
    issuer_jwt = VECTOR["referenced_token"].split("~")[0]
    parts = split_jws(issuer_jwt)
    assert es256_verify(key.public_key(), parts.signing_input, parts.signature)
    assert parts.payload == VECTOR["referenced_token_payload"]
    header = {k: v for k, v in VECTOR["status_list_token_header"].items() if k != "alg"}
    token = sign_jws(header, VECTOR["status_list_token_payload"], key)
    decoded = decode_status_list_token(
        token,
        public_key=key.public_key(),
        now=1_700_000_000,
        expected_uri=parts.payload["status"]["status_list"]["uri"],
    )
    assert decoded.ttl == 43200
    assert decoded.status_list.get(0) == VECTOR["expected_status_at_index_0"]
    with pytest.raises(SdJwtVerificationError) as raised:
        parse_presentation(VECTOR["referenced_token"])
    assert raised.value.failure == Reason.WRONG_TYPE


def test_verifier_refusals_name_the_step_and_allowed_vcts_apply() -> None:
    """Each refusal carries the Check it came from."""
    from tests.integration.foreign_issuer import ForeignIssuer

    issuer = ForeignIssuer.new()
    parsed = parse_presentation(issuer.credential())
    public = issuer.key.private_key.public_key()
    with pytest.raises(SdJwtVerificationError) as raised:
        verify_presentation(parsed, issuer_key=public, now=0, allowed_vcts={"urn:x"})
    assert raised.value.check == Check.VALIDITY  # issued in the future at now=0
    import time

    with pytest.raises(SdJwtVerificationError) as raised:
        verify_presentation(parsed, issuer_key=public, now=int(time.time()), allowed_vcts={"urn:x"})
    assert (raised.value.check, raised.value.failure) == (Check.TYPE, Reason.WRONG_TYPE)
    other = generate_p256_key().public_key()
    with pytest.raises(SdJwtVerificationError) as raised:
        verify_presentation(parsed, issuer_key=other, now=int(time.time()))
    assert raised.value.check == Check.SIGNATURE
