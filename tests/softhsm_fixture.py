"""A throwaway SoftHSM2 token per test: a real PKCS#11 token in a temporary folder.

The fixture writes a SoftHSM2 configuration whose token folder is the test's own, points
SOFTHSM2_CONF at it (server processes the test starts inherit it), and initialises one
token with `softhsm2-util --init-token`. Without SoftHSM2 (Debian: apt-get install
softhsm2) the tests that use it are skipped with that reason, except in CI (`CI=true`),
where they fail: CI must run them.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres_fixture import in_ci

#: Where Debian and others put the SoftHSM2 PKCS#11 module.
MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "eudi-test"


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str
    pin_file: Path
    config: Path
    token_dir: Path

    def key_flags(self) -> list[str]:
        """The `keys create` flags that name this token and its PIN file."""
        return [
            "--backend",
            "pkcs11",
            "--module",
            self.module,
            "--token-label",
            self.label,
            "--pin-file",
            str(self.pin_file),
        ]

    def remove(self) -> None:
        """Takes the token away, as unplugging an HSM or losing its slot would."""
        for entry in self.token_dir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)


def find_module() -> str | None:
    return next((path for path in MODULE_PATHS if Path(path).exists()), None)


def _require_softhsm() -> str:
    module = find_module()
    if module is None or shutil.which("softhsm2-util") is None:
        reason = (
            "SoftHSM2 not found: install it (Debian: apt-get install softhsm2) to run the "
            "PKCS#11 tests"
        )
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        reason = "python-pkcs11 is not installed: pip install -e '.[hsm]'"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return module


@pytest.fixture
def soft_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftToken:
    """An initialised token, its user PIN in a 0600 file; SOFTHSM2_CONF names it."""
    module = _require_softhsm()
    folder = tmp_path / "softhsm"
    token_dir = folder / "tokens"
    token_dir.mkdir(parents=True)
    config = folder / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    label = f"{TOKEN_LABEL}-{secrets.token_hex(4)}"  # tokens of earlier tests may be seen
    pin = secrets.token_hex(4)
    pin_file = folder / "pin"
    pin_file.write_text(pin + "\n")
    pin_file.chmod(0o600)
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            secrets.token_hex(4),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return SoftToken(module, label, pin, pin_file, config, token_dir)
