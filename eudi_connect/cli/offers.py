"""`eudi-connect offer ...`: credential offers a wallet collects over OpenID4VCI.

eudi-connect offer create --template pid --subject subject.json --tx-code --copies 3 --qr
eudi-connect offer status OFFER_ID
eudi-connect offer watch OFFER_ID
eudi-connect offer policy get | set ...     (what the tenant asks of wallets)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eudi.connect.v1 import offer_service_pb2 as opb
from google.protobuf import struct_pb2

from eudi_connect.cli.client import ClientConfig, add_client_flags, offer_stub, print_json
from eudi_connect.cli.wallet_policy import add_policy_arguments, cmd_policy_get, cmd_policy_set

#: QR codes of offers by reference stay small: version 10 or below at error level M.
QR_ERROR_LEVEL = "m"


def offer_summary(offer: opb.CredentialOffer) -> dict[str, Any]:
    """The fields a person or a script wants, with the state's short name."""
    return {
        "offer_id": offer.offer_id,
        "state": opb.OfferState.Name(offer.state).removeprefix("OFFER_STATE_"),
        "credential_offer_uri": offer.credential_offer_uri,
        "offer_url": offer.offer_url,
        "credential_configuration_ids": list(offer.credential_configuration_ids),
        "credential_ids": list(offer.credential_ids),
        "copies_remaining": offer.copies_remaining,
        "expires_at": offer.expires_at.seconds,
        **({"failure_reason": offer.failure_reason} if offer.failure_reason else {}),
    }


