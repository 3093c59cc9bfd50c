"""The address policy of foreign fetches: every non-public class refused by default, an
operator's networks allowed, and the URL forms that would slip past a check refused."""

from __future__ import annotations

import ipaddress

import pytest

from eudi_connect.services.fetch import (
    AddressPolicy,
    FetchError,
    FetchProblem,
    check_url,
    parse_network,
    parse_networks,
)
from eudi_connect.services.fetch.addresses import looks_numeric

NOT_PUBLIC = {
    "loopback": ["127.0.0.1", "127.255.255.254", "::1"],
    "unspecified": ["0.0.0.0", "::", "0.1.2.3"],  # noqa: S104 - addresses, not a bind
    "rfc1918": ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1"],
    "link_local": ["169.254.169.254", "169.254.0.1", "fe80::1", "febf::1"],
    "unique_local": ["fc00::1", "fd12:3456::1"],
    "site_local_v6": ["fec0::1"],
    "cgnat": ["100.64.0.1", "100.127.255.254"],
    "multicast": ["224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1"],
    "broadcast_and_reserved": ["255.255.255.255", "240.0.0.1", "250.1.2.3"],
    "documentation": ["192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "3fff::1"],
    "benchmarking": ["198.18.0.1", "198.19.255.255"],
    "ietf_protocol": ["192.0.0.9", "192.0.0.170", "2001::1", "2001:2::1"],
    "six_to_four_relay": ["192.88.99.1"],
    "ipv4_mapped": ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"],
    "ipv4_compatible": ["::127.0.0.1", "::8.8.8.8"],
    "nat64_of_private": ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::8.8.8.8"],
    "six_to_four_of_private": ["2002:7f00:1::1", "2002:a00:1::1", "2002:a9fe:a9fe::1"],
    "discard_and_other_v6": ["100::1", "5f00::1", "4000::1"],
}

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.1",  # just above it
    "172.32.0.1",  # just above 172.16.0.0/12
    "2001:4860:4860::8888",
    "2a00:1450:4001::1",
    "::ffff:8.8.8.8",  # IPv4-mapped: judged as 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of a public address (IPv6-only networks)
    "2002:808:808::1",  # 6to4 of a public address
]


@pytest.mark.parametrize(
    "address", [a for addresses in NOT_PUBLIC.values() for a in addresses], ids=str
)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    """Every special-purpose class, in either family and wrapped in IPv6, is refused."""
    assert not AddressPolicy().permits(address)
    assert not AddressPolicy().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses_are_permitted(address: str) -> None:
    """Public unicast, also at the edges of the refused blocks and inside IPv6 wrappers."""
    assert AddressPolicy().permits(address)


def test_an_allowed_network_permits_its_addresses_and_nothing_else() -> None:
    """10.0.0.0/8 allows 10.x (also IPv4-mapped) but not 192.168.x or loopback."""
    policy = AddressPolicy((parse_network("10.0.0.0/8"), parse_network("fd00::/8")))
    assert policy.permits("10.1.2.3")
    assert policy.permits("::ffff:10.1.2.3")
    assert policy.permits("fd00::5")
    assert not policy.permits("192.168.1.1")
    assert not policy.permits("127.0.0.1")
    assert not policy.permits("fc00::1")
    assert not policy.permits("64:ff9b::a01:203")  # NAT64 is judged as public only
    assert policy.permits("8.8.8.8")


def test_loopback_is_permitted_only_when_listed() -> None:
    """Tests and local issuers opt in with 127.0.0.0/8 (or ::1)."""
    assert AddressPolicy((parse_network("127.0.0.0/8"),)).permits("127.0.0.2")
    assert AddressPolicy((parse_network("::1"),)).permits("::1")
    assert not AddressPolicy((parse_network("::1"),)).permits("127.0.0.1")


def test_unspecified_multicast_and_broadcast_are_never_permitted() -> None:
    """They name no single host: refused even when the operator allows everything."""
    everything = AddressPolicy((parse_network("0.0.0.0/0"), parse_network("::/0")))
    assert everything.permits("10.0.0.1")
    assert everything.permits("::1")
    never = ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "::ffff:0.0.0.0"]  # noqa: S104
    for address in never:
        assert not everything.permits(address), address


