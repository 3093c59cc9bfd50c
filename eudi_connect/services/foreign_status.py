"""Status list tokens other issuers publish: fetched once, kept as long as they say.

A verification never waits on the network while a cached token is fresh: a token is kept
for its `ttl` (draft-ietf-oauth-status-list section 5.1; a default when it has none), never
past its `exp`, within the settings' bounds. Concurrent verifications of credentials on
the same list share one fetch. The raw token is cached; each verification checks its
signature under that credential's trust, since two issuers could name the same URI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from eudi_connect.core.jose import MalformedJwsError, split_jws
from eudi_connect.services.fetch import FetchError, HttpFetcher

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
#: Lists remembered at once; the oldest is forgotten first.
MAX_CACHED_LISTS = 4096


@dataclass(frozen=True)
class _Cached:
    token: str | None
    error: FetchError | None
    fresh_until: float


class ForeignStatusLists:
    def __init__(self, fetcher: HttpFetcher, *, clock: Callable[[], float] = time.time) -> None:
        self._fetcher = fetcher
        self._settings = fetcher.settings
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, uri: str) -> str:
        """The status list token at `uri`, from the cache while fresh; FetchError when it
        cannot be had (also remembered briefly, so a dead server is not asked per call)."""
        cached = self._fresh(uri)
        if cached is None:
            lock = self._locks.setdefault(uri, asyncio.Lock())
            async with lock:
                cached = self._fresh(uri)
                if cached is None:
                    cached = await self._fetch(uri)
                    self._remember(uri, cached)
            if not lock.locked():
                self._locks.pop(uri, None)
        if cached.error is not None:
            raise cached.error
        assert cached.token is not None
        return cached.token

    def _fresh(self, uri: str) -> _Cached | None:
        cached = self._cache.get(uri)
        if cached is None or self._clock() >= cached.fresh_until:
            return None
        return cached

    def _remember(self, uri: str, cached: _Cached) -> None:
        self._cache.pop(uri, None)
        self._cache[uri] = cached
        while len(self._cache) > MAX_CACHED_LISTS:
            del self._cache[next(iter(self._cache))]

    async def _fetch(self, uri: str) -> _Cached:
        try:
            fetched = await self._fetcher.get(
                uri,
                accept=STATUS_LIST_MEDIA_TYPE,
                max_bytes=self._settings.max_status_list_bytes,
            )
        except FetchError as error:
            return _Cached(None, error, self._clock() + self._settings.failure_cache_seconds)
        token = fetched.body.decode("utf-8", errors="replace").strip()
        return _Cached(token, None, self._clock() + self._lifetime(token))

    def _lifetime(self, token: str) -> float:
        """Seconds to keep a token: its ttl (or the default), never past its exp.

        Read before the signature is checked, which is harmless: the cache only decides
        when to ask again, and the URL is the issuer's own (https).
        """
        settings = self._settings
        lifetime: float = settings.default_cache_seconds
        try:
            claims = split_jws(token).payload
        except MalformedJwsError:
            return settings.min_cache_seconds
        ttl, exp = claims.get("ttl"), claims.get("exp")
        if type(ttl) is int and ttl > 0:
            lifetime = ttl
        if type(exp) is int:
            lifetime = min(lifetime, exp - self._clock())
        return max(settings.min_cache_seconds, min(lifetime, settings.max_cache_seconds))
