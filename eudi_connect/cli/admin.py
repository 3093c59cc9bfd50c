"""The operator's commands, on the database itself (no server, no API key): `tenant create`,
`tenant keys ...` and `keys rotate`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.database import add_db_flag, new_sqlite_file, warn_created
from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.cli.output import add_output_flags, emit
from eudi_connect.cli.tenant_keys import add_tenant_key_commands
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.settings import ServiceSettings


@asynccontextmanager
async def opened_services(
    db: str, settings: ServiceSettings | None = None
) -> AsyncIterator[Services]:
    """The services on `db`, with a warning when that database did not exist."""
    created = new_sqlite_file(db)
    services = await open_services(db, settings)
    if created is not None:
        warn_created(created)
    try:
        yield services
    finally:
        await services.close()


async def _tenant_create(args: argparse.Namespace) -> dict[str, Any]:
    async with opened_services(args.db) as services:
        created = await services.tenants.create_tenant(args.name)
    return {
        "tenant_id": created.tenant_id,
        "name": created.name,
        "key_id": created.key_id,
        "api_key": created.api_key,
    }


async def _keys_rotate(args: argparse.Namespace) -> dict[str, Any]:
    async with opened_services(args.db, ServiceSettings(public_url=args.public_url)) as services:
        if await services.store.get_tenant(args.tenant) is None:
            raise CliError(f"no tenant {args.tenant!r} in this database", Exit.REFUSED)
        kid = await services.keys.rotate(args.tenant)
    return {"tenant_id": args.tenant, "active_kid": kid}


def cmd_tenant_create(args: argparse.Namespace) -> None:
    emit(args, asyncio.run(_tenant_create(args)))


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    emit(args, asyncio.run(_keys_rotate(args)))


def add_tenant_commands(sub: Any) -> None:
    tenant = command_parser(sub, "tenant")
    actions = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="create a tenant and print its first API key (shown once)"
    )
    create.add_argument("name", help="the tenant's name, for people")
    add_db_flag(create)
    add_output_flags(create, quiet="api_key")
    create.set_defaults(func=cmd_tenant_create)
    add_tenant_key_commands(actions)


def add_keys_commands(sub: Any) -> None:
    keys = command_parser(sub, "keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate", help="activate a new issuer key; old credentials keep verifying"
    )
    rotate.add_argument("--tenant", required=True, help="the tenant id")
    rotate.add_argument(
        "--public-url",
        default=ServiceSettings().public_url,
        help="named in the new key's certificate if the tenant has not issued yet (it keeps "
        "its own URL otherwise)",
    )
    add_db_flag(rotate)
    add_output_flags(rotate, quiet="active_kid")
    rotate.set_defaults(func=cmd_keys_rotate)
