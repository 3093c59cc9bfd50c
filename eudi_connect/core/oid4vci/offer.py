"""Credential Offers (OpenID4VCI 1.0 section 4.1) and transaction codes.

An offer names the issuer, the credential configurations offered and the pre-authorized
code grant; a transaction code, when asked for, travels to the holder on another channel
and back in the token request (section 6.1), where it is compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME = "openid-credential-offer://"
#: Section 4.1.1: the description a wallet shows next to the code input.
MAX_TX_CODE_DESCRIPTION = 300
MIN_TX_CODE_LENGTH, MAX_TX_CODE_LENGTH = 4, 12
_TEXT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people


@dataclass(frozen=True)
class TxCodePolicy:
    """A transaction code the holder must type: `length` characters of `input_mode`."""

    length: int = 6
    input_mode: Literal["numeric", "text"] = "numeric"
    description: str | None = None

    def __post_init__(self) -> None:
        if not MIN_TX_CODE_LENGTH <= self.length <= MAX_TX_CODE_LENGTH:
            raise InvalidArgumentError(
                f"transaction code length must be {MIN_TX_CODE_LENGTH} to "
                f"{MAX_TX_CODE_LENGTH}, not {self.length}",
                reason=Reason.INVALID_TX_CODE_POLICY,
            )
        if self.input_mode not in ("numeric", "text"):
            raise InvalidArgumentError(
                "transaction code input_mode must be 'numeric' or 'text'",
                reason=Reason.INVALID_TX_CODE_POLICY,
            )
        if self.description is not None and len(self.description) > MAX_TX_CODE_DESCRIPTION:
            raise InvalidArgumentError(
                f"transaction code description is longer than {MAX_TX_CODE_DESCRIPTION}",
                reason=Reason.INVALID_TX_CODE_POLICY,
            )

    def offer_object(self) -> dict[str, Any]:
        """The `tx_code` object of the offer's pre-authorized grant."""
        described: dict[str, Any] = {"input_mode": self.input_mode, "length": self.length}
        if self.description:
            described["description"] = self.description
        return described


def make_tx_code(policy: TxCodePolicy) -> str:
    """A fresh code from the operating system's CSPRNG."""
    alphabet = "0123456789" if policy.input_mode == "numeric" else _TEXT_ALPHABET
    return "".join(secrets.choice(alphabet) for _ in range(policy.length))


def tx_code_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so timing tells an attacker nothing about the code."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def wallets_accept_issuer(identifier: str) -> bool:
    """Section 12.2.1: a Credential Issuer Identifier is an https URL; plain http is
    accepted for a loopback host only (local runs and tests, where no wallet on another
    machine could reach it anyway)."""
    parts = urlsplit(identifier)
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def credential_offer(
    *,
    credential_issuer: str,
    credential_configuration_ids: Sequence[str],
    pre_authorized_code: str,
    tx_code: TxCodePolicy | None = None,
) -> dict[str, Any]:
    """The Credential Offer object for the pre-authorized code flow."""
    ids = list(credential_configuration_ids)
    if not ids or len(set(ids)) != len(ids):
        raise InvalidArgumentError(
            "an offer needs one or more distinct credential configurations",
            reason=Reason.INVALID_CREDENTIAL_OFFER,
        )
    grant: dict[str, Any] = {"pre-authorized_code": pre_authorized_code}
    if tx_code is not None:
        grant["tx_code"] = tx_code.offer_object()
    return {
        "credential_issuer": credential_issuer,
        "credential_configuration_ids": ids,
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def offer_uri_by_value(offer: dict[str, Any]) -> str:
    """`openid-credential-offer://?credential_offer=<JSON>` (section 4.1.2)."""
    text = json.dumps(offer, separators=(",", ":"), ensure_ascii=False)
    return f"{OFFER_SCHEME}?credential_offer={quote(text, safe='')}"


def offer_uri_by_reference(credential_offer_uri: str) -> str:
    """`openid-credential-offer://?credential_offer_uri=<URL>` (section 4.1.3): short
    enough for a QR code that a phone camera reads at a glance."""
    return f"{OFFER_SCHEME}?credential_offer_uri={quote(credential_offer_uri, safe='')}"
