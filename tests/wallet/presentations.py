"""Presentations the holder builds for an OpenID4VP response, from the format specifications.

- SD-JWT VC (RFC 9901 §4.3, §7.3; OpenID4VP 1.0 Appendix B.3.6): the issuer-signed JWT, the
  disclosures of exactly the selected claims (with those of their parents, so that the
  verifier can reach them, and of their children, since the verifier asked for the whole
  value), and a Key Binding JWT (`typ` kb+jwt) over `iat`, `aud`, `nonce` and `sd_hash`,
  the SHA-256 of the presentation up to the last `~`; with transaction data, the hashes of
  each `transaction_data` string (Appendix B.3.3).
- mdoc (ISO/IEC 18013-5 §8.3.2.1.2.2, §9.1.3; OpenID4VP 1.0 Appendix B.2.6): a
  DeviceResponse whose document holds the selected IssuerSignedItems only and a
  DeviceSigned part whose `deviceSignature` (COSE_Sign1 with a detached payload, signed
  with the independent `pycose`) covers DeviceAuthenticationBytes over the session
  transcript: `OpenID4VPHandover` for redirects (B.2.6.1), `OpenID4VPDCAPIHandover` for the
  Digital Credentials API (B.2.6.2).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from pycose.algorithms import Es256
from pycose.headers import Algorithm
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message

from tests.wallet.dcql import MSO_MDOC, SD_JWT_VC, ClaimPath, HeldCredential
from tests.wallet.encoding import b64url_decode, b64url_encode
from tests.wallet.jose_tools import decode_jwt, edit_members, sign_jwt
from tests.wallet.keys import KeyPair

KB_JWT_TYP = "kb+jwt"
OPENID4VP_HANDOVER = "OpenID4VPHandover"
OPENID4VP_DC_API_HANDOVER = "OpenID4VPDCAPIHandover"
_EMBEDDED_CBOR = 24


# -- SD-JWT VC -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Disclosed:
    """A disclosure and the concrete path of the claim or array element it reveals."""

    disclosure: str
    path: ClaimPath


def _unpack(
    value: Any, path: ClaimPath, by_digest: Mapping[str, tuple[str, list[Any]]]
) -> tuple[Any, list[_Disclosed]]:
    """The value with every disclosure applied and where each disclosure sits (RFC 9901
    §7.1 step 3), array positions counted in the fully disclosed array."""
    found: list[_Disclosed] = []
    if isinstance(value, dict):
        plain: dict[str, Any] = {}
        for name, member in value.items():
            if name in ("_sd", "_sd_alg"):
                continue
            plain[name], inner = _unpack(member, (*path, name), by_digest)
            found.extend(inner)
        for digest in value.get("_sd", []):
            if digest in by_digest:
                disclosure, decoded = by_digest[digest]
                name, member = decoded[1], decoded[2]
                found.append(_Disclosed(disclosure, (*path, name)))
                plain[name], inner = _unpack(member, (*path, name), by_digest)
                found.extend(inner)
        return plain, found
    if isinstance(value, list):
        elements: list[Any] = []
        for element in value:
            position = (*path, len(elements))
            if isinstance(element, dict) and set(element) == {"..."}:
                if element["..."] not in by_digest:
                    continue
                disclosure, decoded = by_digest[element["..."]]
                found.append(_Disclosed(disclosure, position))
                element = decoded[1]
            unpacked, inner = _unpack(element, position, by_digest)
            elements.append(unpacked)
            found.extend(inner)
        return elements, found
    return value, found


def _split_issued(credential: str) -> tuple[str, list[str]]:
    parts = credential.split("~")
    if len(parts) < 2 or parts[-1] != "":
        raise ValueError("an issued SD-JWT ends with '~' and carries no KB-JWT")
    return parts[0], parts[1:-1]


def _sd_jwt_layout(credential: str) -> tuple[str, dict[str, Any], list[_Disclosed]]:
    issuer_jwt, disclosures = _split_issued(credential)
    _header, payload = decode_jwt(issuer_jwt)
    by_digest = {
        b64url_encode(hashlib.sha256(d.encode("ascii")).digest()): (d, json.loads(b64url_decode(d)))
        for d in disclosures
    }
    plain, found = _unpack(payload, (), by_digest)
    return issuer_jwt, plain, found


def held_sd_jwt_vc(
    credential: str, *, holder_key_index: int = 0, label: str = ""
) -> HeldCredential:
    """An issued SD-JWT VC as the wallet holds it: every claim with its disclosures applied."""
    _issuer_jwt, claims, _found = _sd_jwt_layout(credential)
    return HeldCredential(
        SD_JWT_VC,
        credential,
        claims,
        vct=str(claims.get("vct")),
        holder_key_index=holder_key_index,
        label=label,
        binding=(claims.get("cnf") or {}).get("jwk"),
    )


def _related(a: ClaimPath, b: ClaimPath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def sd_jwt_disclosures_for(credential: str, paths: Collection[ClaimPath]) -> list[str]:
    """The disclosures that show exactly `paths`: those on the way to each and below it."""
    _issuer_jwt, _claims, found = _sd_jwt_layout(credential)
    return [d.disclosure for d in found if any(_related(d.path, p) for p in paths)]


def sd_hash(presentation_without_kb: str) -> str:
    """RFC 9901 §4.3.1: base64url SHA-256 over the ASCII of `<JWT>~<disclosure>~...~`."""
    return b64url_encode(hashlib.sha256(presentation_without_kb.encode("ascii")).digest())


def transaction_data_hash(encoded: str) -> str:
    """OpenID4VP 1.0 Appendix B.3.3: base64url SHA-256 of the base64url string as sent."""
    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


def present_sd_jwt_vc(
    credential: str,
    holder_key: KeyPair,
    *,
    paths: Collection[ClaimPath],
    audience: str,
    nonce: str,
    transaction_data: Sequence[str] = (),
    extra_disclosures: Sequence[str] = (),
    issued_at: int | None = None,
    kb_claims: Mapping[str, Any] | None = None,
    kb_drop: Collection[str] = (),
    kb_header: Mapping[str, Any] | None = None,
    sign_with: KeyPair | None = None,
) -> str:
    """`<issuer JWT>~<disclosures of paths>~...~<KB-JWT>` for one OpenID4VP response.

    `extra_disclosures` adds disclosures by claim name beyond the selection (a claim the
    verifier did not ask for); `kb_claims` / `kb_drop` / `kb_header` / `sign_with` break one
    rule of the KB-JWT.
    """
    issuer_jwt, _claims, found = _sd_jwt_layout(credential)
    chosen = [d.disclosure for d in found if any(_related(d.path, p) for p in paths)]
    for name in extra_disclosures:
        chosen.extend(
            d.disclosure for d in found if d.path[:1] == (name,) and d.disclosure not in chosen
        )
    without_kb = "~".join([issuer_jwt, *chosen]) + "~"
    claims: dict[str, Any] = {
        "iat": issued_at if issued_at is not None else int(time.time()),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": sd_hash(without_kb),
    }
    if transaction_data:
        claims["transaction_data_hashes"] = [transaction_data_hash(t) for t in transaction_data]
        claims["transaction_data_hashes_alg"] = "sha-256"
    header = edit_members({"typ": KB_JWT_TYP}, kb_header, ())
    key = sign_with or holder_key
    return without_kb + sign_jwt(key, header, edit_members(claims, kb_claims, kb_drop))


# -- mdoc ----------------------------------------------------------------------------------


def _embedded(value: Any) -> Any:
    if isinstance(value, cbor2.CBORTag) and value.tag == _EMBEDDED_CBOR:
        return cbor2.loads(value.value)
    return value


def _issuer_signed(credential: str) -> dict[str, Any]:
    decoded = cbor2.loads(b64url_decode(credential))
    if not isinstance(decoded, dict) or "issuerAuth" not in decoded:
        raise ValueError("not a base64url IssuerSigned")
    return decoded


def held_mdoc(credential: str, *, holder_key_index: int = 0, label: str = "") -> HeldCredential:
    """An issued mdoc as the wallet holds it: namespace -> element -> value, and its docType."""
    issuer_signed = _issuer_signed(credential)
    claims: dict[str, dict[str, Any]] = {}
    for namespace, items in issuer_signed.get("nameSpaces", {}).items():
        for tagged in items:
            item = _embedded(tagged)
            claims.setdefault(namespace, {})[item["elementIdentifier"]] = item["elementValue"]
    sign1 = (
        cbor2.loads(issuer_signed["issuerAuth"])
        if isinstance(issuer_signed["issuerAuth"], bytes)
        else issuer_signed["issuerAuth"]
    )
    payload = sign1.value[2] if isinstance(sign1, cbor2.CBORTag) else sign1[2]
    mso = _embedded(cbor2.loads(payload))
    return HeldCredential(
        MSO_MDOC,
        credential,
        claims,
        doctype=str(mso["docType"]),
        holder_key_index=holder_key_index,
        label=label,
        binding=(mso.get("deviceKeyInfo") or {}).get("deviceKey"),
    )


def _handover_transcript(handover_type: str, info: list[Any]) -> bytes:
    info_hash = hashlib.sha256(cbor2.dumps(info)).digest()
    return cbor2.dumps([None, None, [handover_type, info_hash]])


def redirect_session_transcript(
    *, client_id: str, nonce: str, response_uri: str, jwk_thumbprint: bytes | None
) -> bytes:
    """OpenID4VP 1.0 B.2.6.1: `[null, null, OpenID4VPHandover]`, CBOR encoded; the
    thumbprint is that of the verifier's encryption key when the response is encrypted."""
    return _handover_transcript(
        OPENID4VP_HANDOVER, [client_id, nonce, jwk_thumbprint, response_uri]
    )


