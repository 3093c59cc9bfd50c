"""The wallet's errors: one base with a short machine code, as the tests assert codes.

`ProtocolViolation` means the issuer broke a rule of the specifications (a wrong media type,
a missing `Cache-Control: no-store`, metadata for another issuer, a 5xx); `CredentialRejected`
means a credential failed the holder's own checks; `WalletError` covers a wallet used wrongly.
"""

from __future__ import annotations

from typing import Any


class WalletError(Exception):
    """Base of every wallet error; `code` is stable, `description` says what happened."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class ProtocolViolation(WalletError):
    """The server answered something the specifications do not allow.

    `reply` is the offending HTTP reply when there was one, kept for the test's message.
    """

    def __init__(self, code: str, description: str, reply: Any = None) -> None:
        super().__init__(code, description)
        self.reply = reply


class CredentialRejected(WalletError):
    """An issued credential failed a holder-side check (signature, binding, digests)."""
