"""`eudi-connect trust ...`: which foreign issuers and X.509 anchors verification trusts.

eudi-connect trust add-issuer https://issuer.example --jwks jwks.json
eudi-connect trust add-issuer https://issuer.example --jwks-uri https://issuer.example/jwks
eudi-connect trust add-anchor root.pem
eudi-connect trust list
eudi-connect trust remove-issuer https://issuer.example
eudi-connect trust remove-anchor <anchor_id>
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from eudi.connect.v1 import trust_service_pb2 as tpb

from eudi_connect.cli.client import ClientConfig, add_client_flags, trust_stub
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.inputs import read_bytes, read_file
from eudi_connect.cli.output import add_output_flags, emit, message_json


def cmd_add_issuer(args: argparse.Namespace, config: ClientConfig) -> None:
    wanted = tpb.TrustedIssuer(issuer=args.issuer)
    if args.jwks:  # `keys` is a oneof: set only the member given
        wanted.jwks = read_file(args.jwks, "JWKS file")
    else:
        wanted.jwks_uri = args.jwks_uri
    with trust_stub(config) as stub:
        response = config.call(
            stub.AddTrustedIssuer, tpb.AddTrustedIssuerRequest(trusted_issuer=wanted)
        )
    emit(args, message_json(response.trusted_issuer))


def _anchor_json(anchor: tpb.TrustAnchor) -> dict[str, Any]:
    """An anchor without its certificate's bytes (the file it came from has them)."""
    shown = message_json(anchor)
    shown.pop("certificate", None)
    return shown


def cmd_add_anchor(args: argparse.Namespace, config: ClientConfig) -> None:
    certificate = read_bytes(args.certificate, "certificate file")
    with trust_stub(config) as stub:
        response = config.call(
            stub.AddTrustAnchor, tpb.AddTrustAnchorRequest(certificate=certificate)
        )
    emit(args, _anchor_json(response.trust_anchor))


def cmd_list(args: argparse.Namespace, config: ClientConfig) -> None:
    """Every trusted issuer and every anchor (all pages)."""
    with trust_stub(config) as stub:
        issuers = [
            {
                "issuer": trusted.issuer,
                "keys": trusted.jwks_uri or "inline JWKS",
                "created_at": message_json(trusted).get("created_at"),
            }
            for page in config.pages(
                stub.ListTrustedIssuers,
                lambda token: tpb.ListTrustedIssuersRequest(page_size=100, page_token=token),
            )
            for trusted in page.trusted_issuers
        ]
        anchors = [
            _anchor_json(anchor)
            for page in config.pages(
                stub.ListTrustAnchors,
                lambda token: tpb.ListTrustAnchorsRequest(page_size=100, page_token=token),
            )
            for anchor in page.trust_anchors
        ]
    emit(args, {"trusted_issuers": issuers, "trust_anchors": anchors})


def cmd_remove_issuer(args: argparse.Namespace, config: ClientConfig) -> None:
    with trust_stub(config) as stub:
        config.call(stub.RemoveTrustedIssuer, tpb.RemoveTrustedIssuerRequest(issuer=args.issuer))
    emit(args, {"issuer": args.issuer, "removed": True})


def cmd_remove_anchor(args: argparse.Namespace, config: ClientConfig) -> None:
    with trust_stub(config) as stub:
        config.call(stub.RemoveTrustAnchor, tpb.RemoveTrustAnchorRequest(anchor_id=args.anchor_id))
    emit(args, {"anchor_id": args.anchor_id, "removed": True})


def add_trust_commands(sub: Any) -> None:
    """Adds `trust <action>` to the CLI, each with the client flags."""
    actions = command_parser(sub, "trust").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    def bind(command: Callable[[argparse.Namespace, ClientConfig], None]) -> Any:
        return lambda args: command(args, ClientConfig.from_namespace(args))

    add_issuer = actions.add_parser("add-issuer", help="trust an issuer by its keys")
    add_issuer.add_argument("issuer", help="the iss its credentials carry")
    keys = add_issuer.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks", metavar="FILE", help="a JWKS file")
    keys.add_argument("--jwks-uri", help="an https URL serving the JWKS (fetched and cached)")
    add_output_flags(add_issuer, quiet="issuer")
    add_issuer.set_defaults(func=bind(cmd_add_issuer))

    add_anchor = actions.add_parser("add-anchor", help="add an X.509 trust anchor (PEM or DER)")
    add_anchor.add_argument("certificate", help="certificate file")
    add_output_flags(add_anchor, quiet="anchor_id")
    add_anchor.set_defaults(func=bind(cmd_add_anchor))

    listing = actions.add_parser("list", help="list trusted issuers and anchors")
    add_output_flags(listing, table=True)
    listing.set_defaults(func=bind(cmd_list))

    remove_issuer = actions.add_parser("remove-issuer", help="stop trusting an issuer")
    remove_issuer.add_argument("issuer", help="as `trust list` shows it")
    add_output_flags(remove_issuer)
    remove_issuer.set_defaults(func=bind(cmd_remove_issuer))

    remove_anchor = actions.add_parser("remove-anchor", help="remove a trust anchor")
    remove_anchor.add_argument("anchor_id", help="as `trust list` shows it")
    add_output_flags(remove_anchor)
    remove_anchor.set_defaults(func=bind(cmd_remove_anchor))

    for parser in (add_issuer, add_anchor, listing, remove_issuer, remove_anchor):
        add_client_flags(parser)
