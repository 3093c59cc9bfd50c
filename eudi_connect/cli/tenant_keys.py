"""`eudi-connect tenant keys ...`: a tenant's API keys, managed on the database directly.

eudi-connect tenant keys create --tenant T --label ci --expires-in 90d
eudi-connect tenant keys list --tenant T
eudi-connect tenant keys revoke --tenant T KEY_ID

Like `tenant create`, these are the operator's commands: they open the store named by
`--db` (no API key, no server). A revoked key is refused by every running instance within
its `--api-key-cache-seconds` (5 s by default). Times print as ISO 8601 UTC, or null.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from eudi_connect.cli.database import add_db_flag, new_sqlite_file, warn_created
from eudi_connect.cli.output import add_output_flags, emit
from eudi_connect.core.api_keys import parse_duration, parse_timestamp
from eudi_connect.services.tenants import TenantService
from eudi_connect.store.base import ApiKeyRecord
from eudi_connect.store.factory import open_store_from_url


def _time(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_json(tenants: TenantService, record: ApiKeyRecord) -> dict[str, Any]:
    """What `list` prints of a key (never its hash)."""
    return {
        "key_id": record.key_id,
        "label": record.label,
        "state": tenants.key_state(record),
        "created_at": _time(record.created_at),
        "last_used_at": _time(record.last_used_at),
        "expires_at": _time(record.expires_at),
        "revoked_at": _time(record.revoked_at),
    }


async def _with_tenants(db: str, work: Callable[[TenantService], Awaitable[None]]) -> None:
    created = new_sqlite_file(db)
    store = open_store_from_url(db)
    await store.open()
    if created is not None:
        warn_created(created)
    tenants = TenantService(store)
    try:
        await work(tenants)
    finally:
        await tenants.close()
        await store.close()


def _expires_at(args: argparse.Namespace) -> int | None:
    if args.expires_in is not None:
        return int(datetime.now(UTC).timestamp()) + parse_duration(args.expires_in)
    if args.expires_at is not None:
        return parse_timestamp(args.expires_at)
    return None


def cmd_create(args: argparse.Namespace) -> None:
    expires_at = _expires_at(args)

    async def work(tenants: TenantService) -> None:
        created = await tenants.create_api_key(args.tenant, label=args.label, expires_at=expires_at)
        emit(
            args,
            {
                "tenant_id": args.tenant,
                **key_json(tenants, created.record),
                "api_key": created.api_key,
            },
        )

    asyncio.run(_with_tenants(args.db, work))


def cmd_list(args: argparse.Namespace) -> None:
    async def work(tenants: TenantService) -> None:
        keys = await tenants.list_api_keys(args.tenant)
        emit(args, {"tenant_id": args.tenant, "keys": [key_json(tenants, k) for k in keys]})

    asyncio.run(_with_tenants(args.db, work))


def cmd_revoke(args: argparse.Namespace) -> None:
    async def work(tenants: TenantService) -> None:
        revoked = await tenants.revoke_api_key(args.tenant, args.key_id)
        emit(args, {"tenant_id": args.tenant, **key_json(tenants, revoked)})

    asyncio.run(_with_tenants(args.db, work))


def add_tenant_key_commands(tenant: Any) -> None:
    """`tenant keys create|list|revoke` under the `tenant` subparsers."""
    keys = tenant.add_parser(
        "keys", help="a tenant's API keys: create, list, revoke"
    ).add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    create = keys.add_parser("create", help="a further API key (printed once)")
    create.add_argument("--tenant", required=True, help="the tenant id")
    create.add_argument("--label", default="", help="what the key is for, shown by list")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", help="lifetime: 90d, 12h, 30m, 2w or seconds")
    expiry.add_argument("--expires-at", help="ISO 8601 date or date-time (UTC if no zone)")
    add_db_flag(create)
    add_output_flags(create, quiet="api_key")
    create.set_defaults(func=cmd_create)

    listing = keys.add_parser("list", help="every key of the tenant, with its state")
    listing.add_argument("--tenant", required=True, help="the tenant id")
    add_db_flag(listing)
    add_output_flags(listing, table=True)
    listing.set_defaults(func=cmd_list)

    revoke = keys.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("--tenant", required=True, help="the tenant id")
    revoke.add_argument("key_id", help="the key id, as list shows it")
    add_db_flag(revoke)
    add_output_flags(revoke, quiet="state")
    revoke.set_defaults(func=cmd_revoke)
