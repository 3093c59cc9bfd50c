"""`eudi-connect issue`: one credential. The template is read first, so that a misspelt
id gets a did-you-mean and subject fields it does not read are named (with --strict,
refused before anything is issued)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
from google.protobuf import struct_pb2

from eudi_connect.cli.client import ClientConfig, add_client_flags
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.inputs import read_json_object, read_public_jwk, write_private
from eudi_connect.cli.output import add_output_flags, emit, message_json
from eudi_connect.cli.rpc_errors import explain, refusal_of
from eudi_connect.cli.subjects import get_template, unread_warning
from eudi_connect.core.formats import FORMATS, SD_JWT_VC_FORMAT
from eudi_connect.reasons import Reason


def subject_struct(subject: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(subject)
    return struct


def cmd_issue(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    subject = read_json_object(args.subject, "subject file")
    request = pb.IssueCredentialRequest(
        template_id=args.template,
        subject=subject_struct(subject),
        holder_jwk=read_public_jwk(args.holder_jwk) if args.holder_jwk else "",
        request_id=args.request_id or "",
        format=args.format,
    )
    if args.validity is not None:
        request.validity_seconds = args.validity
    with config.channel() as channel:
        templates = tpb_grpc.TemplateServiceStub(channel)
        template = get_template(templates, config, args.template)
        warning = unread_warning(subject, template, strict=args.strict)
        try:
            response = config.call(pb_grpc.CredentialServiceStub(channel).IssueCredential, request)
        except grpc.RpcError as error:
            # A refusal for missing fields names the unread ones too: no warning beside it.
            if warning and refusal_of(error).reason != Reason.SUBJECT_FIELD_MISSING:
                print(warning, file=sys.stderr)
            raise explain(error, config.address, timeout=config.timeout) from None
    if warning:
        print(warning, file=sys.stderr)
    if args.credential_out:
        write_private(Path(args.credential_out), response.credential + "\n")
    emit(args, message_json(response))


def add_issue_command(sub: Any) -> None:
    issue = command_parser(sub, "issue")
    issue.add_argument("--template", required=True, help="the template id (template list)")
    issue.add_argument(
        "--subject",
        required=True,
        metavar="FILE",
        help="the subject data: a JSON object file (or @file, or - for standard input)",
    )
    issue.add_argument(
        "--holder-jwk",
        metavar="JWK",
        help="the holder's public JWK: JSON, or @file (holder-key's files, public or private: "
        "only the public part is sent)",
    )
    issue.add_argument(
        "--request-id", help="makes a resend idempotent: the same id gives the same credential"
    )
    issue.add_argument(
        "--validity", type=int, metavar="SECONDS", help="validity (default: the template's)"
    )
    issue.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default=SD_JWT_VC_FORMAT,
        help="credential format; mso_mdoc needs --holder-jwk",
    )
    issue.add_argument(
        "--strict",
        action="store_true",
        help="refuse subject fields the template does not read (default: a warning)",
    )
    issue.add_argument(
        "--credential-out",
        metavar="FILE",
        help="also write the credential alone to FILE (mode 0600), for verify @FILE and "
        "present @FILE",
    )
    add_output_flags(issue, quiet="credential")
    add_client_flags(issue)
    issue.set_defaults(func=cmd_issue)
