"""The credential commands, as a client of a running server: verify, revoke, suspend,
reinstate, status, status-list, jwks (issue has its own module)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from eudi.connect.v1 import credential_service_pb2 as pb

from eudi_connect.cli.client import ClientConfig, add_client_flags, credential_stub
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.failures import Exit
from eudi_connect.cli.inputs import read_text
from eudi_connect.cli.output import add_output_flags, emit, message_json
from eudi_connect.cli.parsing import openid4vp_flags


def cmd_verify(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = pb.VerifyCredentialRequest(
        credential=read_text(args.credential, "credential"),
        expected_audience=args.audience or "",
        expected_nonce=args.nonce or "",
        expected_response_uri=args.response_uri or "",
        expected_jwk_thumbprint=args.jwk_thumbprint or b"",
    )
    with credential_stub(config) as stub:
        response = config.call(stub.VerifyCredential, request)
    emit(args, message_json(response))
    if response.valid and _unchecked_key_binding(request):
        print(
            "note: key binding not verified; give --audience and --nonce (the verifier and "
            "session the presentation was made for) to verify its KB-JWT",
            file=sys.stderr,
        )
    if not response.valid:
        raise SystemExit(Exit.NOT_VALID)


def _unchecked_key_binding(request: pb.VerifyCredentialRequest) -> bool:
    """An SD-JWT presentation with a KB-JWT, verified without an audience and a nonce."""
    credential = request.credential.strip()
    has_kb_jwt = "~" in credential and not credential.endswith("~")
    return has_kb_jwt and not (request.expected_audience and request.expected_nonce)


def _status_change(method: str) -> Callable[[argparse.Namespace], None]:
    request_type = getattr(pb, f"{method}Request")

    def command(args: argparse.Namespace) -> None:
        config = ClientConfig.from_namespace(args)
        request = request_type(credential_id=args.credential_id, reason=args.reason or "")
        with credential_stub(config) as stub:
            response = config.call(getattr(stub, method), request)
        emit(args, {"credential_id": args.credential_id, **message_json(response)})

    return command


def cmd_status(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = pb.GetCredentialStatusRequest(credential_id=args.credential_id)
    with credential_stub(config) as stub:
        response = config.call(stub.GetCredentialStatus, request)
    emit(args, message_json(response))


def cmd_status_list(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = pb.GetStatusListRequest(status_list_id=args.status_list_id)
    with credential_stub(config) as stub:
        response = config.call(stub.GetStatusList, request)
    emit(args, message_json(response))


def cmd_jwks(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    with credential_stub(config) as stub:
        response = config.call(stub.GetIssuerKeys, pb.GetIssuerKeysRequest())
    emit(args, json.loads(response.jwks))


# --- parsers ---------------------------------------------------------------------------------
def add_verify_command(sub: Any) -> None:
    verify = command_parser(sub, "verify")
    verify.add_argument("credential", help="the credential, - for standard input, or @file")
    verify.add_argument("--audience", help="the verifier a presentation was made for")
    verify.add_argument("--nonce", help="the session nonce a presentation was made for")
    openid4vp_flags(verify)
    add_output_flags(verify, quiet="valid")
    add_client_flags(verify)
    verify.set_defaults(func=cmd_verify)


def add_status_commands(sub: Any) -> None:
    for name, method in (
        ("revoke", "RevokeCredential"),
        ("suspend", "SuspendCredential"),
        ("reinstate", "ReinstateCredential"),
    ):
        change = command_parser(sub, name)
        change.add_argument("credential_id", help="as issue printed it")
        change.add_argument("--reason", help="why, kept with the change")
        add_output_flags(change, quiet="status")
        add_client_flags(change)
        change.set_defaults(func=_status_change(method))

    status = command_parser(sub, "status")
    status.add_argument("credential_id", help="as issue printed it")
    add_output_flags(status, quiet="status")
    add_client_flags(status)
    status.set_defaults(func=cmd_status)

    status_list = command_parser(sub, "status-list")
    status_list.add_argument("status_list_id", help="as issue printed it")
    add_output_flags(status_list, quiet="token")
    add_client_flags(status_list)
    status_list.set_defaults(func=cmd_status_list)

    jwks = command_parser(sub, "jwks")
    add_output_flags(jwks)
    add_client_flags(jwks)
    jwks.set_defaults(func=cmd_jwks)
