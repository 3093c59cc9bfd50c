"""DPoP proofs (RFC 9449): sender-constrained access tokens.

`verify_dpop_proof` is the check list of RFC 9449 section 4.3; the jti replay cache and
the token's key binding live with the caller, which gets the proof's `jti` and key
thumbprint (`jkt`, RFC 7638) back. `DpopNonces` makes server nonces (section 8) without
state: an HMAC over a time window, so any instance that shares the secret accepts them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import jwk_thumbprint
from eudi_connect.core.oid4vci._errors import ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci._signed_jwt import (
    check_issued_recently,
    check_signature,
    header_jwk_key,
    parse_typed,
    string_claim,
)

DPOP_TYP = "dpop+jwt"
_BAD = WalletErrorCode.INVALID_DPOP_PROOF
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class DpopProof:
    jkt: str  # RFC 7638 thumbprint of the proof's key: what an access token is bound to
    jti: str  # unique per proof: the caller refuses one it has seen (section 11.1)
    issued_at: int


def access_token_hash(access_token: str) -> str:
    """The `ath` claim: base64url SHA-256 of the access token's ASCII (section 4.2)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def normalized_htu(url: str) -> str:
    """The URI without query and fragment, with scheme and host in lower case and the
    default port left out (RFC 9449 section 4.3 step 9, RFC 3986 sections 6.2.2-6.2.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def verify_dpop_proof(
    proof: str | None,
    *,
    method: str,
    url: str,
    now: int,
    access_token: str | None = None,
    bound_jkt: str | None = None,
    nonces: DpopNonces | None = None,
    max_age_seconds: int = 300,
    clock_skew_seconds: int = 5,
) -> DpopProof:
    """Checks one DPoP proof for a request of `method` to `url`.

    With `access_token`, the proof must carry its `ath` and be signed by the key the
    token is bound to (`bound_jkt`). With `nonces`, the proof must carry a current server
    nonce; a missing or stale one raises `use_dpop_nonce`, which tells the wallet to
    retry with the nonce sent in the `DPoP-Nonce` header.
    """
    if proof is None:
        raise ProtocolError(_BAD, "the request needs a DPoP header with a proof")
    jws = parse_typed(proof, typ=DPOP_TYP, code=_BAD, what="DPoP proof")
    public_key, jwk = header_jwk_key(jws, code=_BAD, what="DPoP proof")
    check_signature(jws, public_key, code=_BAD, what="DPoP proof")
    claims = jws.payload
    jti = string_claim(claims, "jti", code=_BAD, what="DPoP proof", max_length=256)
    if claims.get("htm") != method:
        raise ProtocolError(_BAD, f"DPoP proof htm must be {method!r}")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_htu(htu) != normalized_htu(url):
        raise ProtocolError(_BAD, "DPoP proof htu is not this endpoint's URL")
    issued_at = check_issued_recently(
        claims,
        now=now,
        max_age_seconds=max_age_seconds,
        clock_skew_seconds=clock_skew_seconds,
        code=_BAD,
        what="DPoP proof",
    )
    jkt = jwk_thumbprint(jwk)
    if access_token is not None:
        if claims.get("ath") != access_token_hash(access_token):
            raise ProtocolError(_BAD, "DPoP proof ath is not the hash of this access token")
        if bound_jkt is None or not hmac.compare_digest(jkt, bound_jkt):
            raise ProtocolError(
                WalletErrorCode.INVALID_TOKEN, "the access token is bound to another DPoP key"
            )
    if nonces is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonces.is_current(nonce, now=now):
            raise ProtocolError(
                WalletErrorCode.USE_DPOP_NONCE, "use the DPoP nonce from the DPoP-Nonce header"
            )
    return DpopProof(jkt=jkt, jti=jti, issued_at=issued_at)


class DpopNonces:
    """Server nonces that need no store: HMAC(secret, window number).

    A nonce is current during its window and the one after, so a wallet that fetched one
    just before the window turned still gets through; older ones are refused.
    """

    def __init__(self, secret: bytes, *, window_seconds: int = 300) -> None:
        if len(secret) < 16:
            raise ValueError("the DPoP nonce secret must have at least 16 bytes")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self._secret = secret
        self._window = window_seconds

    def _for_window(self, window: int) -> str:
        mac = hmac.new(self._secret, b"dpop-nonce:%d" % window, hashlib.sha256).digest()
        return b64url_encode(mac[:18])

    def current(self, *, now: int) -> str:
        return self._for_window(now // self._window)

    def is_current(self, nonce: str, *, now: int) -> bool:
        window = now // self._window
        return any(hmac.compare_digest(nonce, self._for_window(w)) for w in (window, window - 1))
