"""The credential exchange benchmark's figures: what was measured, their medians, the echo
fractions, the SLA and target verdicts, and the text report.

The lifecycle is one scenario call of four RPCs; its throughput counts lifecycles, and its
echo fraction counts its RPCs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtest.lib.report import format_table
from loadtest.lib.runs import median_row
from loadtest.lib.sla import OPERATIONS, sla_row, target_rows

__all__ = ["Results", "render", "summarize"]

Rows = list[dict[str, Any]]

_FIGURE_COLUMNS = ["operation", "load", "ok", "errors", "throughput_rps", "p50_ms", "p95_ms"]
_FIGURE_COLUMNS += ["p99_ms", "max_ms", "server_us_per_call", "echo_fraction"]
_SLA_COLUMNS = ["operation", "p95_unloaded_ms", "p95_loaded_ms", "mvp_ms", "mvp"]
_SLA_COLUMNS += ["later_ms", "later"]


@dataclass
class Results:
    """Every measured row, grouped; medians are taken when reporting."""

    machine: dict[str, Any]
    plan: dict[str, Any]
    echo_unloaded: Rows = field(default_factory=list)
    echo_loaded: Rows = field(default_factory=list)
    unloaded: dict[str, Rows] = field(default_factory=dict)
    loaded: dict[str, Rows] = field(default_factory=dict)
    open_loop: Rows = field(default_factory=list)
    writer: dict[str, Rows] = field(default_factory=dict)

    def failed(self) -> bool:
        """Whether a measured call failed, warm-up included (then the figures are suspect)."""
        groups = [self.echo_loaded, self.open_loop, *self.loaded.values(), *self.unloaded.values()]
        return any(row["errors"] or row.get("warmup_errors") for rows in groups for row in rows)

    def document(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """Everything, for the JSON file."""
        runs = ("echo_unloaded", "echo_loaded", "unloaded", "loaded", "open_loop")
        return {
            "machine": self.machine,
            "plan": self.plan,
            "summary": summary,
            "runs": {name: getattr(self, name) for name in runs},
        }


def summarize(results: Results) -> dict[str, Any]:
    """Medians per phase, the echo ceiling, fractions, and the SLA and target verdicts."""
    echo = median_row(results.echo_loaded)["throughput_rps"] if results.echo_loaded else None
    operations: dict[str, Any] = {}
    for op in OPERATIONS:
        if op.key not in results.loaded:
            continue
        loaded = median_row(results.loaded[op.key])
        fraction = None
        if echo and loaded["throughput_rps"] is not None:
            fraction = round(loaded["throughput_rps"] * op.rpcs_per_call / echo, 3)
        operations[op.key] = {
            "label": op.label,
            "unloaded": median_row(results.unloaded[op.key]),
            "loaded": loaded,
            "echo_fraction": fraction,
        }
    open_loop = median_row(results.open_loop) if results.open_loop else None
    issuance = operations.get("issuance")
    return {
        "echo_ceiling_rps": echo,
        "echo_loaded_runs": [row["throughput_rps"] for row in results.echo_loaded],
        "echo_unloaded": median_row(results.echo_unloaded) if results.echo_unloaded else None,
        "operations": operations,
        "open_loop": open_loop,
        "writer": results.writer,
        "sla": [
            sla_row(
                op,
                operations[op.key]["loaded"]["p95_ms"],
                p95_unloaded_ms=operations[op.key]["unloaded"]["p95_ms"],
                p95_loaded_ms=operations[op.key]["loaded"]["p95_ms"],
            )
            for op in OPERATIONS
            if op.key in operations
        ],
        "targets": target_rows(
            {key: figures["unloaded"]["p95_ms"] for key, figures in operations.items()},
            issuance["echo_fraction"] if issuance is not None else None,
            open_loop,
        ),
    }


def render(summary: Mapping[str, Any], results: Results) -> str:
    """The text report: figures per operation, SLA, targets, group commit."""
    machine = results.machine
    in_flight = f"{results.plan['concurrency']} in flight"
    out = [
        f"\nmachine: {machine['cpus']} CPUs, load average {machine['load_average']} at start, "
        f"{machine.get('load_average_end')} at end; {machine['pinning']}; "
        f"Python {machine['python']}, grpcio {machine['grpc']}"
    ]
    rows: Rows = []
    if summary["echo_unloaded"] is not None:
        rows.append(_figure_row("echo (bare gRPC)", "1 in flight", summary["echo_unloaded"]))
    if results.echo_loaded:
        rows.append(
            _figure_row("echo (bare gRPC)", in_flight, median_row(results.echo_loaded), 1.0)
        )
    for key, figures in summary["operations"].items():
        rows.append(_figure_row(key, "1 in flight", figures["unloaded"]))
        rows.append(_figure_row(key, in_flight, figures["loaded"], figures["echo_fraction"]))
    open_loop = summary["open_loop"]
    if open_loop is not None:
        rows.append(_figure_row("issuance", f"open {open_loop['rate']:g}/s", open_loop))
    out.append(
        f"\nfigures (median of {results.plan['repeat']} run(s) each; latency in ms; "
        f"echo ceiling {summary['echo_ceiling_rps']}/s)"
    )
    out.append(format_table(rows, _FIGURE_COLUMNS))
    out.append("\nSLA (docs/performance.md, P95): judged at the loaded P95")
    out.append(format_table(summary["sla"], _SLA_COLUMNS))
    out.append("\ntargets")
    out.append(format_table(summary["targets"], ["target", "measured", "limit", "verdict"]))
    if results.open_loop:
        # What an open-loop P95 means depends on whether both sides kept to the timetable.
        runs = ", ".join(
            f"{row['rate']:g}/s: p95 {row['p95_ms']} ms, {row['late']} late, "
            f"server busy {row['server_cpu']}"
            for row in results.open_loop
        )
        out.append(
            f"open-loop runs ({runs}); 'late' calls started over 10 ms behind their slot at "
            "the client, and a server busy well under 1.0 while behind means other work "
            "had its core"
        )
    if summary["writer"]:
        writer_rows = [
            {"session": key, **row} for key, rows_ in summary["writer"].items() for row in rows_
        ]
        out.append("\ngroup commit per server session (all its writes, setup and unloaded too)")
        out.append(format_table(writer_rows, ["session", "items", "groups", "mean", "largest"]))
    return "\n".join(out)


def _figure_row(
    operation: str, load: str, row: Mapping[str, Any], echo_fraction: float | None = None
) -> dict[str, Any]:
    return {
        "operation": operation,
        "load": load,
        **{key: row[key] for key in _FIGURE_COLUMNS[2:-2]},
        "server_us_per_call": row.get("server_cpu_us_per_call"),
        "echo_fraction": echo_fraction,
    }
