"""Turn load results into text tables, JSON documents and PNG plots.

matplotlib is imported inside the plotting functions (and used without pyplot, so no GUI
backend or global figure state is involved): importing ``loadtest`` stays fast, and a
machine without a display can still write PNGs.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.lib.cpu import CpuPlan, available_cpus

if TYPE_CHECKING:
    from loadtest.lib.spec import TimelinePoint

__all__ = [
    "finite",
    "format_cell",
    "format_table",
    "machine_info",
    "percentile_plot",
    "scaling_plot",
    "write_json",
]

_PERCENTILES = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))


def format_cell(value: Any) -> str:
    """A value as table text: about four significant digits, '-' for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """An aligned text table of ``columns`` (numbers right-aligned, text left-aligned)."""
    cells = [[format_cell(row.get(column)) for column in columns] for row in rows]
    numeric = [
        all(isinstance(row.get(column), int | float) or row.get(column) is None for row in rows)
        for column in columns
    ]
    widths = [
        max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if is_number else value.ljust(width)
            for value, width, is_number in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), line(["-" * width for width in widths])]
    out.extend(line(values) for values in cells)
    return "\n".join(out)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (a second without successes) made None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def write_json(path: str | os.PathLike[str], document: Any) -> None:
    """``document`` as indented, standard JSON (no NaN) in ``path``."""
    text = json.dumps(finite(document), indent=2, allow_nan=False, default=str)
    Path(path).write_text(text + "\n", "utf-8")


def machine_info(cpus: CpuPlan) -> dict[str, Any]:
    """Enough about the machine to read the figures: cores, load, versions, pinning."""
    import grpc

    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": len(available_cpus()),
        "load_average": load,
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "platform": platform.platform(),
        "pinning": cpus.describe(),
        "ghz_on_path": shutil.which("ghz") is not None,
    }


def percentile_plot(
    timeline: Sequence[TimelinePoint],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> None:
    """Write a PNG: P50/P95/P99 per second on top, successful and failed calls below.

    Seconds are by completion time; the last one is usually partial, so its count dips.
    """
    from matplotlib.figure import Figure

    seconds = [point.second + 0.5 for point in timeline]  # plot at the middle of the second
    figure = Figure(figsize=(9, 6), layout="constrained")
    latency, volume = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    for attribute, label in _PERCENTILES:
        latency.plot(seconds, [getattr(point, attribute) for point in timeline], label=label)
    latency.set_ylabel("latency (ms)")
    latency.set_ylim(bottom=0)
    latency.grid(True, alpha=0.3)
    latency.legend(loc="upper left")
    volume.bar(seconds, [point.ok for point in timeline], width=0.9, label="OK")
    volume.bar(
        seconds,
        [point.errors for point in timeline],
        width=0.9,
        bottom=[point.ok for point in timeline],
        label="errors",
        color="tab:red",
    )
    volume.set_ylabel("calls / s")
    volume.set_xlabel("seconds since start")
    volume.grid(True, alpha=0.3)
    volume.legend(loc="lower left")
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)


def scaling_plot(
    points: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    x: str = "concurrency",
    title: str | None = None,
) -> None:
    """Write a PNG: P50/P95/P99 (left) and throughput (right) against ``x``.

    Each point is a mapping such as ``LoadResult.summary()`` (``p50_ms``, ``p95_ms``,
    ``p99_ms``, ``throughput_rps`` and the ``x`` key); points with a ``series`` key are
    drawn as separate lines per series (e.g. one per number of load processes).
    """
    from matplotlib.figure import Figure

    series: dict[str, list[Mapping[str, Any]]] = {}
    for point in points:
        series.setdefault(str(point.get("series", "")), []).append(point)
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    latency, throughput = figure.subplots(1, 2)
    styles = ("-", "--", ":", "-.")
    for number, (name, members) in enumerate(series.items()):
        members = sorted(members, key=lambda point: float(point[x]))
        xs = [float(point[x]) for point in members]
        style = styles[number % len(styles)]
        prefix = f"{name} " if name else ""
        for attribute, label in _PERCENTILES:
            values = [_number(point.get(attribute)) for point in members]
            latency.plot(xs, values, style, marker="o", label=f"{prefix}{label}")
        values = [_number(point.get("throughput_rps")) for point in members]
        throughput.plot(xs, values, style, marker="o", label=name or "throughput")
    for axis in (latency, throughput):
        axis.set_xscale("log", base=2)
        axis.set_xlabel(x)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize="small")
    latency.set_ylabel("latency (ms)")
    latency.set_yscale("log")
    throughput.set_ylabel("successful calls / s")
    throughput.set_ylim(bottom=0)
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)


def _number(value: Any) -> float:
    """None (no successful calls) becomes NaN, which matplotlib leaves as a gap."""
    return math.nan if value is None else float(value)
