"""Holder-side checks of issued credentials, written from the format specifications.

- SD-JWT VC (draft-ietf-oauth-sd-jwt-vc; OpenID4VCI Appendix A.3.4): the issuer-signed JWT
  (`typ` dc+sd-jwt) verifies with the issuer's key — from its JWKS by `kid`, or the `x5c`
  leaf certified up to a trust anchor; the independent `sd-jwt` package then checks the
  disclosures; every disclosure is referenced (RFC 9901 §7.1); `cnf.jwk` is a holder key.
- mdoc (ISO/IEC 18013-5 §9.1.2; OpenID4VCI Appendix A.2.4): base64url of the CBOR
  IssuerSigned; the COSE_Sign1 IssuerAuth verifies (independent `pycose`) with the
  `x5chain` certificate; every IssuerSignedItem matches its digest in the MSO; the MSO's
  `deviceKey` is a holder key; `docType` and `validityInfo` hold.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS, InvalidJWSSignature
from pycose.keys.curves import P256, P384, P521
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message
from sd_jwt.verifier import SDJWTVerifier

from tests.wallet.encoding import b64url_decode, b64url_encode
from tests.wallet.errors import CredentialRejected
from tests.wallet.jose_tools import decode_jwt
from tests.wallet.keys import KeyPair

SD_JWT_VC_TYP = "dc+sd-jwt"
_JWS_ALGS = ("ES256", "ES384", "ES512")
_COSE_ALGS = {-7: "ES256", -35: "ES384", -36: "ES512"}
_COSE_ALG, _COSE_X5CHAIN = 1, 33
_MDOC_DIGESTS = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}
_PYCOSE_CURVES = {"secp256r1": P256, "secp384r1": P384, "secp521r1": P521}
_MIN_RANDOM = 16  # ISO/IEC 18013-5 §9.1.2.5: at least 16 bytes of random per item


def _reject(code: str, description: str) -> CredentialRejected:
    return CredentialRejected(code, description)


def _holder_key_index(holder_keys: KeyPair | Sequence[KeyPair], matches: Any) -> int:
    keys = [holder_keys] if isinstance(holder_keys, KeyPair) else list(holder_keys)
    for index, key in enumerate(keys):
        if matches(key):
            return index
    raise _reject("binding_mismatch", "the credential is not bound to any of the holder's keys")


# -- X.509 ------------------------------------------------------------------------------


def load_pem_certificates(pem: str | bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (e.g. an issuer's published certificates)."""
    return x509.load_pem_x509_certificates(pem.encode() if isinstance(pem, str) else pem)


def certificates_from_x5c(values: Any) -> list[x509.Certificate]:
    """The certificates of an `x5c` header: standard base64 DER, leaf first (RFC 7515)."""
    if not isinstance(values, list) or not values:
        raise _reject("x5c_invalid", "x5c is not a non-empty array")
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(v, validate=True)) for v in values]
    except (ValueError, TypeError) as exc:
        raise _reject("x5c_invalid", f"x5c does not decode: {exc}") from exc


def validate_chain(
    chain: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> None:
    """Path validation, leaf first: each certificate in its validity period and signed by the
    next; every issuer a CA; the last issued directly by one of `trust_anchors` (or itself an
    anchor). Raises `CredentialRejected("chain_untrusted")`."""
    moment = now or datetime.now(UTC)
    if not chain:
        raise _reject("chain_untrusted", "no certificate")
    anchors = list(trust_anchors)
    for position, certificate in enumerate(chain):
        if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
            raise _reject("chain_untrusted", f"certificate {position} is outside its validity")
        if any(certificate == anchor for anchor in anchors):
            return
        issuers = [chain[position + 1]] if position + 1 < len(chain) else anchors
        for issuer in issuers:
            try:
                certificate.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if not _is_ca(issuer):
                raise _reject("chain_untrusted", "a certificate is issued by a non-CA")
            if position + 1 >= len(chain):
                if not issuer.not_valid_before_utc <= moment <= issuer.not_valid_after_utc:
                    raise _reject("chain_untrusted", "the trust anchor is outside its validity")
                return
            break
        else:
            raise _reject("chain_untrusted", f"certificate {position} has no trusted issuer")
    raise _reject("chain_untrusted", "the chain does not end at a trust anchor")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)


