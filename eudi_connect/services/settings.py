"""Settings the services need, with the defaults a single local instance wants."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STATUS_LIST_SIZE = 1 << 17
#: A verifier that trusts every EU PID and EAA provider needs a few hundred entries.
DEFAULT_MAX_TRUST_ENTRIES = 1000


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    # Base of every URL that leaves the service (status list `uri`, issuer `iss`).
    public_url: str = "http://127.0.0.1:8080"
    status_list_size: int = DEFAULT_STATUS_LIST_SIZE
    # Positions leased from the store per refill: one write per this many issuances.
    status_lease_size: int = 256
    # How long verifiers may cache a status list token, and how long it stays valid.
    status_list_ttl_seconds: int = 300
    status_list_validity_seconds: int = 86_400
    clock_skew_seconds: int = 60
    # How often an instance re-reads which issuer key is active: a rotation made on another
    # instance (or by `keys rotate`) takes effect here within this many seconds.
    issuer_key_refresh_seconds: float = 30.0
    max_key_binding_age_seconds: int = 300
    # Issuer certificates (mdoc x5chain, x5c): the country they name, and optionally PEM
    # files of an IACA-style CA that signs them instead of each being self-signed.
    issuer_country: str = "EU"
    issuer_ca_cert: str | None = None
    issuer_ca_key: str | None = None
    # Trust configuration: entries (trusted issuers and anchors together) one tenant may
    # have, and JWKS fetched from trusted issuers' URLs kept in memory (least recently used
    # forgotten first).
    max_trust_entries: int = DEFAULT_MAX_TRUST_ENTRIES
    max_cached_jwks: int = 1024

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    def issuer_id(self, tenant_id: str) -> str:
        """The `iss` of a tenant's credentials; its JWT VC issuer metadata lives below it."""
        return f"{self.base_url}/issuers/{tenant_id}"

    def status_list_uri(self, status_list_id: str) -> str:
        return f"{self.base_url}/status-lists/{status_list_id}"

    def status_list_id_from_uri(self, uri: str) -> str | None:
        prefix = f"{self.base_url}/status-lists/"
        if not uri.startswith(prefix):
            return None
        status_list_id = uri[len(prefix) :]
        return status_list_id if status_list_id and "/" not in status_list_id else None
