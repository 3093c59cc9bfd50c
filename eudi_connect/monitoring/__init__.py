"""Metrics, traces and structured logs. Knows nothing of gRPC or of the layers it measures:
services time their steps with it, the API records every call into it."""

from eudi_connect.monitoring.performance_metrics import (
    PerformanceMonitor,
    current_monitor,
    install_monitor,
    measure_operation_time,
    monitor_installed,
    time_operation,
)

__all__ = [
    "PerformanceMonitor",
    "current_monitor",
    "install_monitor",
    "measure_operation_time",
    "monitor_installed",
    "time_operation",
]
