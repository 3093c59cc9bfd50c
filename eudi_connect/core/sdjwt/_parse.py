"""Splitting a presentation into its parts (RFC 9901 section 4), before any cryptography."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.jose import ALLOWED_ALGORITHMS, MalformedJwsError, split_jws
from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from ._common import (
    ACCEPTED_SD_JWT_VC_TYPS,
    SdJwtVerificationError,
)

DEFAULT_MAX_LENGTH = 256 * 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ParsedPresentation:
    """An SD-JWT or SD-JWT+KB split into parts; nothing here has been verified yet."""

    issuer_jwt: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    disclosures: tuple[str, ...]  # encoded, in presentation order
    key_binding_jwt: str | None

    @property
    def kid(self) -> str | None:
        """The issuer key id the verifier looks the key up by."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def issuer(self) -> str | None:
        iss = self.payload.get("iss")
        return iss if isinstance(iss, str) else None

    @property
    def sd_jwt(self) -> str:
        """`<jwt>~<d1>~...~<dN>~`: the input of the KB-JWT's `sd_hash` (RFC 9901 section 4.3.1)."""
        return "".join((self.issuer_jwt, "~", *(d + "~" for d in self.disclosures)))


def _fail(reason: Reason, detail: str) -> SdJwtVerificationError:
    return SdJwtVerificationError(reason, detail)


def check_jws_header(header: dict[str, Any], *, what: str) -> None:
    """Allow-listed `alg` first (RFC 8725 section 3.1), then no `crit` we cannot honour."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise _fail(Reason.ALGORITHM_NOT_ALLOWED, f"{what} alg {alg!r} is not allowed")
    if "crit" in header:
        # RFC 7515 section 4.1.11: we understand no extensions, so any crit must be refused.
        raise _fail(Reason.MALFORMED, f"{what} has a crit header parameter")


def parse_presentation(text: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> ParsedPresentation:
    """Parses compact SD-JWT / SD-JWT+KB syntax and checks the issuer JWT's header.

    Raises SdJwtVerificationError: MALFORMED for anything that is not the syntax of RFC 9901
    section 4, ALGORITHM_NOT_ALLOWED for an `alg` outside the allow-list, WRONG_TYPE for a
    `typ` other than `dc+sd-jwt` (or the legacy `vc+sd-jwt`).
    """
    if not isinstance(text, str) or not text:
        raise _fail(Reason.MALFORMED, "presentation is empty")
    if len(text) > max_length:
        raise _fail(Reason.MALFORMED, f"presentation is longer than {max_length} characters")
    parts = text.split("~")
    if len(parts) < 2:
        raise _fail(Reason.MALFORMED, "presentation has no '~' separator")
    issuer_jwt, *disclosures, last = parts
    for disclosure in disclosures:
        if not _BASE64URL.fullmatch(disclosure):
            raise _fail(Reason.MALFORMED, "a disclosure is empty or not base64url")
    key_binding_jwt = last or None
    if key_binding_jwt is not None and not _JWT.fullmatch(key_binding_jwt):
        raise _fail(Reason.MALFORMED, "text after the last '~' is not a compact JWT")
    try:
        jws = split_jws(issuer_jwt)
    except MalformedJwsError as exc:
        raise _fail(Reason.MALFORMED, f"issuer-signed JWT: {exc}") from exc
    check_jws_header(jws.header, what="issuer-signed JWT")
    typ = jws.header.get("typ")
    if not isinstance(typ, str) or typ not in ACCEPTED_SD_JWT_VC_TYPS:
        raise _fail(Reason.WRONG_TYPE, f"typ {typ!r} is not dc+sd-jwt")
    return ParsedPresentation(
        issuer_jwt=issuer_jwt,
        header=jws.header,
        payload=jws.payload,
        signing_input=jws.signing_input,
        signature=jws.signature,
        disclosures=tuple(disclosures),
        key_binding_jwt=key_binding_jwt,
    )
