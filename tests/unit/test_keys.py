"""Master key, key file, key check and issuer keys encrypted at rest."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import jwk_thumbprint, public_jwk
from eudi_connect.core.key_encryption import (
    MASTER_KEY_CHECK_PLAINTEXT,
    MasterKey,
    decrypt_private_key,
    encrypt_private_key,
    jwks,
    load_master_key,
    make_key_check,
    new_issuer_key,
    verify_key_check,
)
from eudi_connect.errors import ConfigurationError

AAD = b"row-42"


def _flip(blob: bytes, position: int) -> bytes:
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]


# --- MasterKey -----------------------------------------------------------------------------


def test_master_key_text_round_trips() -> None:
    """to_text gives 43 base64url characters that from_text reads back to the same key."""
    master = MasterKey.generate()
    text = master.to_text()
    assert len(text) == 43
    assert MasterKey.from_text(text) == master


def test_master_key_text_with_padding_is_accepted() -> None:
    """The padded spelling (44 characters ending in '=') names the same key."""
    master = MasterKey.generate()
    assert MasterKey.from_text(master.to_text() + "=") == master


_VALID_TEXT = b64url_encode(bytes(range(32)))
BAD_MASTER_KEY_TEXT = {
    "empty": "",
    "too-short": b64url_encode(bytes(16)),
    "31-bytes": b64url_encode(bytes(31)),
    "33-bytes": b64url_encode(bytes(33)),
    "standard-base64": "+/" + _VALID_TEXT[2:],
    "non-ascii": "é" + _VALID_TEXT[1:],
    "inner-space": _VALID_TEXT[:20] + " " + _VALID_TEXT[21:],
    "double-padding": _VALID_TEXT + "==",
    "padding-in-middle": _VALID_TEXT[:20] + "=" + _VALID_TEXT[21:],
    "non-canonical-last-char": _VALID_TEXT[:-1] + chr(ord(_VALID_TEXT[-1]) + 1),
    "hex": bytes(32).hex(),
}


@pytest.mark.parametrize("text", BAD_MASTER_KEY_TEXT.values(), ids=BAD_MASTER_KEY_TEXT.keys())
def test_bad_master_key_text_is_refused(text: str) -> None:
    """Anything but 32 bytes of canonical base64url is INVALID_MASTER_KEY."""
    with pytest.raises(ConfigurationError) as caught:
        MasterKey.from_text(text)
    assert caught.value.reason == "INVALID_MASTER_KEY"
    assert caught.value.__cause__ is None


def test_bad_master_key_text_is_not_echoed() -> None:
    """A rejected key is still probably a secret, so the error never repeats it."""
    text = _VALID_TEXT + "A"
    with pytest.raises(ConfigurationError) as caught:
        MasterKey.from_text(text)
    assert text not in str(caught.value)


def test_master_key_repr_is_redacted() -> None:
    """repr never shows the key."""
    master = MasterKey.generate()
    assert master.to_text() not in repr(master)


def test_encrypt_decrypt_round_trip_with_fresh_nonces() -> None:
    """Ciphertext is nonce || ciphertext || tag, decrypts back, and differs on every call."""
    master = MasterKey.generate()
    first = master.encrypt(b"secret", aad=AAD)
    second = master.encrypt(b"secret", aad=AAD)
    assert len(first) == 12 + len(b"secret") + 16
    assert first != second
    assert master.decrypt(first, aad=AAD) == master.decrypt(second, aad=AAD) == b"secret"


def test_decrypt_with_another_master_key_is_refused() -> None:
    """A different master key fails with MASTER_KEY_MISMATCH."""
    blob = MasterKey.generate().encrypt(b"secret", aad=AAD)
    with pytest.raises(ConfigurationError) as caught:
        MasterKey.generate().decrypt(blob, aad=AAD)
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


@pytest.mark.parametrize(
    "position", [0, 11, 12, 17, -1], ids=["nonce", "nonce-end", "ct", "ct-end", "tag"]
)
def test_tampered_blob_is_refused(position: int) -> None:
    """One flipped bit anywhere (nonce, ciphertext, tag) fails authentication."""
    master = MasterKey.generate()
    blob = master.encrypt(b"secret", aad=AAD)
    with pytest.raises(ConfigurationError) as caught:
        master.decrypt(_flip(blob, position % len(blob)), aad=AAD)
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


@pytest.mark.parametrize("blob", [b"", bytes(27)], ids=["empty", "shorter-than-nonce-and-tag"])
def test_truncated_blob_is_refused(blob: bytes) -> None:
    """A blob too short to hold a nonce and a tag is refused, not sliced blindly."""
    with pytest.raises(ConfigurationError) as caught:
        MasterKey.generate().decrypt(blob, aad=AAD)
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


def test_blob_under_other_associated_data_is_refused() -> None:
    """A blob moved to another row (other aad) does not decrypt."""
    master = MasterKey.generate()
    blob = master.encrypt(b"secret", aad=AAD)
    with pytest.raises(ConfigurationError) as caught:
        master.decrypt(blob, aad=b"row-43")
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


# --- key check -----------------------------------------------------------------------------


def test_key_check_passes_for_the_same_master_key() -> None:
    """The blob made at database creation verifies under the same key."""
    master = MasterKey.generate()
    blob = make_key_check(master)
    verify_key_check(MasterKey.from_text(master.to_text()), blob)
    assert MASTER_KEY_CHECK_PLAINTEXT not in blob


def test_key_check_fails_for_another_master_key() -> None:
    """Starting with a different master key than the database's is MASTER_KEY_MISMATCH."""
    blob = make_key_check(MasterKey.generate())
    with pytest.raises(ConfigurationError) as caught:
        verify_key_check(MasterKey.generate(), blob)
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


