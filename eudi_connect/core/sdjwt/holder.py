"""The holder's side of SD-JWT (RFC 9901 section 7.2): pick disclosures, bind to a verifier.

Used by tests and the CLI to make presentations; the service itself never holds credentials.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

from eudi_connect.core.jose import MalformedJwsError, sign_jws, split_jws

from ._common import ARRAY_DIGEST_KEY, KB_JWT_TYP, SD_ALG, SD_ALG_KEY, SD_KEY
from .disclosures import Disclosure, decode_disclosure, sd_hash

__all__ = ["decode_disclosures", "make_presentation"]


def _split(credential: str) -> tuple[str, list[str]]:
    """Splits `<jwt>~<d1>~...~<dN>~`; an issued credential never carries a KB-JWT."""
    parts = credential.split("~")
    if len(parts) < 2:
        raise ValueError("not an SD-JWT: no '~' separator")
    if parts[-1]:
        raise ValueError("expected an SD-JWT as issued, got one with a KB-JWT (RFC 9901 7.2)")
    return parts[0], parts[1:-1]


def decode_disclosures(credential: str) -> list[Disclosure]:
    """Decodes every Disclosure of an issued SD-JWT, in order; raises ValueError."""
    _, encoded = _split(credential)
    return [decode_disclosure(text) for text in encoded]


class _Selector:
    """Walks the payload the way a verifier will and keeps the disclosures to reveal."""

    def __init__(self, disclosures: list[Disclosure], names: Collection[str] | None) -> None:
        self.by_digest = {d.digest: d for d in disclosures}
        self.names = None if names is None else frozenset(names)
        self.kept: set[str] = set()

    def _wanted(self, name: str) -> bool:
        return self.names is None or name in self.names

    def walk(self, value: Any, elements_wanted: bool) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name != SD_KEY:
                    self.walk(item, self._wanted(name))
            for digest in value.get(SD_KEY, ()):
                disclosure = self.by_digest.get(digest) if isinstance(digest, str) else None
                if disclosure is None or disclosure.name is None:
                    continue
                if self._wanted(disclosure.name):
                    self.kept.add(digest)
                    self.walk(disclosure.value, True)
        elif isinstance(value, list):
            for item in value:
                digest = item.get(ARRAY_DIGEST_KEY) if isinstance(item, dict) else None
                disclosure = self.by_digest.get(digest) if isinstance(digest, str) else None
                if disclosure is None or disclosure.name is not None:
                    self.walk(item, elements_wanted)
                elif elements_wanted:
                    self.kept.add(disclosure.digest)
                    self.walk(disclosure.value, elements_wanted)


def make_presentation(
    credential: str,
    *,
    disclose: Collection[str] | None = None,
    holder_key: EllipticCurvePrivateKey | None = None,
    audience: str | None = None,
    nonce: str | None = None,
    issued_at: int | None = None,
    key_binding_claims: Mapping[str, Any] | None = None,
) -> str:
    """Builds an SD-JWT (or, with `holder_key`, an SD-JWT+KB) revealing the chosen claims.

    `disclose` names object properties to reveal at any depth (None reveals everything). A
    disclosure nested in one that is not revealed is dropped, since the verifier could not
    place it (RFC 9901 section 4.2.6); array-element disclosures follow the claim holding
    the array. With `holder_key`, `audience` and `nonce` are required (section 4.3);
    `key_binding_claims` adds to the KB-JWT (OpenID4VP's `transaction_data_hashes`).
    """
    issuer_jwt, encoded = _split(credential)
    disclosures = [decode_disclosure(text) for text in encoded]
    try:
        payload = split_jws(issuer_jwt).payload
    except MalformedJwsError as exc:
        raise ValueError(f"issuer-signed JWT: {exc}") from exc
    if payload.get(SD_ALG_KEY, SD_ALG) != SD_ALG:
        raise ValueError("only sha-256 digests are supported")
    selector = _Selector(disclosures, disclose)
    selector.walk(payload, True)
    sd_jwt = "".join(
        (issuer_jwt, "~", *(d.encoded + "~" for d in disclosures if d.digest in selector.kept))
    )
    if holder_key is None:
        return sd_jwt
    if audience is None or nonce is None:
        raise ValueError("a KB-JWT needs both an audience and a nonce (RFC 9901 section 4.3)")
    claims = {
        **(key_binding_claims or {}),
        "iat": int(time.time()) if issued_at is None else issued_at,
        "aud": audience,
        "nonce": nonce,
        "sd_hash": sd_hash(sd_jwt),
    }
    return sd_jwt + sign_jws({"typ": KB_JWT_TYP}, claims, holder_key)
