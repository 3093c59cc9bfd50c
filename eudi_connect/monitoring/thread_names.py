"""The kernel's name of a thread, set to the service's own name for it.

Python names its threads for itself only: to the kernel every thread of the server is
called after the process. With the kernel name set, `top -H`, `ps -L` and
`/proc/<pid>/task/<tid>/comm` tell the SQLite writer from the event loop, and the load
tools account CPU time per thread by these names. Linux only; elsewhere nothing changes.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["name_os_thread"]

#: The kernel keeps 15 bytes of a thread's name (TASK_COMM_LEN less its NUL).
_MAX_NAME_BYTES = 15


def name_os_thread(name: str) -> None:
    """Gives the calling thread `name` (its first 15 bytes) in the kernel's view."""
    short = name.encode()[:_MAX_NAME_BYTES].decode(errors="ignore")
    path = f"/proc/self/task/{threading.get_native_id()}/comm"
    with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as comm:
        comm.write(short)