def _public_jwk_of(certificate: x509.Certificate) -> dict[str, Any]:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise _reject("key_unsupported", "the certificate key is not an EC key")
    exported: dict[str, Any] = JWK.from_pyca(key).export_public(as_dict=True)
    return exported


# -- SD-JWT VC --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedSdJwtVc:
    """An SD-JWT VC that passed the holder's checks."""

    header: Mapping[str, Any]
    # The issuer-signed payload as signed (with `_sd` digests).
    signed_payload: Mapping[str, Any]
    # The payload with every disclosure applied, as the `sd-jwt` package rebuilds it.
    claims: Mapping[str, Any]
    disclosures: tuple[str, ...]
    holder_key_index: int
    # True when the issuer key came from an x5c chain to a trust anchor, False for a JWKS.
    by_certificate: bool


def _sd_jwt_issuer_key(
    header: Mapping[str, Any],
    issuer_jwt: str,
    issuer_jwks: Mapping[str, Any] | None,
    trust_anchors: Sequence[x509.Certificate],
) -> tuple[dict[str, Any], bool]:
    if trust_anchors and "x5c" in header:
        chain = certificates_from_x5c(header["x5c"])
        validate_chain(chain, trust_anchors)
        return _public_jwk_of(chain[0]), True
    if issuer_jwks is None:
        raise _reject("issuer_key_unknown", "no JWKS and no x5c to a trust anchor")
    keys = [k for k in issuer_jwks.get("keys", []) if isinstance(k, dict)]
    if "kid" in header:
        keys = [k for k in keys if k.get("kid") == header["kid"]]
    for candidate in keys:
        jws = JWS()
        jws.deserialize(issuer_jwt)
        try:
            jws.verify(JWK(**candidate), alg=header.get("alg"))
        except InvalidJWSSignature:
            continue
        return candidate, False
    raise _reject("signature_invalid", "no issuer key verifies the issuer-signed JWT")