def _subject(path: str) -> struct_pb2.Struct:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"error: cannot read the subject file {path!r}: {exc.strerror}") from exc
    except ValueError as exc:
        raise SystemExit(f"error: the subject file {path!r} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SystemExit(f"error: the subject file {path!r} must hold a JSON object")
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


def show_qr(uri: str, png_path: str) -> None:
    """The offer as a QR code on the terminal (stderr, so stdout stays JSON) and as PNG."""
    import segno  # only `--qr` needs it

    code = segno.make(uri, error=QR_ERROR_LEVEL)
    code.terminal(out=sys.stderr, compact=True)
    code.save(png_path, scale=8, border=4)
    print(f"QR code written to {png_path}", file=sys.stderr)


def cmd_create(args: argparse.Namespace, config: ClientConfig) -> None:
    request = opb.CreateCredentialOfferRequest(
        credentials=[
            opb.OfferedCredential(template_id=template, format=args.format or "")
            for template in args.template
        ],
        max_copies=args.copies,
        lifetime_seconds=args.lifetime,
        request_id=args.request_id or "",
        deferred=args.deferred,
    )
    if args.subject:
        request.subject.CopyFrom(_subject(args.subject))
    if args.tx_code:
        request.tx_code.CopyFrom(opb.TransactionCodePolicy(length=args.tx_code_length))
    with offer_stub(config) as stub:
        response = config.call(stub.CreateCredentialOffer, request)
    summary = offer_summary(response.offer)
    if response.tx_code:
        summary["tx_code"] = response.tx_code
    print_json(summary)
    if args.qr:
        show_qr(response.offer.credential_offer_uri, args.qr_file)


def cmd_status(args: argparse.Namespace, config: ClientConfig) -> None:
    with offer_stub(config) as stub:
        response = config.call(
            stub.GetCredentialOffer, opb.GetCredentialOfferRequest(offer_id=args.offer_id)
        )
    print_json(offer_summary(response.offer))


def cmd_watch(args: argparse.Namespace, config: ClientConfig) -> None:
    """One JSON line per state, until the offer ends, --timeout passes, or Ctrl-C."""
    with offer_stub(config) as stub:
        stream = stub.WatchCredentialOffer(
            opb.WatchCredentialOfferRequest(offer_id=args.offer_id),
            metadata=config.metadata,
            timeout=args.timeout,
        )
        try:
            for update in stream:
                print(json.dumps(offer_summary(update.offer)), flush=True)
        except KeyboardInterrupt:
            stream.cancel()


def cmd_complete(args: argparse.Namespace, config: ClientConfig) -> None:
    request = opb.CompleteDeferredOfferRequest(offer_id=args.offer_id)
    if args.fail:
        request.failure_reason = args.fail
    else:
        request.subject.CopyFrom(_subject(args.subject))
    with offer_stub(config) as stub:
        response = config.call(stub.CompleteDeferredOffer, request)
    print_json(offer_summary(response.offer))


def cmd_delete(args: argparse.Namespace, config: ClientConfig) -> None:
    with offer_stub(config) as stub:
        response = config.call(
            stub.DeleteCredentialOffer, opb.DeleteCredentialOfferRequest(offer_id=args.offer_id)
        )
    print_json(offer_summary(response.offer))


def add_offer_commands(sub: Any) -> None:
    """Adds `offer <action>` to the CLI, each with --address / --api-key."""
    actions = sub.add_parser(
        "offer", help="credential offers that wallets collect over OpenID4VCI"
    ).add_subparsers(dest="action", required=True)

    def bind(command: Callable[[argparse.Namespace, ClientConfig], None]) -> Any:
        return lambda args: command(args, ClientConfig.from_namespace(args))

    create = actions.add_parser("create", help="offer credentials to a wallet")
    create.add_argument(
        "--template", action="append", required=True, help="credential template (repeatable)"
    )
    create.add_argument("--subject", help="JSON file of subject data (omit with --deferred)")
    create.add_argument("--deferred", action="store_true", help="the subject follows later")
    create.add_argument("--format", help="dc+sd-jwt (default) or mso_mdoc")
    create.add_argument("--copies", type=int, default=1, help="copies per credential (default 1)")
    create.add_argument("--lifetime", type=int, default=0, help="seconds (default 600)")
    create.add_argument("--tx-code", action="store_true", help="guard it with a numeric code")
    create.add_argument("--tx-code-length", type=int, default=6, help="digits (default 6)")
    create.add_argument("--request-id", help="idempotency key")
    create.add_argument("--qr", action="store_true", help="print a QR code and write a PNG")
    create.add_argument("--qr-file", default="offer-qr.png", help="PNG path (default offer-qr.png)")
    create.set_defaults(func=bind(cmd_create))

    status = actions.add_parser("status", help="an offer's state and credentials")
    status.add_argument("offer_id", help="as offer create printed it")
    status.set_defaults(func=bind(cmd_status))

    watch = actions.add_parser("watch", help="follow an offer's state until it ends")
    watch.add_argument("offer_id", help="as offer create printed it")
    watch.set_defaults(func=bind(cmd_watch))

    complete = actions.add_parser("complete", help="give a deferred offer its subject")
    complete.add_argument("offer_id", help="as offer create printed it")
    outcome = complete.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--subject", help="JSON file of subject data")
    outcome.add_argument("--fail", metavar="REASON", help="fail the deferred issuance")
    complete.set_defaults(func=bind(cmd_complete))

    delete = actions.add_parser("delete", help="withdraw an offer")
    delete.add_argument("offer_id", help="as offer create printed it")
    delete.set_defaults(func=bind(cmd_delete))

    policy = actions.add_parser(
        "policy", help="what the tenant asks of wallets: attestations, trusted providers"
    ).add_subparsers(dest="policy_action", required=True)
    policy_get = policy.add_parser("get", help="print the wallet policy as JSON")
    policy_get.set_defaults(func=bind(cmd_policy_get))
    policy_set = policy.add_parser(
        "set", help="replace the wallet policy (from --file and the flags)"
    )
    add_policy_arguments(policy_set)
    policy_set.set_defaults(func=bind(cmd_policy_set))

    for parser in (create, status, watch, complete, delete, policy_get, policy_set):
        add_client_flags(parser)
