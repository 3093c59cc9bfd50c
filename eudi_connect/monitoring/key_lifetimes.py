"""Issuer keys nearing their end, as metrics: what the key schedule last saw.

* ``issuer_key.remaining_seconds`` (gauge, s): per key, the time until an active key is
  due for rotation (its tenant's maximum age) or until a retired key leaves the JWKS;
* ``issuer_key.nearing_end`` (gauge): per tenant and purpose, how many keys have less
  than the warning time left.

Attributes: ``tenant``, ``purpose`` (``credential`` or ``status``), and on the first
``kid`` and ``state`` (``active`` or ``retired``). The key schedule publishes a fresh
snapshot on every pass; a collection reads the latest one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opentelemetry import metrics

KEY_REMAINING_SECONDS = "issuer_key.remaining_seconds"
KEYS_NEARING_END = "issuer_key.nearing_end"


@dataclass(frozen=True)
class KeyLifetime:
    tenant: str
    purpose: str
    kid: str
    state: str
    remaining_seconds: float


class _Snapshot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lifetimes: tuple[KeyLifetime, ...] = ()
        self._warning_seconds = 0.0

    def publish(self, lifetimes: Sequence[KeyLifetime], warning_seconds: float) -> None:
        with self._lock:
            self._lifetimes = tuple(lifetimes)
            self._warning_seconds = warning_seconds

    def read(self) -> tuple[tuple[KeyLifetime, ...], float]:
        with self._lock:
            return self._lifetimes, self._warning_seconds


_snapshot = _Snapshot()


def publish_key_lifetimes(lifetimes: Sequence[KeyLifetime], *, warning_seconds: float) -> None:
    """Replaces what the gauges report (the key schedule calls it on every pass)."""
    _snapshot.publish(lifetimes, warning_seconds)


def _remaining(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    lifetimes, _ = _snapshot.read()
    return [
        metrics.Observation(
            round(k.remaining_seconds, 3),
            {"tenant": k.tenant, "purpose": k.purpose, "kid": k.kid, "state": k.state},
        )
        for k in lifetimes
    ]


def _nearing_end(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    lifetimes, warning = _snapshot.read()
    counts = Counter((k.tenant, k.purpose) for k in lifetimes if k.remaining_seconds <= warning)
    every = {(k.tenant, k.purpose) for k in lifetimes}
    return [
        metrics.Observation(counts.get(group, 0), {"tenant": group[0], "purpose": group[1]})
        for group in sorted(every)
    ]


def register_key_gauges(meter: metrics.Meter) -> None:
    """Adds the two gauges to `meter` (the process's monitor does, when it records)."""
    meter.create_observable_gauge(
        KEY_REMAINING_SECONDS,
        callbacks=[_remaining],
        unit="s",
        description="Time until an active issuer key is rotated or a retired one unpublished",
    )
    meter.create_observable_gauge(
        KEYS_NEARING_END,
        callbacks=[_nearing_end],
        unit="{key}",
        description="Issuer keys with less than the warning time left",
    )