def test_a_resolvers_scoped_or_unparsable_answer_is_handled() -> None:
    """fe80::1%eth0 is judged as link-local; an answer that is not an address is refused."""
    allowed = AddressPolicy((parse_network("fe80::/10"),))
    assert allowed.permits("fe80::1%eth0")
    assert not AddressPolicy().permits("fe80::1%eth0")
    assert not AddressPolicy().permits("not-an-address")


def test_networks_are_parsed_strictly() -> None:
    """A network with host bits set is a typo, refused with a plain message."""
    assert parse_network("10.0.0.0/8") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network("192.168.5.7") == ipaddress.ip_network("192.168.5.7/32")
    with pytest.raises(ValueError, match=r"10\.1\.2\.3/8"):
        parse_network("10.1.2.3/8")
    with pytest.raises(ValueError, match="not an IP network"):
        parse_network("intranet")
    assert parse_networks(" 10.0.0.0/8, fd00::/8\n127.0.0.1 ") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )
    assert parse_networks("") == ()


@pytest.mark.parametrize(
    ("host", "numeric"),
    [
        ("127.1", True),
        ("0x7f.0.0.1", True),
        ("2130706433", True),
        ("017700000001", True),
        ("8.8.8.8.", True),
        ("issuer.example", False),
        ("1.example", False),
        ("example.123a", False),
    ],
)
def test_hosts_that_a_resolver_reads_as_ipv4_are_recognised(host: str, numeric: bool) -> None:
    """WHATWG "ends in a number": legacy IPv4 spellings are not host names."""
    assert looks_numeric(host) is numeric


def _problem(url: str, **options: bool) -> FetchProblem | None:
    try:
        check_url(url, policy=AddressPolicy(), **options)
    except FetchError as error:
        return error.problem
    return None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://issuer.example/jwks", None),
        ("https://8.8.8.8/jwks", None),
        ("https://[2001:4860:4860::8888]/jwks", None),
        ("http://issuer.example/jwks", FetchProblem.REFUSED_URL),
        ("ftp://issuer.example/jwks", FetchProblem.REFUSED_URL),
        ("https://user:pw@issuer.example/", FetchProblem.REFUSED_URL),
        ("https://issuer.example:99999/", FetchProblem.REFUSED_URL),
        ("/relative/only", FetchProblem.REFUSED_URL),
        ("https://127.1/", FetchProblem.REFUSED_URL),
        ("https://2130706433/", FetchProblem.REFUSED_URL),
        ("https://0x7f000001/", FetchProblem.REFUSED_URL),
        ("https://[fe80::1%25eth0]/", FetchProblem.REFUSED_URL),
        ("https://127.0.0.1/", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://169.254.169.254/latest/meta-data/", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://[::1]:8443/", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://[::ffff:127.0.0.1]/", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://[::ffff:7f00:1]/", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://10.0.0.1/", FetchProblem.FORBIDDEN_ADDRESS),
        ("https://0.0.0.0/", FetchProblem.FORBIDDEN_ADDRESS),
    ],
)
def test_urls_are_checked_before_any_connection(url: str, problem: FetchProblem | None) -> None:
    """Scheme, user info, legacy numeric hosts and zones are REFUSED_URL; an IP literal
    outside the policy is FORBIDDEN_ADDRESS (host names are checked when looked up)."""
    assert _problem(url) == problem


def test_plain_http_needs_the_setting_a_loopback_host_and_a_permitted_address() -> None:
    """http to loopback is for tests: the setting alone does not open loopback."""
    assert _problem("http://127.0.0.1:8080/x") == FetchProblem.REFUSED_URL
    assert _problem("http://127.0.0.1:8080/x", allow_http_loopback=True) == (
        FetchProblem.FORBIDDEN_ADDRESS
    )
    assert _problem("http://issuer.example/x", allow_http_loopback=True) == (
        FetchProblem.REFUSED_URL
    )
    loopback = AddressPolicy((parse_network("127.0.0.0/8"),))
    check_url("http://127.0.0.1:8080/x", policy=loopback, allow_http_loopback=True)
    check_url("http://localhost:8080/x", policy=loopback, allow_http_loopback=True)


def test_the_tenant_detail_is_a_fixed_sentence() -> None:
    """A forbidden address names neither the address nor anything else the tenant did
    not write; the operator's detail keeps it."""
    with pytest.raises(FetchError) as raised:
        check_url("https://10.9.8.7/keys", policy=AddressPolicy())
    assert raised.value.detail == (
        "FORBIDDEN_ADDRESS: the host is not at an address this service fetches from"
    )
    assert "10.9.8.7" in raised.value.log_detail