def test_key_check_fails_for_a_tampered_blob() -> None:
    """A corrupted key check blob is reported as a mismatch too."""
    master = MasterKey.generate()
    with pytest.raises(ConfigurationError) as caught:
        verify_key_check(master, _flip(make_key_check(master), 20))
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


def test_key_check_is_not_an_encrypted_private_key() -> None:
    """The key check and private key blobs use distinct associated data."""
    master = MasterKey.generate()
    with pytest.raises(ConfigurationError) as caught:
        decrypt_private_key(master, "some-kid", make_key_check(master))
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


# --- load_master_key -----------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    """With no env value and no file, a new key is written with mode 0600 and read next time."""
    key_file = tmp_path / "state" / "master.key"
    created = load_master_key(env_value=None, key_file=key_file)
    assert _mode(key_file) == 0o600
    assert key_file.read_text().strip() == created.to_text()
    assert load_master_key(env_value=None, key_file=key_file) == created


def test_key_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    """The file mode is set explicitly, not left to the process umask."""
    previous = os.umask(0)
    try:
        load_master_key(env_value=None, key_file=tmp_path / "master.key")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "master.key") == 0o600


def test_env_value_wins_over_the_key_file(tmp_path: Path) -> None:
    """EUDI_CONNECT_MASTER_KEY is used even when a key file exists, which stays untouched."""
    key_file = tmp_path / "master.key"
    from_file = load_master_key(env_value=None, key_file=key_file)
    from_env = MasterKey.generate()
    loaded = load_master_key(env_value=from_env.to_text(), key_file=key_file)
    assert loaded == from_env
    assert key_file.read_text().strip() == from_file.to_text()


def test_env_value_does_not_create_a_key_file(tmp_path: Path) -> None:
    """A key from the environment leaves no copy on disk."""
    key_file = tmp_path / "master.key"
    load_master_key(env_value=MasterKey.generate().to_text() + "\n", key_file=key_file)
    assert not key_file.exists()


def test_empty_env_value_counts_as_unset(tmp_path: Path) -> None:
    """An empty or blank variable falls back to the key file."""
    key_file = tmp_path / "master.key"
    from_file = load_master_key(env_value=None, key_file=key_file)
    assert load_master_key(env_value="  ", key_file=key_file) == from_file


