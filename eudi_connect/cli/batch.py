"""`eudi-connect issue-batch`: many credentials from a JSONL file of subjects.

Each input line is one subject (a JSON object). Without --copies the lines are streamed
through IssueCredentialStream, so files of any length work; with --copies N every subject
becomes N one-time-use copies, each bound to a fresh holder key made here (the output
line carries that key's private JWK, for the wallet that will present it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric import ec
from eudi.connect.v1 import credential_service_pb2 as pb
from google.protobuf import json_format
from tqdm import tqdm

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.cli.client import ClientConfig, add_client_flags, credential_stub
from eudi_connect.core.formats import FORMATS, MDOC_FORMAT, SD_JWT_VC_FORMAT
from eudi_connect.core.jose import generate_p256_key, private_jwk, public_jwk


def _subjects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            subject = json.loads(line)
            if not isinstance(subject, dict):
                raise SystemExit(f"error: line {number} of {path} is not a JSON object")
            yield number, subject


def _request_id(args: argparse.Namespace, number: int) -> str:
    prefix = args.request_id_prefix
    return f"{prefix}-{number}" if prefix else ""


def _result_line(result: pb.IssueCredentialBatchResult, **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"index": result.index, "request_id": result.request_id}
    if result.WhichOneof("outcome") == "error":
        line["error"] = {"code": result.error.code, "message": result.error.message}
    else:
        line.update(json_format.MessageToDict(result.credential, preserving_proto_field_name=True))
    line.update({key: value for key, value in extra.items() if value is not None})
    return line


def _write(out: TextIO, line: dict[str, Any]) -> None:
    out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _stream(args: argparse.Namespace, config: ClientConfig, out: TextIO) -> int:
    total = sum(1 for _ in _subjects(args.subjects))

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
                subject=dict_to_struct(subject),
                request_id=_request_id(args, number),
                format=args.format,
                holder_jwk=holder_jwk,
            )

    failed = 0
    with credential_stub(config) as stub, tqdm(total=total, unit="cred", file=sys.stderr) as bar:
        for result in stub.IssueCredentialStream(requests(), metadata=config.metadata):
            failed += result.WhichOneof("outcome") == "error"
            holder_key = private_jwk(holder_keys[result.index]) if holder_keys else None
            _write(out, _result_line(result, holder_private_jwk=holder_key))
            bar.update(1)
    return failed


def _copies(args: argparse.Namespace, config: ClientConfig, out: TextIO) -> int:
    subjects = list(_subjects(args.subjects))
    failed = 0
    with (
        credential_stub(config) as stub,
        tqdm(total=len(subjects) * args.copies, unit="cred", file=sys.stderr) as bar,
    ):
        for number, subject in subjects:
            keys = [generate_p256_key() for _ in range(args.copies)]
            copies = pb.CredentialCopies(
                template_id=args.template,
                subject=dict_to_struct(subject),
                holder_jwks=[json.dumps(public_jwk(k.public_key())) for k in keys],
                request_id=_request_id(args, number),
                format=args.format,
            )
            results = stub.IssueCredentialBatch(
                pb.IssueCredentialBatchRequest(copies=copies), metadata=config.metadata
            )
            for result in results:
                failed += result.WhichOneof("outcome") == "error"
                holder_key = private_jwk(keys[result.index])
                _write(
                    out, _result_line(result, subject_line=number, holder_private_jwk=holder_key)
                )
                bar.update(1)
    return failed


def cmd_issue_batch(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        failed = _copies(args, config, out) if args.copies else _stream(args, config, out)
    finally:
        if out is not sys.stdout:
            out.close()
    if failed:
        print(f"{failed} item(s) failed; see their error lines", file=sys.stderr)
        raise SystemExit(3)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("issue-batch", help="issue many credentials from a JSONL file")
    parser.add_argument("--template", required=True)
    parser.add_argument("--subjects", required=True, type=Path, help="JSONL: one subject a line")
    parser.add_argument("--copies", type=int, default=0, help="N holder-bound copies per subject")
    parser.add_argument(
        "--request-id-prefix", help="makes a resend idempotent: line n gets '<prefix>-<n>'"
    )
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default=SD_JWT_VC_FORMAT,
        help="credential format (default %(default)s); mso_mdoc binds each to a new device "
        "key, written to the result line",
    )
    parser.add_argument("--out", type=Path, help="JSONL results (default: standard output)")
    add_client_flags(parser)
    parser.set_defaults(func=cmd_issue_batch)
