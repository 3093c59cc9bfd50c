"""The foreign-fetch client against real loopback servers: it connects only to the
addresses it checked (a rebinding resolver gets no second chance), checks every redirect
hop, bounds size and time, and tells a refused address apart from nothing.

DNS cannot be served here, so names are answered by a scripted resolver handed to the
fetcher (its answers pass through the same checks as the system's). 127.0.0.1/32 stands
for "public" by being allow-listed; 127.0.0.2 is a forbidden address where a listener
counts every connection it receives, which must stay at zero.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from eudi_connect.services.fetch import (
    FetchError,
    FetchProblem,
    FetchSettings,
    HttpFetcher,
    parse_network,
)
from eudi_connect.services.fetch.resolver import pinned_answer
from tests.integration.foreign_issuer import tls_pair

TLS_HOST = "rebind.test"
CHECKED = "127.0.0.1"  # allow-listed: the "public" address
FORBIDDEN = "127.0.0.2"  # not allow-listed
STREAMED_BYTES = 8 << 20


class ScriptedResolver(AbstractResolver):
    """Answers the n-th lookup of a name with the n-th entry of its script (the last one
    from then on); counts the lookups."""

    def __init__(self, script: Mapping[str, Sequence[Sequence[tuple[str, int]]]]) -> None:
        self.script = script
        self.lookups: Counter[str] = Counter()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = self.script.get(host)
        if answers is None:
            raise OSError(f"no such name: {host}")
        self.lookups[host] += 1
        chosen = answers[min(self.lookups[host], len(answers)) - 1]
        return [pinned_answer(host, address, answer_port) for address, answer_port in chosen]

    async def close(self) -> None:
        return None


@dataclass
class Listener:
    """A TCP listener on the forbidden address that counts connections and hangs up."""

    port: int = 0
    connections: int = 0
    server: asyncio.Server | None = None

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@dataclass
class Origin:
    """An HTTPS server for TLS_HOST on CHECKED whose paths answer, redirect, stall or
    stream; counts requests per path."""

    port: int = 0
    client_ssl: Any = None
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def base(self) -> str:
        return f"https://{TLS_HOST}:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        if path == "/doc":
            return web.Response(body=b"the document", content_type="application/json")
        if path == "/to":
            raise web.HTTPFound(request.query["u"])
        if path == "/loop":
            raise web.HTTPFound("/loop")
        if path.startswith("/hop/"):
            await asyncio.sleep(0.3)
            raise web.HTTPFound(f"/hop/{int(path.rsplit('/', 1)[1]) + 1}")
        if path == "/long":
            return web.Response(body=b"x" * (100 * 1024))
        if path == "/stream":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            chunk = b"y" * (64 * 1024)
            for _ in range(STREAMED_BYTES // len(chunk)):
                await response.write(chunk)
            return response
        if path == "/error":
            return web.Response(status=500, text="internal-secret-42 at 10.0.0.7")
        return web.Response(status=404)


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    listening = Listener()
    listening.server = await asyncio.start_server(listening._accept, FORBIDDEN, 0)
    listening.port = listening.server.sockets[0].getsockname()[1]
    yield listening
    listening.server.close()
    await listening.server.wait_closed()


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    server_ssl, client_ssl, folder = tls_pair(TLS_HOST)
    serving = Origin(client_ssl=client_ssl)
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", serving.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, CHECKED, 0, ssl_context=server_ssl)
    await site.start()
    serving.port = runner.addresses[0][1]
    yield serving
    await runner.cleanup()
    folder.cleanup()


FetcherFactory = Callable[..., HttpFetcher]


@pytest.fixture
async def make_fetcher(origin: Origin) -> AsyncIterator[FetcherFactory]:
    """Fetchers trusting the origin's TLS CA, allowing CHECKED only; closed at the end."""
    made: list[HttpFetcher] = []

    def make(resolver: AbstractResolver | None = None, **options: Any) -> HttpFetcher:
        settings: dict[str, Any] = {
            "allow_networks": (parse_network(f"{CHECKED}/32"),),
            "allow_http_loopback": True,
            "ssl_context": origin.client_ssl,
            "timeout_seconds": 2.0,
            **options,
        }
        fetcher = HttpFetcher(FetchSettings(**settings), resolver=resolver)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


async def _get(fetcher: HttpFetcher, url: str, max_bytes: int = 64 * 1024) -> bytes:
    return (await fetcher.get(url, accept="*/*", max_bytes=max_bytes)).body


