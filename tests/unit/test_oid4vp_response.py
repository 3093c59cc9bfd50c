"""The response at the response URI and from the DC API: direct_post forms, direct_post.jwt
JWEs, the specification's encrypted example, wallet error responses, and each refusal
(state, plaintext where encryption was asked for, another key, vp_token shapes, credential
ids not asked for) with its reason and the `invalid_request` code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eudi_connect.core.encoding import json_bytes
from eudi_connect.core.oid4vp import (
    ErrorCode,
    ProtocolError,
    ResponseEncryptionKey,
    ResponseMode,
    WalletError,
    encrypt_jwe,
    parse_dcql,
    parse_response,
    parse_vp_token,
)
from tests.unit import oid4vp_examples as examples

STATE = "eyJhb-6-sVA"
QUERY = parse_dcql(examples.MULTI_CREDENTIALS)
VP_TOKEN = {"pid": ["eyJhbGci...QMA"], "mdl": ["o2d2ZXJzaW9u"]}


@pytest.fixture(scope="module")
def key() -> ResponseEncryptionKey:
    return ResponseEncryptionKey.generate()


def _jwe(key: ResponseEncryptionKey, payload: dict[str, Any]) -> str:
    return encrypt_jwe(json_bytes(payload), key.public_jwk())


def _refusal(params: dict[str, Any], reason: str, **options: Any) -> None:
    settings: dict[str, Any] = {
        "response_mode": ResponseMode.DIRECT_POST_JWT,
        "expected_state": STATE,
        **options,
    }
    with pytest.raises(ProtocolError) as caught:
        parse_response(params, **settings)
    assert caught.value.reason == reason
    assert caught.value.code is ErrorCode.INVALID_REQUEST


def test_direct_post_form() -> None:
    """vp_token (JSON text) and state as form fields give the vp_token object."""
    response = parse_response(
        {"vp_token": json.dumps(VP_TOKEN), "state": STATE},
        response_mode=ResponseMode.DIRECT_POST,
        expected_state=STATE,
        query=QUERY,
    )
    assert response.vp_token == {"pid": ("eyJhbGci...QMA",), "mdl": ("o2d2ZXJzaW9u",)}
    assert response.error is None
    assert response.state == STATE
    assert response.encrypted is False


def test_direct_post_jwt(key: ResponseEncryptionKey) -> None:
    """One response field, a JWE holding vp_token and state, decrypts to them."""
    token = _jwe(key, {"vp_token": VP_TOKEN, "state": STATE})
    response = parse_response(
        {"response": token},
        response_mode=ResponseMode.DIRECT_POST_JWT,
        expected_state=STATE,
        encryption_key=key,
        query=QUERY,
    )
    assert response.vp_token is not None
    assert set(response.vp_token) == {"pid", "mdl"}
    assert response.encrypted is True


def test_state_outside_the_jwe(key: ResponseEncryptionKey) -> None:
    """A state beside the JWE is used when the payload has none, and must agree otherwise."""
    token = _jwe(key, {"vp_token": VP_TOKEN})
    response = parse_response(
        {"response": token, "state": STATE},
        response_mode=ResponseMode.DIRECT_POST_JWT,
        expected_state=STATE,
        encryption_key=key,
    )
    assert response.state == STATE
    inner = _jwe(key, {"vp_token": VP_TOKEN, "state": "other"})
    _refusal({"response": inner, "state": STATE}, "STATE_MISMATCH", encryption_key=key)


def test_specification_example_over_the_dc_api() -> None:
    """The section 8.3 example (a dc_api.jwt request, no state) parses to its vp_token."""
    response = parse_response(
        {"response": examples.SPEC_RESPONSE},
        response_mode=ResponseMode.DC_API_JWT,
        expected_state=None,
        encryption_key=ResponseEncryptionKey.from_private_jwk(examples.SPEC_KEY),
    )
    assert response.vp_token == {"example_credential_id": ("eyJhb...YMetA",)}


def test_dc_api_plaintext_object() -> None:
    """dc_api returns the parameters as an object: vp_token is already JSON, not text."""
    response = parse_response(
        {"vp_token": VP_TOKEN}, response_mode=ResponseMode.DC_API, expected_state=None
    )
    assert response.vp_token == {"pid": ("eyJhbGci...QMA",), "mdl": ("o2d2ZXJzaW9u",)}


@pytest.mark.parametrize("encrypted", [False, True])
def test_wallet_error_responses(key: ResponseEncryptionKey, encrypted: bool) -> None:
    """An error response, in the clear or encrypted, is an answer carrying the wallet's code."""
    error = {"error": "access_denied", "error_description": 'the user said "no"', "state": STATE}
    params: dict[str, Any] = {"response": _jwe(key, error)} if encrypted else error
    response = parse_response(
        params,
        response_mode=ResponseMode.DIRECT_POST_JWT,
        expected_state=STATE,
        encryption_key=key,
    )
    assert response.error == WalletError("access_denied", "the user said ?no?")
    assert response.vp_token is None
    assert response.encrypted is encrypted


