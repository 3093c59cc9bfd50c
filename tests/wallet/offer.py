"""Credential Offers (OpenID4VCI §4.1): parsing the URI and validating the offer object.

An offer URI carries exactly one of `credential_offer` (the JSON object, by value) and
`credential_offer_uri` (an https URL to GET it from, by reference). The wallet treats every
value in it as untrusted (§13.4): it checks shapes here and the issuer itself later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.wallet.errors import ProtocolViolation
from tests.wallet.urls import check_https_url, check_issuer_identifier

OFFER_SCHEME = "openid-credential-offer"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
AUTHORIZATION_CODE_GRANT = "authorization_code"
_TX_CODE_DESCRIPTION_MAX = 300


def _bad(description: str) -> ProtocolViolation:
    return ProtocolViolation("offer_malformed", description)


@dataclass(frozen=True)
class TxCodeSpec:
    """The `tx_code` object of a pre-authorized grant: a transaction code is required."""

    input_mode: str = "numeric"
    length: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class CredentialOffer:
    """A validated Credential Offer object."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    grants: Mapping[str, Any]
    raw: Mapping[str, Any]

    @property
    def pre_authorized_grant(self) -> Mapping[str, Any] | None:
        grant = self.grants.get(PRE_AUTHORIZED_GRANT)
        return grant if isinstance(grant, Mapping) else None

    @property
    def pre_authorized_code(self) -> str | None:
        grant = self.pre_authorized_grant
        return None if grant is None else str(grant["pre-authorized_code"])

    @property
    def tx_code(self) -> TxCodeSpec | None:
        """The transaction code requirements, or None when no code is expected."""
        grant = self.pre_authorized_grant
        if grant is None or "tx_code" not in grant:
            return None
        spec = grant["tx_code"]
        return TxCodeSpec(
            input_mode=spec.get("input_mode", "numeric"),
            length=spec.get("length"),
            description=spec.get("description"),
        )

    @property
    def authorization_server(self) -> str | None:
        grant = self.pre_authorized_grant
        value = None if grant is None else grant.get("authorization_server")
        return None if value is None else str(value)


@dataclass(frozen=True)
class OfferLink:
    """What an offer URI holds: the offer by value, or the URL to fetch it from."""

    scheme: str
    offer: CredentialOffer | None = None
    reference: str | None = None


def parse_offer_uri(uri: str, *, allow_loopback_http: bool = True) -> OfferLink:
    """Splits an `openid-credential-offer://` URI (or a wallet's https offer endpoint URL).

    Exactly one of `credential_offer` and `credential_offer_uri` must be present, once.
    """
    parts = urlsplit(uri)
    if not parts.scheme:
        raise _bad(f"offer URI {uri!r} has no scheme")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise _bad(f"offer URI query does not parse: {exc}") from exc
    names = [name for name, _ in pairs]
    present = [n for n in ("credential_offer", "credential_offer_uri") if n in names]
    if len(present) != 1:
        raise _bad("the offer URI must carry exactly one of credential_offer, credential_offer_uri")
    name = present[0]
    if names.count(name) != 1:
        raise _bad(f"{name} appears more than once")
    value = dict(pairs)[name]
    if name == "credential_offer_uri":
        check_https_url(value, "credential_offer_uri", allow_loopback_http=allow_loopback_http)
        return OfferLink(parts.scheme, reference=value)
    try:
        document = json.loads(value)
    except ValueError as exc:
        raise _bad(f"credential_offer is not JSON: {exc}") from exc
    return OfferLink(
        parts.scheme, offer=parse_offer_object(document, allow_loopback_http=allow_loopback_http)
    )


def parse_offer_object(document: Any, *, allow_loopback_http: bool = True) -> CredentialOffer:
    """Validates a Credential Offer object against §4.1.1."""
    if not isinstance(document, dict):
        raise _bad("the credential offer is not a JSON object")
    issuer = document.get("credential_issuer")
    if not isinstance(issuer, str):
        raise _bad("credential_issuer is missing or not a string")
    check_issuer_identifier(issuer, allow_loopback_http=allow_loopback_http)
    ids = document.get("credential_configuration_ids")
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, str) for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise _bad("credential_configuration_ids must be a non-empty array of unique strings")
    grants = document.get("grants", {})
    if not isinstance(grants, dict) or not all(isinstance(g, dict) for g in grants.values()):
        raise _bad("grants must be an object of objects")
    pre_authorized = grants.get(PRE_AUTHORIZED_GRANT)
    if pre_authorized is not None:
        _check_pre_authorized_grant(pre_authorized)
    return CredentialOffer(issuer, tuple(ids), grants, document)


def _check_pre_authorized_grant(grant: Mapping[str, Any]) -> None:
    code = grant.get("pre-authorized_code")
    if not isinstance(code, str) or not code:
        raise _bad("the pre-authorized grant has no pre-authorized_code string")
    if "tx_code" not in grant:
        return
    spec = grant["tx_code"]
    if not isinstance(spec, dict):
        raise _bad("tx_code must be an object")
    if spec.get("input_mode", "numeric") not in ("numeric", "text"):
        raise _bad("tx_code.input_mode must be numeric or text")
    length = spec.get("length")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
        raise _bad("tx_code.length must be an integer")
    description = spec.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > _TX_CODE_DESCRIPTION_MAX
    ):
        raise _bad("tx_code.description must be a string of at most 300 characters")
