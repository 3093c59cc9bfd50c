"""The Authorization Request as an OpenID4VP 1.0 wallet receives and checks it.

- By reference (§5, RFC 9101 §5.2): `openid4vp://?client_id=...&request_uri=...` with an
  optional `request_uri_method` (`get` or `post`, §5.10; anything else is the spec's
  `invalid_request_uri_method`).
- The Request Object (RFC 9101 §6; OpenID4VP §5.10.1): a JWS of `typ`
  oauth-authz-req+jwt whose `client_id` equals the one of the link, signed with the key of
  the `x5c` leaf (§5.9.3): for `x509_san_dns:<name>` the leaf carries `<name>` as a dNSName
  SAN, for `x509_hash:<hash>` the hash is the base64url SHA-256 of the leaf's DER; the
  chain must lead to a certificate the wallet trusts. `wallet_nonce` is echoed when the
  wallet sent one (§5.10). Only the object's parameters are used.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from tests.wallet.encoding import b64url_encode
from tests.wallet.errors import ProtocolViolation, WalletError
from tests.wallet.holder import certificates_from_x5c, validate_chain
from tests.wallet.jose_tools import decode_jwt

REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
REQUEST_OBJECT_MEDIA_TYPE = "application/oauth-authz-req+jwt"
X509_SAN_DNS = "x509_san_dns"
X509_HASH = "x509_hash"
RESPONSE_MODES = ("direct_post", "direct_post.jwt", "dc_api", "dc_api.jwt")
_SIGNING_ALGS = ("ES256", "ES384", "ES512")


class RequestRefused(WalletError):
    """The request is not one the wallet may answer; `code` is the spec's error (§8.5)."""


@dataclass(frozen=True)
class AuthorizationRequestLink:
    """What the `openid4vp://` link carries: who asks and where the request object is."""

    client_id: str
    request_uri: str
    request_uri_method: str = "get"
    scheme: str = "openid4vp"


def parse_authorization_request_uri(uri: str) -> AuthorizationRequestLink:
    """The parameters of a by-reference request; refuses a by-value or incomplete one."""
    parts = urlsplit(uri)
    if not parts.scheme:
        raise RequestRefused("invalid_request", f"{uri!r} is not an absolute URI")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    for name, values in query.items():
        if len(values) != 1:
            raise RequestRefused("invalid_request", f"parameter {name!r} appears twice")
    single = {name: values[0] for name, values in query.items()}
    client_id = single.get("client_id", "")
    request_uri = single.get("request_uri", "")
    if not client_id or not request_uri:
        raise RequestRefused("invalid_request", "client_id and request_uri are required")
    method = single.get("request_uri_method", "get")
    if method not in ("get", "post"):
        raise RequestRefused("invalid_request_uri_method", f"request_uri_method {method!r}")
    return AuthorizationRequestLink(client_id, request_uri, method, parts.scheme)


def certificate_hash(certificate: x509.Certificate) -> str:
    """§5.9.3 `x509_hash`: base64url SHA-256 of the DER certificate."""
    return b64url_encode(hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest())


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(name) for name in san.value.get_values_for_type(x509.DNSName)]


@dataclass(frozen=True)
class RequestObject:
    """A verified Request Object: its header, its claims and the verifier's certificates."""

    token: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    chain: tuple[x509.Certificate, ...]
    link: AuthorizationRequestLink | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return str(self.claims["client_id"])

    @property
    def client_id_prefix(self) -> str:
        return self.client_id.split(":", 1)[0]

    @property
    def nonce(self) -> str:
        return str(self.claims["nonce"])

    @property
    def state(self) -> str | None:
        value = self.claims.get("state")
        return str(value) if value is not None else None

    @property
    def response_mode(self) -> str:
        return str(self.claims.get("response_mode", ""))

    @property
    def response_uri(self) -> str | None:
        value = self.claims.get("response_uri")
        return str(value) if value is not None else None

    @property
    def dcql_query(self) -> Mapping[str, Any]:
        query = self.claims["dcql_query"]
        assert isinstance(query, Mapping)
        return query

    @property
    def client_metadata(self) -> Mapping[str, Any]:
        metadata = self.claims.get("client_metadata", {})
        return metadata if isinstance(metadata, Mapping) else {}

    @property
    def transaction_data(self) -> list[str]:
        return [str(t) for t in self.claims.get("transaction_data", [])]

    @property
    def encrypted(self) -> bool:
        return self.response_mode.endswith(".jwt")

    @property
    def dc_api(self) -> bool:
        return self.response_mode.startswith("dc_api")


def _check_client_identifier(client_id: str, leaf: x509.Certificate) -> None:
    prefix, _sep, original = client_id.partition(":")
    if prefix == X509_SAN_DNS:
        if original not in _dns_names(leaf):
            raise RequestRefused("invalid_client", f"the x5c leaf has no dNSName SAN {original!r}")
    elif prefix == X509_HASH:
        if original != certificate_hash(leaf):
            raise RequestRefused("invalid_client", "x509_hash does not match the x5c leaf")
    else:
        raise RequestRefused("invalid_request", f"client identifier prefix {prefix!r}")


