"""Settings the services need, with the defaults a single local instance wants."""

from __future__ import annotations

from dataclasses import dataclass, field

from eudi_connect.services.fetch import FetchSettings
from eudi_connect.services.public_urls import PublicUrls
from eudi_connect.services.wallet_settings import WalletSettings

DEFAULT_STATUS_LIST_SIZE = 1 << 17
#: A verifier that trusts every EU PID and EAA provider needs a few hundred entries.
DEFAULT_MAX_TRUST_ENTRIES = 1000
DEFAULT_HTTP_PORT = 8080
# Reachable from this machine only: what `serve` without --public-url serves itself.
DEFAULT_PUBLIC_URL = f"http://127.0.0.1:{DEFAULT_HTTP_PORT}"


def local_public_url(host: str, http_port: int) -> str:
    """The public URL of a service that serves its own HTTP endpoints on `http_port`: what
    `serve` uses without --public-url (a wildcard host is reached on the loopback)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - naming a wildcard, not binding one
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{http_port}"


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    # Base of every URL that leaves the service (status list `uri`, issuer `iss`) for
    # tenants that have not issued yet; each tenant keeps the one it first issued under
    # (see `public_urls`).
    public_url: str = DEFAULT_PUBLIC_URL
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
    # How often the key schedule runs (rotations due by the tenants' maximum key age, the
    # end of retired keys' publication, the key metrics), and how long before its end a
    # key counts as nearing it in the metrics.
    key_schedule_seconds: float = 60.0
    key_warning_seconds: int = 7 * 86_400
    # How long an instance trusts an API key it verified before reading its row again: a
    # key revoked on another instance (or by `tenant keys revoke`) is refused here within
    # this many seconds. Expiry is checked on every call.
    api_key_cache_seconds: float = 5.0
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
    # How status lists and JWKS of other issuers are fetched, and from which addresses.
    fetch: FetchSettings = field(default_factory=FetchSettings)
    # The wallet-facing OpenID4VCI flow: offers, tokens, nonces, proofs.
    wallet: WalletSettings = field(default_factory=WalletSettings)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def urls(self) -> PublicUrls:
        """The URLs of `public_url`; a tenant's own are `TenantUrls`' (fixed on first use)."""
        return PublicUrls.of(self.public_url)

    def issuer_id(self, tenant_id: str) -> str:
        return self.urls.issuer_id(tenant_id)

    def status_list_uri(self, status_list_id: str) -> str:
        return self.urls.status_list_uri(status_list_id)

    def status_list_id_from_uri(self, uri: str) -> str | None:
        return self.urls.status_list_id_from_uri(uri)
