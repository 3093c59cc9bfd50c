"""Which public URL a tenant's credentials name: fixed in the tenant's row on first use.

Every credential carries URLs built from a base: its `iss` (`<base>/issuers/<tenant>`) and
its status list URI (`<base>/status-lists/<id>`); the tenant's issuer certificates name
the issuer id too. Were the base read from `--public-url` at each start, a restart with
another value would turn every credential issued before into a stranger's (untrusted
issuer, unknown status list). So the base is fixed for a tenant when its first issuer key
or credential is made (the `--public-url` of that instance) and stays: later credentials
name the same issuer id and base whatever `--public-url` says then, which keeps one issuer
one identity for its verifiers. `--public-url` applies to tenants that have not issued yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from eudi_connect.store.base import Store

# How long a tenant seen without a fixed URL is answered from memory (another instance
# may fix it meanwhile; only a misconfigured pair of instances would notice the delay).
UNFIXED_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class PublicUrls:
    """The URLs built from one base URL (no trailing slash)."""

    base_url: str

    @classmethod
    def of(cls, public_url: str) -> PublicUrls:
        return cls(public_url.rstrip("/"))

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


class TenantUrls:
    """Each tenant's `PublicUrls`, fixed on first use and then cached for good."""

    def __init__(
        self, store: Store, default_public_url: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self.default = PublicUrls.of(default_public_url)
        self._clock = clock
        self._fixed: dict[str, PublicUrls] = {}
        self._unfixed: dict[str, float] = {}  # tenant -> when it was last seen unfixed

    async def fixed(self, tenant_id: str) -> PublicUrls:
        """The tenant's URLs, fixing this instance's default for it if it has none yet:
        for whatever writes them into a credential or certificate."""
        known = self._fixed.get(tenant_id)
        if known is not None:
            return known
        stored = await self._store.fix_tenant_public_url(tenant_id, self.default.base_url)
        if stored is None:  # no such tenant: nothing to fix, nothing issued
            return self.default
        return self._remember(tenant_id, stored)

    async def current(self, tenant_id: str) -> PublicUrls:
        """The tenant's URLs without fixing them: its fixed ones, else the default (for
        readers: verification, issuer metadata)."""
        known = self._fixed.get(tenant_id)
        if known is not None:
            return known
        seen = self._unfixed.get(tenant_id)
        if seen is not None and self._clock() - seen < UNFIXED_CACHE_SECONDS:
            return self.default
        tenant = await self._store.get_tenant(tenant_id)
        if tenant is None or tenant.public_url is None:
            if tenant is not None:
                self._unfixed[tenant_id] = self._clock()
            return self.default
        return self._remember(tenant_id, tenant.public_url)

    def _remember(self, tenant_id: str, public_url: str) -> PublicUrls:
        urls = self.default if public_url == self.default.base_url else PublicUrls.of(public_url)
        self._fixed[tenant_id] = urls
        self._unfixed.pop(tenant_id, None)
        return urls
