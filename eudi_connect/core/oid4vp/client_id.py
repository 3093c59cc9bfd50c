"""Client Identifier Prefixes that bind a verifier to its certificate (OpenID4VP 1.0
section 5.9.3): `x509_san_dns` (a dNSName SAN of the leaf) and `x509_hash` (the base64url
SHA-256 of the leaf's DER, the one HAIP section 5 requires).

The wallet checks the binding against the `x5c` of the signed request object; we check
it before signing, so a misconfigured verifier identity fails here and not in a wallet.
"""

from __future__ import annotations

import enum
import hashlib
from urllib.parse import urlsplit

from cryptography import x509

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.errors import FailedPreconditionError, InvalidArgumentError
from eudi_connect.reasons import Reason


class ClientIdPrefix(enum.StrEnum):
    X509_SAN_DNS = "x509_san_dns"
    X509_HASH = "x509_hash"


class VerifierIdentityError(FailedPreconditionError):
    """The verifier's certificate does not name the client identifier asked for."""

    default_reason = Reason.VERIFIER_IDENTITY_INVALID


def x509_hash(leaf_der: bytes) -> str:
    """Section 5.9.3: base64url (unpadded) SHA-256 of the DER-encoded leaf certificate."""
    return b64url_encode(hashlib.sha256(leaf_der).digest())


def _certificate(leaf_der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(leaf_der)
    except (TypeError, ValueError) as exc:
        raise VerifierIdentityError("the verifier certificate is not DER X.509") from exc


def dns_names(leaf_der: bytes) -> list[str]:
    """The leaf's dNSName Subject Alternative Names, in certificate order."""
    try:
        names = _certificate(leaf_der).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        return []
    return list(names.value.get_values_for_type(x509.DNSName))


def client_id_for(prefix: ClientIdPrefix, leaf_der: bytes, *, dns_name: str | None = None) -> str:
    """`<prefix>:<original client id>` for the verifier whose leaf certificate this is.

    For `x509_san_dns`, `dns_name` picks one of the leaf's dNSName SANs (default: the
    only one, or the first); VerifierIdentityError when it has none or not that one.
    """
    if prefix is ClientIdPrefix.X509_HASH:
        _certificate(leaf_der)
        return f"{prefix}:{x509_hash(leaf_der)}"
    names = dns_names(leaf_der)
    if not names:
        raise VerifierIdentityError("the verifier certificate has no dNSName SAN")
    if dns_name is None:
        return f"{prefix}:{names[0]}"
    if dns_name.lower() not in (n.lower() for n in names):
        raise VerifierIdentityError(f"the verifier certificate does not name {dns_name[:253]!r}")
    return f"{prefix}:{dns_name}"


def split_client_id(client_id: str) -> tuple[ClientIdPrefix, str]:
    """Section 5.9.1: the prefix is what comes before the first `:`."""
    prefix, separator, original = client_id.partition(":")
    try:
        known = ClientIdPrefix(prefix)
    except ValueError:
        known = None
    if not separator or known is None or not original:
        raise InvalidArgumentError(
            "client_id must be x509_san_dns:<dns name> or x509_hash:<hash>",
            reason=Reason.CLIENT_ID_INVALID,
        )
    return known, original


def check_client_id(client_id: str, leaf_der: bytes) -> None:
    """VerifierIdentityError unless the leaf certificate is the one `client_id` names."""
    prefix, original = split_client_id(client_id)
    if prefix is ClientIdPrefix.X509_HASH:
        if original != x509_hash(leaf_der):
            raise VerifierIdentityError("x509_hash client_id is not the leaf certificate's hash")
    elif original.lower() not in (name.lower() for name in dns_names(leaf_der)):
        raise VerifierIdentityError("x509_san_dns client_id is not a dNSName SAN of the leaf")


def check_uri_host(client_id: str, uri: str) -> None:
    """Section 5.9.3: with `x509_san_dns` the response URI's host is the client's DNS name
    (wallets that do not otherwise trust the client enforce it)."""
    prefix, original = split_client_id(client_id)
    if prefix is not ClientIdPrefix.X509_SAN_DNS:
        return
    host = urlsplit(uri).hostname or ""
    if host.lower() != original.lower():
        raise InvalidArgumentError(
            f"response_uri host {host[:253]!r} is not the client's DNS name {original[:253]!r}",
            reason=Reason.RESPONSE_URI_INVALID,
        )
