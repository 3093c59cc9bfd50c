"""The filters claims templates may use: JSON output, subject-value checks, age arithmetic.

Subject-value filters take a keyword `_field`, filled in by the compiler with the subject
path they were applied to, so that a refusal can name the field. They never echo the value
itself in a message: subject data is personal data.

Jinja's own filters are offered only where their output grows at most linearly with their
input; `center`, `indent`, `format`, `replace`, `wordwrap`, `batch`, `sum`, `attr`, `safe`
and the like are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from json.encoder import encode_basestring
from typing import Any, cast

from jinja2 import Environment, pass_context, pass_environment
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.runtime import Context

from ._json import JSON_ENCODER
from ._limits import bounded_str, check_deadline, counted, guarded, min_text_size, too_large
from ._sandbox import ClaimsSandbox
from ._values import SubjectValueError, fail_if_undefined

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ALPHA2 = re.compile(r"[A-Z]{2}", re.ASCII)
_INT_TEXT = re.compile(r"\s*[+-]?\d{1,30}\s*", re.ASCII)

_JINJA_FILTERS_OFFERED = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float", "int", "items",
    "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "reverse",
    "round", "select", "selectattr", "sort", "title", "trim", "unique", "upper",
)  # fmt: skip


def _limit(environment: Environment) -> int:
    return cast("ClaimsSandbox", environment).max_text_chars


@pass_environment
def tojson(environment: Environment, value: Any, *, _field: str | None = None) -> str:
    """Compact JSON, UTF-8 kept as is; every `{{ }}` output goes through here, so the common
    shapes (a string, a boolean, a list of strings) skip the general encoder."""
    limit = _limit(environment)
    kind = type(value)
    if kind is str:
        if len(value) > limit:
            raise too_large("a value", limit)
        return encode_basestring(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int:
        return str(value)  # bounded: the sandbox caps integers at MAX_INT_BITS
    if kind is float:
        if not math.isfinite(value):
            if _field is None:
                raise ValueError("NaN and infinities cannot be written as JSON")
            raise SubjectValueError("expected a finite number", _field)
        return float.__repr__(value)  # what the json module writes
    fail_if_undefined(value)
    if isinstance(value, Mapping | list | tuple):
        check_deadline()
        if min_text_size(value, limit) > limit:
            raise too_large("a value", limit)
        if kind is list and all(type(item) is str for item in value):
            return "[" + ",".join(map(encode_basestring, value)) + "]"
    try:
        text = JSON_ENCODER.encode(value)
    except ValueError:
        if _field is None:
            raise
        raise SubjectValueError("expected a finite number", _field) from None
    if len(text) > limit:
        raise too_large("a value", limit)
    return text


def as_int(value: Any, *, _field: str | None = None) -> int:
    """A whole number: protobuf Struct delivers every number as float (1990.0)."""
    fail_if_undefined(value)
    if isinstance(value, bool):
        raise SubjectValueError("expected a whole number, got a boolean", _field)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return int(value)
    raise SubjectValueError("expected a whole number", _field)


def as_str(value: Any, *, _field: str | None = None) -> str:
    """Non-empty text; refuses numbers and objects rather than stringifying them."""
    fail_if_undefined(value)
    if not isinstance(value, str) or not value.strip():
        raise SubjectValueError("expected non-empty text", _field)
    return value


def _parse_date(value: Any, field: str | None) -> date:
    fail_if_undefined(value)
    if isinstance(value, date):
        return value
    # date.fromisoformat also takes "19900101" and week dates; claims use the extended form.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SubjectValueError("expected an ISO 8601 calendar date (YYYY-MM-DD)", field)


def iso_date(value: Any, *, _field: str | None = None) -> str:
    """The date as YYYY-MM-DD, after checking it is one."""
    return _parse_date(value, _field).isoformat()


def age_in_years(value: Any, today: Any, *, _field: str | None = None) -> int:
    """Completed years between the birthdate `value` and `today`.

    Someone born on 29 February becomes a year older on 1 March in common years.
    """
    born = _parse_date(value, _field)
    if not isinstance(today, date):
        raise TypeError("age_in_years needs a date as `today`")
    if born > today:
        raise SubjectValueError("expected a date in the past", _field)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@pass_context
def age_over(context: Context, value: Any, years: Any, *, _field: str | None = None) -> bool:
    """Whether the birthdate `value` is at least `years` before the render's `today`."""
    if not isinstance(years, int) or isinstance(years, bool) or years < 0:
        raise TypeError("age_over needs a non-negative whole number of years")
    return age_in_years(value, context.resolve("today"), _field=_field) >= years


