"""Measured runs and their medians: one load run with the server's CPU over it, phases in a
row under one progress bar, and the median of repeated runs.

A shared machine moves absolute figures by tens of percent from one minute to the next,
so every tool repeats its runs (``--repeat``) and reports medians, taken here.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadtest.lib.histogram import Histogram
from loadtest.lib.spec import LoadResult, LoadSpec

if TYPE_CHECKING:
    from loadtest.lib.server import ServerProcess

__all__ = [
    "COUNTS",
    "FIGURES",
    "PhaseRunner",
    "level_label",
    "measure",
    "median_row",
    "medians_by",
    "one_line",
    "timed_lanes",
]

COUNTS = ("calls", "ok", "errors", "dropped", "late", "unfinished")
"""Summed over repeated runs."""
FIGURES = (
    "throughput_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "server_cpu",
    "server_cpu_us_per_call",
)
"""Medians over repeated runs."""


def measure(
    spec: LoadSpec,
    server: ServerProcess | None,
    *,
    progress: bool = True,
    in_process: bool = False,
) -> tuple[LoadResult, dict[str, Any]]:
    """Run ``spec``; the result, and its summary plus the server's CPU over the run.

    ``server_cpu`` is cores busy (1.0: one core all the time), the server's child processes
    included; ``server_cpu_us_per_call`` is CPU per successful call, the cost figure that
    noise on a shared machine moves least.
    ``in_process`` applies the load from this process (no worker processes to start): for
    smoke tests, not for figures, since it shares a core with whatever else runs here.
    """
    from loadtest.lib.engine import run_load_inprocess
    from loadtest.lib.pool import run_load

    before: float | None = None

    def cpu() -> float | None:
        return server.tree_cpu_seconds() if server is not None else None

    def note_start() -> None:
        nonlocal before
        before = cpu()

    if in_process:
        note_start()
        result = asyncio.run(run_load_inprocess(spec))
    else:
        result = run_load(spec, progress=progress, on_start=note_start)
    after = cpu()
    row = result.summary()
    row["warmup_errors"] = result.warmup_errors
    if result.error_samples:
        row["error_samples"] = dict(result.error_samples)
    row["server_cpu"] = None
    row["server_cpu_us_per_call"] = None
    if before is not None and after is not None and result.elapsed > 0:
        row["server_cpu"] = round((after - before) / result.elapsed, 3)
        if result.ok:
            row["server_cpu_us_per_call"] = round((after - before) / result.ok * 1e6, 1)
    return result, row


def _median(values: Sequence[float]) -> float:
    if all(isinstance(value, int) for value in values):
        return statistics.median_low(values)  # counts stay whole numbers
    return statistics.median(values)


def median_row(
    rows: Sequence[Mapping[str, Any]],
    *,
    figures: Iterable[str] = FIGURES,
    counts: Iterable[str] = COUNTS,
    digits: int = 3,
) -> dict[str, Any]:
    """One row from repeated runs: ``counts`` summed, ``figures`` the median (None if
    absent), everything else as in the last run; ``runs`` says how many there were."""
    if not rows:
        raise ValueError("no rows")
    merged = dict(rows[-1])
    for key in counts:
        merged[key] = sum(int(row.get(key) or 0) for row in rows)
    for key in figures:
        values = [row[key] for row in rows if _is_number(row.get(key))]
        merged[key] = round(_median(values), digits) if values else None
    merged["runs"] = len(rows)
    return merged


def medians_by(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Per distinct value of ``keys`` (in first-seen order), the median of every number."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in keys), []).append(row)
    numbers = [
        [key for key, value in members[0].items() if key not in keys and _is_number(value)]
        for members in groups.values()
    ]
    return [
        median_row(members, figures=figures, counts=())
        for members, figures in zip(groups.values(), numbers, strict=True)
    ]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def one_line(label: str, row: Mapping[str, Any]) -> str:
    """A measured row as one line of progress output."""
    text = (
        f"{label}: {row['ok']} ok, {row['errors']} errors, {row['throughput_rps']}/s, "
        f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms"
    )
    if row.get("server_cpu_us_per_call") is not None:
        text += f", server {row['server_cpu_us_per_call']} µs/call"
    if row.get("error_samples"):
        text += f"\n    first errors: {row['error_samples']}"
    return text


class PhaseRunner:
    """Runs measured phases in order, with a progress bar over them and a line per phase."""

    def __init__(
        self, total_phases: int, *, progress: bool, in_process: bool, unit: str = "phase"
    ) -> None:
        from tqdm import tqdm

        self.progress = progress
        self.in_process = in_process
        self.bar = tqdm(
            total=total_phases,
            desc="benchmark",
            unit=unit,
            disable=not progress,
            dynamic_ncols=True,
            position=1,
        )

    def phase(
        self, label: str, spec: LoadSpec, server: ServerProcess | None, **extra: Any
    ) -> dict[str, Any]:
        """One measured run; its row carries ``extra`` and ``phase`` (the label)."""
        self.bar.set_description(label)
        _, row = measure(spec, server, progress=self.progress, in_process=self.in_process)
        row |= extra
        row["phase"] = label
        self.bar.update(1)
        self.write(one_line(label, row))
        return row

    def repeated(
        self, label: str, spec: LoadSpec, server: ServerProcess | None, repeat: int
    ) -> dict[str, Any]:
        """``repeat`` runs of one phase, as their median row."""
        return median_row([self.phase(label, spec, server) for _ in range(repeat)])

    def write(self, text: str) -> None:
        self.bar.write(text)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> PhaseRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def level_label(row: Mapping[str, Any]) -> str:
    """``32 in flight`` for a closed loop, ``100/s`` for an open one."""
    if row["mode"] == "closed":
        return f"{row['concurrency']} in flight"
    return f"{row['rate']:g}/s"


async def timed_lanes(
    calls: int, concurrency: int, call: Callable[[int], Awaitable[object]]
) -> tuple[float, Histogram]:
    """``calls`` awaits of ``call(n)`` from ``concurrency`` lanes on this event loop: the
    elapsed seconds and each call's latency (for in-process micro-benchmarks)."""
    latencies = Histogram()
    counter = iter(range(calls))

    async def lane() -> None:
        for n in counter:
            begin = time.perf_counter()
            await call(n)
            latencies.record(time.perf_counter() - begin)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies
