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
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import trust_service_pb2 as tpb
from eudi.connect.v1 import trust_service_pb2_grpc as tpb_grpc

from eudi_connect.cli.client import ClientConfig, add_client_flags, message_json, print_json


@contextmanager
def trust_stub(config: ClientConfig) -> Iterator[tpb_grpc.TrustServiceStub]:
    with grpc.insecure_channel(config.address) as channel:
        yield tpb_grpc.TrustServiceStub(channel)


def cmd_add_issuer(args: argparse.Namespace, config: ClientConfig) -> None:
    wanted = tpb.TrustedIssuer(issuer=args.issuer)
    if args.jwks:  # `keys` is a oneof: set only the member given
        wanted.jwks = Path(args.jwks).read_text(encoding="utf-8")
    else:
        wanted.jwks_uri = args.jwks_uri
    with trust_stub(config) as stub:
        response = config.call(
            stub.AddTrustedIssuer, tpb.AddTrustedIssuerRequest(trusted_issuer=wanted)
        )
    print_json(message_json(response.trusted_issuer))


def cmd_add_anchor(args: argparse.Namespace, config: ClientConfig) -> None:
    certificate = Path(args.certificate).read_bytes()
    with trust_stub(config) as stub:
        response = config.call(
            stub.AddTrustAnchor, tpb.AddTrustAnchorRequest(certificate=certificate)
        )
    anchor = response.trust_anchor
    print(json.dumps({"anchor_id": anchor.anchor_id, "subject": anchor.subject}, indent=2))


def cmd_list(args: argparse.Namespace, config: ClientConfig) -> None:
    """Every trusted issuer, then every anchor, one per line."""
    with trust_stub(config) as stub:
        for issuers in config.pages(
            stub.ListTrustedIssuers,
            lambda token: tpb.ListTrustedIssuersRequest(page_size=100, page_token=token),
        ):
            for trusted in issuers.trusted_issuers:
                keys = trusted.jwks_uri or "inline JWKS"
                print(f"issuer\t{trusted.issuer}\t{keys}")
        for anchors in config.pages(
            stub.ListTrustAnchors,
            lambda token: tpb.ListTrustAnchorsRequest(page_size=100, page_token=token),
        ):
            for anchor in anchors.trust_anchors:
                print(f"anchor\t{anchor.anchor_id}\t{anchor.subject}")


def cmd_remove_issuer(args: argparse.Namespace, config: ClientConfig) -> None:
    with trust_stub(config) as stub:
        config.call(stub.RemoveTrustedIssuer, tpb.RemoveTrustedIssuerRequest(issuer=args.issuer))


def cmd_remove_anchor(args: argparse.Namespace, config: ClientConfig) -> None:
    with trust_stub(config) as stub:
        config.call(stub.RemoveTrustAnchor, tpb.RemoveTrustAnchorRequest(anchor_id=args.anchor_id))


def add_trust_commands(sub: Any) -> None:
    """Adds `trust <action>` to the CLI, each with --address / --api-key."""
    actions = sub.add_parser(
        "trust", help="trusted issuers and X.509 trust anchors for verification"
    ).add_subparsers(dest="action", required=True)

    def bind(command: Callable[[argparse.Namespace, ClientConfig], None]) -> Any:
        return lambda args: command(args, ClientConfig.from_namespace(args))

    add_issuer = actions.add_parser("add-issuer", help="trust an issuer by its keys")
    add_issuer.add_argument("issuer", help="the iss its credentials carry")
    keys = add_issuer.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks", help="a JWKS file")
    keys.add_argument("--jwks-uri", help="an https URL serving the JWKS (fetched and cached)")
    add_issuer.set_defaults(func=bind(cmd_add_issuer))

    add_anchor = actions.add_parser("add-anchor", help="add an X.509 trust anchor (PEM or DER)")
    add_anchor.add_argument("certificate", help="certificate file")
    add_anchor.set_defaults(func=bind(cmd_add_anchor))

    listing = actions.add_parser("list", help="list trusted issuers and anchors")
    listing.set_defaults(func=bind(cmd_list))

    remove_issuer = actions.add_parser("remove-issuer", help="stop trusting an issuer")
    remove_issuer.add_argument("issuer")
    remove_issuer.set_defaults(func=bind(cmd_remove_issuer))

    remove_anchor = actions.add_parser("remove-anchor", help="remove a trust anchor")
    remove_anchor.add_argument("anchor_id", help="as `trust list` shows it")
    remove_anchor.set_defaults(func=bind(cmd_remove_anchor))

    for parser in (add_issuer, add_anchor, listing, remove_issuer, remove_anchor):
        add_client_flags(parser)
