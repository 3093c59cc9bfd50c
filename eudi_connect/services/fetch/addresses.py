"""Which IP addresses a foreign fetch may connect to: public unicast ones, and those in
networks the operator allows.

A tenant names the URLs we fetch (a trusted issuer's `jwks_uri`, a credential's status
list `uri`), so without this rule the service would fetch from its own loopback, the
cloud metadata address and the private network for anyone who asks. The special-purpose
registries (RFC 6890, IANA IPv4/IPv6 Special-Purpose Address Registries) are listed here
instead of relying on `ipaddress.is_global` alone, whose answer differs between Python
releases (3.11 counts multicast, 6to4 and site-local IPv6 as global).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

#: IPv4 blocks that are not public unicast (IANA IPv4 Special-Purpose Address Registry).
NOT_PUBLIC_V4: tuple[ipaddress.IPv4Network, ...] = (
    _V4("0.0.0.0/8"),  # "this network" (0.0.0.0 reaches the local host on Linux)
    _V4("10.0.0.0/8"),  # RFC 1918
    _V4("100.64.0.0/10"),  # shared address space (carrier-grade NAT), RFC 6598
    _V4("127.0.0.0/8"),  # loopback
    _V4("169.254.0.0/16"),  # link-local, cloud metadata services
    _V4("172.16.0.0/12"),  # RFC 1918
    _V4("192.0.0.0/24"),  # IETF protocol assignments
    _V4("192.0.2.0/24"),  # TEST-NET-1
    _V4("192.88.99.0/24"),  # 6to4 relay anycast (deprecated, RFC 7526)
    _V4("192.168.0.0/16"),  # RFC 1918
    _V4("198.18.0.0/15"),  # benchmarking
    _V4("198.51.100.0/24"),  # TEST-NET-2
    _V4("203.0.113.0/24"),  # TEST-NET-3
    _V4("224.0.0.0/4"),  # multicast
    _V4("240.0.0.0/4"),  # reserved, and the limited broadcast 255.255.255.255
)

#: IPv6 global unicast is 2000::/3; these parts of it are not public hosts either.
GLOBAL_UNICAST_V6 = _V6("2000::/3")
NOT_PUBLIC_V6: tuple[ipaddress.IPv6Network, ...] = (
    _V6("2001::/23"),  # IETF protocol assignments, Teredo (2001::/32) among them
    _V6("2001:db8::/32"),  # documentation
    _V6("3fff::/20"),  # documentation, RFC 9637
)
#: NAT64 (RFC 6052) carries an IPv4 address, judged by that address; so does 6to4
#: (2002::/16, RFC 3056, `IPv6Address.sixtofour`).
NAT64_V6 = _V6("64:ff9b::/96")

# WHATWG URL "ends in a number": a host whose last label is numeric is an IPv4 address
# to browsers and to getaddrinfo (127.1, 0x7f.0.0.1, 2130706433), whatever it looks like.
_NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)")


def parse_network(text: str) -> IPNetwork:
    """An operator's network (`10.0.0.0/8`, `fd00::/8`, or one address); ValueError with
    a plain message otherwise, host bits included (`10.1.2.3/8` is a typo, not a net)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IP network such as 10.0.0.0/8: {exc}") from exc


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Networks separated by commas or white space (an environment variable's value)."""
    return tuple(parse_network(part) for part in re.split(r"[\s,]+", text) if part)


def ip_literal(host: str) -> IPAddress | None:
    """`host` as an IP address when it is written as one (no brackets, no zone)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def looks_numeric(host: str) -> bool:
    """Whether a resolver would read `host` as an IPv4 address in some legacy form."""
    labels = host.rstrip(".").split(".")
    return bool(labels) and _NUMERIC_LABEL.fullmatch(labels[-1]) is not None


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) connects to."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_public_v4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not any(address in net for net in NOT_PUBLIC_V4)


def _is_public_v6(address: ipaddress.IPv6Address) -> bool:
    if address in NAT64_V6:
        return _is_public_v4(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    if address.sixtofour is not None:
        return _is_public_v4(address.sixtofour)
    return (
        address in GLOBAL_UNICAST_V6
        and address.is_global
        and not any(address in net for net in NOT_PUBLIC_V6)
    )


def is_public(address: IPAddress) -> bool:
    """Public unicast: what any host on the internet may also reach."""
    address = _unwrap(address)
    if isinstance(address, ipaddress.IPv4Address):
        return _is_public_v4(address)
    return _is_public_v6(address)


@dataclass(frozen=True)
class AddressPolicy:
    """Public unicast addresses, plus those in `allowed` (an operator's private networks).

    The unspecified address, multicast and broadcast name no single host and are never
    fetched, even inside an allowed network (so `0.0.0.0/0` allows every host, not
    0.0.0.0 itself).
    """

    allowed: tuple[IPNetwork, ...] = ()

    def permits(self, address: IPAddress | str) -> bool:
        if isinstance(address, str):
            parsed = ip_literal(address.split("%", 1)[0])  # a resolver's fe80::1%eth0
            if parsed is None:
                return False
            address = parsed
        address = _unwrap(address)
        if address.is_unspecified or address.is_multicast:
            return False
        if address == ipaddress.IPv4Address("255.255.255.255"):
            return False
        if any(address in net for net in self.allowed):
            return True
        return is_public(address)
