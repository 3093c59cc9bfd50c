"""The least an OpenID4VP 1.0 wallet does to answer a request, for the verifier benchmark.

It shares no code with the service or the test wallet: the request object is read from its
JWS (its signature checked with jwcrypto against the `x5c` leaf), the SD-JWT VC is shown
with the disclosures of the asked top-level claims and a KB-JWT (RFC 9901 §4.3), the mdoc
as a DeviceResponse whose device signature (COSE_Sign1, RFC 9052 §4.4, signed here with
pyca/cryptography) covers the OpenID4VP handover with the encryption key's thumbprint
(OpenID4VP 1.0 Appendix B.2.6.1), and the response is an ECDH-ES JWE (§8.3) posted as
`response=` (§8.3.1, direct_post.jwt).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

_EMBEDDED = 24
_COSE_ALG_ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def request_uri_of(authorization_request_uri: str) -> str:
    """The `request_uri` of an `openid4vp://?client_id=...&request_uri=...` link."""
    return parse_qs(urlsplit(authorization_request_uri).query)["request_uri"][0]


@dataclass(frozen=True)
class Request:
    """The request object's parameters the wallet answers with."""

    client_id: str
    nonce: str
    state: str
    response_uri: str
    encryption_jwk: Mapping[str, Any]
    enc: str


def read_request_object(token: str) -> Request:
    """Checks the JWS with its `x5c` leaf and returns what the response needs."""
    jws = JWS()
    jws.deserialize(token)
    header = jws.jose_header
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    jws.verify(JWK.from_pyca(leaf.public_key()))
    claims = json.loads(jws.payload)
    metadata = claims["client_metadata"]
    [key] = [k for k in metadata["jwks"]["keys"] if k.get("use", "enc") == "enc"][:1]
    enc = metadata.get("encrypted_response_enc_values_supported", ["A128GCM"])[0]
    return Request(
        claims["client_id"], claims["nonce"], claims["state"], claims["response_uri"], key, enc
    )


class Holder:
    """One P-256 holder key and the credentials bound to it."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self._jwk = JWK.from_pyca(self.key)

    def public_jwk(self) -> dict[str, Any]:
        exported: dict[str, Any] = self._jwk.export_public(as_dict=True)
        return exported

    def _sign_es256(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def present_sd_jwt(self, credential: str, names: Iterable[str], request: Request) -> str:
        """The issuer JWT, the disclosures of the top-level claims `names`, and a KB-JWT."""
        issuer_jwt, *disclosures = credential.rstrip("~").split("~")
        wanted = set(names)
        chosen = [d for d in disclosures if _name(d) in wanted]
        without_kb = "~".join([issuer_jwt, *chosen]) + "~"
        claims = {
            "iat": int(time.time()),
            "aud": request.client_id,
            "nonce": request.nonce,
            "sd_hash": b64url(hashlib.sha256(without_kb.encode("ascii")).digest()),
        }
        kb = JWS(json.dumps(claims, separators=(",", ":")).encode())
        kb.add_signature(
            self._jwk, alg=None, protected=json.dumps({"alg": "ES256", "typ": "kb+jwt"})
        )
        return without_kb + str(kb.serialize(compact=True))

    def present_mdoc(self, credential: str, elements: Iterable[str], request: Request) -> str:
        """A DeviceResponse with the IssuerSignedItems `elements`, signed over the session."""
        issuer_signed = cbor2.loads(unb64url(credential))
        wanted = set(elements)
        shown = {
            namespace: [i for i in items if cbor2.loads(i.value)["elementIdentifier"] in wanted]
            for namespace, items in issuer_signed.get("nameSpaces", {}).items()
        }
        issuer_auth = issuer_signed["issuerAuth"]
        mso = cbor2.loads(cbor2.loads(issuer_auth[2]).value)
        thumbprint = _thumbprint(request.encryption_jwk)
        info = [request.client_id, request.nonce, thumbprint, request.response_uri]
        handover = ["OpenID4VPHandover", hashlib.sha256(cbor2.dumps(info)).digest()]
        transcript = [None, None, handover]
        device_namespaces = cbor2.dumps({})
        authentication = [
            "DeviceAuthentication",
            transcript,
            mso["docType"],
            cbor2.CBORTag(_EMBEDDED, device_namespaces),
        ]
        payload = cbor2.dumps(cbor2.CBORTag(_EMBEDDED, cbor2.dumps(authentication)))
        protected = cbor2.dumps({1: _COSE_ALG_ES256})
        signed = cbor2.dumps(["Signature1", protected, b"", payload])
        signature: list[Any] = [protected, {}, None, self._sign_es256(signed)]
        document = {
            "docType": mso["docType"],
            "issuerSigned": {
                "nameSpaces": {k: v for k, v in shown.items() if v},
                "issuerAuth": issuer_auth,
            },
            "deviceSigned": {
                "nameSpaces": cbor2.CBORTag(_EMBEDDED, device_namespaces),
                "deviceAuth": {"deviceSignature": signature},
            },
        }
        return b64url(cbor2.dumps({"version": "1.0", "documents": [document], "status": 0}))


def _name(disclosure: str) -> str:
    decoded = json.loads(unb64url(disclosure))
    return str(decoded[1]) if len(decoded) == 3 else ""


def _thumbprint(jwk: Mapping[str, Any]) -> bytes:
    canonical = json.dumps({m: jwk[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def encrypted_response(request: Request, vp_token: Mapping[str, list[str]]) -> str:
    """The `response=<JWE>` form body for direct_post.jwt."""
    protected: dict[str, Any] = {
        "alg": request.encryption_jwk.get("alg", "ECDH-ES"),
        "enc": request.enc,
    }
    if "kid" in request.encryption_jwk:
        protected["kid"] = request.encryption_jwk["kid"]
    payload = {"vp_token": dict(vp_token), "state": request.state}
    token = JWE(json.dumps(payload).encode(), protected=json.dumps(protected))
    token.add_recipient(JWK(**dict(request.encryption_jwk)))
    return "response=" + str(token.serialize(compact=True))
