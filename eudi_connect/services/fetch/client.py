"""Bounded HTTP GETs of what other issuers publish: status list tokens and JWKS.

The URL is a tenant's and everything fetched is hostile until verified, so every fetch:

- connects only to permitted addresses (`addresses`): an IP written in the URL is checked
  here, a host name by the very lookup the connection uses (`resolver`), on every hop;
- follows at most `max_redirects` redirects itself, checking each like the first, and has
  one deadline for all of it;
- caps the body as it streams (a lying Content-Length does not help) and never inflates
  it (`Accept-Encoding: identity`, no automatic decompression);
- uses https, or plain http to a loopback host only when the settings allow it (tests);
- ignores proxy settings from the environment (a proxy would make its own lookup).

A failure tells the tenant only its kind (`FetchProblem`) and a fixed sentence: nothing
from the answer, no status code, no exception text, so a refused address reads the same
whether or not anything listens on it. The operator's log gets the details.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from eudi_connect.services.fetch.addresses import (
    AddressPolicy,
    IPAddress,
    IPNetwork,
    ip_literal,
    looks_numeric,
)
from eudi_connect.services.fetch.resolver import CheckingResolver, ForbiddenAddressError

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16 * 1024


@dataclass(frozen=True, kw_only=True)
class FetchSettings:
    """How foreign documents are fetched and how long they are kept."""

    timeout_seconds: float = 5.0  # the whole fetch, redirects included
    max_status_list_bytes: int = 1 << 20  # the HTTP body of a status list token
    max_jwks_bytes: int = 64 * 1024
    max_redirects: int = 3
    # Networks fetched from besides public unicast addresses (a private deployment's
    # issuers): `serve --fetch-allow-network 10.0.0.0/8`. Loopback too only when listed.
    allow_networks: tuple[IPNetwork, ...] = ()
    # Plain http is refused except to loopback hosts, and to those only when this is set.
    allow_http_loopback: bool = False
    # Trust for https; None uses the system's CA certificates.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    # "host:port" -> (address, port): like curl --resolve, for split-horizon setups and
    # tests. The address must still be permitted.
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
    REFUSED_URL = "REFUSED_URL"  # a scheme or URL form the fetcher does not use
    FORBIDDEN_ADDRESS = "FORBIDDEN_ADDRESS"  # the host is at no address the policy permits
    UNREACHABLE = "UNREACHABLE"  # name lookup, connection or TLS failed
    BAD_RESPONSE = "BAD_RESPONSE"  # an HTTP error status, a broken answer, too many redirects
    TOO_LARGE = "TOO_LARGE"
    TIMEOUT = "TIMEOUT"


_TENANT_SENTENCE = {
    FetchProblem.REFUSED_URL: "the URL is not fetched",
    FetchProblem.FORBIDDEN_ADDRESS: "the host is not at an address this service fetches from",
    FetchProblem.UNREACHABLE: "no connection to the host could be made",
    FetchProblem.BAD_RESPONSE: "the server did not answer with the document",
    FetchProblem.TOO_LARGE: "the answer is larger than the limit",
    FetchProblem.TIMEOUT: "no complete answer within the time limit",
}


class FetchError(Exception):
    """`detail` may be shown to the tenant: the problem and a fixed sentence (for a refused
    URL, what is wrong with the URL the tenant gave). `log_detail` is for the operator."""

    def __init__(
        self, problem: FetchProblem, *, log_detail: str = "", about_url: str | None = None
    ) -> None:
        self.problem = problem
        self.detail = f"{problem.value}: {about_url or _TENANT_SENTENCE[problem]}"
        self.log_detail = log_detail or self.detail
        super().__init__(self.detail)


def _refused(why: str) -> FetchError:
    return FetchError(FetchProblem.REFUSED_URL, about_url=why)


def _is_loopback_host(host: str, literal: IPAddress | None) -> bool:
    return host == "localhost" or (literal is not None and literal.is_loopback)


def check_url(url: str, *, policy: AddressPolicy, allow_http_loopback: bool = False) -> URL:
    """The URL as the HTTP client will read it, when the fetcher may contact it; else
    FetchError: REFUSED_URL for its form, FORBIDDEN_ADDRESS for an IP the policy refuses.
    A host name is checked when it is looked up, by the connection (see `resolver`)."""
    try:
        parsed = URL(url)
        host = parsed.raw_host  # what the connector connects to
        parsed.port  # noqa: B018 - raises ValueError for a port out of range
    except (ValueError, TypeError) as exc:
        raise _refused("not a valid URL") from exc
    has_user_info = parsed.user is not None or parsed.password is not None
    if not parsed.is_absolute() or not host or has_user_info:
        raise _refused("the URL needs a host and no user name or password")
    if "%" in host:
        raise _refused("an address with a zone is not fetched")
    literal = ip_literal(host)
    if literal is None and looks_numeric(host):
        raise _refused("a numeric host must be a dotted-quad IPv4 address")
    plain_http_allowed = allow_http_loopback and _is_loopback_host(host, literal)
    if not (parsed.scheme == "https" or (parsed.scheme == "http" and plain_http_allowed)):
        raise _refused("only https URLs are fetched")
    if literal is not None and not policy.permits(literal):
        raise FetchError(FetchProblem.FORBIDDEN_ADDRESS, log_detail=f"{host} is not permitted")
    return parsed


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str


class HttpFetcher:
    """One aiohttp session for every foreign fetch, made on first use, closed at shutdown.

    `resolver` replaces the system's name lookup (split-horizon DNS, tests); its answers
    are held to the same policy.
    """

    def __init__(self, settings: FetchSettings, *, resolver: AbstractResolver | None = None):
        self.settings = settings
        self.policy = AddressPolicy(settings.allow_networks)
        self._upstream = resolver
        self._session: aiohttp.ClientSession | None = None

    def check_url(self, url: str) -> URL:
        """`check_url` under these settings (for a URL given now, fetched later)."""
        return check_url(
            url, policy=self.policy, allow_http_loopback=self.settings.allow_http_loopback
        )

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver = CheckingResolver(
                self.policy, overrides=self.settings.host_overrides, upstream=self._upstream
            )
            connector = aiohttp.TCPConnector(
                resolver=resolver,
                use_dns_cache=False,  # each new connection is looked up, and so checked
                ssl=self.settings.ssl_context if self.settings.ssl_context is not None else True,
                limit=32,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
                auto_decompress=False,  # a gzip body would slip past the size cap
                trust_env=False,  # no proxy from the environment
            )
        return self._session

    async def get(self, url: str, *, accept: str, max_bytes: int) -> Fetched:
        """The body of a 2xx answer of at most `max_bytes`; FetchError otherwise."""
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                return await self._follow(url, accept=accept, max_bytes=max_bytes)
        except TimeoutError as exc:
            error = FetchError(
                FetchProblem.TIMEOUT,
                log_detail=f"no complete answer within {self.settings.timeout_seconds} s",
            )
            _log_failure(url, error)
            raise error from exc
        except FetchError as error:
            _log_failure(url, error)
            raise

    async def _follow(self, url: str, *, accept: str, max_bytes: int) -> Fetched:
        session = self._open()
        for _ in range(self.settings.max_redirects + 1):
            target = self.check_url(url)
            try:
                async with session.get(
                    target,
                    headers={"Accept": accept, "Accept-Encoding": "identity"},
                    allow_redirects=False,
                ) as response:
                    if response.status in _REDIRECTS:
                        url = _redirect_target(target, response.headers.get("Location"))
                        continue
                    if not 200 <= response.status < 300:
                        raise FetchError(
                            FetchProblem.BAD_RESPONSE, log_detail=f"HTTP {response.status}"
                        )
                    body = await _read_capped(response, max_bytes)
                    return Fetched(body, response.headers.get("Content-Type", ""))
            except TimeoutError:
                raise  # the deadline, also as aiohttp's ServerTimeoutError: handled in get()
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, ForbiddenAddressError):
                    raise FetchError(
                        FetchProblem.FORBIDDEN_ADDRESS, log_detail=str(exc.os_error)
                    ) from exc
                raise FetchError(FetchProblem.UNREACHABLE, log_detail=repr(exc)) from exc
            except aiohttp.ClientError as exc:
                raise FetchError(FetchProblem.BAD_RESPONSE, log_detail=repr(exc)) from exc
            except OSError as exc:
                raise FetchError(FetchProblem.UNREACHABLE, log_detail=repr(exc)) from exc
        raise FetchError(
            FetchProblem.BAD_RESPONSE,
            log_detail=f"more than {self.settings.max_redirects} redirects",
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _redirect_target(current: URL, location: str | None) -> str:
    if not location:
        raise FetchError(FetchProblem.BAD_RESPONSE, log_detail="a redirect without Location")
    try:
        return str(current.join(URL(location)))
    except ValueError as exc:
        raise FetchError(FetchProblem.BAD_RESPONSE, log_detail="an invalid Location") from exc


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    too_large = FetchError(FetchProblem.TOO_LARGE, log_detail=f"more than {max_bytes} bytes")
    if (response.content_length or 0) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def _log_failure(url: str, error: FetchError) -> None:
    level = logging.WARNING if error.problem is FetchProblem.FORBIDDEN_ADDRESS else logging.INFO
    log.log(level, "foreign fetch of %s: %s (%s)", url[:256], error.problem, error.log_detail)
