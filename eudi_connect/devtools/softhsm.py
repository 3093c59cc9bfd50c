"""A throwaway SoftHSM2 token for tests and benchmarks: a real PKCS#11 token in a folder.

`make_token(folder)` writes a SoftHSM2 configuration whose token directory is inside
`folder`, initialises one token there with `softhsm2-util --init-token` (a random label
suffix, user PIN and SO PIN) and writes the user PIN to a 0600 file. Processes that should
see the token need `SOFTHSM2_CONF` set to `token.config` (see `environment()`). Nothing
outside `folder` is touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Where Debian and others put the SoftHSM2 PKCS#11 module.
MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
CONFIG_ENV = "SOFTHSM2_CONF"


def find_module() -> str | None:
    """The SoftHSM2 module, or None when SoftHSM2 (and its softhsm2-util) is missing."""
    if shutil.which("softhsm2-util") is None:
        return None
    return next((path for path in MODULE_PATHS if Path(path).exists()), None)


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str
    pin_file: Path
    config: Path
    token_dir: Path

    def environment(self) -> dict[str, str]:
        """What a process needs in its environment to find the token."""
        return {CONFIG_ENV: str(self.config)}

    def key_flags(self) -> list[str]:
        """The `eudi-connect keys create` flags that name this token and its PIN file."""
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


def make_token(folder: Path, *, label_prefix: str = "eudi", module: str | None = None) -> SoftToken:
    """An initialised token under `folder` (created if needed)."""
    module = module or find_module()
    if module is None:
        raise FileNotFoundError("SoftHSM2 not found (Debian: apt-get install softhsm2)")
    token_dir = folder / "tokens"
    token_dir.mkdir(parents=True, exist_ok=True)
    config = folder / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    label = f"{label_prefix}-{secrets.token_hex(4)}"
    pin = secrets.token_hex(8)
    pin_file = folder / "pin"
    pin_file.touch(mode=0o600)
    pin_file.write_text(pin + "\n")
    utility = shutil.which("softhsm2-util")
    if utility is None:
        raise FileNotFoundError("softhsm2-util not found (Debian: apt-get install softhsm2)")
    subprocess.run(  # noqa: S603 - our own arguments, no outside input
        [
            utility,
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            secrets.token_hex(8),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, CONFIG_ENV: str(config)},
    )
    return SoftToken(module, label, pin, pin_file, config, token_dir)
