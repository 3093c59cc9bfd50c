"""`eudi-connect verifier show|set-dns-name`: a tenant's verifier identity, on the database
(the operator's command, like `tenant`): its DNS name, client identifiers and certificate.

eudi-connect verifier show --tenant T
eudi-connect verifier set-dns-name --tenant T verifier.example.com
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.database import add_db_flag
from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.cli.output import add_output_flags, emit
from eudi_connect.services.settings import ServiceSettings


def _document(tenant_id: str, identity: Any) -> dict[str, Any]:
    from eudi_connect.api.convert import pem_certificates

    return {
        "tenant_id": tenant_id,
        "dns_name": identity.dns_name,
        "client_ids": list(identity.client_ids),
        "certificate_chain_pem": pem_certificates(identity.certificate_chain),
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from eudi_connect.cli.admin import opened_services
    from eudi_connect.errors import EudiConnectError

    settings = ServiceSettings(public_url=args.public_url)
    async with opened_services(args.db, settings) as services:
        if await services.store.get_tenant(args.tenant) is None:
            raise CliError(f"no tenant {args.tenant!r} in this database", Exit.REFUSED)
        identities = services.verifier_identities
        try:
            if args.action == "set-dns-name":
                identity = await identities.set_dns_name(args.tenant, args.dns_name)
            else:
                identity = await identities.identity(args.tenant)
        except EudiConnectError as error:
            raise CliError(f"{error.message} ({error.reason})", Exit.REFUSED) from error
    return _document(args.tenant, identity)


def cmd_verifier(args: argparse.Namespace) -> None:
    emit(args, asyncio.run(_run(args)))


def add_verifier_commands(sub: Any) -> None:
    verifier = command_parser(sub, "verifier")
    actions = verifier.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show", help="the tenant's verifier DNS name, client ids and certificate (made if new)"
    )
    rename = actions.add_parser(
        "set-dns-name",
        help="name another DNS name: a new verifier key and certificate for new requests "
        "(requests made before it keep theirs until they expire)",
    )
    rename.add_argument("dns_name", help="the host wallets see, e.g. verifier.example.com")
    for parser in (show, rename):
        parser.add_argument("--tenant", required=True, help="the tenant id")
        parser.add_argument(
            "--public-url",
            default=ServiceSettings().public_url,
            help="whose host is the DNS name of a tenant that has no identity yet and no "
            "public URL of its own",
        )
        add_db_flag(parser)
        add_output_flags(parser, quiet="dns_name")
        parser.set_defaults(func=cmd_verifier)