async def _problem(fetcher: HttpFetcher, url: str, max_bytes: int = 64 * 1024) -> FetchError:
    with pytest.raises(FetchError) as raised:
        await _get(fetcher, url, max_bytes)
    return raised.value


@pytest.fixture
def resolver(origin: Origin, listener: Listener) -> ScriptedResolver:
    return ScriptedResolver(
        {
            TLS_HOST: [[(CHECKED, origin.port)]],
            "internal.test": [[(FORBIDDEN, listener.port)]],
            "other.test": [[(CHECKED, origin.port)]],
        }
    )


async def test_a_rebinding_name_is_connected_to_at_the_address_that_was_checked(
    origin: Origin, listener: Listener, make_fetcher: FetcherFactory
) -> None:
    """First answer permitted, every later one forbidden: the fetch looks the name up
    once and connects there; a new connection's lookup is checked again and refused."""
    rebinding = ScriptedResolver(
        {TLS_HOST: [[(CHECKED, origin.port)], [(FORBIDDEN, listener.port)]]}
    )
    fetcher = make_fetcher(rebinding)
    assert await _get(fetcher, f"{origin.base}/doc") == b"the document"
    assert rebinding.lookups[TLS_HOST] == 1
    assert origin.hits["/doc"] == 1
    await fetcher.close()

    again = make_fetcher(rebinding)  # a new connection: the name is looked up again
    refused = await _problem(again, f"{origin.base}/doc")
    assert refused.problem is FetchProblem.FORBIDDEN_ADDRESS
    assert rebinding.lookups[TLS_HOST] == 2
    assert origin.hits["/doc"] == 1
    assert listener.connections == 0


async def test_only_the_permitted_answers_of_a_lookup_are_tried(
    origin: Origin, listener: Listener, make_fetcher: FetcherFactory
) -> None:
    """A name answering a forbidden address first and a permitted one second is fetched
    from the permitted one only."""
    mixed = ScriptedResolver({TLS_HOST: [[(FORBIDDEN, listener.port), (CHECKED, origin.port)]]})
    assert await _get(make_fetcher(mixed), f"{origin.base}/doc") == b"the document"
    assert listener.connections == 0


async def test_tls_is_verified_for_the_host_name_not_the_pinned_address(
    origin: Origin, resolver: ScriptedResolver, make_fetcher: FetcherFactory
) -> None:
    """The pinned address serves a certificate for rebind.test: other.test is refused."""
    fetcher = make_fetcher(resolver)
    assert await _get(fetcher, f"{origin.base}/doc") == b"the document"
    mismatch = await _problem(fetcher, f"https://other.test:{origin.port}/doc")
    assert mismatch.problem is FetchProblem.UNREACHABLE
    assert origin.hits["/doc"] == 1


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("http://{forbidden}:{port}/doc", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://{forbidden}:{port}/doc", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://[::ffff:{forbidden}]:{port}/doc", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://internal.test:{port}/doc", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://127.2:{port}/doc", FetchProblem.REFUSED_URL),
        ("http://" + TLS_HOST + ":{origin_port}/doc", FetchProblem.REFUSED_URL),
    ],
)
async def test_every_redirect_hop_is_checked_like_the_first(
    target: str,
    problem: FetchProblem,
    origin: Origin,
    listener: Listener,
    resolver: ScriptedResolver,
    make_fetcher: FetcherFactory,
) -> None:
    """A permitted server redirecting to a forbidden address, by IP, IPv4-mapped IPv6,
    a name or a legacy numeric form, or down to plain http, is refused before any
    connection there."""
    location = target.format(forbidden=FORBIDDEN, port=listener.port, origin_port=origin.port)
    fetcher = make_fetcher(resolver)
    refused = await _problem(fetcher, f"{origin.base}/to?u={location}")
    assert refused.problem is problem
    assert origin.hits["/to"] == 1
    assert listener.connections == 0


async def test_redirects_are_bounded(
    origin: Origin, resolver: ScriptedResolver, make_fetcher: FetcherFactory
) -> None:
    """A redirect loop stops after max_redirects hops as BAD_RESPONSE."""
    refused = await _problem(make_fetcher(resolver, max_redirects=3), f"{origin.base}/loop")
    assert refused.problem is FetchProblem.BAD_RESPONSE
    assert origin.hits["/loop"] == 4


