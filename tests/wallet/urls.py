"""URL rules of the specifications: well-known locations, issuer identifiers, loopback.

- Credential Issuer Metadata (OpenID4VCI §12.2.2): `/.well-known/openid-credential-issuer`
  inserted between the host and the path of the Credential Issuer Identifier.
- Authorization Server Metadata (RFC 8414 §3.1): `/.well-known/oauth-authorization-server`
  inserted the same way, after removing a terminating `/` from the path.
- JWT VC Issuer Metadata (SD-JWT VC, draft-ietf-oauth-sd-jwt-vc §5.1):
  `/.well-known/jwt-vc-issuer`, the same insertion as RFC 8414.

Identifiers are https URLs without query or fragment (OpenID4VCI §12.2.1); plain http is
accepted only for loopback hosts, where the tests and local runs live.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from tests.wallet.errors import ProtocolViolation

CREDENTIAL_ISSUER_WELL_KNOWN = "/.well-known/openid-credential-issuer"
AUTHORIZATION_SERVER_WELL_KNOWN = "/.well-known/oauth-authorization-server"
JWT_VC_ISSUER_WELL_KNOWN = "/.well-known/jwt-vc-issuer"


def is_loopback_host(host: str | None) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname)


def _insert_well_known(identifier: str, well_known: str, *, strip_trailing_slash: bool) -> str:
    parts = urlsplit(identifier)
    path = parts.path
    if strip_trailing_slash:
        path = path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, well_known + path, "", ""))


def credential_issuer_metadata_url(credential_issuer: str) -> str:
    """Where the Credential Issuer Metadata lives (OpenID4VCI §12.2.2): the path is kept
    exactly as it is in the identifier."""
    return _insert_well_known(
        credential_issuer, CREDENTIAL_ISSUER_WELL_KNOWN, strip_trailing_slash=False
    )


def authorization_server_metadata_url(issuer: str) -> str:
    """Where the Authorization Server Metadata lives (RFC 8414 §3.1)."""
    return _insert_well_known(issuer, AUTHORIZATION_SERVER_WELL_KNOWN, strip_trailing_slash=True)


def jwt_vc_issuer_metadata_url(issuer: str) -> str:
    """Where the JWT VC Issuer Metadata of an SD-JWT VC's `iss` lives."""
    return _insert_well_known(issuer, JWT_VC_ISSUER_WELL_KNOWN, strip_trailing_slash=True)


def check_https_url(url: str, what: str, *, allow_loopback_http: bool = True) -> None:
    """Raises unless `url` is absolute https (or http to a loopback host when allowed)."""
    parts = urlsplit(url)
    if not parts.netloc or not parts.hostname:
        raise ProtocolViolation("url_not_absolute", f"{what} {url!r} is not an absolute URL")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_loopback_http and is_loopback_host(parts.hostname):
        return
    raise ProtocolViolation("url_not_https", f"{what} {url!r} does not use https")


def check_issuer_identifier(identifier: str, *, allow_loopback_http: bool = True) -> None:
    """A Credential Issuer Identifier: https, a host, no query or fragment (§12.2.1)."""
    check_https_url(identifier, "credential issuer", allow_loopback_http=allow_loopback_http)
    parts = urlsplit(identifier)
    if parts.query or parts.fragment or "?" in identifier or "#" in identifier:
        raise ProtocolViolation(
            "issuer_identifier_invalid",
            f"credential issuer {identifier!r} has a query or fragment component",
        )
