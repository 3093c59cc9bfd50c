"""A log-linear latency histogram in the spirit of HdrHistogram, in pure Python.

Why not keep every sample: a load run makes millions of calls in several processes, and
the parent must merge what the workers saw. A fixed set of buckets records in well under
a microsecond, merges by adding counts and travels through a pipe as a short list.

Layout (values are counted in whole microseconds):

* 0 .. 255 µs: one bucket per microsecond;
* above that, every power-of-two range [2**e, 2**(e+1)) is cut into 128 equal buckets, so a
  bucket is never wider than 1/128 of its lower bound.

A percentile is reported as the middle of its bucket, clamped to the exact minimum and
maximum seen, so from 256 µs up the relative error is at most 1/256 (about 0.4 %), well
inside two significant digits. Below 256 µs the error is at most half a microsecond.
Values above ``HIGHEST_TRACKABLE`` (60 s) land in the last bucket; the exact maximum is
still kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["HIGHEST_TRACKABLE", "Histogram"]

_UNITS_PER_SECOND = 1_000_000  # bucket values are integer microseconds
_SUB_BITS = 7  # 2**7 = 128 buckets per power-of-two range above the linear part
_SUB_COUNT = 1 << _SUB_BITS
_LINEAR_LIMIT = 2 * _SUB_COUNT  # 256: below this, buckets are 1 µs wide
_SHIFT_BITS = _SUB_BITS + 1  # v >> (v.bit_length() - 8) lands in [128, 256)

HIGHEST_TRACKABLE = 60.0
"""Seconds; larger values are counted in the last bucket (the exact maximum is kept)."""


def _index_of(units: int) -> int:
    """Bucket index of a non-negative integer number of microseconds."""
    if units < _LINEAR_LIMIT:
        return units
    shift = units.bit_length() - _SHIFT_BITS
    return (shift << _SUB_BITS) + (units >> shift)


def _bounds_of(index: int) -> tuple[int, int]:
    """Lower bound and width, in microseconds, of the bucket at ``index``."""
    if index < _LINEAR_LIMIT:
        return index, 1
    shift = (index >> _SUB_BITS) - 1
    sub = index - (shift << _SUB_BITS)
    return sub << shift, 1 << shift


_BUCKETS = _index_of(int(HIGHEST_TRACKABLE * _UNITS_PER_SECOND)) + 1
_FORMAT_VERSION = 1


class Histogram:
    """Counts latencies (in seconds) into log-linear buckets; see the module docstring."""

    __slots__ = ("_count", "_counts", "_max", "_min", "_sum")

    def __init__(self) -> None:
        self._counts: list[int] = [0] * _BUCKETS
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    def record(self, value: float) -> None:
        """Count one latency of ``value`` seconds (negative or NaN values are refused)."""
        units = int(value * _UNITS_PER_SECOND)  # NaN and inf raise here, which is wanted
        if units < _LINEAR_LIMIT:
            if units < 0 or value < 0.0:
                raise ValueError(f"latency must not be negative: {value!r}")
            index = units
        else:
            shift = units.bit_length() - _SHIFT_BITS
            index = (shift << _SUB_BITS) + (units >> shift)
            if index >= _BUCKETS:
                index = _BUCKETS - 1
        self._counts[index] += 1
        self._count += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    def record_many(self, values: Iterable[float]) -> None:
        """Count every value; a convenience for tests and offline data."""
        for value in values:
            self.record(value)

    @property
    def count(self) -> int:
        """Number of recorded values."""
        return self._count

    @property
    def total(self) -> float:
        """Sum of the recorded values, in seconds (exact, not bucketed)."""
        return self._sum

    @property
    def min(self) -> float:
        """Smallest recorded value (exact), or NaN when empty."""
        return self._min if self._count else math.nan

    @property
    def max(self) -> float:
        """Largest recorded value (exact), or NaN when empty."""
        return self._max if self._count else math.nan

    @property
    def mean(self) -> float:
        """Arithmetic mean (exact), or NaN when empty."""
        return self._sum / self._count if self._count else math.nan

    def percentile(self, p: float) -> float:
        """The value below which ``p`` percent of the recorded values fall, or NaN when empty.

        Uses the nearest-rank definition: the smallest recorded value such that at least
        ``p`` % of the values are at or below it, reported as its bucket's midpoint.
        """
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"percentile must be within [0, 100]: {p!r}")
        if not self._count:
            return math.nan
        rank = max(1, math.ceil(p / 100.0 * self._count))
        if rank == 1:
            return self._min  # the smallest value is known exactly
        if rank >= self._count:
            return self._max
        seen = 0
        for index, n in enumerate(self._counts):
            seen += n
            if seen >= rank:
                lower, width = _bounds_of(index)
                middle = (lower + width / 2.0) / _UNITS_PER_SECOND
                return min(max(middle, self._min), self._max)
        return self._max  # unreachable while the counts add up to ``count``

    def percentiles(self, ps: Iterable[float]) -> dict[float, float]:
        """Several percentiles at once, keyed by ``p``."""
        return {p: self.percentile(p) for p in ps}

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts to this histogram, as if its values were recorded here."""
        if not other._count:
            return
        self._counts = [a + b for a, b in zip(self._counts, other._counts, strict=True)]
        self._count += other._count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def copy(self) -> Histogram:
        """An independent histogram with the same contents."""
        clone = Histogram()
        clone.merge(self)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """Plain data (ints, floats, lists) that pickles and JSON-encodes compactly.

        Only non-empty buckets are listed, as ``[index, count]`` pairs.
        """
        return {
            "version": _FORMAT_VERSION,
            "count": self._count,
            "sum": self._sum,
            "min": self._min if self._count else None,
            "max": self._max if self._count else None,
            "buckets": [[i, n] for i, n in enumerate(self._counts) if n],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """Rebuild a histogram from :meth:`to_dict` output, checking that it adds up."""
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported histogram format version: {data.get('version')!r}")
        hist = cls()
        total = 0
        for index, n in data["buckets"]:
            if not (0 <= index < _BUCKETS and n > 0):
                raise ValueError(f"bad histogram bucket: {[index, n]!r}")
            hist._counts[index] += int(n)
            total += int(n)
        if total != data["count"]:
            raise ValueError("histogram bucket counts do not add up to its count")
        hist._count = total
        hist._sum = float(data["sum"])
        if total:
            hist._min = float(data["min"])
            hist._max = float(data["max"])
        return hist

    def __eq__(self, other: object) -> bool:
        """Same buckets and same exact extremes; the float sum may differ by rounding."""
        if not isinstance(other, Histogram):
            return NotImplemented
        if self._count != other._count or self._counts != other._counts:
            return False
        return self._count == 0 or (self._min == other._min and self._max == other._max)

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable like list

    def __repr__(self) -> str:
        if not self._count:
            return "Histogram(count=0)"
        return (
            f"Histogram(count={self._count}, p50={self.percentile(50) * 1e3:.3f}ms, "
            f"p99={self.percentile(99) * 1e3:.3f}ms, max={self._max * 1e3:.3f}ms)"
        )
