"""JSON in and out of claims templates: the encoder the filters write outputs with, and the
strict decoder that reads a rendered claims object back."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from eudi_connect.reasons import Reason

from ._limits import MAX_INT_BITS, int_too_large
from ._values import fail_if_undefined
from .credential import RESERVED_CLAIMS, RESERVED_NESTED_CLAIMS
from .errors import TemplateRenderError


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    fail_if_undefined(value)
    raise TypeError(f"{type(value).__name__} values cannot be written as JSON")


JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
)


class _BadClaims(ValueError):
    def __init__(
        self, message: str, *, reason: Reason = Reason.TEMPLATE_RENDER_FAILED, claim: str = ""
    ):
        super().__init__(message)
        self.reason = reason
        self.claim = claim


def _claims_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _BadClaims(f"rendered the claim {key!r} twice", claim=key)
            seen.add(key)
    if not RESERVED_NESTED_CLAIMS.isdisjoint(result):
        claim = min(RESERVED_NESTED_CLAIMS.intersection(result))
        raise _BadClaims(
            f"rendered the reserved name {claim!r}",
            reason=Reason.TEMPLATE_RESERVED_CLAIM,
            claim=claim,
        )
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadClaims("rendered a number outside the range of JSON numbers")
    return value


def _no_constant(text: str) -> Any:
    raise _BadClaims(f"rendered {text}, which is not JSON")


def _bounded_int(text: str) -> int:
    # Python refuses to convert more than 4,300 digits; the sandbox's bound comes first.
    if int_too_large(text):
        raise _BadClaims(
            f"rendered an integer larger than {MAX_INT_BITS} bits",
            reason=Reason.TEMPLATE_LIMIT_EXCEEDED,
        )
    return int(text)


_CLAIMS_DECODER = json.JSONDecoder(
    object_pairs_hook=_claims_object,
    parse_float=_finite_float,
    parse_int=_bounded_int,
    parse_constant=_no_constant,
)


def parse_claims(text: str, template_id: str) -> dict[str, Any]:
    label = f"template {template_id!r}"
    try:
        claims = _CLAIMS_DECODER.decode(text)
    except _BadClaims as exc:
        metadata = {"claim": exc.claim} if exc.claim else {}
        raise TemplateRenderError(f"{label} {exc}", reason=exc.reason, metadata=metadata) from None
    except json.JSONDecodeError as exc:
        raise TemplateRenderError(
            f"{label} did not render valid JSON: {exc.msg} "
            f"(output line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise TemplateRenderError(f"{label} rendered JSON nested too deeply") from None
    if not isinstance(claims, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(claims), "a number"
        )
        raise TemplateRenderError(f"{label} rendered {kind}, not a JSON object")
    reserved = RESERVED_CLAIMS.intersection(claims)
    if reserved:
        claim = min(reserved)
        raise TemplateRenderError(
            f"{label} rendered {claim!r}, a claim the issuer sets itself",
            reason=Reason.TEMPLATE_RESERVED_CLAIM,
            metadata={"claim": claim},
        )
    return claims
