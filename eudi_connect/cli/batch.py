"""`eudi-connect issue-batch`: many credentials from a JSONL file of subjects.

Each input line is one subject (a JSON object). Without --copies the lines are streamed
through IssueCredentialStream, so files of any length work; with --copies N every subject
becomes N one-time-use copies, each bound to a fresh holder key made here (the output
line carries that key's private JWK, for the wallet that will present it).

Ctrl-C stops at once and says how many credentials were issued and written; with
--request-id-prefix, running the same command again issues only the rest.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import grpc
from cryptography.hazmat.primitives.asymmetric import ec
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc

from eudi_connect.cli.client import ClientConfig, add_client_flags
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.cli.inputs import parse_json
from eudi_connect.cli.issue import subject_struct
from eudi_connect.cli.output import message_json
from eudi_connect.cli.parsing import non_negative_int
from eudi_connect.cli.subjects import get_template, unread_fields
from eudi_connect.core.formats import FORMATS, MDOC_FORMAT, SD_JWT_VC_FORMAT
from eudi_connect.core.jose import generate_p256_key, private_jwk, public_jwk
from eudi_connect.core.spelling import with_guesses

#: Lines named in the warning about subject fields the template does not read.
_NAMED_LINES = 5


class _Progress(Protocol):
    def update(self, n: float | None = 1) -> bool | None: ...


class _NoProgress:
    def update(self, n: float | None = 1) -> bool | None:
        return None


@dataclass
class Tally:
    """What has been issued and written so far (for the summary, also after Ctrl-C)."""

    total: int
    written: int = 0
    failed: int = 0
    unread: dict[str, list[int]] = field(default_factory=dict)  # field -> subject lines


def _subjects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = path.open(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read the subjects file {str(path)!r}: {exc.strerror}") from None
    with lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            subject = parse_json(line, f"line {number} of {str(path)!r}")
            if not isinstance(subject, dict):
                raise CliError(f"line {number} of {str(path)!r} is not a JSON object")
            yield number, subject


def _request_id(args: argparse.Namespace, number: int) -> str:
    prefix = args.request_id_prefix
    return f"{prefix}-{number}" if prefix else ""


def _result_line(result: pb.IssueCredentialBatchResult, **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"index": result.index, "request_id": result.request_id}
    if result.WhichOneof("outcome") == "error":
        line["error"] = {"code": result.error.code, "message": result.error.message}
    else:
        line.update(message_json(result.credential))
    line.update({key: value for key, value in extra.items() if value is not None})
    return line


def _write(out: TextIO, line: dict[str, Any], tally: Tally) -> None:
    """Writes a result line and counts it, with Ctrl-C held back in between, so that the
    summary after an interrupt counts exactly the lines written."""
    text = json.dumps(line, ensure_ascii=False) + "\n"
    with _sigint_deferred():
        out.write(text)
        tally.written += 1
        tally.failed += "error" in line


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """SIGINT arriving in the block is delivered when it ends (where the OS allows it)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _progress(total: int) -> AbstractContextManager[_Progress]:
    """A progress bar on a terminal's standard error; nothing when it is not one."""
    if not sys.stderr.isatty():
        return nullcontext(_NoProgress())
    from tqdm import tqdm  # a tenth of a second to import: only for people watching

    return tqdm(total=total, unit="cred", file=sys.stderr)


def _stream(
    args: argparse.Namespace, config: ClientConfig, channel: grpc.Channel, out: TextIO, tally: Tally
) -> None:
    # An mdoc is always bound to a device key: without --copies each line gets a fresh one,
    # whose private JWK goes into the result line for the holder's wallet.
    holder_keys: list[ec.EllipticCurvePrivateKey] = []

    def requests() -> Iterator[pb.IssueCredentialRequest]:
        for number, subject in _subjects(args.subjects):
            holder_jwk = ""
            if args.format == MDOC_FORMAT:
                key = generate_p256_key()
                holder_keys.append(key)
                holder_jwk = json.dumps(public_jwk(key.public_key()))
            yield pb.IssueCredentialRequest(
                template_id=args.template,
                subject=subject_struct(subject),
                request_id=_request_id(args, number),
                format=args.format,
                holder_jwk=holder_jwk,
            )

    stub = pb_grpc.CredentialServiceStub(channel)
    stream = stub.IssueCredentialStream(requests(), metadata=config.metadata)
    try:
        with _progress(tally.total) as bar:
            for chunk in stream:
                for result in chunk.results:
                    holder_key = private_jwk(holder_keys[result.index]) if holder_keys else None
                    _write(out, _result_line(result, holder_private_jwk=holder_key), tally)
                bar.update(len(chunk.results))
    except KeyboardInterrupt:
        stream.cancel()
        raise


