"""The wallet provider's public endpoints on loopback: its status list and its JWKS.

An issuer checking a key or wallet attestation's `status` fetches the referenced Status List
Token (draft-ietf-oauth-status-list §8: GET, `application/statuslist+jwt`); one that trusts
the provider by `jwks_uri` fetches the JWKS. This serves both from 127.0.0.1 and counts the
fetches, so a test can revoke an attestation and see whether the issuer looked. With an
`ssl_context` it serves https under `host` (the name its certificate carries), as a
provider's endpoints are on the web.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Mapping
from types import TracebackType

from aiohttp import web

from tests.wallet.attestations import WalletProvider

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
INVALID = 1


class ProviderHost:
    """Serves `provider`'s status lists at `/status-lists/{name}` and JWKS at `/jwks.json`."""

    def __init__(
        self,
        provider: WalletProvider,
        *,
        size: int = 1024,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.provider = provider
        self.size = size
        self.ssl_context = ssl_context
        self.host = host
        self.base = ""
        self.fetches: Counter[str] = Counter()
        self._statuses: dict[str, dict[int, int]] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [web.get("/status-lists/{name}", self._status_list), web.get("/jwks.json", self._jwks)]
        )
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        scheme = "https" if self.ssl_context is not None else "http"
        self.base = f"{scheme}://{self.host}:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ProviderHost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def jwks_uri(self) -> str:
        return f"{self.base}/jwks.json"

    def status_list_uri(self, name: str = "1") -> str:
        """The URI of list `name` (the `uri` of a `status` reference and the token's `sub`)."""
        self._statuses.setdefault(name, {})
        return f"{self.base}/status-lists/{name}"

    def set_statuses(self, statuses: Mapping[int, int], name: str = "1") -> None:
        self._statuses[name] = dict(statuses)

    def revoke(self, index: int, name: str = "1") -> None:
        """Marks entry `index` of list `name` INVALID."""
        self._statuses.setdefault(name, {})[index] = INVALID

    async def _status_list(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._statuses:
            raise web.HTTPNotFound()
        self.fetches[name] += 1
        token = self.provider.status_list_token(
            f"{self.base}/status-lists/{name}", self._statuses[name], size=self.size
        )
        return web.Response(text=token, content_type=STATUS_LIST_MEDIA_TYPE)

    async def _jwks(self, request: web.Request) -> web.Response:
        self.fetches["jwks"] += 1
        return web.json_response(self.provider.jwks())