def verify_request_object(
    token: str,
    *,
    trusted: Sequence[x509.Certificate],
    link: AuthorizationRequestLink | None = None,
    wallet_nonce: str | None = None,
    expected_origin: str | None = None,
    trusted_client_ids: Collection[str] = (),
    now: int | None = None,
    leeway: int = 60,
) -> RequestObject:
    """Checks a Request Object as §5.9.3, §5.10 and RFC 9101 §6 ask, or raises.

    For `x509_san_dns` outside the DC API, the response URI's host must be the client
    identifier's DNS name unless the wallet lists the client id in `trusted_client_ids`
    (§5.9.3: only a trusted client may choose its redirect or response URI freely).
    """
    try:
        header, claims = decode_jwt(token)
    except ValueError as exc:
        raise ProtocolViolation("request_object_invalid", f"not a JWS: {exc}") from exc
    if header.get("typ") != REQUEST_OBJECT_TYP:
        raise RequestRefused("invalid_request_object", f"typ {header.get('typ')!r}")
    if header.get("alg") not in _SIGNING_ALGS:
        raise RequestRefused("invalid_request_object", f"alg {header.get('alg')!r}")
    chain = certificates_from_x5c(header.get("x5c"))
    try:
        validate_chain(chain, trusted)
    except WalletError as exc:
        raise RequestRefused("invalid_client", f"verifier certificate: {exc.description}") from exc
    leaf_key = chain[0].public_key()
    if not isinstance(leaf_key, ec.EllipticCurvePublicKey):
        raise RequestRefused("invalid_client", "the x5c leaf is not an EC key")
    jws = JWS()
    try:
        jws.deserialize(token)
        jws.verify(JWK.from_pyca(leaf_key), alg=str(header["alg"]))
    except JWException as exc:
        raise RequestRefused("invalid_request_object", f"signature: {exc}") from exc
    client_id = claims.get("client_id")
    if not isinstance(client_id, str):
        raise RequestRefused("invalid_request_object", "no client_id")
    if link is not None and client_id != link.client_id:
        raise RequestRefused("invalid_request_object", "client_id differs from the link's")
    _check_client_identifier(client_id, chain[0])
    if wallet_nonce is not None and claims.get("wallet_nonce") != wallet_nonce:
        raise RequestRefused("invalid_request_object", "wallet_nonce is not echoed")
    moment = now if now is not None else int(time.time())
    if "exp" in claims and claims["exp"] <= moment - leeway:
        raise RequestRefused("invalid_request_object", "the request object has expired")
    _check_parameters(claims, expected_origin)
    _check_response_uri_host(claims, client_id, trusted_client_ids)
    return RequestObject(token, header, claims, tuple(chain), link)


def _check_parameters(claims: Mapping[str, Any], expected_origin: str | None) -> None:
    if claims.get("response_type") != "vp_token":
        raise RequestRefused("unsupported_response_type", f"{claims.get('response_type')!r}")
    mode = claims.get("response_mode")
    if mode not in RESPONSE_MODES:
        raise RequestRefused("invalid_request", f"response_mode {mode!r}")
    if not isinstance(claims.get("nonce"), str) or not claims["nonce"]:
        raise RequestRefused("invalid_request", "no nonce")
    if not isinstance(claims.get("dcql_query"), Mapping):
        raise RequestRefused("invalid_request", "no dcql_query")
    if str(mode).startswith("direct_post"):
        if not isinstance(claims.get("response_uri"), str):
            raise RequestRefused("invalid_request", "direct_post without response_uri")
        if "redirect_uri" in claims:
            raise RequestRefused("invalid_request", "redirect_uri next to response_uri")
    if str(mode).startswith("dc_api"):
        origins = claims.get("expected_origins")
        if not isinstance(origins, list) or not origins:
            raise RequestRefused(
                "invalid_request", "a signed DC API request needs expected_origins"
            )
        if expected_origin is not None and expected_origin not in origins:
            raise RequestRefused("invalid_request", f"origin {expected_origin!r} not expected")


def _check_response_uri_host(
    claims: Mapping[str, Any], client_id: str, trusted_client_ids: Collection[str]
) -> None:
    prefix, _sep, dns_name = client_id.partition(":")
    uri = claims.get("response_uri") or claims.get("redirect_uri")
    if prefix != X509_SAN_DNS or client_id in trusted_client_ids or not isinstance(uri, str):
        return
    if str(claims.get("response_mode", "")).startswith("dc_api"):
        return
    if (urlsplit(uri).hostname or "").lower() != dns_name.lower():
        raise RequestRefused(
            "invalid_request", f"response URI host of {uri!r} is not the client's {dns_name!r}"
        )


def wallet_metadata_json(*, encryption: bool = True) -> str:
    """The wallet's metadata for request_uri_method=post (§10.1): formats and algorithms."""
    metadata: dict[str, Any] = {
        "vp_formats_supported": {
            "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]},
            "mso_mdoc": {"issuerauth_alg_values": [-7], "deviceauth_alg_values": [-7]},
        },
        "request_object_signing_alg_values_supported": list(_SIGNING_ALGS),
        "client_id_prefixes_supported": [X509_SAN_DNS, X509_HASH],
        "response_modes_supported": list(RESPONSE_MODES),
    }
    if encryption:
        metadata["authorization_encryption_alg_values_supported"] = ["ECDH-ES"]
        metadata["authorization_encryption_enc_values_supported"] = ["A128GCM", "A256GCM"]
    return json.dumps(metadata, separators=(",", ":"))
