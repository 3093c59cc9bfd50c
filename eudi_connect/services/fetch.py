"""Bounded HTTP GETs of what other issuers publish: status list tokens and JWKS.

Everything fetched is hostile until verified, so every fetch has a deadline, a size cap
read as the body streams (a lying Content-Length does not help), a redirect limit, and
the same scheme rule on every hop: https, or plain http to a loopback host only when
the settings allow it (tests, a local issuer).
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16 * 1024


@dataclass(frozen=True, kw_only=True)
class FetchSettings:
    """How foreign documents are fetched and how long they are kept."""

    timeout_seconds: float = 5.0
    max_status_list_bytes: int = 1 << 20  # the HTTP body of a status list token
    max_jwks_bytes: int = 64 * 1024
    max_redirects: int = 3
    # Plain http is refused except to loopback hosts, and to those only when this is set.
    allow_http_loopback: bool = False
    # Trust for https; None uses the system's CA certificates.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    # "host:port" -> (address, port): like curl --resolve, for split-horizon setups and tests.
    host_overrides: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    # Status list tokens: kept for their `ttl`, never past `exp`, within these bounds.
    default_cache_seconds: int = 300
    min_cache_seconds: int = 5
    max_cache_seconds: int = 86_400
    # A failed fetch is remembered this long, so a broken server is not asked per call.
    failure_cache_seconds: float = 5.0
    # JWKS by URL: kept this long; an unknown kid refetches at most once per min interval.
    jwks_cache_seconds: int = 300
    jwks_min_refetch_seconds: int = 30


class FetchProblem(enum.StrEnum):
    REFUSED_URL = "REFUSED_URL"  # a scheme or host the settings do not allow
    TIMEOUT = "TIMEOUT"
    TOO_LARGE = "TOO_LARGE"
    UNREACHABLE = "UNREACHABLE"  # connection, TLS or HTTP errors, redirect loops


class FetchError(Exception):
    def __init__(self, problem: FetchProblem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http_loopback: bool) -> None:
    """Raises FetchError(REFUSED_URL) for a URL the fetcher must not contact."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise FetchError(FetchProblem.REFUSED_URL, "not a valid URL") from exc
    if not host or parts.username or parts.password:
        raise FetchError(FetchProblem.REFUSED_URL, "URL needs a host and no credentials")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return
    raise FetchError(FetchProblem.REFUSED_URL, "only https URLs are fetched")


class _OverridingResolver(AbstractResolver):
    """Answers overridden host:port pairs itself; asks the system for the rest."""

    def __init__(self, overrides: Mapping[str, tuple[str, int]]) -> None:
        self._overrides = dict(overrides)
        self._system = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        target = self._overrides.get(f"{host}:{port}")
        if target is None:
            return await self._system.resolve(host, port, family)
        address, target_port = target
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=target_port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        await self._system.close()


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str


class HttpFetcher:
    """One aiohttp session for every foreign fetch, made on first use, closed at shutdown."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=_OverridingResolver(self.settings.host_overrides),
                ssl=self.settings.ssl_context if self.settings.ssl_context is not None else True,
                limit=32,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
                auto_decompress=False,  # a gzip body would slip past the size cap
            )
        return self._session

    async def get(self, url: str, *, accept: str, max_bytes: int) -> Fetched:
        """The body of a 2xx answer of at most `max_bytes`; FetchError otherwise."""
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                return await self._follow(url, accept=accept, max_bytes=max_bytes)
        except TimeoutError as exc:
            raise FetchError(
                FetchProblem.TIMEOUT, f"no answer within {self.settings.timeout_seconds} s"
            ) from exc

    async def _follow(self, url: str, *, accept: str, max_bytes: int) -> Fetched:
        session = self._open()
        for _ in range(self.settings.max_redirects + 1):
            check_url(url, allow_http_loopback=self.settings.allow_http_loopback)
            try:
                async with session.get(
                    url,
                    headers={"Accept": accept, "Accept-Encoding": "identity"},
                    allow_redirects=False,
                ) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if not 200 <= response.status < 300:
                        raise FetchError(FetchProblem.UNREACHABLE, f"HTTP {response.status}")
                    if (response.content_length or 0) > max_bytes:
                        raise FetchError(FetchProblem.TOO_LARGE, f"larger than {max_bytes} bytes")
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchError(
                                FetchProblem.TOO_LARGE, f"larger than {max_bytes} bytes"
                            )
                    return Fetched(bytes(body), response.headers.get("Content-Type", ""))
            except TimeoutError:
                raise  # the deadline, also as aiohttp's ServerTimeoutError: handled in get()
            except aiohttp.ClientError as exc:
                raise FetchError(FetchProblem.UNREACHABLE, type(exc).__name__) from exc
            except OSError as exc:
                raise FetchError(FetchProblem.UNREACHABLE, "connection failed") from exc
        raise FetchError(FetchProblem.UNREACHABLE, "too many redirects")

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
