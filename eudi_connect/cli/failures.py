"""Exit codes and the one-line errors of the command line.

Every failure a person can cause or meet (a misspelt file, a server that is not running,
a refused key) ends as `error: <what is wrong; what to do>` on standard error and one of
the exit codes below, which scripts may rely on. README.md lists them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from eudi_connect.core.spelling import close_matches


class Exit(IntEnum):
    OK = 0
    #: The service refused the request; for serve and the admin commands, the database
    #: or the configuration did.
    REFUSED = 1
    #: The command line is wrong: an unknown option, a missing argument (argparse's code).
    USAGE = 2
    #: issue-batch: some items failed; their result lines carry the errors.
    ITEMS_FAILED = 3
    #: verify: the credential or presentation is not valid.
    NOT_VALID = 4
    #: A local input or output is wrong: a file missing, unreadable or not JSON, an unknown
    #: claim or subject field, an output file that exists already, output that cannot be
    #: written.
    BAD_INPUT = 5
    #: No connection: nothing answers at the address (serve: its port is taken).
    UNREACHABLE = 6
    #: The API key was refused (UNAUTHENTICATED, PERMISSION_DENIED).
    UNAUTHENTICATED = 7
    #: Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    INTERRUPTED = 130


class CliError(Exception):
    """A failure reported as one line, `error: <message>`, and exit code `code`."""

    def __init__(self, message: str, code: Exit = Exit.BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the choices close to `word`, or ''."""
    close = close_matches(word, choices)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
