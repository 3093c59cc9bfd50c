"""COSE_Sign1 with ES256 only (RFC 9052 section 4.2, RFC 9053 section 2.1, RFC 9360 x5chain).

Written on `cryptography` directly, like the JOSE module: one algorithm, checked in the
protected header before any signature work, keeps the attack surface small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.jose import es256_sign, es256_verify
from eudi_connect.core.signer import Signer
from eudi_connect.core.verdicts import VerificationFailureReason as Reason

from . import _cbor
from .errors import MdocVerificationError

#: Header labels (RFC 9052 section 3.1, RFC 9360 section 2) and the ES256 algorithm id.
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_X5CHAIN = 33
ALG_ES256 = -7
#: `{1: -7}`: the only protected header we write, and the only algorithm we accept.
ES256_PROTECTED_HEADER = _cbor.encode({HEADER_ALG: ALG_ES256})
_SIGNATURE1_CONTEXT = "Signature1"
_HEADER_MAX_DEPTH = 4


@dataclass(frozen=True)
class CoseSign1:
    """A COSE_Sign1 whose shape is checked; its signature is not (see `verify_es256`)."""

    protected: bytes  # the serialized protected header exactly as signed
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    x5chain: tuple[bytes, ...]  # DER certificates, the signer's first


def _signature_input(protected: bytes, payload: bytes) -> bytes:
    """Sig_structure (RFC 9052 section 4.4) with empty external AAD, as 18013-5 uses it."""
    return cbor2.dumps([_SIGNATURE1_CONTEXT, protected, b"", payload])


def sign_es256(
    payload: bytes, private_key: ec.EllipticCurvePrivateKey | Signer, x5chain: Sequence[bytes]
) -> list[Any]:
    """The untagged COSE_Sign1 array 18013-5 puts in issuerAuth.

    One certificate goes in as a bstr, several as an array (RFC 9360 section 2).
    """
    if not x5chain or not all(isinstance(der, bytes) for der in x5chain):
        raise ValueError("x5chain needs at least one DER certificate")
    chain: bytes | list[bytes] = x5chain[0] if len(x5chain) == 1 else list(x5chain)
    signature = es256_sign(private_key, _signature_input(ES256_PROTECTED_HEADER, payload))
    return [ES256_PROTECTED_HEADER, {HEADER_X5CHAIN: chain}, payload, signature]


def _fail(reason: Reason, detail: str) -> MdocVerificationError:
    return MdocVerificationError(reason, detail)


def _x5chain(protected: dict[Any, Any], unprotected: dict[Any, Any]) -> tuple[bytes, ...]:
    """18013-5 puts x5chain in the unprotected header; RFC 9360 allows the protected one."""
    value = unprotected.get(HEADER_X5CHAIN, protected.get(HEADER_X5CHAIN))
    if isinstance(value, bytes):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(der, bytes) for der in value):
        return tuple(value)
    raise _fail(Reason.MALFORMED, "issuerAuth has no x5chain of DER certificates")


def _unwrapped(value: Any, what: str) -> list[Any]:
    """The four-element array, with or without the COSE_Sign1 tag around it."""
    if isinstance(value, cbor2.CBORTag):
        if value.tag != _cbor.TAG_COSE_SIGN1:
            raise _fail(Reason.MALFORMED, f"{what} carries a tag other than COSE_Sign1")
        value = value.value
    if not isinstance(value, list) or len(value) != 4:
        raise _fail(Reason.MALFORMED, f"{what} is not a four-element COSE_Sign1 array")
    protected, unprotected, _, signature = value
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
        raise _fail(Reason.MALFORMED, f"{what}: COSE_Sign1 headers have the wrong types")
    if not isinstance(signature, bytes):
        raise _fail(Reason.MALFORMED, f"{what}: COSE_Sign1 signature is not a byte string")
    return value


def _es256_header(protected: bytes, unprotected: dict[Any, Any], what: str) -> dict[Any, Any]:
    """The decoded protected header, which must ask for ES256 and nothing critical."""
    try:
        header = _cbor.decode(protected, max_depth=_HEADER_MAX_DEPTH) if protected else {}
    except _cbor.MalformedCborError as exc:
        raise _fail(Reason.MALFORMED, f"{what} protected header: {exc}") from exc
    if not isinstance(header, dict):
        raise _fail(Reason.MALFORMED, f"{what} protected header is not a map")
    alg = header.get(HEADER_ALG)
    if type(alg) is not int or alg != ALG_ES256:
        raise _fail(Reason.ALGORITHM_NOT_ALLOWED, f"{what} protected header alg must be ES256 (-7)")
    if HEADER_CRIT in header:
        raise _fail(Reason.MALFORMED, f"{what} protected header lists critical headers")
    if HEADER_ALG in unprotected:
        raise _fail(Reason.MALFORMED, f"{what}: alg must not appear in the unprotected header too")
    return header


def parse_sign1(value: Any) -> CoseSign1:
    """Checks the COSE_Sign1 shape and that the protected header asks for ES256."""
    protected, unprotected, payload, signature = _unwrapped(value, "issuerAuth")
    if not isinstance(payload, bytes):
        raise _fail(Reason.MALFORMED, "issuerAuth: COSE_Sign1 payload is not a byte string")
    header = _es256_header(protected, unprotected, "issuerAuth")
    return CoseSign1(protected, unprotected, payload, signature, _x5chain(header, unprotected))


@dataclass(frozen=True)
class DetachedSign1:
    """A COSE_Sign1 whose payload travels elsewhere (18013-5 deviceSignature)."""

    protected: bytes
    signature: bytes


def sign_es256_detached(payload: bytes, private_key: ec.EllipticCurvePrivateKey) -> list[Any]:
    """The untagged COSE_Sign1 array with a nil payload: the verifier rebuilds the payload."""
    signature = es256_sign(private_key, _signature_input(ES256_PROTECTED_HEADER, payload))
    return [ES256_PROTECTED_HEADER, {}, None, signature]


def parse_detached_sign1(value: Any, what: str) -> DetachedSign1:
    """Checks shape, ES256 and that the payload is nil, as a detached signature has it."""
    protected, unprotected, payload, signature = _unwrapped(value, what)
    if payload is not None:
        raise _fail(Reason.MALFORMED, f"{what}: payload must be detached (nil)")
    _es256_header(protected, unprotected, what)
    return DetachedSign1(protected, signature)


def verify_es256_detached(
    sign1: DetachedSign1, payload: bytes, public_key: ec.EllipticCurvePublicKey
) -> bool:
    return es256_verify(public_key, _signature_input(sign1.protected, payload), sign1.signature)


def verify_es256(sign1: CoseSign1, public_key: ec.EllipticCurvePublicKey) -> bool:
    return es256_verify(
        public_key, _signature_input(sign1.protected, sign1.payload), sign1.signature
    )
