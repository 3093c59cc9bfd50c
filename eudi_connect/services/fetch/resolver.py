"""The name lookup of foreign fetches: one lookup per connection, and only the addresses
the policy permits are handed to the connector, which connects to exactly those.

Checking a name and then letting the HTTP client look it up again would let a DNS server
answer a public address to the check and loopback to the connection (DNS rebinding).
Here the check is the lookup the connection uses, so there is no second answer. TLS still
verifies the certificate for the URL's host name and sends it as SNI; only the address
comes from here.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from eudi_connect.services.fetch.addresses import AddressPolicy

log = logging.getLogger(__name__)


class ForbiddenAddressError(OSError):
    """The host has no address the policy permits; raised before any connection."""

    def __init__(self, host: str, refused: list[str]) -> None:
        super().__init__(f"{host} resolves only to addresses that are not fetched: {refused}")
        self.host = host
        self.refused = refused


class CheckingResolver(AbstractResolver):
    """Answers `overrides` ("host:port" -> (address, port), like curl --resolve) itself,
    asks `upstream` (the system's getaddrinfo by default) for the rest, and keeps only the
    permitted addresses of either; none left raises ForbiddenAddressError."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        overrides: Mapping[str, tuple[str, int]] | None = None,
        upstream: AbstractResolver | None = None,
    ) -> None:
        self._policy = policy
        self._overrides = dict(overrides or {})
        self._upstream = upstream if upstream is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        target = self._overrides.get(f"{host}:{port}")
        if target is not None:
            answers = [pinned_answer(host, *target)]
        else:
            answers = await self._upstream.resolve(host, port, family)
        if not answers:
            raise OSError(f"{host} has no address")
        permitted = [answer for answer in answers if self._policy.permits(answer["host"])]
        refused = [answer["host"] for answer in answers if answer not in permitted]
        if not permitted:
            raise ForbiddenAddressError(host, refused)
        if refused:
            log.warning("foreign fetch: %s also resolves to %s, not used", host, refused)
        return permitted

    async def close(self) -> None:
        await self._upstream.close()


def pinned_answer(host: str, address: str, port: int) -> ResolveResult:
    """A lookup's answer that connects `host` to `address`:`port`."""
    return ResolveResult(
        hostname=host,
        host=address,
        port=port,
        family=socket.AF_INET6 if ":" in address else socket.AF_INET,
        proto=0,
        flags=socket.AI_NUMERICHOST,
    )
