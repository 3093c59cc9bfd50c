"""Verification of SD-JWT VC presentations (RFC 9901 sections 7.1 and 7.3).

Every refusal is an SdJwtVerificationError carrying a machine-readable reason; bad input
never escapes as KeyError, TypeError or ValueError.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.jose import (
    InvalidJwkError,
    MalformedJwsError,
    es256_verify,
    public_key_from_jwk,
    split_jws,
)

from ._common import (
    ARRAY_DIGEST_KEY,
    KB_JWT_TYP,
    RESERVED_NESTED_NAMES,
    SD_ALG,
    SD_ALG_KEY,
    SD_KEY,
    Check,
    SdJwtVerificationError,
    StatusReference,
)
from ._common import VerificationFailureReason as Reason
from ._disclosures import decode_contents, disclosure_digest, sd_hash
from ._parse import ParsedPresentation, check_jws_header

#: Nesting bound for the processed payload. Disclosures can nest inside one another, so
#: without a bound a long chain of them would exhaust the interpreter's stack.
MAX_PROCESSING_DEPTH = 64

#: Top-level claims that must stay in the clear (draft-ietf-oauth-sd-jwt-vc section 3.2.2.2,
#: RFC 9901 section 4.2.1): a disclosed `exp` or `cnf` would let a holder pick its own.
_NEVER_DISCLOSED_TOP_LEVEL = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", SD_KEY, SD_ALG_KEY, "..."}
)


@dataclass(frozen=True)
class VerifiedCredential:
    """The processed payload of a presentation that passed every check."""

    claims: dict[str, Any]
    issuer: str
    vct: str
    kid: str | None
    issued_at: int | None
    expires_at: int | None
    status: StatusReference | None
    holder_jwk: dict[str, Any] | None
    key_binding_verified: bool
    disclosed: tuple[str, ...]  # paths of the claims revealed by disclosures


def _fail(reason: Reason, detail: str) -> SdJwtVerificationError:
    return SdJwtVerificationError(reason, detail)


@contextlib.contextmanager
def _step(check: Check) -> Iterator[None]:
    """Names the step a refusal comes from, so callers can tell what passed before it."""
    try:
        yield
    except SdJwtVerificationError as error:
        if error.check is None:
            error.check = check
        raise


def _numeric_date(claims: dict[str, Any], name: str, *, what: str) -> float | int | None:
    """A NumericDate (RFC 7519 section 2) or None; NaN would make every comparison false."""
    value = claims.get(name)
    if value is None:
        return None
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value  # ints compare exactly however large; math.isfinite would overflow
    raise _fail(Reason.MALFORMED, f"{what} {name} is not a number")


def _status_reference(payload: dict[str, Any]) -> StatusReference | None:
    """`status.status_list` (draft-ietf-oauth-status-list section 6.2).

    A `status` we cannot follow is refused rather than ignored: accepting it would treat a
    possibly revoked credential as valid.
    """
    status = payload.get("status")
    if status is None:
        return None
    ref = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(ref, dict):
        raise _fail(Reason.MALFORMED, "status claim has no status_list reference")
    idx, uri = ref.get("idx"), ref.get("uri")
    if type(idx) is not int or idx < 0 or not isinstance(uri, str) or not uri:
        raise _fail(Reason.MALFORMED, "status_list reference needs an index and a uri")
    return StatusReference(uri=uri, idx=idx)


def _holder_jwk(payload: dict[str, Any]) -> dict[str, Any] | None:
    """`cnf.jwk` (RFC 7800 section 3.2); other confirmation methods give None."""
    cnf = payload.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, dict):
        raise _fail(Reason.MALFORMED, "cnf claim is not an object")
    jwk = cnf.get("jwk")
    if jwk is None:
        return None
    if not isinstance(jwk, dict):
        raise _fail(Reason.MALFORMED, "cnf.jwk is not an object")
    return dict(jwk)


class _Processor:
    """Replaces digests by disclosed values (RFC 9901 section 7.1, step 3)."""

    def __init__(self, encoded: tuple[str, ...]) -> None:
        self.by_digest: dict[str, tuple[str | None, Any]] = {}
        for text in encoded:
            try:
                contents = decode_contents(text)
            except ValueError as exc:
                raise _fail(Reason.MALFORMED, f"disclosure: {exc}") from exc
            digest = disclosure_digest(text)
            if digest in self.by_digest:
                raise _fail(Reason.DUPLICATE_DISCLOSURE, "the same disclosure is sent twice")
            self.by_digest[digest] = contents
        self.seen: set[str] = set()
        self.disclosed: list[str] = []

    def _lookup(self, digest: str) -> tuple[str | None, Any] | None:
        # Step 4: a digest may appear only once, counting decoys and undisclosed ones.
        if digest in self.seen:
            raise _fail(Reason.DUPLICATE_DISCLOSURE, "a digest appears twice in the payload")
        self.seen.add(digest)
        return self.by_digest.get(digest)

    def value(self, value: Any, path: str, depth: int) -> Any:
        if isinstance(value, dict):
            return self.object(value, path, depth + 1)
        if isinstance(value, list):
            return self.array(value, path, depth + 1)
        return value

    def object(self, source: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        if depth > MAX_PROCESSING_DEPTH:
            raise _fail(Reason.MALFORMED, f"claims nest deeper than {MAX_PROCESSING_DEPTH}")
        top = depth == 1
        out: dict[str, Any] = {}
        for name, item in source.items():
            if name == SD_KEY or (top and name == SD_ALG_KEY):
                continue
            if isinstance(item, dict | list):  # paths are only built where they may be used
                item = self.value(item, f"{path}.{name}" if path else name, depth)
            out[name] = item
        if SD_KEY not in source:
            return out
        digests = source[SD_KEY]
        if not isinstance(digests, list):
            raise _fail(Reason.MALFORMED, f"_sd at {path or 'top level'} is not an array")
        forbidden = _NEVER_DISCLOSED_TOP_LEVEL if top else RESERVED_NESTED_NAMES
        for digest in digests:
            if not isinstance(digest, str):
                raise _fail(Reason.MALFORMED, "_sd holds a value that is not a digest string")
            disclosure = self._lookup(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder keeps to itself
            claim, value = disclosure
            if claim is None:
                raise _fail(Reason.MALFORMED, "an array-element disclosure is referenced by _sd")
            if claim in forbidden:
                raise _fail(Reason.MALFORMED, f"claim {claim!r} must not be selectively disclosed")
            if claim in out:
                raise _fail(Reason.MALFORMED, f"disclosed claim {claim!r} is already present")
            child_path = f"{path}.{claim}" if path else claim
            self.disclosed.append(child_path)
            out[claim] = self.value(value, child_path, depth)
        return out

    def array(self, source: list[Any], path: str, depth: int) -> list[Any]:
        if depth > MAX_PROCESSING_DEPTH:
            raise _fail(Reason.MALFORMED, f"claims nest deeper than {MAX_PROCESSING_DEPTH}")
        out: list[Any] = []
        for item in source:
            if isinstance(item, dict) and len(item) == 1 and ARRAY_DIGEST_KEY in item:
                digest = item[ARRAY_DIGEST_KEY]
                if isinstance(digest, str):
                    disclosure = self._lookup(digest)
                    if disclosure is None:
                        continue  # step 3.4: undisclosed elements are removed
                    claim, value = disclosure
                    if claim is not None:
                        raise _fail(
                            Reason.MALFORMED, "an object-property disclosure is used in an array"
                        )
                    element_path = f"{path}[{len(out)}]"
                    self.disclosed.append(element_path)
                    out.append(self.value(value, element_path, depth))
                    continue
            out.append(self.value(item, f"{path}[{len(out)}]", depth))
        return out

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        claims = self.object(payload, "", 1)
        if len(self.disclosed) != len(self.by_digest):
            # Step 5: every disclosure must hang off a digest the issuer signed.
            raise _fail(Reason.DIGEST_MISMATCH, "a disclosure matches no digest in the payload")
        return claims


def _verify_key_binding(
    parsed: ParsedPresentation,
    key_binding_jwt: str,
    holder_jwk: dict[str, Any] | None,
    *,
    now: int,
    clock_skew_seconds: int,
    max_age_seconds: int,
    expected_audience: str | None,
    expected_nonce: str | None,
) -> None:
    """RFC 9901 section 7.3, step 5."""
    try:
        jws = split_jws(key_binding_jwt)
    except MalformedJwsError as exc:
        raise _fail(Reason.MALFORMED, f"KB-JWT: {exc}") from exc
    check_jws_header(jws.header, what="KB-JWT")
    if jws.header.get("typ") != KB_JWT_TYP:
        raise _fail(Reason.KEY_BINDING_INVALID, "KB-JWT typ is not kb+jwt")
    if holder_jwk is None:
        raise _fail(Reason.KEY_BINDING_INVALID, "credential has no cnf.jwk to check the KB-JWT")
    try:
        holder_key = public_key_from_jwk(holder_jwk)
    except InvalidJwkError as exc:
        raise _fail(Reason.KEY_BINDING_INVALID, f"cnf.jwk: {exc.message}") from exc
    if not es256_verify(holder_key, jws.signing_input, jws.signature):
        raise _fail(Reason.KEY_BINDING_INVALID, "KB-JWT signature does not match cnf.jwk")
    claims = jws.payload
    if claims.get("sd_hash") != sd_hash(parsed.sd_jwt):
        raise _fail(Reason.KEY_BINDING_INVALID, "KB-JWT sd_hash is not over this presentation")
    try:
        issued_at = _numeric_date(claims, "iat", what="KB-JWT")
    except SdJwtVerificationError as exc:
        raise _fail(Reason.KEY_BINDING_INVALID, exc.detail) from exc
    if issued_at is None:
        raise _fail(Reason.KEY_BINDING_INVALID, "KB-JWT has no iat")
    if not now - max_age_seconds - clock_skew_seconds <= issued_at <= now + clock_skew_seconds:
        raise _fail(Reason.KEY_BINDING_INVALID, "KB-JWT iat is outside the accepted window")
    nonce, audience = claims.get("nonce"), claims.get("aud")
    if expected_nonce is not None and nonce != expected_nonce:
        raise _fail(Reason.NONCE_MISMATCH, "KB-JWT nonce is not the one expected")
    if expected_audience is not None and audience != expected_audience:
        raise _fail(Reason.AUDIENCE_MISMATCH, "KB-JWT aud is not this verifier")
    if not isinstance(nonce, str) or not isinstance(audience, str):
        # RFC 9901 section 4.3: both are required, aud as a single string.
        raise _fail(Reason.KEY_BINDING_INVALID, "KB-JWT needs a string nonce and aud")


def verify_presentation(
    parsed: ParsedPresentation,
    *,
    issuer_key: EllipticCurvePublicKey,
    now: int,
    clock_skew_seconds: int = 60,
    expected_audience: str | None = None,
    expected_nonce: str | None = None,
    require_key_binding: bool = False,
    max_key_binding_age_seconds: int = 300,
    expected_vct: str | None = None,
    allowed_vcts: Collection[str] | None = None,
) -> VerifiedCredential:
    """Checks a parsed presentation against the issuer's key and the verifier's policy.

    Key binding is required when asked for, or when an audience or nonce is expected (they
    live only in the KB-JWT); a KB-JWT that is present is checked even when not required.
    `key_binding_verified` is True only when the KB-JWT was held to both an expected
    audience and an expected nonce: without them a valid KB-JWT may have been made for
    another verifier or session and replayed (RFC 9901 section 7.3, step 5).
    `allowed_vcts`, when given and not empty, lists the accepted types. A refusal carries
    the `Check` it failed in.
    """
    try:
        return _verify(
            parsed,
            issuer_key=issuer_key,
            now=now,
            clock_skew_seconds=clock_skew_seconds,
            expected_audience=expected_audience,
            expected_nonce=expected_nonce,
            require_key_binding=require_key_binding,
            max_key_binding_age_seconds=max_key_binding_age_seconds,
            expected_vct=expected_vct,
            allowed_vcts=frozenset(allowed_vcts or ()),
        )
    except RecursionError as exc:  # the depth bounds should prevent it; this is a backstop
        raise _fail(Reason.MALFORMED, "presentation nests too deeply") from exc


def _verify(
    parsed: ParsedPresentation,
    *,
    issuer_key: EllipticCurvePublicKey,
    now: int,
    clock_skew_seconds: int,
    expected_audience: str | None,
    expected_nonce: str | None,
    require_key_binding: bool,
    max_key_binding_age_seconds: int,
    expected_vct: str | None,
    allowed_vcts: frozenset[str],
) -> VerifiedCredential:
    # A hand-built ParsedPresentation skips parse_presentation, so the header is checked again.
    with _step(Check.FORMAT):
        check_jws_header(parsed.header, what="issuer-signed JWT")
    if not es256_verify(issuer_key, parsed.signing_input, parsed.signature):
        raise SdJwtVerificationError(
            Reason.BAD_SIGNATURE, "issuer signature does not verify", check=Check.SIGNATURE
        )
    payload = parsed.payload

    with _step(Check.VALIDITY):
        issued_at = _numeric_date(payload, "iat", what="credential")
        not_before = _numeric_date(payload, "nbf", what="credential")
        expires_at = _numeric_date(payload, "exp", what="credential")
        if expires_at is not None and now - clock_skew_seconds >= expires_at:
            raise _fail(Reason.EXPIRED, "credential has expired")
        if not_before is not None and now + clock_skew_seconds < not_before:
            raise _fail(Reason.NOT_YET_VALID, "credential is not valid yet (nbf)")
        if issued_at is not None and now + clock_skew_seconds < issued_at:
            raise _fail(Reason.NOT_YET_VALID, "credential is issued in the future (iat)")

    with _step(Check.TYPE):
        vct = payload.get("vct")
        if not isinstance(vct, str) or not vct:
            raise _fail(Reason.MALFORMED, "credential has no vct")
        if expected_vct is not None and vct != expected_vct:
            raise _fail(Reason.WRONG_TYPE, f"vct {vct!r} is not the expected type")
        if allowed_vcts and vct not in allowed_vcts:
            raise _fail(Reason.WRONG_TYPE, f"vct {vct[:64]!r} is not an allowed type")
    with _step(Check.CLAIMS):
        if payload.get(SD_ALG_KEY, SD_ALG) != SD_ALG:
            raise _fail(Reason.MALFORMED, "_sd_alg is not sha-256")
        issuer = payload.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise _fail(Reason.MALFORMED, "credential has no iss")
        status = _status_reference(payload)
        holder_jwk = _holder_jwk(payload)

    with _step(Check.DISCLOSURES):
        processor = _Processor(parsed.disclosures)
        claims = processor.run(payload)

    key_binding_required = (
        require_key_binding or expected_audience is not None or expected_nonce is not None
    )
    key_binding_jwt = parsed.key_binding_jwt
    if key_binding_jwt is None:
        if key_binding_required:
            raise SdJwtVerificationError(
                Reason.KEY_BINDING_REQUIRED, "presentation has no KB-JWT", check=Check.KEY_BINDING
            )
    else:
        with _step(Check.KEY_BINDING):
            _verify_key_binding(
                parsed,
                key_binding_jwt,
                holder_jwk,
                now=now,
                clock_skew_seconds=clock_skew_seconds,
                max_age_seconds=max_key_binding_age_seconds,
                expected_audience=expected_audience,
                expected_nonce=expected_nonce,
            )
    return VerifiedCredential(
        claims=claims,
        issuer=issuer,
        vct=vct,
        kid=parsed.kid,
        issued_at=None if issued_at is None else int(issued_at),
        expires_at=None if expires_at is None else int(expires_at),
        status=status,
        holder_jwk=holder_jwk,
        key_binding_verified=(
            key_binding_jwt is not None
            and expected_audience is not None
            and expected_nonce is not None
        ),
        disclosed=tuple(processor.disclosed),
    )
