"""Settings of the wallet-facing issuance flow (OpenID4VCI), with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass

from eudi_connect.core.formats import MDOC_FORMAT, SD_JWT_VC_FORMAT


@dataclass(frozen=True, kw_only=True)
class WalletSettings:
    # Proofs (hence credentials) one credential request may carry: `batch_size` in the
    # issuer metadata, and the most copies an offer may grant per credential.
    batch_size: int = 10
    # Offers are short-lived (section 4.1.1: the pre-authorized code is "short lived").
    default_offer_lifetime_seconds: int = 600
    max_offer_lifetime_seconds: int = 30 * 86_400
    access_token_seconds: int = 600
    c_nonce_seconds: int = 300
    # Wrong transaction codes an offer survives; the next one kills it (section 13.6.2).
    tx_code_attempts: int = 3
    # How often a wallet should ask again for a deferred credential.
    deferred_interval_seconds: int = 5
    # Key proofs and DPoP proofs older than this are stale.
    proof_max_age_seconds: int = 300
    # Server DPoP nonces (RFC 9449 section 8) change this often; one is accepted during
    # its own period and the next, so it lives 1 to 2 times this long.
    dpop_nonce_seconds: int = 300
    clock_skew_seconds: int = 5
    # How often WatchCredentialOffer looks at the store for a change made anywhere.
    watch_poll_seconds: float = 0.2
    # How long an instance uses a tenant's wallet policy before reading it again: a
    # change made through another instance applies everywhere within this time.
    policy_cache_seconds: float = 5.0


def configuration_id(template_id: str, credential_format: str) -> str:
    """The credential configuration id of a template in a format: `pid.dc+sd-jwt`."""
    return f"{template_id}.{credential_format}"


def split_configuration_id(configuration_id: str) -> tuple[str, str] | None:
    """(template_id, format) of a configuration id, or None when it names no format."""
    template_id, dot, credential_format = configuration_id.rpartition(".")
    if not dot or not template_id or credential_format not in (SD_JWT_VC_FORMAT, MDOC_FORMAT):
        return None
    return template_id, credential_format
