"""`eudi-connect presentation ...`: ask wallets for credentials over OpenID4VP and read
what they presented (a client of PresentationService).

eudi-connect presentation request --dcql query.json [--client-id-prefix x509_hash]
    [--response-mode direct_post] [--lifetime 600] [--qr]
eudi-connect presentation result TRANSACTION_ID
eudi-connect presentation watch TRANSACTION_ID
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from eudi.connect.v1 import presentation_service_pb2 as ppb

from eudi_connect.cli.client import ClientConfig, add_client_flags
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.inputs import read_file
from eudi_connect.cli.output import add_output_flags, emit, message_json

if TYPE_CHECKING:
    from eudi.connect.v1 import presentation_service_pb2_grpc as ppb_grpc

#: What a verification reports of each presentation, as `verify` prints it.
_VERIFICATION_FIELDS = ("valid", "format", "issuer", "vct", "claims", "status", "checks")


@contextmanager
def presentation_stub(config: ClientConfig) -> Iterator[ppb_grpc.PresentationServiceStub]:
    from eudi.connect.v1 import presentation_service_pb2_grpc as ppb_grpc

    with config.channel() as channel:
        yield ppb_grpc.PresentationServiceStub(channel)


def transaction_summary(transaction: ppb.PresentationTransaction) -> dict[str, Any]:
    """The transaction with its state's short name and, per DCQL credential id, what
    each presentation showed and how it verified."""
    credentials: dict[str, list[dict[str, Any]]] = {}
    for presented in transaction.credentials:
        verification = message_json(presented.verification)
        shown = {name: verification.get(name) for name in _VERIFICATION_FIELDS}
        if verification.get("failure"):
            shown["failure"] = verification["failure"]
            shown["detail"] = verification.get("detail", "")
        credentials.setdefault(presented.credential_query_id, []).append(shown)
    summary: dict[str, Any] = {
        "transaction_id": transaction.transaction_id,
        "state": ppb.PresentationState.Name(transaction.state).removeprefix("PRESENTATION_STATE_"),
        "client_id": transaction.client_id,
        "response_mode": transaction.response_mode,
        "authorization_request_uri": transaction.authorization_request_uri,
        "request_uri": transaction.request_uri,
        "expires_at": transaction.expires_at.seconds,
        "credentials": credentials,
    }
    for name in ("failure_reason", "failure_detail", "response_code"):
        if getattr(transaction, name):
            summary[name] = getattr(transaction, name)
    return summary


def cmd_request(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = ppb.CreatePresentationRequestRequest(
        dcql_query_json=read_file(args.dcql, "DCQL query"),
        client_id_prefix=args.client_id_prefix or "",
        response_mode=args.response_mode or "",
        lifetime_seconds=args.lifetime,
        request_id=args.request_id or "",
        redirect_uri=args.redirect_uri or "",
        request_uri_method=args.request_uri_method or "",
        expected_origins=args.expected_origin or [],
    )
    for path in args.transaction_data or ():
        request.transaction_data_json.append(read_file(path, "transaction data"))
    with presentation_stub(config) as stub:
        response = config.call(stub.CreatePresentationRequest, request)
    summary = transaction_summary(response.transaction)
    if response.request_object:
        summary["request_object"] = response.request_object
        summary["dc_api_request"] = json.loads(response.dc_api_request_json)
    emit(args, summary)
    if args.qr and response.transaction.authorization_request_uri:
        from eudi_connect.cli.offers import show_qr

        show_qr(response.transaction.authorization_request_uri, args.qr_file)


def cmd_result(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    with presentation_stub(config) as stub:
        response = config.call(
            stub.GetPresentationResult,
            ppb.GetPresentationResultRequest(transaction_id=args.transaction_id),
        )
    emit(args, transaction_summary(response.transaction))


def cmd_watch(args: argparse.Namespace) -> None:
    """One JSON line per state, until the transaction ends, --timeout passes, or Ctrl-C."""
    config = ClientConfig.from_namespace(args)
    with presentation_stub(config) as stub:
        stream = stub.WatchPresentation(
            ppb.WatchPresentationRequest(transaction_id=args.transaction_id),
            metadata=config.metadata,
            timeout=args.timeout,
        )
        try:
            for update in stream:
                print(json.dumps(transaction_summary(update.transaction)), flush=True)
        except KeyboardInterrupt:
            stream.cancel()


def add_presentation_commands(sub: Any) -> None:
    actions = command_parser(sub, "presentation").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    request = actions.add_parser("request", help="ask a wallet for credentials (a DCQL query)")
    request.add_argument("--dcql", required=True, metavar="FILE", help="the DCQL query (JSON)")
    request.add_argument(
        "--client-id-prefix",
        choices=("x509_san_dns", "x509_hash"),
        help="how the wallet identifies this verifier (default x509_san_dns)",
    )
    request.add_argument(
        "--response-mode",
        choices=("direct_post.jwt", "direct_post", "dc_api.jwt", "dc_api"),
        help="how the wallet answers (default direct_post.jwt: encrypted)",
    )
    request.add_argument("--lifetime", type=int, default=0, help="seconds (default 300)")
    request.add_argument("--request-id", help="idempotency key")
    request.add_argument(
        "--redirect-uri", help="same-device flows: where the wallet sends the user afterwards"
    )
    request.add_argument(
        "--request-uri-method",
        choices=("get", "post"),
        help="post: the wallet may POST its metadata",
    )
    request.add_argument(
        "--expected-origin", action="append", help="DC API: a web origin (repeatable)"
    )
    request.add_argument(
        "--transaction-data", action="append", metavar="FILE", help="a transaction data object"
    )
    request.add_argument("--qr", action="store_true", help="print a QR code and write a PNG")
    request.add_argument(
        "--qr-file", default="presentation-qr.png", help="PNG path (default presentation-qr.png)"
    )
    request.set_defaults(func=cmd_request)

    result = actions.add_parser("result", help="a transaction's state and what was presented")
    result.add_argument("transaction_id", help="as presentation request printed it")
    result.set_defaults(func=cmd_result)

    watch = actions.add_parser("watch", help="follow a transaction until it ends")
    watch.add_argument("transaction_id", help="as presentation request printed it")
    watch.set_defaults(func=cmd_watch)

    for parser in (request, result):
        add_output_flags(parser, quiet="transaction_id")
    for parser in (request, result, watch):
        add_client_flags(parser)
