"""A latency histogram on HdrHistogram, with exact extremes and nearest-rank percentiles.

Why a histogram: a load run makes millions of calls in several processes, and the parent
must merge what the workers saw. Buckets merge by adding counts and travel through a pipe
as a short list. The buckets are the ``hdrhistogram`` package's, in whole microseconds at
two significant figures: one bucket per microsecond up to 255 µs, then 128 buckets per
power-of-two range, so no bucket is wider than 1/128 of its lower bound.

What this class adds on top:

* the exact minimum, maximum and sum (HdrHistogram keeps them only to bucket precision);
* the nearest-rank percentile (the smallest value with at least p % of the values at or
  below it; HdrHistogram rounds the rank instead), reported as its bucket's midpoint and
  clamped to the exact extremes. From 256 µs up the error is at most 1/256 (about 0.4 %),
  below that at most half a microsecond;
* values above ``HIGHEST_TRACKABLE`` (60 s) counted in the last bucket, the exact maximum
  still kept; negative, NaN and infinite values refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]  # ships no types

__all__ = ["HIGHEST_TRACKABLE", "Histogram"]

_UNITS_PER_SECOND = 1_000_000  # bucket values are integer microseconds
_SIGNIFICANT_FIGURES = 2  # 256 sub-buckets: 128 per power of two above the linear part
HIGHEST_TRACKABLE = 60.0
"""Seconds; larger values are counted in the last bucket (the exact maximum is kept)."""
_HIGHEST_UNITS = int(HIGHEST_TRACKABLE * _UNITS_PER_SECOND)
_FORMAT_VERSION = 1


def _new() -> Any:
    return HdrHistogram(1, _HIGHEST_UNITS, _SIGNIFICANT_FIGURES)


class Histogram:
    """Counts latencies (in seconds); see the module docstring."""

    __slots__ = ("_count", "_hdr", "_max", "_min", "_sum")

    def __init__(self) -> None:
        self._hdr = _new()
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    def record(self, value: float) -> None:
        """Count one latency of ``value`` seconds (negative or NaN values are refused)."""
        units = int(value * _UNITS_PER_SECOND)  # NaN and inf raise here, which is wanted
        if units < 0 or value < 0.0:
            raise ValueError(f"latency must not be negative: {value!r}")
        self._hdr.record_value(min(units, _HIGHEST_UNITS))
        self._count += 1
        self._sum += value
        self._min = min(self._min, value)
        self._max = max(self._max, value)

    def record_many(self, values: Iterable[float]) -> None:
        """Count every value (a worker folds each second's raw latencies in with this)."""
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

    def _counts(self) -> list[int]:
        # The counts are a ctypes array; through a memoryview they copy 25 times faster
        # than element by element.
        return memoryview(self._hdr.counts).cast("B").cast("Q").tolist()

    def percentile(self, p: float) -> float:
        """The nearest-rank ``p`` th percentile as its bucket's midpoint, or NaN when empty."""
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
        hdr = self._hdr
        for index, n in enumerate(self._counts()):
            seen += n
            if seen >= rank:
                lower: int = hdr.get_value_from_index(index)
                width: int = hdr.get_highest_equivalent_value(lower) + 1 - lower
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
        self._hdr.add(other._hdr)
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
            "buckets": [[i, n] for i, n in enumerate(self._counts()) if n],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """Rebuild a histogram from :meth:`to_dict` output, checking that it adds up."""
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported histogram format version: {data.get('version')!r}")
        hist = cls()
        total = 0
        for index, n in data["buckets"]:
            if not (0 <= index < hist._hdr.counts_len and n > 0):
                raise ValueError(f"bad histogram bucket: {[index, n]!r}")
            hist._hdr.record_value(hist._hdr.get_value_from_index(index), int(n))
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
        if self._count != other._count or self._counts() != other._counts():
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
