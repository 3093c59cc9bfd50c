"""The operator's commands, on the database itself (no server, no API key): `tenant create`,
`tenant keys ...` and `keys create|list|rotate` (cli.issuer_keys)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.database import add_db_flag, new_sqlite_file, warn_created
from eudi_connect.cli.issuer_keys import add_issuer_key_commands
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


def cmd_tenant_create(args: argparse.Namespace) -> None:
    emit(args, asyncio.run(_tenant_create(args)))


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
    add_issuer_key_commands(actions)
