"""The signed Authorization Request (OpenID4VP 1.0 section 5, RFC 9101) and its URI.

The request goes by reference: the wallet gets `openid4vp://?client_id=..&request_uri=..`
and fetches a JWS of `typ` `oauth-authz-req+jwt` whose `x5c` leaf names the client
identifier. Its claims are the request: `response_type` vp_token, the response mode and
URI, `nonce`, `state`, the DCQL query, and `client_metadata` with the per-request
encryption key and the formats the verifier checks. Over the Digital Credentials API
(Appendix A) the same object goes to the browser, with `expected_origins` and no URI.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.encoding import b64url_decode, b64url_encode, json_bytes
from eudi_connect.core.jose import encode_x5c, sign_jws
from eudi_connect.core.signer import Signer
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

from .client_id import VerifierIdentityError, check_client_id, check_uri_host
from .dcql import DcqlQuery
from .jwe import DEFAULT_ENC_VALUES, ENC_KEY_BYTES

REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
#: Section 5.8: the `aud` of a request object under static wallet discovery.
STATIC_WALLET_AUDIENCE = "https://self-issued.me/v2"
OPENID4VP_SCHEME = "openid4vp://"
#: What the verifier checks (ES256 issuer signatures and key binding, COSE -7 for mdoc).
VP_FORMATS_SUPPORTED: Mapping[str, Mapping[str, list[Any]]] = {
    "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]},
    "mso_mdoc": {"issuerauth_alg_values": [-7], "deviceauth_alg_values": [-7]},
}
MAX_TRANSACTION_DATA = 16
MAX_TRANSACTION_DATA_BYTES = 8192
MAX_EXPECTED_ORIGINS = 16
#: Section 5.2: `nonce` and `state` hold only ASCII URL-safe characters.
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]{1,512}")


class ResponseMode(enum.StrEnum):
    DIRECT_POST = "direct_post"  # section 8.2
    DIRECT_POST_JWT = "direct_post.jwt"  # section 8.3.1
    DC_API = "dc_api"  # Appendix A.2
    DC_API_JWT = "dc_api.jwt"

    @property
    def encrypted(self) -> bool:
        return self in (ResponseMode.DIRECT_POST_JWT, ResponseMode.DC_API_JWT)

    @property
    def dc_api(self) -> bool:
        return self in (ResponseMode.DC_API, ResponseMode.DC_API_JWT)


def random_value() -> str:
    """A fresh `nonce` or `state`: 256 bits, base64url (section 5.2 asks for 128 or more)."""
    return secrets.token_urlsafe(32)


def _invalid(reason: Reason, message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message, reason=reason)


@dataclass(frozen=True, kw_only=True)
class AuthorizationRequest:
    """One presentation request; `claims()` checks it and writes the request object."""

    client_id: str
    response_mode: ResponseMode
    nonce: str
    dcql_query: DcqlQuery
    encryption_jwk: Mapping[str, Any] | None = None  # public; required when encrypted
    response_uri: str | None = None  # direct_post modes
    state: str | None = None  # direct_post modes (the DC API has none)
    enc_values: Sequence[str] = DEFAULT_ENC_VALUES
    transaction_data: Sequence[str] = ()
    expected_origins: Sequence[str] = ()  # the DC API
    wallet_nonce: str | None = None  # section 5.10: from the wallet's request_uri POST
    issued_at: int | None = None
    expires_at: int | None = None
    audience: str = STATIC_WALLET_AUDIENCE

    def claims(self) -> dict[str, Any]:
        """The request object payload; InvalidArgumentError for an inconsistent request."""
        self._check()
        out: dict[str, Any] = {
            "aud": self.audience,
            "client_id": self.client_id,
            "response_type": "vp_token",
            "response_mode": self.response_mode.value,
            "nonce": self.nonce,
            "dcql_query": self.dcql_query.to_json(),
            "client_metadata": self.client_metadata(),
        }
        optional = {
            "response_uri": self.response_uri,
            "state": self.state,
            "wallet_nonce": self.wallet_nonce,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "transaction_data": list(self.transaction_data) or None,
            "expected_origins": list(self.expected_origins) or None,
        }
        out.update({name: value for name, value in optional.items() if value is not None})
        return out

    def client_metadata(self) -> dict[str, Any]:
        """Section 5.1 `client_metadata`: `vp_formats_supported`, and for an encrypted
        response the key (`jwks`) and `encrypted_response_enc_values_supported`."""
        metadata: dict[str, Any] = {"vp_formats_supported": dict(VP_FORMATS_SUPPORTED)}
        if self.response_mode.encrypted and self.encryption_jwk is not None:
            metadata["jwks"] = {"keys": [dict(self.encryption_jwk)]}
            metadata["encrypted_response_enc_values_supported"] = list(self.enc_values)
        return metadata

    def _check(self) -> None:
        for name, value in (("nonce", self.nonce), ("state", self.state)):
            if value is not None and not _URL_SAFE.fullmatch(value):
                raise _invalid(
                    Reason.REQUEST_INVALID, f"{name} must be 1 to 512 URL-safe characters"
                )
        if self.response_mode.encrypted:
            jwk = self.encryption_jwk
            if jwk is None or jwk.get("alg") != "ECDH-ES" or not jwk.get("kid") or "d" in jwk:
                raise _invalid(
                    Reason.REQUEST_INVALID,
                    "an encrypted response needs a public ECDH-ES JWK with kid",
                )
            if not self.enc_values or any(e not in ENC_KEY_BYTES for e in self.enc_values):
                raise _invalid(Reason.REQUEST_INVALID, "enc values must be A128GCM and/or A256GCM")
        if self.response_mode.dc_api:
            if self.response_uri is not None or self.state is not None:
                raise _invalid(Reason.REQUEST_INVALID, "the DC API takes no response_uri or state")
            _check_origins(self.expected_origins)
        else:
            if not self.response_uri or urlsplit(self.response_uri).scheme not in ("https", "http"):
                raise _invalid(
                    Reason.RESPONSE_URI_INVALID, "direct_post needs an http(s) response_uri"
                )
            check_uri_host(self.client_id, self.response_uri)
            if self.expected_origins:
                raise _invalid(Reason.REQUEST_INVALID, "expected_origins is for the DC API only")
        _check_transaction_data(self.transaction_data, self.dcql_query)


def _check_origins(origins: Sequence[str]) -> None:
    """Appendix A.2: required for signed requests; web origins only."""
    if not origins or len(origins) > MAX_EXPECTED_ORIGINS:
        raise _invalid(
            Reason.REQUEST_INVALID, f"expected_origins needs 1 to {MAX_EXPECTED_ORIGINS}"
        )
    for origin in origins:
        parts = urlsplit(origin)
        if (
            parts.scheme not in ("https", "http")
            or not parts.netloc
            or origin != (f"{parts.scheme}://{parts.netloc}")
        ):
            raise _invalid(
                Reason.REQUEST_INVALID, f"expected origin {origin[:128]!r} is not an origin"
            )


def encode_transaction_data(entry: Mapping[str, Any]) -> str:
    """Section 5.1 `transaction_data`: each entry is base64url of a JSON object."""
    return b64url_encode(json_bytes(entry))


def _check_transaction_data(entries: Sequence[str], query: DcqlQuery) -> None:
    """Each needs a `type` and `credential_ids` naming credentials of the query that
    require holder binding (Appendix B.3.3: transaction data needs a key-bound proof)."""
    if len(entries) > MAX_TRANSACTION_DATA:
        raise _invalid(Reason.TRANSACTION_DATA_INVALID, f"more than {MAX_TRANSACTION_DATA} entries")
    for index, text in enumerate(entries):
        where = f"transaction_data[{index}]"
        try:
            if not isinstance(text, str) or len(text) > MAX_TRANSACTION_DATA_BYTES:
                raise ValueError("too large")
            entry = json.loads(b64url_decode(text))
        except (ValueError, RecursionError) as exc:
            raise _invalid(
                Reason.TRANSACTION_DATA_INVALID, f"{where} is not base64url JSON"
            ) from exc
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise _invalid(Reason.TRANSACTION_DATA_INVALID, f"{where} needs a string type")
        ids = entry.get("credential_ids")
        if not isinstance(ids, list) or not ids:
            raise _invalid(Reason.TRANSACTION_DATA_INVALID, f"{where} needs credential_ids")
        for credential_id in ids:
            credential = query.credential(credential_id) if isinstance(credential_id, str) else None
            if credential is None or not credential.require_cryptographic_holder_binding:
                raise _invalid(
                    Reason.TRANSACTION_DATA_INVALID,
                    f"{where} names {str(credential_id)[:64]!r}, not a key-bound credential query",
                )


def sign_request_object(
    request: AuthorizationRequest,
    signer: Signer | ec.EllipticCurvePrivateKey,
    certificate_chain: Sequence[bytes],
) -> str:
    """The compact JWS the wallet fetches (RFC 9101 section 4, OpenID4VP section 5),
    signed by the verifier's `Signer` (any backend) or a private key of this process.

    `certificate_chain` is DER, leaf first, without the trust anchor (HAIP section 5).
    VerifierIdentityError when the leaf is not the key's or does not name the client.
    """
    if not certificate_chain:
        raise VerifierIdentityError("the request object needs the verifier's certificate")
    try:
        leaf_key = x509.load_der_x509_certificate(certificate_chain[0]).public_key()
    except ValueError as exc:
        raise VerifierIdentityError("the verifier certificate is not DER X.509") from exc
    if (
        not isinstance(leaf_key, ec.EllipticCurvePublicKey)
        or leaf_key.public_numbers() != signer.public_key().public_numbers()
    ):
        raise VerifierIdentityError("the verifier certificate is not for the signing key")
    check_client_id(request.client_id, certificate_chain[0])
    header = {"typ": REQUEST_OBJECT_TYP, "x5c": encode_x5c(certificate_chain)}
    return sign_jws(header, request.claims(), signer)


def authorization_request_uri(
    *,
    client_id: str,
    request_uri: str,
    request_uri_method_post: bool = False,
    base: str = OPENID4VP_SCHEME,
) -> str:
    """`openid4vp://?client_id=..&request_uri=..` (section 5.4, RFC 9101 section 5.2),
    with `request_uri_method=post` (section 5.10) when the wallet may POST its metadata.
    `base` may be another scheme or a wallet's universal link."""
    params = {"client_id": client_id, "request_uri": request_uri}
    if request_uri_method_post:
        params["request_uri_method"] = "post"
    query = urlencode(params, quote_via=quote, safe="")
    return f"{base}{'&' if '?' in base else '?'}{query}"
