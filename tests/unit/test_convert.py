"""Struct <-> plain data conversion: round trips hold, limits hold, and nothing but typed
errors ever comes out."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from eudi_connect.api.convert import (
    MAX_STRUCT_DEPTH,
    MAX_STRUCT_VALUES,
    dict_to_struct,
    struct_to_dict,
)
from eudi_connect.errors import InvalidArgumentError

json_scalars = (
    st.none()
    | st.booleans()
    | st.text(max_size=20)
    | st.integers(min_value=-(2**52), max_value=2**52)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(json_objects)
@settings(max_examples=100, deadline=None)
def test_round_trip(data: dict[str, Any]) -> None:
    """Any JSON object within the limits comes back equal, integers as integers."""
    assert struct_to_dict(dict_to_struct(data)) == data


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def test_depth_limit_is_exact() -> None:
    """Nesting up to the limit is accepted; one level more is SUBJECT_TOO_DEEP."""
    assert struct_to_dict(dict_to_struct(_nested(MAX_STRUCT_DEPTH)))
    with pytest.raises(InvalidArgumentError) as caught:
        struct_to_dict(dict_to_struct(_nested(MAX_STRUCT_DEPTH + 1)))
    assert caught.value.reason == "SUBJECT_TOO_DEEP"
    assert caught.value.metadata["limit"] == str(MAX_STRUCT_DEPTH)


def test_value_count_limit() -> None:
    """More values than the limit is SUBJECT_TOO_LARGE, naming the limit."""
    with pytest.raises(InvalidArgumentError) as caught:
        struct_to_dict(dict_to_struct({"list": list(range(MAX_STRUCT_VALUES + 1))}))
    assert caught.value.reason == "SUBJECT_TOO_LARGE"


def test_non_finite_numbers_refused() -> None:
    """NaN and infinities, which JSON cannot carry, are INVALID_ARGUMENT."""
    struct = struct_pb2.Struct()
    struct.fields["x"].number_value = float("inf")
    with pytest.raises(InvalidArgumentError) as caught:
        struct_to_dict(struct)
    assert caught.value.reason == "SUBJECT_INVALID"


@given(st.binary(max_size=300))
@settings(max_examples=150, deadline=None)
def test_arbitrary_wire_bytes(raw: bytes) -> None:
    """Whatever bytes parse as a Struct convert or fail with a typed error only."""
    struct = struct_pb2.Struct()
    try:
        struct.ParseFromString(raw)
    except Exception:  # protobuf's own refusal happens before our code runs
        return
    with contextlib.suppress(InvalidArgumentError):
        struct_to_dict(struct)
