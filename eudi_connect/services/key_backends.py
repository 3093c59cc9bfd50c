"""Where issuer keys are made and reopened: the software backend (a key of this process,
stored encrypted under the master key) or a PKCS#11 token (the key never leaves it).

A tenant's `KeySettingsRecord` of a purpose names the backend of its new keys; every key
record names its own, so changing the settings never strands the keys already made.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from eudi_connect.core.jose import SigningKey
from eudi_connect.core.key_encryption import (
    MasterKey,
    decrypt_private_key,
    encrypt_private_key,
    new_issuer_key,
)
from eudi_connect.core.signer import (
    BACKENDS,
    PKCS11_BACKEND,
    SOFTWARE_BACKEND,
    Pkcs11KeyReference,
    Signer,
)
from eudi_connect.errors import ConfigurationError, InvalidArgumentError
from eudi_connect.reasons import Reason
from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord

CREDENTIAL_PURPOSE = "credential"  # signs credentials (SD-JWT VC, mdoc), and by default
STATUS_PURPOSE = "status"  # status list tokens, when the tenant gives them their own key
PURPOSES = (CREDENTIAL_PURPOSE, STATUS_PURPOSE)
DEFAULT_KEY_LABEL = "eudi-connect"
_TOKEN_MEMBERS = ("module", "token_label", "slot", "pin_file", "pin_env", "key_label")


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise InvalidArgumentError(
            f"key purpose {purpose!r} is not one of {', '.join(PURPOSES)}",
            reason=Reason.KEY_PURPOSE_INVALID,
        )
    return purpose


@dataclass(frozen=True)
class TokenSettings:
    """The PKCS#11 members of a tenant's key settings (the PIN's source, not the PIN)."""

    module: str
    token_label: str = ""
    slot: int | None = None
    pin_file: str = ""
    pin_env: str = ""
    key_label: str = DEFAULT_KEY_LABEL

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _TOKEN_MEMBERS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSettings:
        slot = data.get("slot")
        return cls(
            module=str(data.get("module", "")),
            token_label=str(data.get("token_label") or ""),
            slot=int(slot) if isinstance(slot, int) else None,
            pin_file=str(data.get("pin_file") or ""),
            pin_env=str(data.get("pin_env") or ""),
            key_label=str(data.get("key_label") or DEFAULT_KEY_LABEL),
        )


def check_settings(settings: KeySettingsRecord) -> None:
    """Refuses settings that can never make a key, before they are stored."""
    check_purpose(settings.purpose)
    if settings.backend not in BACKENDS:
        raise InvalidArgumentError(
            f"key backend {settings.backend!r} is not one of {', '.join(BACKENDS)}",
            reason=Reason.KEY_BACKEND_INVALID,
        )
    if settings.max_age_seconds is not None and settings.max_age_seconds <= 0:
        raise InvalidArgumentError(
            "the maximum key age must be positive", reason=Reason.KEY_MAX_AGE_INVALID
        )
    if settings.backend == PKCS11_BACKEND:
        token = TokenSettings.from_json(settings.token or {})
        _token_config(token).check()


def _token_config(token: TokenSettings) -> Any:
    from eudi_connect.core.pkcs11_token import TokenConfig

    return TokenConfig(
        module=token.module,
        token_label=token.token_label,
        slot=token.slot,
        pin_file=token.pin_file,
        pin_env=token.pin_env,
    )


@dataclass(frozen=True)
class NewKey:
    """A key just made, with what its record stores about where it lives."""

    signer: Signer
    backend: str
    private_key_encrypted: bytes
    key_ref: dict[str, Any] | None


class KeyBackends:
    """Makes, reopens and discards keys in the backend a setting or a record names."""

    def __init__(self, master: MasterKey) -> None:
        self._master = master

    async def new_key(self, settings: KeySettingsRecord | None) -> NewKey:
        if settings is None or settings.backend == SOFTWARE_BACKEND:
            key = new_issuer_key()
            sealed = encrypt_private_key(self._master, key)
            return NewKey(key, SOFTWARE_BACKEND, sealed, None)
        if settings.backend == PKCS11_BACKEND:
            from eudi_connect.core.pkcs11_signer import generate_key

            token = TokenSettings.from_json(settings.token or {})
            config = _token_config(token)
            # The token works synchronously (and may take a while to make a key).
            signer = await asyncio.to_thread(generate_key, config, token.key_label)
            return NewKey(signer, PKCS11_BACKEND, b"", signer.key.to_json())
        raise ConfigurationError(
            f"key backend {settings.backend!r} is unknown", reason=Reason.KEY_BACKEND_INVALID
        )

    def open(self, record: IssuerKeyRecord) -> Signer:
        """The signer of a stored key, carrying its certificate as its chain."""
        chain = (record.certificate,) if record.certificate is not None else ()
        if record.backend == SOFTWARE_BACKEND:
            key = decrypt_private_key(self._master, record.kid, record.private_key_encrypted)
            return SigningKey(key.kid, key.private_key, chain)
        if record.backend == PKCS11_BACKEND and record.key_ref is not None:
            from eudi_connect.core.jose import public_key_from_jwk
            from eudi_connect.core.pkcs11_signer import open_key
            from eudi_connect.core.signer import public_point

            point = public_point(public_key_from_jwk(record.public_jwk))
            signer = open_key(Pkcs11KeyReference.from_json(record.key_ref), record.kid, point)
            return replace(signer, certificate_chain=chain)
        raise ConfigurationError(
            f"stored issuer key {record.kid} names no usable backend ({record.backend})",
            reason=Reason.INVALID_ISSUER_KEY,
        )

    async def discard(self, new: NewKey) -> None:
        """Removes a key that never became active (another instance's rotation won)."""
        if new.backend == PKCS11_BACKEND and new.key_ref is not None:
            from eudi_connect.core.pkcs11_signer import destroy_key

            await asyncio.to_thread(destroy_key, Pkcs11KeyReference.from_json(new.key_ref))
