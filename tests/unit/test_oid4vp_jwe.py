"""Encrypted responses: the OpenID4VP 1.0 section 8.3 example, JWEs made by the independent
jwcrypto library (and ours read back by it), and every refusal: other algorithms, other
keys, compression, critical extensions, tampering, malformed and oversized input.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eudi_connect.core.encoding import b64url_decode, b64url_encode, json_bytes
from eudi_connect.core.jose import public_jwk
from eudi_connect.core.oid4vp import (
    DEFAULT_ENC_VALUES,
    ErrorCode,
    JweError,
    ResponseEncryptionKey,
    decrypt_jwe,
    decrypt_response,
    encrypt_jwe,
)
from tests.unit.oid4vp_examples import SPEC_KEY, SPEC_RESPONSE

jwk_module: Any = pytest.importorskip("jwcrypto.jwk")
jwe_module: Any = pytest.importorskip("jwcrypto.jwe")

PAYLOAD = {"vp_token": {"pid": ["eyJhbGci...QMA"]}, "state": "s-1"}


@pytest.fixture(scope="module")
def key() -> ResponseEncryptionKey:
    return ResponseEncryptionKey.generate()


def _jwcrypto_encrypt(recipient: dict[str, Any], payload: bytes, enc: str, **header: Any) -> str:
    protected = {"alg": "ECDH-ES", "enc": enc, **header}
    token = jwe_module.JWE(payload, json.dumps(protected))
    token.add_recipient(jwk_module.JWK(**recipient))
    return str(token.serialize(compact=True))


def _replace_header(token: str, **changes: Any) -> str:
    """The same JWE with a rewritten protected header (so the tag no longer matches)."""
    parts = token.split(".")
    header = json.loads(b64url_decode(parts[0]))
    header.update(changes)
    header = {k: v for k, v in header.items() if v is not None}
    return ".".join([b64url_encode(json_bytes(header)), *parts[1:]])


def test_the_specification_example_decrypts() -> None:
    """The example response of section 8.3 decrypts with the example key to its payload."""
    key = ResponseEncryptionKey.from_private_jwk(SPEC_KEY)
    assert decrypt_response(SPEC_RESPONSE, key) == {
        "vp_token": {"example_credential_id": ["eyJhb...YMetA"]}
    }


@pytest.mark.parametrize("enc", DEFAULT_ENC_VALUES)
def test_jwcrypto_responses_decrypt(key: ResponseEncryptionKey, enc: str) -> None:
    """A JWE jwcrypto encrypts to the request's public key decrypts to the same payload."""
    token = _jwcrypto_encrypt(key.public_jwk(), json_bytes(PAYLOAD), enc, kid=key.kid)
    assert decrypt_response(token, key) == PAYLOAD


def test_party_info_enters_the_key_derivation(key: ResponseEncryptionKey) -> None:
    """apu and apv from the header go into Concat KDF as jwcrypto puts them there."""
    token = _jwcrypto_encrypt(
        key.public_jwk(),
        b"{}",
        "A256GCM",
        apu=b64url_encode(b"wallet nonce"),
        apv=b64url_encode(b"verifier nonce"),
    )
    assert decrypt_jwe(token, key) == b"{}"


@pytest.mark.parametrize("enc", DEFAULT_ENC_VALUES)
def test_jwcrypto_decrypts_ours(key: ResponseEncryptionKey, enc: str) -> None:
    """What encrypt_jwe produces (with apu and apv) jwcrypto decrypts with the private key."""
    token = encrypt_jwe(json_bytes(PAYLOAD), key.public_jwk(), enc=enc, apu=b"u", apv=b"v")
    reader = jwe_module.JWE()
    reader.deserialize(token, key=jwk_module.JWK(**key.private_jwk()))
    assert json.loads(reader.payload) == PAYLOAD
    assert reader.jose_header["kid"] == key.kid


def test_own_round_trip_and_private_jwk(key: ResponseEncryptionKey) -> None:
    """A key restored from its stored private JWK decrypts what was sent to the original."""
    token = encrypt_jwe(b'{"a":1}', key.public_jwk())
    restored = ResponseEncryptionKey.from_private_jwk(key.private_jwk())
    assert decrypt_response(token, restored) == {"a": 1}
    assert restored.thumbprint() == key.thumbprint()


def test_public_jwk_is_an_encryption_key(key: ResponseEncryptionKey) -> None:
    """The advertised JWK names its kid, use enc and alg ECDH-ES, and carries no d."""
    jwk = key.public_jwk()
    assert jwk["kid"] == key.kid
    assert jwk["use"] == "enc"
    assert jwk["alg"] == "ECDH-ES"
    assert "d" not in jwk
    assert len(key.thumbprint()) == 32


def _code(error: JweError) -> tuple[str, ErrorCode]:
    return error.reason, error.code


def test_another_key_fails_decryption(key: ResponseEncryptionKey) -> None:
    """A JWE for another key (without a kid) does not decrypt: JWE_DECRYPTION_FAILED."""
    other = ResponseEncryptionKey.generate()
    token = encrypt_jwe(b"{}", {k: v for k, v in other.public_jwk().items() if k != "kid"})
    with pytest.raises(JweError) as caught:
        decrypt_jwe(token, key)
    assert _code(caught.value) == ("JWE_DECRYPTION_FAILED", ErrorCode.INVALID_REQUEST)


def test_kid_of_another_key_is_refused(key: ResponseEncryptionKey) -> None:
    """A JWE whose kid names another key is refused before any key agreement."""
    token = encrypt_jwe(b"{}", ResponseEncryptionKey.generate().public_jwk())
    with pytest.raises(JweError) as caught:
        decrypt_jwe(token, key)
    assert caught.value.reason == "JWE_KEY_MISMATCH"


