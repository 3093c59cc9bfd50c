"""Fetching what other issuers publish (status list tokens, JWKS) from the URLs tenants
give, without letting those URLs reach the service's own network (see `client`)."""

from eudi_connect.services.fetch.addresses import AddressPolicy, parse_network, parse_networks
from eudi_connect.services.fetch.client import (
    Fetched,
    FetchError,
    FetchProblem,
    FetchSettings,
    HttpFetcher,
    check_url,
)

__all__ = [
    "AddressPolicy",
    "FetchError",
    "FetchProblem",
    "FetchSettings",
    "Fetched",
    "HttpFetcher",
    "check_url",
    "parse_network",
    "parse_networks",
]
