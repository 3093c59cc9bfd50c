"""Token Status List (draft-ietf-oauth-status-list-17): the list, its JSON form and its JWT.

A list is a packed byte array: entry ``i`` occupies ``bits`` bits starting at bit
``(i % (8 // bits)) * bits`` of byte ``i // (8 // bits)``, least significant bits first
(section 4.1). The JSON form is ``{"bits", "lst"}`` where ``lst`` is the base64url of the
ZLIB-wrapped DEFLATE stream of that array (sections 4.1 and 4.2); the Status List Token
is a JWT with ``typ: statuslist+jwt`` carrying it in ``status_list`` (section 5.1).

Decoding treats every input as hostile: decompression is capped, so a small ``lst`` that
inflates to gigabytes (a zlib bomb) is refused without being expanded.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.jose import (
    ALLOWED_ALGORITHMS,
    MalformedJwsError,
    encode_x5c,
    es256_verify,
    sign_jws,
    split_jws,
)
from eudi_connect.core.signer import Signer

STATUS_LIST_JWT_TYP = "statuslist+jwt"
ALLOWED_BITS = frozenset({1, 2, 4, 8})
DEFAULT_MAX_BYTES = 1 << 20
# Section 4.1 recommends the highest compression level. Level 9 with zlib's default
# strategy spends ~35 ms on a 2^17-entry list with 5,000 revocations; the run-length
# strategy, also at level 9, takes ~0.25 ms and its output is within a few per cent
# (sometimes smaller), because a status list is long runs of VALID bytes.
_ZLIB_LEVEL = 9
_ZLIB_MEM_LEVEL = 9
_ZLIB_STRATEGY = zlib.Z_RLE


class TokenStatus(enum.IntEnum):
    """Status Type values of section 7.1; the list's own numbers, not protobuf enum values."""

    VALID = 0
    INVALID = 1
    SUSPENDED = 2


class StatusListProblem(enum.StrEnum):
    """Why a status list or its token was refused.

    Not ErrorInfo reasons: the caller turns each into a VerificationFailure (a foreign
    credential's status) or into a reason of its own, so it branches on the problem rather
    than on the message.
    """

    MALFORMED = "STATUS_LIST_MALFORMED"
    TOO_LARGE = "STATUS_LIST_TOO_LARGE"
    WRONG_TYP = "STATUS_LIST_WRONG_TYP"
    UNSUPPORTED_ALG = "STATUS_LIST_UNSUPPORTED_ALG"
    BAD_SIGNATURE = "STATUS_LIST_BAD_SIGNATURE"
    UNSIGNED = "STATUS_LIST_UNSIGNED"
    EXPIRED = "STATUS_LIST_EXPIRED"
    NOT_YET_VALID = "STATUS_LIST_NOT_YET_VALID"
    WRONG_SUBJECT = "STATUS_LIST_WRONG_SUBJECT"