def _copies(
    args: argparse.Namespace, config: ClientConfig, channel: grpc.Channel, out: TextIO, tally: Tally
) -> None:
    subjects = list(_subjects(args.subjects))
    stub = pb_grpc.CredentialServiceStub(channel)
    with _progress(tally.total) as bar:
        for number, subject in subjects:
            keys = [generate_p256_key() for _ in range(args.copies)]
            copies = pb.CredentialCopies(
                template_id=args.template,
                subject=subject_struct(subject),
                holder_jwks=[json.dumps(public_jwk(k.public_key())) for k in keys],
                request_id=_request_id(args, number),
                format=args.format,
            )
            results = stub.IssueCredentialBatch(
                pb.IssueCredentialBatchRequest(copies=copies), metadata=config.metadata
            )
            try:
                for chunk in results:
                    for result in chunk.results:
                        holder_key = private_jwk(keys[result.index])
                        line = _result_line(
                            result, subject_line=number, holder_private_jwk=holder_key
                        )
                        _write(out, line, tally)
                    bar.update(len(chunk.results))
            except KeyboardInterrupt:
                results.cancel()
                raise


def _count_subjects(args: argparse.Namespace, config: ClientConfig, channel: grpc.Channel) -> Tally:
    """Reads the file once before anything is issued: every line must be a JSON object,
    and subject fields the template does not read are gathered for one warning."""
    template = get_template(tpb_grpc.TemplateServiceStub(channel), config, args.template)
    tally = Tally(total=0)
    for number, subject in _subjects(args.subjects):
        tally.total += 1
        for name in unread_fields(subject, template):
            tally.unread.setdefault(name, []).append(number)
    if tally.unread:
        lines = sorted({n for numbers in tally.unread.values() for n in numbers})
        shown = ", ".join(map(str, lines[:_NAMED_LINES])) + (
            ", ..." if len(lines) > _NAMED_LINES else ""
        )
        print(
            f"warning: template {args.template!r} does not read the subject field(s) "
            f"{with_guesses(tally.unread, template.data_schema)}, on {len(lines)} line(s) "
            f"({shown}): they are not issued",
            file=sys.stderr,
        )
    if args.copies:
        tally.total *= args.copies
    return tally


def _summary(args: argparse.Namespace, tally: Tally) -> str:
    where = str(args.out) if args.out else "standard output"
    issued = tally.written - tally.failed
    again = (
        "run the same command again to issue the rest (--request-id-prefix makes the issued "
        "ones come back unchanged)"
        if args.request_id_prefix
        else "a new run issues every line again; give --request-id-prefix to make reruns idempotent"
    )
    return (
        f"interrupted: {issued} of {tally.total} credential(s) issued and written to {where} "
        f"({tally.failed} failed); {again}"
    )


def cmd_issue_batch(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    with config.channel() as channel:
        tally = _count_subjects(args, config, channel)
        out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
        try:
            if args.copies:
                _copies(args, config, channel, out, tally)
            else:
                _stream(args, config, channel, out, tally)
        except KeyboardInterrupt:
            out.flush()
            raise CliError(_summary(args, tally), Exit.INTERRUPTED) from None
        finally:
            if out is not sys.stdout:
                out.close()
    if tally.failed:
        print(f"{tally.failed} item(s) failed; see their error lines", file=sys.stderr)
        raise SystemExit(Exit.ITEMS_FAILED)


def add_issue_batch_command(sub: Any) -> None:
    parser = command_parser(sub, "issue-batch")
    parser.add_argument("--template", required=True, help="the template id (template list)")
    parser.add_argument(
        "--subjects", required=True, type=Path, metavar="FILE", help="JSONL: one subject a line"
    )
    parser.add_argument(
        "--copies",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N holder-bound copies per subject, each with a new key (0: one credential, "
        "unbound unless mso_mdoc)",
    )
    parser.add_argument(
        "--request-id-prefix", help="makes a resend idempotent: line n gets '<prefix>-<n>'"
    )
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default=SD_JWT_VC_FORMAT,
        help="credential format; mso_mdoc binds each to a new device key, written to the "
        "result line",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="JSONL results (default: standard output)"
    )
    add_client_flags(parser)
    parser.set_defaults(func=cmd_issue_batch)
