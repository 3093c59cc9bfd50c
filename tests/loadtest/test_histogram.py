"""The latency histogram: percentiles, merging, serialization and error bounds."""

from __future__ import annotations

import json
import math
import random

import pytest

from loadtest.lib.histogram import HIGHEST_TRACKABLE, Histogram

# From 256 µs up a reported value is within 1/256 of the truth; below, within 0.5 µs
# (plus float rounding of the seconds-to-microseconds conversion).
RELATIVE_ERROR = 1 / 256
ABSOLUTE_ERROR = 0.5e-6 + 1e-12


def exact_percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of raw samples, the definition the histogram follows."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def assert_close(reported: float, expected: float) -> None:
    """Within the histogram's documented error bound."""
    assert abs(reported - expected) <= max(expected * RELATIVE_ERROR, ABSOLUTE_ERROR), (
        reported,
        expected,
    )


def uniform(n: int, low: float, high: float, seed: int) -> list[float]:
    """Uniform latencies between ``low`` and ``high`` seconds."""
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(n)]


def bimodal(n: int, seed: int) -> list[float]:
    """90 % fast calls around 1 ms, 10 % slow ones around 50 ms (a cache miss pattern)."""
    rng = random.Random(seed)
    return [
        rng.gauss(0.001, 0.0001) if rng.random() < 0.9 else rng.gauss(0.050, 0.005)
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(uniform(20_000, 0.0001, 0.1, seed=1), id="uniform-100us-100ms"),
        pytest.param(uniform(5_000, 0.000_001, 0.000_250, seed=2), id="uniform-linear-range"),
        pytest.param(bimodal(20_000, seed=3), id="bimodal"),
        pytest.param([0.0042] * 1000, id="constant"),
    ],
)
@pytest.mark.parametrize("p", [0, 1, 25, 50, 90, 95, 99, 99.9, 100])
def test_percentiles_match_exact_values(values: list[float], p: float) -> None:
    """Every percentile of a known distribution is within the documented error bound."""
    hist = Histogram()
    hist.record_many(values)
    assert_close(hist.percentile(p), exact_percentile(values, p))


def test_bimodal_percentiles_land_in_the_right_mode() -> None:
    """The median sits in the fast mode and p95 in the slow mode of a 90/10 mixture."""
    hist = Histogram()
    hist.record_many(bimodal(10_000, seed=4))
    assert 0.0005 < hist.percentile(50) < 0.0015
    assert 0.035 < hist.percentile(95) < 0.065


def test_constant_latency_is_reported_exactly() -> None:
    """With one repeated value, min, max, mean and every percentile equal it."""
    hist = Histogram()
    hist.record_many([0.0123] * 500)
    assert hist.count == 500
    assert hist.min == hist.max == 0.0123
    assert hist.mean == pytest.approx(0.0123)
    assert {hist.percentile(p) for p in (0, 50, 99, 100)} == {0.0123}


def test_extremes_are_exact() -> None:
    """Percentile 0 and 100 are the exact minimum and maximum, not bucket midpoints."""
    hist = Histogram()
    hist.record_many([0.000_123_4, 0.5, 1.234_567])
    assert hist.percentile(0) == hist.min == 0.000_123_4
    assert hist.percentile(100) == hist.max == 1.234_567


def test_bucket_error_bound_over_the_whole_range() -> None:
    """A single value anywhere from 1 µs to 60 s comes back within the error bound."""
    value = 1e-6
    while value < HIGHEST_TRACKABLE:
        for probe in (value, value * 1.37, value * 1.999):
            hist = Histogram()
            hist.record_many([probe, probe * 1000])  # keep the max away from the probe
            assert_close(hist.percentile(50), probe)
        value *= 2


def test_values_beyond_the_range_keep_the_exact_maximum() -> None:
    """A latency above 60 s is counted in the last bucket and still reported as the max."""
    hist = Histogram()
    hist.record_many([0.001, 3600.0])
    assert hist.count == 2
    assert hist.percentile(100) == hist.max == 3600.0


def test_merge_equals_recording_everything() -> None:
    """Merging per-worker histograms gives the histogram of all their values."""
    parts = [uniform(3000, 0.0002, 0.02, seed=s) for s in range(3)]
    merged = Histogram()
    everything = Histogram()
    for part in parts:
        worker = Histogram()
        worker.record_many(part)
        merged.merge(worker)
        everything.record_many(part)
    assert merged == everything
    assert merged.total == pytest.approx(everything.total)
    for p in (50, 95, 99):
        assert merged.percentile(p) == everything.percentile(p)


def test_merge_with_an_empty_histogram_changes_nothing() -> None:
    """Empty workers (no successful calls) do not disturb the merge."""
    hist = Histogram()
    hist.record_many([0.001, 0.002])
    before = hist.copy()
    hist.merge(Histogram())
    empty = Histogram()
    empty.merge(hist)
    assert hist == before == empty


def test_serialization_round_trip_through_json() -> None:
    """to_dict output survives JSON (as through a pipe) and rebuilds an equal histogram."""
    hist = Histogram()
    hist.record_many(bimodal(5000, seed=5))
    data = json.loads(json.dumps(hist.to_dict()))
    again = Histogram.from_dict(data)
    assert again == hist
    assert again.total == hist.total
    assert again.percentile(99) == hist.percentile(99)


def test_serialization_is_sparse() -> None:
    """Only occupied buckets are shipped, so a per-second histogram stays small."""
    hist = Histogram()
    hist.record_many([0.001] * 100 + [0.002] * 100)
    assert len(hist.to_dict()["buckets"]) == 2


def test_empty_histogram_round_trip_and_nan() -> None:
    """An empty histogram serializes, and reports NaN rather than a made-up number."""
    hist = Histogram.from_dict(Histogram().to_dict())
    assert hist.count == 0
    assert math.isnan(hist.percentile(50))
    assert math.isnan(hist.min)
    assert math.isnan(hist.mean)


def test_from_dict_refuses_inconsistent_data() -> None:
    """Counts that do not add up, or an unknown format, are rejected."""
    data = Histogram().to_dict() | {"count": 3}
    with pytest.raises(ValueError, match="add up"):
        Histogram.from_dict(data)
    with pytest.raises(ValueError, match="version"):
        Histogram.from_dict(data | {"version": 99})


@pytest.mark.parametrize("bad", [-0.001, -1e-9, math.nan, math.inf])
def test_record_refuses_impossible_latencies(bad: float) -> None:
    """Negative, NaN and infinite latencies are errors in the caller, not data."""
    hist = Histogram()
    with pytest.raises((ValueError, OverflowError)):
        hist.record(bad)
    assert hist.count == 0


def test_percentile_argument_is_checked() -> None:
    """Percentiles outside [0, 100] are refused."""
    hist = Histogram()
    hist.record(0.001)
    with pytest.raises(ValueError, match="percentile"):
        hist.percentile(101)
