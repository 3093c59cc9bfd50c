"""HTTP replies as the wallet received them, with the fields each endpoint defines.

A reply keeps everything a test may assert on (status, headers, JSON body, the DPoP proofs
that were sent); the typed properties read the fields of a successful response and raise
`WalletError("not_successful")` on an error reply. Errors are read from the JSON body
(RFC 6749 §5.2, OpenID4VCI §8.3.1.2) or from `WWW-Authenticate` (RFC 6750 §3, RFC 9449 §7.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDictProxy

from tests.wallet.errors import WalletError
from tests.wallet.jose_tools import decode_jwt

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?=[\s,]|$)\s*")
_TOKEN68 = re.compile(r"\s*([A-Za-z0-9._~+/-]+=*)\s*(?:,|$)")


@dataclass(frozen=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1)."""

    scheme: str
    params: Mapping[str, str]


def parse_www_authenticate(value: str) -> list[Challenge]:
    """All challenges in a `WWW-Authenticate` value, with their auth-params unquoted."""
    challenges: list[Challenge] = []
    position = 0
    current: dict[str, str] | None = None
    while position < len(value):
        if value[position] in " ,\t":
            position += 1
            continue
        param = _PARAM.match(value, position)
        if param and current is not None:
            quoted, token = param.group(2), param.group(3)
            current[param.group(1).lower()] = (
                re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
            )
            position = param.end()
            continue
        scheme = _SCHEME.match(value, position)
        if not scheme:
            break
        current = {}
        challenges.append(Challenge(scheme.group(1), current))
        position = scheme.end()
        token68 = _TOKEN68.match(value, position)
        if token68 and not _PARAM.match(value, position):
            current["token68"] = token68.group(1)
            position = token68.end()
    return challenges


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange's answer."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any
    # The DPoP proofs sent, in order: two when the server asked for a nonce first.
    dpop_proofs: tuple[str, ...] = ()
    # The request headers of the last attempt, for tests that want to see what went out.
    request_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def challenges(self) -> list[Challenge]:
        return [
            c
            for v in self.headers.getall("WWW-Authenticate", [])
            for c in parse_www_authenticate(v)
        ]

    def _challenge_param(self, name: str) -> str | None:
        for challenge in self.challenges:
            if name in challenge.params:
                return challenge.params[name]
        return None

    @property
    def error(self) -> str | None:
        """The OAuth error code, from the JSON body or else from `WWW-Authenticate`."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), str):
            return str(self.json["error"])
        return None if self.ok else self._challenge_param("error")

    @property
    def error_description(self) -> str | None:
        if isinstance(self.json, dict) and isinstance(self.json.get("error_description"), str):
            return str(self.json["error_description"])
        return None if self.ok else self._challenge_param("error_description")

    @property
    def dpop_nonce(self) -> str | None:
        """The `DPoP-Nonce` header (RFC 9449 §8.1), when the server sent one."""
        return self.headers.get("DPoP-Nonce")

    @property
    def dpop_jti(self) -> str | None:
        """The `jti` of the last DPoP proof sent (for replay tests)."""
        if not self.dpop_proofs:
            return None
        return str(decode_jwt(self.dpop_proofs[-1])[1]["jti"])

    def _field(self, name: str) -> Any:
        if not self.ok or not isinstance(self.json, dict):
            raise WalletError(
                "not_successful",
                f"HTTP {self.status} error={self.error!r}: no {name} in an error reply",
            )
        return self.json.get(name)

    def describe(self) -> str:
        """A one-line summary for assertion messages."""
        text = self.body[:300].decode("utf-8", "replace")
        return f"HTTP {self.status} {self.content_type or '-'} {text}"


@dataclass(frozen=True)
class TokenReply(Reply):
    """Token Response (RFC 6749 §5.1, RFC 9449 §5, OpenID4VCI §6.2)."""

    @property
    def access_token(self) -> str:
        return str(self._field("access_token"))

    @property
    def token_type(self) -> str:
        return str(self._field("token_type"))

    @property
    def expires_in(self) -> int | None:
        value = self._field("expires_in")
        return None if value is None else int(value)


@dataclass(frozen=True)
class NonceReply(Reply):
    """Nonce Response (OpenID4VCI §7.2)."""

    @property
    def c_nonce(self) -> str:
        return str(self._field("c_nonce"))


@dataclass(frozen=True)
class CredentialReply(Reply):
    """Credential Response (§8.3) or Deferred Credential Response (§9.2)."""

    @property
    def credentials(self) -> list[str]:
        """The issued credentials (strings, as dc+sd-jwt and mso_mdoc are); empty when
        deferred."""
        items = self._field("credentials") or []
        return [str(item["credential"]) for item in items]

    @property
    def transaction_id(self) -> str | None:
        value = self._field("transaction_id")
        return None if value is None else str(value)

    @property
    def interval(self) -> float | None:
        value = self._field("interval")
        return None if value is None else float(value)

    @property
    def notification_id(self) -> str | None:
        value = self._field("notification_id")
        return None if value is None else str(value)

    @property
    def deferred(self) -> bool:
        return self.status == 202
