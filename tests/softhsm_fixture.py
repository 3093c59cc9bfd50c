"""A throwaway SoftHSM2 token per test (`eudi_connect.devtools.softhsm`).

The fixture makes the token in the test's temporary folder and points SOFTHSM2_CONF at
it (server processes the test starts inherit it). Without SoftHSM2 (Debian: apt-get
install softhsm2) or python-pkcs11 the tests that use it are skipped with that reason,
except in CI (`CI=true`), where they fail: CI must run them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eudi_connect.devtools.softhsm import CONFIG_ENV, SoftToken, find_module, make_token
from tests.postgres_fixture import in_ci

__all__ = ["SoftToken", "soft_token"]


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def soft_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftToken:
    """An initialised token, its user PIN in a 0600 file; SOFTHSM2_CONF names it."""
    module = find_module()
    if module is None:
        _missing(
            "SoftHSM2 not found: install it (Debian: apt-get install softhsm2) to run the "
            "PKCS#11 tests"
        )
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        _missing("python-pkcs11 is not installed: pip install -e '.[hsm]'")
    token = make_token(tmp_path / "softhsm", label_prefix="eudi-test", module=module)
    monkeypatch.setenv(CONFIG_ENV, str(token.config))
    return token
