"""The mdoc SessionTranscript of an OpenID4VP request (OpenID4VP 1.0 Appendix B.2.6).

The device signs the request it answers: redirects and `direct_post` bind the
`client_id` (with its prefix), the `nonce`, the response encryption key's thumbprint and
the `response_uri`; the Digital Credentials API binds the origin the browser saw instead
of the client and the URI. The CBOR itself is built by `eudi_connect.core.mdoc`, which
also checks the device signature over it; here the values come from the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eudi_connect.core.encoding import b64url_decode
from eudi_connect.core.jose import InvalidJwkError, jwk_thumbprint
from eudi_connect.core.mdoc import (
    openid4vp_dc_api_session_transcript,
    openid4vp_session_transcript,
)
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason


def thumbprint_bytes(encryption_jwk: Mapping[str, Any] | None) -> bytes | None:
    """RFC 7638 SHA-256 thumbprint of the key the response was encrypted to, or None
    (CBOR null) for a response that was not encrypted."""
    if encryption_jwk is None:
        return None
    try:
        return b64url_decode(jwk_thumbprint(encryption_jwk))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidJwkError("the response encryption key is not an EC public JWK") from exc


def redirect_session_transcript(
    *,
    client_id: str,
    nonce: str,
    response_uri: str,
    encryption_jwk: Mapping[str, Any] | None,
) -> bytes:
    """Appendix B.2.6.1 for `direct_post` (`encryption_jwk` None) and `direct_post.jwt`.

    `client_id` exactly as the request object carries it, prefix included.
    """
    return openid4vp_session_transcript(
        client_id=client_id,
        nonce=nonce,
        response_uri=response_uri,
        jwk_thumbprint=thumbprint_bytes(encryption_jwk),
    )


def dc_api_session_transcript(
    *, origin: str, nonce: str, encryption_jwk: Mapping[str, Any] | None
) -> bytes:
    """Appendix B.2.6.2 for `dc_api` (`encryption_jwk` None) and `dc_api.jwt`.

    `origin` as the browser reported it (`https://verifier.example`), without `origin:`.
    """
    return openid4vp_dc_api_session_transcript(
        origin=origin, nonce=nonce, jwk_thumbprint=thumbprint_bytes(encryption_jwk)
    )


def dc_api_audience(origin: str) -> str:
    """Appendix A.4: over the DC API a KB-JWT's `aud` is the origin with `origin:`."""
    if not isinstance(origin, str) or not origin or origin.startswith("origin:"):
        raise InvalidArgumentError(
            "origin must be the bare web origin", reason=Reason.ORIGIN_INVALID
        )
    return f"origin:{origin}"