def dc_api_session_transcript(*, origin: str, nonce: str, jwk_thumbprint: bytes | None) -> bytes:
    """OpenID4VP 1.0 B.2.6.2: `[null, null, OpenID4VPDCAPIHandover]`, CBOR encoded."""
    return _handover_transcript(OPENID4VP_DC_API_HANDOVER, [origin, nonce, jwk_thumbprint])


def _cose_key(holder_key: KeyPair) -> EC2Key:
    if holder_key.curve != "P-256":
        raise ValueError("the test wallet signs mdoc presentations with P-256 keys")
    private = holder_key.private_key.private_numbers().private_value.to_bytes(32, "big")
    x, y = holder_key.cose_key()[-2], holder_key.cose_key()[-3]
    return EC2Key(crv=P256, x=x, y=y, d=private)


def device_authentication_bytes(
    session_transcript: bytes, doc_type: str, device_namespaces: bytes
) -> bytes:
    """18013-5 §9.1.3.4: `#6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript,
    DocType, DeviceNameSpacesBytes])`."""
    authentication = [
        "DeviceAuthentication",
        cbor2.loads(session_transcript),
        doc_type,
        cbor2.CBORTag(_EMBEDDED_CBOR, device_namespaces),
    ]
    return cbor2.dumps(cbor2.CBORTag(_EMBEDDED_CBOR, cbor2.dumps(authentication)))