def test_invalid_env_value_is_refused(tmp_path: Path) -> None:
    """A malformed EUDI_CONNECT_MASTER_KEY is INVALID_MASTER_KEY, never silently replaced."""
    with pytest.raises(ConfigurationError) as caught:
        load_master_key(env_value="not-a-key", key_file=tmp_path / "master.key")
    assert caught.value.reason == "INVALID_MASTER_KEY"
    assert not (tmp_path / "master.key").exists()


def test_invalid_key_file_is_refused_not_overwritten(tmp_path: Path) -> None:
    """A key file with garbage is INVALID_MASTER_KEY and is left as it was."""
    key_file = tmp_path / "master.key"
    key_file.write_text("garbage\n")
    with pytest.raises(ConfigurationError) as caught:
        load_master_key(env_value=None, key_file=key_file)
    assert caught.value.reason == "INVALID_MASTER_KEY"
    assert key_file.read_text() == "garbage\n"


def test_unreadable_key_path_is_refused(tmp_path: Path) -> None:
    """A key path that is a directory is a configuration error, not a crash."""
    with pytest.raises(ConfigurationError) as caught:
        load_master_key(env_value=None, key_file=tmp_path)
    assert caught.value.reason == "INVALID_MASTER_KEY"


# --- issuer keys ---------------------------------------------------------------------------


def test_new_issuer_key_is_p256_with_thumbprint_kid() -> None:
    """Issuer keys are P-256 and their kid is the RFC 7638 thumbprint of the public JWK."""
    key = new_issuer_key()
    assert isinstance(key.private_key.curve, ec.SECP256R1)
    assert key.kid == jwk_thumbprint(public_jwk(key.private_key.public_key()))
    assert new_issuer_key().kid != key.kid


def test_private_key_round_trips_through_encryption() -> None:
    """An encrypted issuer key decrypts to the same private key under its kid."""
    master = MasterKey.generate()
    key = new_issuer_key()
    restored = decrypt_private_key(master, key.kid, encrypt_private_key(master, key))
    assert restored.kid == key.kid
    assert (
        restored.private_key.private_numbers().private_value
        == key.private_key.private_numbers().private_value
    )


def test_private_key_under_another_kid_is_refused() -> None:
    """A blob stored under one kid cannot be loaded as another key."""
    master = MasterKey.generate()
    blob = encrypt_private_key(master, new_issuer_key())
    with pytest.raises(ConfigurationError) as caught:
        decrypt_private_key(master, new_issuer_key().kid, blob)
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


def test_private_key_under_another_master_key_is_refused() -> None:
    """A blob written under one master key does not open under another."""
    key = new_issuer_key()
    blob = encrypt_private_key(MasterKey.generate(), key)
    with pytest.raises(ConfigurationError) as caught:
        decrypt_private_key(MasterKey.generate(), key.kid, blob)
    assert caught.value.reason == "MASTER_KEY_MISMATCH"


def test_private_key_material_never_leaks() -> None:
    """Neither repr(SigningKey) nor the encrypted blob contains the private scalar or DER."""
    key = new_issuer_key()
    scalar = key.private_key.private_numbers().private_value
    der = key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    blob = encrypt_private_key(MasterKey.generate(), key)
    text = repr(key)
    assert str(scalar) not in text
    assert hex(scalar)[2:] not in text
    assert scalar.to_bytes(32, "big") not in blob
    assert der not in blob
    assert der[-32:] not in blob


def test_jwks_publishes_public_members_for_es256_signing() -> None:
    """Each JWK carries kid, alg ES256 and use sig, and a private 'd' is never copied."""
    key = new_issuer_key()
    leaked = {**key.public_jwk(), "d": "private"}
    published = jwks([leaked])
    assert published == {
        "keys": [
            {
                **public_jwk(key.private_key.public_key()),
                "kid": key.kid,
                "alg": "ES256",
                "use": "sig",
            }
        ]
    }


def test_jwks_without_kid_is_refused() -> None:
    """A verifier finds keys by kid, so publishing one without it is a bug."""
    with pytest.raises(ValueError, match="kid"):
        jwks([public_jwk(new_issuer_key().private_key.public_key())])