def country_code(value: Any, *, _field: str | None = None) -> str:
    """An ISO 3166-1 alpha-2 code, upper case ("DE")."""
    fail_if_undefined(value)
    if not isinstance(value, str) or not _ALPHA2.fullmatch(value):
        raise SubjectValueError("expected an ISO 3166-1 alpha-2 country code", _field)
    return value


def country_codes(value: Any, *, _field: str | None = None) -> list[str]:
    """A non-empty list of ISO 3166-1 alpha-2 codes; a bare string is refused."""
    fail_if_undefined(value)
    if not isinstance(value, list | tuple) or not value:
        raise SubjectValueError(
            "expected a non-empty list of ISO 3166-1 alpha-2 country codes", _field
        )
    return [
        country_code(item, _field=None if _field is None else f"{_field}[{index}]")
        for index, item in enumerate(value)
    ]


@pass_environment
def join(environment: Environment, value: Iterable[Any], separator: str = "") -> str:
    """Like Jinja's join, but the result is size-checked before it is built."""
    limit = _limit(environment)
    fail_if_undefined(value)
    parts = [bounded_str(item, limit) for item in value]
    separator = bounded_str(separator, limit)
    if sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0) > limit:
        raise too_large("a joined value", limit)
    return separator.join(parts)


@pass_environment
def concat(environment: Environment, parts: tuple[Any, ...]) -> str:
    """What `a ~ b` compiles to here: str() of each part, size-checked before joining."""
    limit = _limit(environment)
    texts = [bounded_str(part, limit) for part in parts]
    if sum(map(len, texts)) > limit:
        raise too_large("a joined value", limit)
    return "".join(texts)


@pass_environment
def text(environment: Environment, value: Any) -> str:
    """What `{{ ... }}` writes in notification templates: strings as they are, numbers and
    dates in their usual form, true/false, nothing for null, containers as compact JSON."""
    limit = _limit(environment)
    fail_if_undefined(value)
    if isinstance(value, str):
        if len(value) > limit:
            raise too_large("a value", limit)
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Mapping | list | tuple):
        return tojson(environment, value)
    if isinstance(value, date):
        return value.isoformat()
    return bounded_str(value, limit)


def _counted(value: Iterable[Any]) -> Iterable[Any]:
    fail_if_undefined(value)
    return counted(value)


#: Filters over single values: cheap, so they skip the per-call deadline check.
_SCALAR_FILTERS: dict[str, Callable[..., Any]] = {
    "tojson": tojson,  # checks the deadline itself for containers
    "as_int": as_int,
    "as_str": as_str,
    "iso_date": iso_date,
    "age_in_years": age_in_years,
    "age_over": age_over,
    "country_code": country_code,
    "country_codes": country_codes,
    # Internal, inserted by the compiler (templates cannot name filters starting with "_"):
    # each loop step checks the deadline itself.
    "_counted": _counted,
    "_text": text,  # what `{{ }}` compiles to in notification templates
}

#: Filters that walk collections or build text; each call checks the render deadline.
_COLLECTION_FILTERS: dict[str, Callable[..., Any]] = {
    **{name: JINJA_FILTERS[name] for name in _JINJA_FILTERS_OFFERED},
    "join": join,
    "_concat": concat,  # internal, what `~` compiles to
}

#: Those that do Python work per item of their input (a key function, a test, a copy), so
#: that one call's cost grows with the input's length: they take at most the render's item
#: limit (a 64,000-item sort would otherwise run far past the deadline in a single call).
_WALKING_FILTERS = frozenset(
    {"dictsort", "items", "join", "list", "map", "max", "min", "reject", "rejectattr",
     "reverse", "select", "selectattr", "sort", "unique"}
)  # fmt: skip

#: Every filter a claims template can use.
CLAIMS_FILTERS: Mapping[str, Callable[..., Any]] = {
    **_SCALAR_FILTERS,
    **{
        name: guarded(function, walks=name in _WALKING_FILTERS)
        for name, function in _COLLECTION_FILTERS.items()
    },
}
