"""Structured logs: a JSON (or plain text) formatter for the std `logging` module and the
one-line-per-call access log.

Fields travel in ``extra={"fields": {...}}`` and are written as top-level JSON keys. The
access log writes only the fields the caller names (method, status, duration, tenant id,
request id, peer): never a request body, metadata value, claim or credential.

Access lines are handed to `logging` in batches by the monitoring thread (`_batching`), at
most `ACCESS_LOG_INTERVAL` seconds after the call and with the call's own timestamp; the
same thread flushes `BatchingStreamHandler`'s stream. `flush_access_log` writes what is
pending at once.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import IO, Any, Literal

from eudi_connect.monitoring._batching import (
    TICK_SECONDS,
    Batcher,
    flush_every_tick,
    keep_ticking,
    stop_flushing,
)

__all__ = [
    "ACCESS_LOGGER",
    "FIELDS",
    "LOG_FORMATS",
    "BatchingStreamHandler",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "access_log",
    "configure_logging",
    "flush_access_log",
    "log_access",
]

LogFormat = Literal["json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "text")
ACCESS_LOGGER = "eudi_connect.access"
FIELDS = "fields"  # the `extra` key that carries structured fields

# Third-party loggers whose DEBUG lines can repeat SQL parameters (credentials, key
# material; aiosqlite logs the call it runs): never below INFO, whatever the service's level.
CHATTY_LOGGERS = ("aiosqlite",)

access_log = logging.getLogger(ACCESS_LOGGER)
_encoder = json.JSONEncoder(ensure_ascii=False, default=str)
# (second, its formatted text): a busy server logs many lines within one second.
_second_text: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    global _second_text
    second = int(record.created)
    cached = _second_text
    if cached[0] != second:
        cached = _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> Mapping[str, Any] | None:
    fields = record.__dict__.get(FIELDS)
    return fields if isinstance(fields, Mapping) else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = _fields(record)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry)


class TextFormatter(logging.Formatter):
    """``time level logger message key=value ...`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        pairs = " ".join(f"{key}={json.dumps(value, default=str)}" for key, value in fields.items())
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        return f"{head} {pairs}{sep}{tail}"


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes at most every `interval` seconds, at once for WARNING
    and above, and when closed.

    One access-log line per RPC would otherwise cost one write(2) per RPC, which measured
    as the largest part of the instrumentation's cost; batched, a busy server writes a few
    times a second. Lines a quiet spell leaves behind are flushed by the monitoring thread
    (`_batching`), on the tick that also writes the queued access lines.
    """

    def __init__(self, stream: IO[str], *, interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        self._next_flush = 0.0
        flush_every_tick(self)

    def flush_if_due(self) -> None:
        """The monitoring thread's share: a flush once `interval` has passed since the last."""
        if time.monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> None:
        super().flush()
        self._next_flush = time.monotonic() + self.interval

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING or time.monotonic() >= self._next_flush:
                self.flush()
            keep_ticking()  # a forked child's thread starts again on its first line
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        stop_flushing(self)
        try:
            self.flush()
        finally:
            super().close()


def _buffered_stderr() -> IO[str]:
    """Standard error with a block buffer (Python line-buffers it), not closing fd 2."""
    try:
        raw = io.FileIO(sys.stderr.fileno(), "w", closefd=False)
    except (AttributeError, OSError, ValueError):  # no real fd (embedded, captured)
        return sys.stderr
    return io.TextIOWrapper(
        io.BufferedWriter(raw, buffer_size=1 << 16), encoding="utf-8", errors="backslashreplace"
    )


def configure_logging(
    log_format: LogFormat = "json", level: int | str = "INFO", *, stream: IO[str] | None = None
) -> logging.Handler:
    """Replaces the root logger's handlers with one that writes `log_format` to `stream`
    (standard error by default), flushed in batches (`BatchingStreamHandler`); returns that
    handler."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, not {log_format!r}")
    handler = BatchingStreamHandler(stream if stream is not None else _buffered_stderr())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Neither formatter writes thread or process names; not collecting them saves a few
    # microseconds on every record (one access-log line per RPC).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    floor = max(logging.getLogger().getEffectiveLevel(), logging.INFO)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(floor)
    return handler


ACCESS_LOG_INTERVAL = TICK_SECONDS  # seconds an access line may wait for its batch


def _write_access_line(item: tuple[float, str, Mapping[str, Any]]) -> None:
    created, message, fields = item
    # Made directly: `Logger.info` would also look up the caller's frame, unused here.
    record = access_log.makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 0, message, (), None, extra={FIELDS: fields}
    )
    record.created = created
    record.msecs = (created - int(created)) * 1000.0
    access_log.handle(record)


_access_lines: Batcher[tuple[float, str, Mapping[str, Any]]] = Batcher(_write_access_line)


def log_access(message: str, fields: Mapping[str, Any]) -> None:
    """One access-log line at INFO, written within `ACCESS_LOG_INTERVAL` seconds; callers
    check ``access_log.isEnabledFor(logging.INFO)`` first, so nothing is queued when the
    access log is off."""
    _access_lines.add((time.time(), message, fields))


def flush_access_log() -> None:
    """Writes every pending access line now (at shutdown, and in tests before reading)."""
    _access_lines.flush()