def present_mdoc(
    credential: str,
    holder_key: KeyPair,
    *,
    paths: Collection[ClaimPath],
    session_transcript: bytes,
    extra_elements: Collection[str] = (),
    sign_with: KeyPair | None = None,
) -> str:
    """Base64url CBOR DeviceResponse showing the elements at `paths` (namespace, element),
    plus any element named in `extra_elements` (one the verifier did not ask for)."""
    issuer_signed = _issuer_signed(credential)
    wanted = {(str(p[0]), str(p[1])) for p in paths if len(p) == 2}
    shown: dict[str, list[Any]] = {}
    for namespace, items in issuer_signed.get("nameSpaces", {}).items():
        for tagged in items:
            identifier = _embedded(tagged)["elementIdentifier"]
            if (namespace, identifier) in wanted or identifier in extra_elements:
                shown.setdefault(namespace, []).append(tagged)
    doc_type = str(held_mdoc(credential).doctype)
    device_namespaces = cbor2.dumps({})
    signed_over = device_authentication_bytes(session_transcript, doc_type, device_namespaces)
    message = Sign1Message(phdr={Algorithm: Es256}, payload=signed_over)
    message.key = _cose_key(sign_with or holder_key)
    signature = cbor2.loads(message.encode(tag=False))
    signature[2] = None  # detached payload (18013-5 §9.1.3.6)
    document: dict[str, Any] = {
        "docType": doc_type,
        "issuerSigned": {"issuerAuth": issuer_signed["issuerAuth"]},
        "deviceSigned": {
            "nameSpaces": cbor2.CBORTag(_EMBEDDED_CBOR, device_namespaces),
            "deviceAuth": {"deviceSignature": signature},
        },
    }
    if shown:
        document["issuerSigned"]["nameSpaces"] = shown
    response = {"version": "1.0", "documents": [document], "status": 0}
    return b64url_encode(cbor2.dumps(response))