class StatusListError(ValueError):
    """A status list or Status List Token that cannot be trusted or decoded."""

    def __init__(
        self, message: str, *, reason: StatusListProblem = StatusListProblem.MALFORMED
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
        raise ValueError(f"bits must be 1, 2, 4 or 8, got {bits!r}")
    return bits


def _byte_length(size: int, bits: int) -> int:
    return (size * bits + 7) // 8


class StatusList:
    """A mutable list of ``size`` statuses of ``bits`` bits each, packed as section 4.1 says.

    Backed by one ``bytearray``: a 2^20-entry list is 256 KiB, not a million Python ints.
    """

    __slots__ = ("_data", "_mask", "_per_byte_log2", "bits", "size")

    def __init__(
        self, size: int, bits: int = 2, data: bytes | bytearray | memoryview | None = None
    ) -> None:
        self.bits = _check_bits(bits)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.size = size
        self._mask = (1 << bits) - 1
        # 8 // bits entries per byte is 8, 4, 2 or 1: index >> log2 finds the byte.
        self._per_byte_log2 = {1: 3, 2: 2, 4: 1, 8: 0}[bits]
        length = _byte_length(size, bits)
        if data is None:
            self._data = bytearray(length)
        else:
            if len(data) != length:
                raise ValueError(
                    f"{size} entries of {bits} bits need {length} bytes, got {len(data)}"
                )
            self._data = bytearray(data)

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for a list of {self.size}")
        log2 = self._per_byte_log2
        return index >> log2, (index & ((1 << log2) - 1)) * self.bits

    def get(self, index: int) -> int:
        byte, shift = self._locate(index)
        return (self._data[byte] >> shift) & self._mask

    def set(self, index: int, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= self._mask:
            raise ValueError(f"status {value!r} does not fit in {self.bits} bits")
        byte, shift = self._locate(index)
        data = self._data
        data[byte] = (data[byte] & ~(self._mask << shift) & 0xFF) | (value << shift)

    def to_bytes(self) -> bytes:
        """The uncompressed byte array of section 4.1 (index 0 in the low bits of byte 0)."""
        return bytes(self._data)

    def to_json(self) -> dict[str, Any]:
        """The StatusList JSON object of section 4.2."""
        return {"bits": self.bits, "lst": b64url_encode(_deflate(self._data))}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES) -> StatusList:
        """Decodes section 4.2 JSON; the list size is what the byte array can address.

        At most ``max_bytes`` of output are ever produced: a larger list, however well it
        compresses, is refused with ``STATUS_LIST_TOO_LARGE``.
        """
        if not isinstance(obj, Mapping):
            raise StatusListError("status_list must be a JSON object")
        bits = obj.get("bits")
        if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
            raise StatusListError("status_list bits must be 1, 2, 4 or 8")
        lst = obj.get("lst")
        if not isinstance(lst, str):
            raise StatusListError("status_list lst must be a base64url string")
        try:
            compressed = b64url_decode(lst)
        except ValueError as exc:
            raise StatusListError("status_list lst is not base64url") from exc
        data = _inflate_capped(compressed, max_bytes)
        if not data:
            raise StatusListError("status_list lst holds an empty byte array")
        return cls(len(data) * 8 // bits, bits, data)

    @classmethod
    def from_entries(
        cls, size: int, entries: Iterable[tuple[int, int]], bits: int = 2
    ) -> StatusList:
        """Builds a list from sparse ``(index, status)`` pairs; unlisted entries are VALID.

        One tight loop over the pairs and nothing per unlisted entry, so a store can rebuild
        a 2^17-entry list with thousands of revocations in about a millisecond. A repeated
        index takes the last status given.
        """
        status_list = cls(size, bits)
        data = status_list._data
        mask = status_list._mask
        log2 = status_list._per_byte_log2
        low = (1 << log2) - 1
        for index, value in entries:
            if not 0 <= index < size:
                raise IndexError(f"index {index} out of range for a list of {size}")
            if not 0 <= value <= mask:
                raise ValueError(f"status {value!r} does not fit in {bits} bits")
            shift = (index & low) * bits
            byte = index >> log2
            data[byte] = (data[byte] & ~(mask << shift) & 0xFF) | (value << shift)
        return status_list

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusList):
            return NotImplemented
        return (self.size, self.bits, self._data) == (other.size, other.bits, other._data)

    def __repr__(self) -> str:
        return f"StatusList(size={self.size}, bits={self.bits})"


def _deflate(data: bytes | bytearray) -> bytes:
    """DEFLATE in the ZLIB format (RFC 1951 inside RFC 1950), as section 4.1 requires."""
    deflater = zlib.compressobj(
        _ZLIB_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS, _ZLIB_MEM_LEVEL, _ZLIB_STRATEGY
    )
    return deflater.compress(data) + deflater.flush()


def _inflate_capped(compressed: bytes, max_bytes: int) -> bytes:
    """ZLIB-format inflate (RFC 1950 around RFC 1951) that stops after ``max_bytes + 1``."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise StatusListError("status_list lst is not ZLIB-compressed data") from exc
    if len(data) > max_bytes:
        raise StatusListError(
            f"status list expands beyond {max_bytes} bytes", reason=StatusListProblem.TOO_LARGE
        )
    if not inflater.eof:
        raise StatusListError("status_list lst is a truncated ZLIB stream")
    if inflater.unused_data:
        raise StatusListError("status_list lst has data after the ZLIB stream")
    return data


def build_status_list_token(
    status_list: StatusList,
    *,
    uri: str,
    issued_at: int,
    expires_at: int,
    ttl: int,
    signing_key: Signer,
    x5c: Sequence[bytes] | None = None,
) -> str:
    """Signs a Status List Token in JWT format (section 5.1); ``sub`` is the list's URI.

    ``x5c`` (DER, signer first, the anchor left out) lets HAIP-profile verifiers check the
    token under the same X.509 trust as the credentials it serves.
    """
    if ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds (section 5.1)")
    if expires_at <= issued_at:
        raise ValueError("expires_at must be after issued_at")
    header: dict[str, Any] = {"typ": STATUS_LIST_JWT_TYP, "kid": signing_key.kid}
    if x5c:
        header["x5c"] = encode_x5c(x5c)
    payload = {
        "sub": uri,
        "iat": issued_at,
        "exp": expires_at,
        "ttl": ttl,
        "status_list": status_list.to_json(),
    }
    return sign_jws(header, payload, signing_key)


@dataclass(frozen=True)
class StatusListToken:
    """A verified Status List Token, decoded."""

    status_list: StatusList
    sub: str
    iat: int
    exp: int | None
    ttl: int | None
    kid: str | None


def _int_claim(claims: Mapping[str, Any], name: str) -> int | None:
    """An optional NumericDate or count claim: a JSON integer (booleans are not numbers)."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise StatusListError(f"status list token {name} must be an integer")
    return value


def _typ_matches(typ: object) -> bool:
    # RFC 7515 section 4.1.9: "application/" may be omitted and media types are
    # case-insensitive, so both spellings name the same type.
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ in (STATUS_LIST_JWT_TYP, "application/" + STATUS_LIST_JWT_TYP)


#: Finds the keys that may have signed a token from its (unverified) JOSE header; raises
#: StatusListError when the header names no trusted key.
KeyResolver = Callable[[Mapping[str, Any]], Sequence[EllipticCurvePublicKey]]


def decode_status_list_token(
    token: str,
    *,
    public_key: EllipticCurvePublicKey | KeyResolver,
    now: int | None = None,
    expected_uri: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    leeway: int = 0,
) -> StatusListToken:
    """Verifies and decodes a Status List Token (sections 5.1 and 8.3, steps 3 to 5).

    Checks, in order: JWS shape, ``typ``, ``alg`` against the allow-list, the signature
    (under ``public_key``, or any key the resolver finds for the header), the required
    claims, ``exp``/``nbf`` when ``now`` is given (``leeway`` seconds of clock skew),
    ``sub`` against ``expected_uri``, and only then inflates the list, so nothing
    unauthenticated is ever decompressed. A bare JSON list or an empty signature is
    ``STATUS_LIST_UNSIGNED``: section 8.3 accepts signed tokens only.
    """
    if isinstance(token, str) and token.lstrip().startswith("{"):
        raise StatusListError(
            "a bare JSON status list is not signed", reason=StatusListProblem.UNSIGNED
        )
    try:
        parts = split_jws(token)
    except MalformedJwsError as exc:
        raise StatusListError("status list token is not a compact JWS") from exc
    header, claims = parts.header, parts.payload
    if not _typ_matches(header.get("typ")):
        raise StatusListError(
            f"status list token typ must be {STATUS_LIST_JWT_TYP!r}",
            reason=StatusListProblem.WRONG_TYP,
        )
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise StatusListError(
            "status list token alg is not allowed", reason=StatusListProblem.UNSUPPORTED_ALG
        )
    if "crit" in header:
        # RFC 7515 section 4.1.11: extensions we do not understand make the JWS invalid.
        raise StatusListError("status list token has unsupported critical header parameters")
    if not parts.signature:
        raise StatusListError(
            "status list token has no signature", reason=StatusListProblem.UNSIGNED
        )
    keys = public_key(header) if callable(public_key) else (public_key,)
    if not any(es256_verify(key, parts.signing_input, parts.signature) for key in keys):
        raise StatusListError(
            "status list token signature does not verify", reason=StatusListProblem.BAD_SIGNATURE
        )

    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise StatusListError("status list token sub must be the list's URI")
    iat = _int_claim(claims, "iat")
    if iat is None:
        raise StatusListError("status list token has no iat claim")
    exp = _int_claim(claims, "exp")
    nbf = _int_claim(claims, "nbf")
    ttl = _int_claim(claims, "ttl")
    if ttl is not None and ttl <= 0:
        raise StatusListError("status list token ttl must be a positive integer")
    if now is not None:
        # RFC 7519 section 4.1.4: the current time MUST be before exp.
        if exp is not None and now >= exp + leeway:
            raise StatusListError("status list token has expired", reason=StatusListProblem.EXPIRED)
        if nbf is not None and now < nbf - leeway:
            raise StatusListError(
                "status list token is not valid yet", reason=StatusListProblem.NOT_YET_VALID
            )
    if expected_uri is not None and sub != expected_uri:
        raise StatusListError(
            "status list token sub does not match the referenced URI",
            reason=StatusListProblem.WRONG_SUBJECT,
        )
    if "status_list" not in claims:
        raise StatusListError("status list token has no status_list claim")
    status_list = StatusList.from_json(claims["status_list"], max_bytes=max_bytes)
    kid = header.get("kid")
    return StatusListToken(
        status_list=status_list,
        sub=sub,
        iat=iat,
        exp=exp,
        ttl=ttl,
        kid=kid if isinstance(kid, str) else None,
    )
