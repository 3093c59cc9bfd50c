"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

# Tests never read a developer's own settings.
os.environ.pop("EUDI_CONNECT_MASTER_KEY", None)
os.environ.pop("EUDI_CONNECT_API_KEY", None)
os.environ.pop("EUDI_CONNECT_ADDRESS", None)