def _disclosure_digest(disclosure: str) -> str:
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def _referenced_digests(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        found.extend(d for d in value.get("_sd", []) if isinstance(d, str))
        for name, member in value.items():
            if name != "_sd":
                _referenced_digests(member, found)
    elif isinstance(value, list):
        for element in value:
            if isinstance(element, dict) and set(element) == {"..."}:
                found.append(str(element["..."]))
            else:
                _referenced_digests(element, found)


def _check_disclosures(payload: Mapping[str, Any], disclosures: Sequence[str]) -> None:
    """Every disclosure is referenced exactly once, from the payload or another disclosure
    (RFC 9901 §7.1 steps 3-5); `_sd_alg` is sha-256 when present."""
    if payload.get("_sd_alg", "sha-256") != "sha-256":
        raise _reject("sd_alg_unsupported", f"_sd_alg {payload.get('_sd_alg')!r}")
    found: list[str] = []
    _referenced_digests(dict(payload), found)
    for disclosure in disclosures:
        try:
            decoded = json.loads(b64url_decode(disclosure))
        except ValueError as exc:
            raise _reject("disclosure_invalid", f"a disclosure does not decode: {exc}") from exc
        if not isinstance(decoded, list) or len(decoded) not in (2, 3):
            raise _reject("disclosure_invalid", "a disclosure is not a 2- or 3-element array")
        _referenced_digests(decoded[-1], found)
    if len(found) != len(set(found)):
        raise _reject("disclosure_duplicate", "a digest is referenced twice")
    digests = [_disclosure_digest(d) for d in disclosures]
    if len(set(digests)) != len(digests):
        raise _reject("disclosure_duplicate", "a disclosure is sent twice")
    missing = set(digests) - set(found)
    if missing:
        raise _reject("disclosure_unreferenced", f"{len(missing)} disclosure(s) not referenced")


def verify_sd_jwt_vc(
    credential: str,
    *,
    holder_keys: KeyPair | Sequence[KeyPair],
    issuer_jwks: Mapping[str, Any] | None = None,
    trust_anchors: Sequence[x509.Certificate] = (),
    expected_issuer: str | None = None,
    expected_vct: str | None = None,
    now: int | None = None,
    leeway: int = 60,
) -> VerifiedSdJwtVc:
    """Checks an issued SD-JWT VC as a holder would before storing it.

    An issued credential is `<issuer JWT>~<disclosure>~...~` without a KB-JWT (RFC 9901
    §4). The key is the `x5c` leaf when `trust_anchors` are given and the header has `x5c`,
    otherwise the `issuer_jwks` key with the header's `kid` (or any key when none).
    """
    parts = credential.split("~")
    if len(parts) < 2 or parts[-1] != "":
        raise _reject("format_invalid", "an issued SD-JWT VC ends with '~' and has no KB-JWT")
    issuer_jwt, disclosures = parts[0], tuple(parts[1:-1])
    try:
        header, payload = decode_jwt(issuer_jwt)
    except ValueError as exc:
        raise _reject("format_invalid", f"the issuer-signed JWT does not decode: {exc}") from exc
    if header.get("typ") != SD_JWT_VC_TYP:
        raise _reject("typ_invalid", f"typ {header.get('typ')!r}, not {SD_JWT_VC_TYP}")
    if header.get("alg") not in _JWS_ALGS:
        raise _reject("alg_unsupported", f"alg {header.get('alg')!r}")
    key, by_certificate = _sd_jwt_issuer_key(header, issuer_jwt, issuer_jwks, trust_anchors)

    def issuer_key(_issuer: str, _header: dict[str, Any]) -> Any:
        return JWK(**key)

    try:
        claims = SDJWTVerifier(credential, issuer_key).get_verified_payload()
    except Exception as exc:  # the package raises ValueError, KeyError, jwcrypto errors
        raise _reject("sd_jwt_invalid", f"sd-jwt refuses it: {exc}") from exc
    _check_disclosures(payload, disclosures)
    if not isinstance(claims.get("iss"), str):
        raise _reject("claim_missing", "no iss")
    if expected_issuer is not None and claims["iss"] != expected_issuer:
        raise _reject("issuer_mismatch", f"iss {claims['iss']!r}, not {expected_issuer!r}")
    if not isinstance(claims.get("vct"), str):
        raise _reject("claim_missing", "no vct")
    if expected_vct is not None and claims["vct"] != expected_vct:
        raise _reject("vct_mismatch", f"vct {claims['vct']!r}, not {expected_vct!r}")
    moment = now if now is not None else int(time.time())
    for name in ("iat", "nbf"):
        if name in claims and claims[name] > moment + leeway:
            raise _reject("time_invalid", f"{name} is in the future")
    if "exp" in claims and claims["exp"] <= moment - leeway:
        raise _reject("time_invalid", "the credential has expired")
    status = claims.get("status")
    if status is not None:
        reference = status.get("status_list") if isinstance(status, dict) else None
        if not (
            isinstance(reference, dict)
            and isinstance(reference.get("idx"), int)
            and isinstance(reference.get("uri"), str)
        ):
            raise _reject("status_invalid", "status is not a status_list {idx, uri} reference")
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise _reject("binding_missing", "no cnf.jwk")
    index = _holder_key_index(holder_keys, lambda k: k.matches_jwk(jwk))
    return VerifiedSdJwtVc(header, payload, claims, disclosures, index, by_certificate)


# -- mdoc -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedMdoc:
    """An mdoc (IssuerSigned) that passed the holder's checks."""

    doc_type: str
    # namespace -> element identifier -> value
    claims: Mapping[str, Mapping[str, Any]]
    mso: Mapping[str, Any]
    certificate_chain: tuple[x509.Certificate, ...]
    holder_key_index: int
    # True when the x5chain was validated up to a trust anchor.
    trusted: bool


def _decode_b64url_lenient(text: str) -> bytes:
    # base64url, usually unpadded; a padded value is tolerated, the standard alphabet is not.
    try:
        return b64url_decode(text.rstrip("="))
    except ValueError as exc:
        raise _reject("format_invalid", "the mdoc is not base64url") from exc


def _cbor(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise _reject("cbor_invalid", f"{what} is not CBOR: {exc}") from exc


def _embedded(value: Any, what: str) -> Any:
    """The item inside an `#6.24(bstr .cbor ...)` embedded CBOR data item (RFC 8949 §3.4.5.1)."""
    if (
        not isinstance(value, cbor2.CBORTag)
        or value.tag != 24
        or not isinstance(value.value, bytes)
    ):
        raise _reject("cbor_invalid", f"{what} is not tag-24 embedded CBOR")
    return _cbor(value.value, what)


def _plain(value: Any) -> Any:
    """cbor2 decodes containers inside tags as frozendict / tuple; pycose wants dict / list."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _cose_key_of(certificate: x509.Certificate) -> EC2Key:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _PYCOSE_CURVES:
        raise _reject("key_unsupported", "the document signer key is not a NIST EC key")
    size = (key.curve.key_size + 7) // 8
    numbers = key.public_numbers()
    return EC2Key(
        crv=_PYCOSE_CURVES[key.curve.name],
        x=numbers.x.to_bytes(size, "big"),
        y=numbers.y.to_bytes(size, "big"),
    )


def _as_datetime(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise _reject("mso_invalid", f"validityInfo.{what} is not a tdate")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def verify_mdoc(
    credential: str,
    *,
    holder_keys: KeyPair | Sequence[KeyPair],
    trust_anchors: Sequence[x509.Certificate] = (),
    expected_doctype: str | None = None,
    now: datetime | None = None,
    leeway: timedelta = timedelta(minutes=1),
) -> VerifiedMdoc:
    """Checks an issued mdoc credential (base64url CBOR IssuerSigned) as a holder would.

    Without `trust_anchors` the signature is checked against the x5chain leaf only and the
    result says `trusted=False`.
    """
    issuer_signed = _cbor(_decode_b64url_lenient(credential), "IssuerSigned")
    if not isinstance(issuer_signed, Mapping) or "issuerAuth" not in issuer_signed:
        raise _reject("format_invalid", "IssuerSigned is not a map with issuerAuth")
    issuer_auth = issuer_signed["issuerAuth"]
    if isinstance(issuer_auth, cbor2.CBORTag) and issuer_auth.tag == 18:
        issuer_auth = issuer_auth.value
    if not isinstance(issuer_auth, list | tuple) or len(issuer_auth) != 4:
        raise _reject("cose_invalid", "issuerAuth is not a COSE_Sign1 array")
    protected_bytes, unprotected, payload, signature = issuer_auth
    if not isinstance(protected_bytes, bytes) or not isinstance(payload, bytes):
        raise _reject("cose_invalid", "issuerAuth's protected header or payload is not a bstr")
    protected = _cbor(protected_bytes, "protected header") if protected_bytes else {}
    alg = protected.get(_COSE_ALG) if isinstance(protected, Mapping) else None
    if alg not in _COSE_ALGS:
        raise _reject("alg_unsupported", f"IssuerAuth alg {alg!r}")
    headers = {**_plain(unprotected or {}), **_plain(protected)}
    x5chain = headers.get(_COSE_X5CHAIN)
    ders = [x5chain] if isinstance(x5chain, bytes) else x5chain
    if not isinstance(ders, list) or not ders or not all(isinstance(d, bytes) for d in ders):
        raise _reject("x5chain_missing", "IssuerAuth carries no x5chain")
    try:
        chain = tuple(x509.load_der_x509_certificate(der) for der in ders)
    except ValueError as exc:
        raise _reject("x5chain_missing", f"x5chain does not decode: {exc}") from exc
    moment = now or datetime.now(UTC)
    if trust_anchors:
        validate_chain(chain, trust_anchors, now=moment)
    message = Sign1Message.from_cose_obj(
        [protected_bytes, _plain(unprotected or {}), payload, signature], True
    )
    message.key = _cose_key_of(chain[0])
    if not message.verify_signature():
        raise _reject("signature_invalid", "IssuerAuth does not verify with the x5chain leaf")
    mso = _embedded(_cbor(payload, "MobileSecurityObjectBytes"), "the MSO")
    if not isinstance(mso, Mapping):
        raise _reject("mso_invalid", "the MSO is not a map")
    claims = _check_mso(mso, issuer_signed.get("nameSpaces", {}), expected_doctype)
    validity = mso.get("validityInfo")
    if not isinstance(validity, Mapping):
        raise _reject("mso_invalid", "no validityInfo")
    signed = _as_datetime(validity.get("signed"), "signed")
    valid_from = _as_datetime(validity.get("validFrom"), "validFrom")
    valid_until = _as_datetime(validity.get("validUntil"), "validUntil")
    if not valid_from <= moment + leeway or not moment - leeway <= valid_until:
        raise _reject("time_invalid", "the mdoc is outside validFrom..validUntil")
    if signed > moment + leeway or not valid_from >= signed - leeway:
        raise _reject("time_invalid", "signed is in the future or after validFrom")
    leaf = chain[0]
    if not leaf.not_valid_before_utc - leeway <= signed <= leaf.not_valid_after_utc + leeway:
        raise _reject("time_invalid", "signed lies outside the document signer's validity")
    device_key = mso.get("deviceKeyInfo", {}).get("deviceKey")
    if not isinstance(device_key, Mapping):
        raise _reject("binding_missing", "no deviceKeyInfo.deviceKey")
    index = _holder_key_index(holder_keys, lambda k: k.matches_cose_key(device_key))
    return VerifiedMdoc(str(mso["docType"]), claims, mso, chain, index, trusted=bool(trust_anchors))


def _check_mso(
    mso: Mapping[str, Any], name_spaces: Any, expected_doctype: str | None
) -> dict[str, dict[str, Any]]:
    """Version, digest algorithm, docType, and every IssuerSignedItemBytes against its
    digest in `valueDigests` (18013-5 §9.1.2.5: the digest covers the tag-24 encoding)."""
    if mso.get("version") != "1.0":
        raise _reject("mso_invalid", f"MSO version {mso.get('version')!r}")
    digest = _MDOC_DIGESTS.get(str(mso.get("digestAlgorithm")))
    if digest is None:
        raise _reject("mso_invalid", f"digestAlgorithm {mso.get('digestAlgorithm')!r}")
    doc_type = mso.get("docType")
    if not isinstance(doc_type, str):
        raise _reject("mso_invalid", "no docType")
    if expected_doctype is not None and doc_type != expected_doctype:
        raise _reject("doctype_mismatch", f"docType {doc_type!r}, not {expected_doctype!r}")
    value_digests = mso.get("valueDigests")
    if not isinstance(value_digests, Mapping) or not isinstance(name_spaces, Mapping):
        raise _reject("mso_invalid", "valueDigests or nameSpaces is not a map")
    claims: dict[str, dict[str, Any]] = {}
    for namespace, items in name_spaces.items():
        digests = value_digests.get(namespace)
        if not isinstance(digests, Mapping) or not isinstance(items, list | tuple):
            raise _reject("digest_mismatch", f"namespace {namespace!r} has no digests")
        seen: set[int] = set()
        for tagged in items:
            item = _embedded(tagged, "an IssuerSignedItem")
            if not isinstance(item, Mapping):
                raise _reject("item_invalid", "an IssuerSignedItem is not a map")
            digest_id = item.get("digestID")
            random = item.get("random")
            identifier = item.get("elementIdentifier")
            if not isinstance(digest_id, int) or digest_id in seen:
                raise _reject("item_invalid", f"digestID {digest_id!r} missing or repeated")
            seen.add(digest_id)
            if not isinstance(random, bytes) or len(random) < _MIN_RANDOM:
                raise _reject("item_invalid", f"{identifier!r}: random shorter than 16 bytes")
            if not isinstance(identifier, str) or "elementValue" not in item:
                raise _reject("item_invalid", "an item lacks elementIdentifier or elementValue")
            if digests.get(digest_id) != digest(cbor2.dumps(tagged)).digest():
                raise _reject("digest_mismatch", f"{namespace}/{identifier} does not match")
            claims.setdefault(str(namespace), {})[identifier] = item["elementValue"]
    return claims