def test_wallet_error_needs_the_state() -> None:
    """An error for another request (or none named) is refused, not recorded."""
    _refusal({"error": "access_denied", "state": "other"}, "STATE_MISMATCH")
    _refusal({"error": "access_denied"}, "STATE_MISMATCH")
    _refusal({"error": 5, "state": STATE}, "RESPONSE_INVALID")
    _refusal({"error": "x", "error_description": 5, "state": STATE}, "RESPONSE_INVALID")


def test_refusals(key: ResponseEncryptionKey) -> None:
    """Plaintext where encryption was asked, JWE where it was not, another key, the wrong
    or a missing state, no vp_token: each with its reason."""
    plain = {"vp_token": json.dumps(VP_TOKEN), "state": STATE}
    _refusal(plain, "ENCRYPTION_REQUIRED", encryption_key=key)
    _refusal(
        {"response": _jwe(key, plain)},
        "RESPONSE_MODE_MISMATCH",
        response_mode=ResponseMode.DIRECT_POST,
    )
    other = ResponseEncryptionKey.generate()
    token = encrypt_jwe(
        json_bytes(plain), {k: v for k, v in other.public_jwk().items() if k != "kid"}
    )
    _refusal({"response": token}, "JWE_DECRYPTION_FAILED", encryption_key=key)
    _refusal({"response": _jwe(other, plain)}, "JWE_KEY_MISMATCH", encryption_key=key)
    _refusal({"response": ["x"]}, "JWE_MALFORMED", encryption_key=key)
    _refusal({"response": _jwe(key, {**plain, "state": "x"})}, "STATE_MISMATCH", encryption_key=key)
    _refusal({"vp_token": "{}"}, "STATE_MISMATCH", response_mode=ResponseMode.DIRECT_POST)
    _refusal({"state": STATE}, "VP_TOKEN_MISSING", response_mode=ResponseMode.DIRECT_POST)
    _refusal(
        {"vp_token": VP_TOKEN, "state": 1},
        "RESPONSE_INVALID",
        response_mode=ResponseMode.DC_API,
        expected_state=None,
    )


@pytest.mark.parametrize(
    "vp_token",
    [
        "not json",
        "[]",
        "{}",
        '{"pid": []}',
        '{"pid": "x"}',
        '{"pid": [{"a": 1}]}',
        '{"pid": [""]}',
        json.dumps({"pid": ["x"] * 17}),
        json.dumps({f"c{i}": ["x"] for i in range(33)}),
        "[" * 100_000,
    ],
)
def test_vp_token_shapes(vp_token: str) -> None:
    """Section 8.1: a non-empty object of non-empty arrays of presentation strings, bounded."""
    with pytest.raises(ProtocolError) as caught:
        parse_vp_token(vp_token)
    assert caught.value.reason == "VP_TOKEN_INVALID"


def test_vp_token_against_the_query() -> None:
    """An id the query does not name, or two presentations without multiple, is refused."""
    base = {"response_mode": ResponseMode.DIRECT_POST, "query": QUERY}
    _refusal(
        {"vp_token": json.dumps({**VP_TOKEN, "extra": ["x"]}), "state": STATE},
        "CREDENTIAL_NOT_REQUESTED",
        **base,
    )
    _refusal(
        {"vp_token": json.dumps({"pid": ["a", "b"]}), "state": STATE},
        "TOO_MANY_PRESENTATIONS",
        **base,
    )
