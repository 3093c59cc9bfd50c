"""CPU accounting and pinning: who may run where, and how much CPU a server used.

CPU time comes from /proc (Linux only; elsewhere the readers answer None). The difference
over a measured phase, divided by its calls, is a server's CPU cost per call: the figure
that noise on a shared machine moves least.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "CpuPlan",
    "available_cpus",
    "children_cpu_seconds",
    "cpu_seconds",
    "pin_process",
    "plan_cpus",
    "process_command",
    "process_tree",
    "thread_cpu_seconds",
    "thread_switches",
    "tree_cpu_seconds",
]


def available_cpus() -> list[int]:
    """CPU numbers this process may run on (all of them where affinity is unsupported)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def pin_process(pid: int, cpus: Iterable[int]) -> bool:
    """Pin every thread of ``pid`` to ``cpus``; returns False where that is unsupported.

    ``sched_setaffinity`` on a PID moves only its main thread, and threads started before
    the call keep their old mask, so on Linux each thread listed in /proc is moved too.
    """
    if not hasattr(os, "sched_setaffinity"):
        return False
    mask = set(cpus)
    os.sched_setaffinity(pid, mask)
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            # A thread may exit between listing and pinning; that is harmless.
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(tid), mask)
    return True


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the server(s) and the load generator may use (None: any)."""

    server: tuple[int, ...] | None
    load: tuple[int, ...] | None

    def describe(self) -> str:
        if self.server is None:
            return "not pinned"
        return f"server on CPU {_cpus(self.server)}, load on CPU {_cpus(self.load or ())}"


def _cpus(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def plan_cpus(*, pin: bool = True, server_cores: int = 1) -> CpuPlan:
    """The server on its own core(s), the load generator on the rest, if there is a rest."""
    cpus = available_cpus()
    if not pin or len(cpus) <= server_cores:
        return CpuPlan(None, None)
    return CpuPlan(tuple(cpus[:server_cores]), tuple(cpus[server_cores:]))


def _stat_cpu_seconds(path: str) -> float | None:
    """utime + stime of a /proc stat file (a process's or one thread's), in seconds."""
    try:
        with open(path, encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces) start at field 3;
    # utime and stime are fields 14 and 15, in clock ticks.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far (all its threads), or None if unknown."""
    return _stat_cpu_seconds(f"/proc/{pid}/stat")


def thread_cpu_seconds(pid: int) -> dict[tuple[int, str], float]:
    """CPU seconds of each thread of ``pid`` so far, keyed by (thread id, kernel name);
    empty if the process is unknown. The service names its own threads for the kernel
    (``sqlite-writer``, ``sqlite-reader-0``); the main thread runs the event loop."""
    used: dict[tuple[int, str], float] = {}
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return used
    for tid in threads:
        seconds = _stat_cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
        if seconds is None:
            continue  # the thread ended between listing and reading
        try:
            with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8", errors="replace") as f:
                name = f.read().strip()
        except OSError:
            continue
        used[(int(tid), name)] = seconds
    return used


def thread_switches(pid: int) -> dict[int, int]:
    """Context switches of each thread of ``pid`` so far (voluntary: it waited, for a lock,
    I/O or a wake-up; and involuntary: preempted), keyed by thread id."""
    switches: dict[int, int] = {}
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return switches
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/status", encoding="ascii", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        counted = ("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")
        switches[int(tid)] = sum(int(line.split()[1]) for line in lines if line.startswith(counted))
    return switches


def process_command(pid: int) -> list[str]:
    """The command line of ``pid`` (empty if unknown)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as children,
        ):
            found.extend(int(child) for child in children.read().split())
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (``serve --workers`` works in children)."""
    seen: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.append(current)
            todo.extend(_children(current))
    return seen


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU time of ``pid`` and every process below it, or None if ``pid`` is unknown.

    ``serve --workers`` does its work in child processes; the parent alone would show none.
    """
    used = [cpu_seconds(each) for each in process_tree(pid)]
    if used[0] is None:
        return None
    return sum(seconds for seconds in used if seconds is not None)  # a child may just exit


def children_cpu_seconds() -> float:
    """CPU time of this process's children that have ended and been waited for."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
