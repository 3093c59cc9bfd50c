"""EUDI-Connect's own load-testing toolkit: histogram, load generator, echo ceiling, reports.

Only the light pieces are re-exported here; the load generator (which imports grpc) is
imported on first use, so ``import loadtest`` stays cheap for tools that only plot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadtest.histogram import Histogram

if TYPE_CHECKING:
    from loadtest.loadgen import LoadResult, LoadSpec, WorkerContext, run_load, run_load_inprocess

__all__ = [
    "Histogram",
    "LoadResult",
    "LoadSpec",
    "WorkerContext",
    "run_load",
    "run_load_inprocess",
]

_LAZY = {"LoadResult", "LoadSpec", "WorkerContext", "run_load", "run_load_inprocess"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from loadtest import loadgen

        return getattr(loadgen, name)
    raise AttributeError(f"module 'loadtest' has no attribute {name!r}")