def test_enc_not_advertised_is_refused(key: ResponseEncryptionKey) -> None:
    """A128GCM is refused when the request advertised only A256GCM."""
    token = encrypt_jwe(b"{}", key.public_jwk(), enc="A128GCM")
    with pytest.raises(JweError) as caught:
        decrypt_jwe(token, key, allowed_enc=("A256GCM",))
    assert caught.value.reason == "JWE_ALGORITHM_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"alg": "ECDH-ES+A128KW"}, "JWE_ALGORITHM_NOT_ALLOWED"),
        ({"alg": "RSA-OAEP"}, "JWE_ALGORITHM_NOT_ALLOWED"),
        ({"alg": "dir"}, "JWE_ALGORITHM_NOT_ALLOWED"),
        ({"enc": "A128CBC-HS256"}, "JWE_ALGORITHM_NOT_ALLOWED"),
        ({"enc": "A192GCM"}, "JWE_ALGORITHM_NOT_ALLOWED"),
        ({"zip": "DEF"}, "JWE_ALGORITHM_NOT_ALLOWED"),
        ({"crit": ["exp"], "exp": 1}, "JWE_MALFORMED"),
        ({"epk": None}, "JWE_MALFORMED"),
        ({"epk": {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}}, "JWE_MALFORMED"),
        ({"epk": {"kty": "OKP", "crv": "X25519", "x": "AA"}}, "JWE_MALFORMED"),
        ({"apu": "not base64url!"}, "JWE_MALFORMED"),
        ({"apu": 5}, "JWE_MALFORMED"),
    ],
)
def test_header_refusals(key: ResponseEncryptionKey, changes: dict[str, Any], reason: str) -> None:
    """Algorithms, compression, extensions and keys other than ours are refused by name."""
    token = _replace_header(encrypt_jwe(b"{}", key.public_jwk()), **changes)
    with pytest.raises(JweError) as caught:
        decrypt_jwe(token, key)
    assert caught.value.reason == reason


def test_off_curve_ephemeral_key_is_refused(key: ResponseEncryptionKey) -> None:
    """An epk whose point is not on P-256 is refused before the key agreement."""
    epk = {**public_jwk(key.private_key.public_key()), "y": b64url_encode(b"\x01" * 32)}
    token = _replace_header(encrypt_jwe(b"{}", key.public_jwk()), epk=epk)
    with pytest.raises(JweError) as caught:
        decrypt_jwe(token, key)
    assert caught.value.reason == "JWE_MALFORMED"


@pytest.mark.parametrize("part", [0, 2, 3, 4])
def test_tampering_fails_decryption(key: ResponseEncryptionKey, part: int) -> None:
    """A changed header, iv, ciphertext or tag breaks the AES-GCM tag."""
    parts = encrypt_jwe(b'{"vp_token":{}}', key.public_jwk()).split(".")
    if part == 0:
        parts[0] = _replace_header(".".join(parts), typ="JWT").split(".")[0]
    else:
        raw = bytearray(b64url_decode(parts[part]))
        raw[0] ^= 1
        parts[part] = b64url_encode(bytes(raw))
    with pytest.raises(JweError) as caught:
        decrypt_jwe(".".join(parts), key)
    assert caught.value.reason == "JWE_DECRYPTION_FAILED"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p[:4],
        lambda p: [*p, ""],
        lambda p: [p[0], "AAAA", *p[2:]],
        lambda p: [p[0], p[1], "AAAA", *p[3:]],
        lambda p: [p[0], p[1], p[2], p[3], "AAAA"],
        lambda p: ["e30", *p[1:]],
        lambda p: ["bm90IGpzb24", *p[1:]],
        lambda p: ["W10", *p[1:]],
        lambda p: [p[0], p[1], p[2], "!!", p[4]],
    ],
)
def test_malformed_jwes_are_refused(key: ResponseEncryptionKey, mutate: Any) -> None:
    """Wrong part counts, an encrypted key, bad iv and tag sizes, headers that are not
    JSON objects and non-base64url parts are all JWE_MALFORMED or an algorithm refusal."""
    parts = encrypt_jwe(b"{}", key.public_jwk()).split(".")
    with pytest.raises(JweError) as caught:
        decrypt_jwe(".".join(mutate(parts)), key)
    assert caught.value.reason in {"JWE_MALFORMED", "JWE_ALGORITHM_NOT_ALLOWED"}


def test_size_limits(key: ResponseEncryptionKey) -> None:
    """A JWE over the limit is refused before any parsing; non-text is malformed."""
    with pytest.raises(JweError) as caught:
        decrypt_jwe("a" * 101, key, max_bytes=100)
    assert caught.value.reason == "JWE_TOO_LARGE"
    with pytest.raises(JweError):
        decrypt_jwe(b"abc", key)  # type: ignore[arg-type]
    with pytest.raises(JweError):
        decrypt_jwe("é.a.b.c.d", key)


@pytest.mark.parametrize("plaintext", [b"[1]", b"not json", b"\xff"])
def test_payload_must_be_a_json_object(key: ResponseEncryptionKey, plaintext: bytes) -> None:
    """A decrypted payload that is not a JSON object is refused JWE_MALFORMED."""
    with pytest.raises(JweError) as caught:
        decrypt_response(encrypt_jwe(plaintext, key.public_jwk()), key)
    assert caught.value.reason == "JWE_MALFORMED"


def test_protocol_error_body(key: ResponseEncryptionKey) -> None:
    """The refusal carries the code for the wallet and a description fit for the body."""
    with pytest.raises(JweError) as caught:
        decrypt_jwe("x", key)
    body = caught.value.response_body()
    assert body["error"] == "invalid_request"
    assert body["error_description"]
    assert caught.value.metadata["error"] == "invalid_request"
