"""`eudi-connect`: run the server, manage tenants and keys, and use the service by hand."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from eudi_connect import __version__
from eudi_connect.cli.commands import COMMANDS
from eudi_connect.cli.failures import CliError, Exit, did_you_mean
from eudi_connect.cli.parsing import Parser

_EPILOG = """\
exit codes:
  0    done (verify: the credential is valid)
  1    the service refused the request (its status and reason are printed); serve and
       admin commands: the database or the configuration refused it
  2    the command line is wrong
  3    issue-batch: some items failed (their result lines say why)
  4    verify: the credential or presentation is not valid
  5    a local input or output is wrong: a missing or unreadable file, bad JSON, an unknown
       claim or subject field, a key file that exists, output that cannot be written
  6    no server answers at the address (serve: its port is taken)
  7    the API key was refused
  130  interrupted (Ctrl-C)

Client commands read EUDI_CONNECT_ADDRESS and EUDI_CONNECT_API_KEY; serve and the admin
commands read EUDI_CONNECT_DB. `eudi-connect COMMAND --help` describes each command."""

_LOG_LEVEL = "--log-level"
#: Why writing the output may fail, besides a reader that went away.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})


def _command_in(argv: Sequence[str]) -> str | None:
    """The command word of a command line (the first word that is not a global option)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == _LOG_LEVEL:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The parser; with `argv`, only the module of the command it names is loaded (the
    others are listed by name and help), without it every command's."""
    parser = Parser(
        prog="eudi-connect",
        description="Run the EUDI-Connect server, manage its tenants and keys, and use it by hand.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        _LOG_LEVEL,
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level (default: INFO for serve, WARNING otherwise)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = COMMANDS.get(_command_in(argv) or "") if argv is not None else None
    loaded: set[tuple[str, str]] = set()
    for name, command in COMMANDS.items():
        adder = (command.module, command.adder)
        if argv is None or (chosen is not None and adder == (chosen.module, chosen.adder)):
            if adder not in loaded:
                module = importlib.import_module(f"eudi_connect.cli.{command.module}")
                getattr(module, command.adder)(sub)
                loaded.add(adder)
        else:  # listed for --help; never parsed, since only the chosen command is
            sub.add_parser(name, help=command.help, add_help=False)
    return parser


def run(args: object) -> int:
    """Runs the parsed command; the exit code, after one `error:` line if it failed."""
    try:
        args.func(args)  # type: ignore[attr-defined]
    except CliError as error:
        return _fail(error.message, error.code)
    except KeyboardInterrupt:
        return _fail("interrupted", Exit.INTERRUPTED)
    except BrokenPipeError:  # the reader stopped reading (| head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OK
    except Exception as error:
        failure = _known_failure(error, args)
        if failure is None:
            raise
        return _fail(failure.message, failure.code)
    return Exit.OK


def _known_failure(error: Exception, args: object) -> CliError | None:
    """The one-line form of errors commands leave to the top: a gRPC refusal, a domain
    error from the database (admin commands), a file that cannot be written."""
    grpc = sys.modules.get("grpc")  # loaded by every command that can raise its errors
    if grpc is not None and isinstance(error, grpc.RpcError):
        from eudi_connect.cli.client import ClientConfig
        from eudi_connect.cli.rpc_errors import explain

        config = ClientConfig.from_args(getattr(args, "address", None), None)
        return explain(error, config.address, timeout=getattr(args, "timeout", None))
    from eudi_connect.errors import EudiConnectError

    if isinstance(error, EudiConnectError):
        return CliError(f"{error.reason}: {error.message}", Exit.REFUSED)
    if isinstance(error, OSError) and error.filename is not None:
        return CliError(f"{error.filename}: {error.strerror}", Exit.BAD_INPUT)
    if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:  # printing the output
        return CliError(f"cannot write the output: {error.strerror}", Exit.BAD_INPUT)
    return None


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _exit_code(stop: SystemExit) -> int:
    """The status `SystemExit(code)` exits with, after printing a text code as Python does."""
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)
    return 1


def _exit_now(code: int) -> NoReturn:
    """Ends the process without Python's teardown, which for a client command costs a
    seventh of its start-up (gRPC's shutdown, freeing every module) and has nothing left
    to do: the command closed its channel and files. The output is flushed first."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped reading: nothing more to say
        pass
    except OSError as error:  # a full disk
        code = _fail(f"cannot write the output: {error.strerror}", code or Exit.BAD_INPUT)
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """The program (`argv` None: the process's own arguments, and the process ends here),
    or one command line run in this process (`argv`: tests)."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(words)
    if command is not None and command not in COMMANDS:
        build_parser([]).print_usage(sys.stderr)
        hint = did_you_mean(command, COMMANDS) or " (eudi-connect --help lists them)"
        print(f"eudi-connect: error: no command {command!r}{hint}", file=sys.stderr)
        raise SystemExit(Exit.USAGE)
    if command != "serve":  # gRPC's core would print INFO lines (a failed TLS handshake)
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    args = build_parser(words).parse_args(words)
    if args.command != "serve":  # serve sets up its own (structured) logging
        import logging

        level = args.log_level or "WARNING"
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if argv is not None or COMMANDS[args.command].teardown:
        code = run(args)
        if code:
            raise SystemExit(code)
        return
    try:
        code = run(args)
    except SystemExit as stop:  # verify's exit 4, argparse's usage errors in a command
        code = _exit_code(stop)
    _exit_now(code)


if __name__ == "__main__":
    main()
