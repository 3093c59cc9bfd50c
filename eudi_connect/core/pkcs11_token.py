"""Sessions on a PKCS#11 token (an HSM, or SoftHSM2 in tests), via python-pkcs11: which
token to open and with which PIN, one logged-in session per token and process, and what a
token failure becomes. The keys in it are `core.pkcs11_signer`'s.

Sessions belong to one process: PKCS#11 state does not survive a fork (v2.40 section
6.6.1), so a process opens its own, and a session seen in a child raises instead of
being used. A token that fails (slot gone, session lost, wrong PIN) makes the calls fail
with `UnavailableError`; the next attempt opens a new session after a backoff that grows
with each consecutive failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eudi_connect.core.signer import Pkcs11KeyReference
from eudi_connect.errors import InvalidArgumentError, UnavailableError
from eudi_connect.reasons import Reason

#: Backoff after consecutive token failures: 0.5 s, 1 s, 2 s, ... at most 30 s.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
_ECDSA_MECHANISM: Any = None  # pkcs11.Mechanism.ECDSA once python-pkcs11 is loaded


@dataclass(frozen=True)
class TokenConfig:
    """Which token to open and where its user PIN comes from (a file or an environment
    variable, never the PIN itself)."""

    module: str
    token_label: str = ""
    slot: int | None = None
    pin_file: str = ""
    pin_env: str = ""

    def describe(self) -> str:
        return f"token {self.token_label!r}" if self.token_label else f"slot {self.slot}"

    def key_reference(self, key_id: str, key_label: str) -> Pkcs11KeyReference:
        return Pkcs11KeyReference(
            module=self.module,
            key_id=key_id,
            key_label=key_label,
            token_label=self.token_label,
            slot=self.slot,
            pin_file=self.pin_file,
            pin_env=self.pin_env,
        )

    @classmethod
    def of(cls, reference: Pkcs11KeyReference) -> TokenConfig:
        return cls(
            module=reference.module,
            token_label=reference.token_label,
            slot=reference.slot,
            pin_file=reference.pin_file,
            pin_env=reference.pin_env,
        )

    def check(self) -> None:
        """Refuses a configuration that can never open a token."""
        if not self.module:
            raise InvalidArgumentError(
                "a PKCS#11 key needs the module path", reason=Reason.HSM_CONFIG
            )
        if not self.token_label and self.slot is None:
            raise InvalidArgumentError(
                "a PKCS#11 key needs a token label or a slot", reason=Reason.HSM_CONFIG
            )
        if bool(self.pin_file) == bool(self.pin_env):
            raise InvalidArgumentError(
                "a PKCS#11 key needs exactly one PIN source: a PIN file or an environment "
                "variable name",
                reason=Reason.HSM_CONFIG,
            )


def load_pkcs11() -> Any:
    """python-pkcs11, imported on first use (it is an optional dependency)."""
    global _ECDSA_MECHANISM  # looked up once: signing is the hot path
    try:
        import pkcs11
    except ImportError:
        raise UnavailableError(
            "PKCS#11 keys need python-pkcs11: install eudi-connect[hsm]",
            reason=Reason.HSM_NOT_INSTALLED,
        ) from None
    _ECDSA_MECHANISM = pkcs11.Mechanism.ECDSA
    return pkcs11


def read_pin(config: TokenConfig) -> str:
    """The user PIN from its file (first line) or environment variable."""
    if config.pin_env:
        pin = os.environ.get(config.pin_env, "")
        if not pin:
            raise UnavailableError(
                f"the PIN variable {config.pin_env} is not set",
                reason=Reason.HSM_PIN_MISSING,
                metadata={"token": config.describe()},
            )
        return pin
    try:
        pin = Path(config.pin_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnavailableError(
            f"cannot read the PIN file {config.pin_file}: {type(exc).__name__}",
            reason=Reason.HSM_PIN_MISSING,
            metadata={"token": config.describe()},
        ) from None
    if not pin:
        raise UnavailableError(
            f"the PIN file {config.pin_file} is empty",
            reason=Reason.HSM_PIN_MISSING,
            metadata={"token": config.describe()},
        )
    return pin


_libraries: dict[str, Any] = {}
_libraries_lock = threading.Lock()
# Bumped each time a module is initialised again: sessions opened before are gone.
_generations: dict[str, int] = {}


def _library(module: str) -> Any:
    with _libraries_lock:
        library = _libraries.get(module)
        if library is None:
            try:
                library = load_pkcs11().lib(module)
            except RuntimeError as exc:  # python-pkcs11 raises it for a library it cannot load
                raise UnavailableError(
                    f"cannot load the PKCS#11 module {module}: {exc}", reason=Reason.HSM_MODULE
                ) from None
            _libraries[module] = library
        return library


def _generation(module: str) -> int:
    with _libraries_lock:
        return _generations.get(module, 0)


def _reinitialize(module: str) -> None:
    """C_Finalize and C_Initialize again: a module lists the slots and tokens it found
    when it was initialised, so a token added or moved since is only seen after this.
    Every session of the module in this process ends with it."""
    library = _library(module)
    with _libraries_lock:
        library.reinitialize()
        _generations[module] = _generations.get(module, 0) + 1


def _unavailable(config: TokenConfig, error: Exception) -> UnavailableError:
    """The domain error of a token failure; it names the token, never the PIN."""
    exceptions = load_pkcs11().exceptions
    name = type(error).__name__
    if isinstance(error, UnavailableError):
        return error
    if isinstance(error, exceptions.PinIncorrect | exceptions.PinLocked | exceptions.PinInvalid):
        reason, what = Reason.HSM_PIN_INCORRECT, "the token refused the PIN"
    elif isinstance(error, exceptions.NoSuchToken | exceptions.SlotIDInvalid):
        reason, what = Reason.HSM_TOKEN_NOT_FOUND, "the token is not present"
    elif isinstance(error, exceptions.TokenNotPresent | exceptions.DeviceRemoved):
        reason, what = Reason.HSM_TOKEN_NOT_FOUND, "the token was removed"
    elif isinstance(error, exceptions.NoSuchKey):
        reason, what = Reason.HSM_KEY_NOT_FOUND, "the token has no such key"
    else:
        reason, what = Reason.HSM_UNAVAILABLE, f"the token failed ({name})"
    return UnavailableError(
        f"issuer key token unavailable: {what} ({config.describe()})",
        reason=reason,
        metadata={"token": config.describe()},
    )


class Pkcs11Token:
    """One logged-in session on one token, for this process, used under a lock (a PKCS#11
    session runs one operation at a time)."""

    def __init__(self, config: TokenConfig, *, clock: Callable[[], float] = time.monotonic):
        config.check()
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._session: Any = None
        self._session_generation = 0
        self._pid = os.getpid()
        self._keys: dict[str, Any] = {}  # key id hex -> private key object of this session
        self._failures = 0
        self._retry_at = 0.0
        self._last_error: UnavailableError | None = None
        # SHA-256 of the last PIN the token refused: an HSM locks its user PIN after a few
        # wrong ones, so the same PIN is never offered again; a changed one is.
        self._refused_pin: bytes | None = None

    def _open(self) -> Any:
        pkcs11 = load_pkcs11()
        library = _library(self.config.module)
        if self.config.token_label:
            token = library.get_token(token_label=self.config.token_label)
        else:
            slots = [s for s in library.get_slots() if s.slot_id == self.config.slot]
            if not slots:
                raise pkcs11.exceptions.NoSuchToken(f"no slot {self.config.slot}")
            token = slots[0].get_token()
        pin = read_pin(self.config)
        pin_digest = _digest(pin)
        try:
            return token.open(rw=True, user_pin=pin)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            # Another session of this process logged in already: the login is per process.
            return token.open(rw=True)
        except pkcs11.exceptions.PinIncorrect:
            self._refused_pin = pin_digest
            raise

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        self._keys.clear()
        if session is not None:
            # The session is already broken: closing it is a courtesy.
            with contextlib.suppress(Exception):
                session.close()

    def run(self, work: Callable[[Any], Any]) -> Any:
        """Runs `work(session)`; after a failure, one more try on a new session, then
        UnavailableError (and later calls wait out the backoff before trying again)."""
        if os.getpid() != self._pid:
            raise RuntimeError("a PKCS#11 session cannot cross a fork: open one per process")
        with self._lock:
            if self._session is not None and self._session_generation != _generation(
                self.config.module
            ):
                self._session, self._keys = None, {}  # the module was initialised again
            if self._session is None and (
                self._clock() < self._retry_at or self._pin_refused_before()
            ):
                assert self._last_error is not None
                raise self._last_error
            for attempt in range(2):
                try:
                    if self._session is None:
                        generation = _generation(self.config.module)
                        self._session = self._open()
                        self._session_generation = generation
                    result = work(self._session)
                except Exception as exc:
                    if not _is_token_failure(exc):
                        raise
                    self._drop_session()
                    error = _unavailable(self.config, exc)
                    if attempt == 0 and error.reason == Reason.HSM_UNAVAILABLE:
                        continue  # a stale session: one fresh one may do
                    if attempt == 0 and error.reason == Reason.HSM_TOKEN_NOT_FOUND:
                        _reinitialize(self.config.module)  # it may be back, or elsewhere
                        continue
                    self._failed(error)
                    raise error from None
                self._failures = 0
                return result
            raise AssertionError("unreachable")

    def _pin_refused_before(self) -> bool:
        """Whether the PIN source still holds the PIN the token refused last."""
        if self._refused_pin is None:
            return False
        try:
            pin = read_pin(self.config)
        except UnavailableError:
            return False  # let the attempt report the missing PIN
        return secrets.compare_digest(_digest(pin), self._refused_pin)

    def _failed(self, error: UnavailableError) -> None:
        self._failures += 1
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (self._failures - 1))
        self._retry_at = self._clock() + delay
        self._last_error = error

    def private_key(self, session: Any, key_id: str) -> Any:
        key = self._keys.get(key_id)
        if key is None:
            pkcs11 = load_pkcs11()
            key = session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=bytes.fromhex(key_id)
            )
            self._keys[key_id] = key
        return key

    def forget_key(self, key_id: str) -> None:
        """Drops the cached object of a key destroyed on the token."""
        self._keys.pop(key_id, None)

    @property
    def process_id(self) -> int:
        """The process whose session this is."""
        return self._pid

    def close(self) -> None:
        with self._lock:
            self._drop_session()


def ecdsa_mechanism() -> Any:
    """CKM_ECDSA, looked up once: signing is the hot path."""
    return _ECDSA_MECHANISM or load_pkcs11().Mechanism.ECDSA


def _digest(pin: str) -> bytes:
    return hashlib.sha256(pin.encode("utf-8")).digest()


def _is_token_failure(exc: Exception) -> bool:
    if isinstance(exc, UnavailableError):
        return True
    pkcs11 = load_pkcs11()
    return isinstance(exc, pkcs11.exceptions.PKCS11Error)


_tokens: dict[TokenConfig, Pkcs11Token] = {}
_tokens_lock = threading.Lock()


def token_for(config: TokenConfig) -> Pkcs11Token:
    """This process's session holder for a token (one per token and process)."""
    with _tokens_lock:
        token = _tokens.get(config)
        if token is None or token.process_id != os.getpid():
            token = Pkcs11Token(config)
            _tokens[config] = token
        return token
