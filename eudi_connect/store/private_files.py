"""Files that hold secrets (the database and the master key file beside it): created
0600, and one log line when an existing one is open to other local users."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from eudi_connect.monitoring.logging import FIELDS

PRIVATE_MODE = 0o600
_GROUP_AND_OTHERS = 0o077

log = logging.getLogger(__name__)


def create_private_file(path: Path) -> bool:
    """Creates `path` empty with mode 0600 whatever the umask; False if it already exists.

    Created exclusively, so a file another process made first (or an operator's own) is
    never truncated and keeps its mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_MODE)  # os.open's mode is reduced by the umask
    finally:
        os.close(fd)
    return True


def warn_if_open_to_others(path: Path, *, what: str) -> None:
    """Logs one warning when group or others have any permission on `path` (`what` names
    it: "database file", "master key file"). Its mode is the operator's to change, so it
    is left as it is; a missing or unreadable file says nothing."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & _GROUP_AND_OTHERS:
        log.warning(
            "the %s %s is open to group or others (mode %04o); chmod 600 it",
            what,
            path,
            mode,
            extra={FIELDS: {"path": str(path), "mode": f"{mode:04o}"}},
        )