async def test_the_deadline_covers_the_whole_redirect_chain(
    origin: Origin, resolver: ScriptedResolver, make_fetcher: FetcherFactory
) -> None:
    """Each hop answers within the deadline, all of them together do not: TIMEOUT."""
    fetcher = make_fetcher(resolver, timeout_seconds=0.5, max_redirects=5)
    started = time.monotonic()
    refused = await _problem(fetcher, f"{origin.base}/hop/0")
    assert refused.problem is FetchProblem.TIMEOUT
    assert time.monotonic() - started < 1.5
    assert sum(origin.hits.values()) <= 3


async def test_an_oversized_body_is_cut_off_whether_announced_or_streamed(
    origin: Origin, resolver: ScriptedResolver, make_fetcher: FetcherFactory
) -> None:
    """Content-Length over the cap, and 8 MiB of chunks without one: TOO_LARGE."""
    fetcher = make_fetcher(resolver)
    assert (await _problem(fetcher, f"{origin.base}/long")).problem is FetchProblem.TOO_LARGE
    started = time.monotonic()
    streamed = await _problem(fetcher, f"{origin.base}/stream")
    assert streamed.problem is FetchProblem.TOO_LARGE
    assert time.monotonic() - started < 1.5
    assert len(await _get(fetcher, f"{origin.base}/long", max_bytes=100 * 1024)) == 100 * 1024


async def test_the_tenant_detail_holds_nothing_of_the_answer(
    origin: Origin, resolver: ScriptedResolver, make_fetcher: FetcherFactory
) -> None:
    """An error page's status and body stay in the operator's detail."""
    refused = await _problem(make_fetcher(resolver), f"{origin.base}/error")
    assert refused.problem is FetchProblem.BAD_RESPONSE
    assert refused.detail == "BAD_RESPONSE: the server did not answer with the document"
    assert "500" in refused.log_detail


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((FORBIDDEN, 0))
        return int(probe.getsockname()[1])


async def test_a_forbidden_address_reads_the_same_open_or_closed(
    listener: Listener, make_fetcher: FetcherFactory
) -> None:
    """By IP and by name, an open and a closed port on a forbidden address give the same
    problem and the same words, and the open one sees no connection."""
    closed = _closed_port()
    names = ScriptedResolver(
        {"open.test": [[(FORBIDDEN, listener.port)]], "closed.test": [[(FORBIDDEN, closed)]]}
    )
    fetcher = make_fetcher(names)
    urls = [
        f"https://{FORBIDDEN}:{listener.port}/x",
        f"https://{FORBIDDEN}:{closed}/x",
        f"https://open.test:{listener.port}/x",
        f"https://closed.test:{closed}/x",
    ]
    details = {(e.problem, e.detail) for e in [await _problem(fetcher, url) for url in urls]}
    assert details == {
        (
            FetchProblem.FORBIDDEN_ADDRESS,
            "FORBIDDEN_ADDRESS: the host is not at an address this service fetches from",
        )
    }
    assert listener.connections == 0


@pytest.fixture
def localhost_tls() -> Iterator[tuple[Any, Any]]:
    server_ssl, client_ssl, folder = tls_pair("localhost")
    yield server_ssl, client_ssl
    folder.cleanup()


async def test_the_system_resolvers_localhost_is_refused_unless_allowed(
    localhost_tls: tuple[Any, Any],
) -> None:
    """`localhost` from /etc/hosts is loopback: refused by default with no request made,
    fetched once the operator allows 127.0.0.0/8."""
    server_ssl, client_ssl = localhost_tls
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="local")

    app = web.Application()
    app.router.add_get("/doc", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl).start()
    url = f"https://localhost:{runner.addresses[0][1]}/doc"
    default = HttpFetcher(FetchSettings(ssl_context=client_ssl, timeout_seconds=2.0))
    allowed = HttpFetcher(
        FetchSettings(
            ssl_context=client_ssl,
            timeout_seconds=2.0,
            allow_networks=(parse_network("127.0.0.0/8"),),
        )
    )
    try:
        refused = await _problem(default, url)
        assert refused.problem is FetchProblem.FORBIDDEN_ADDRESS
        assert hits == []
        assert await _get(allowed, url) == b"local"
        assert hits == ["/doc"]
    finally:
        await default.close()
        await allowed.close()
        await runner.cleanup()
