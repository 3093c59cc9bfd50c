"""`eudi-connect keys ...`: a tenant's issuer keys, managed on the database directly.

eudi-connect keys create --tenant T --purpose status --backend pkcs11 \\
    --module /usr/lib/softhsm/libsofthsm2.so --token-label issuer --pin-file /run/pin \\
    --label status-signing --max-age 90d
eudi-connect keys list --tenant T -o table
eudi-connect keys rotate --tenant T --purpose credential

`create` stores where the tenant's keys of a purpose are made (and their maximum age)
and makes the first such key at once, in that backend; `rotate` makes the next one the
same way. The PIN is read from the file or variable named, by this command and later by
the server; only that name is stored. Times print as ISO 8601 UTC, or null.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from eudi_connect.cli.failures import CliError, Exit
from eudi_connect.core.api_keys import parse_duration
from eudi_connect.core.signer import BACKENDS, PKCS11_BACKEND, SOFTWARE_BACKEND
from eudi_connect.services.key_backends import (
    CREDENTIAL_PURPOSE,
    DEFAULT_KEY_LABEL,
    PURPOSES,
    TokenSettings,
)
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord

#: Where `--module` comes from when it is not given.
PKCS11_MODULE_ENV = "EUDI_CONNECT_PKCS11_MODULE"


def _time(seconds: int | float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_json(
    record: IssuerKeyRecord, settings: dict[str, KeySettingsRecord], now: float
) -> dict[str, Any]:
    """What `list` prints of a key: never private material, never a PIN."""
    state = "active"
    if record.retired_at is not None:
        published = record.published_until is None or record.published_until > now
        state = "retired" if published else "unpublished"
    rotate_at = None
    own = settings.get(record.purpose)
    if record.retired_at is None and own is not None and own.max_age_seconds is not None:
        rotate_at = record.created_at + own.max_age_seconds
    ref = record.key_ref or {}
    return {
        "kid": record.kid,
        "purpose": record.purpose,
        "backend": record.backend,
        "state": state,
        "token": ref.get("token_label") or ref.get("slot"),
        "key_label": ref.get("key_label"),
        "created_at": _time(record.created_at),
        "rotate_at": _time(rotate_at),
        "retired_at": _time(record.retired_at),
        "published_until": _time(record.published_until),
    }


def settings_json(settings: KeySettingsRecord) -> dict[str, Any]:
    token = settings.token or {}
    return {
        "purpose": settings.purpose,
        "backend": settings.backend,
        "max_age_seconds": settings.max_age_seconds,
        **{name: token[name] for name in sorted(token) if token[name] not in ("", None)},
    }


def _settings_from(args: argparse.Namespace, now: int) -> KeySettingsRecord:
    max_age = parse_duration(args.max_age) if args.max_age is not None else None
    token = None
    if args.backend == PKCS11_BACKEND:
        module = args.module or os.environ.get(PKCS11_MODULE_ENV, "")
        if not module:
            raise CliError(
                f"--backend pkcs11 needs --module (or {PKCS11_MODULE_ENV}): the PKCS#11 library",
                Exit.USAGE,
            )
        if not args.token_label and args.slot is None:
            raise CliError("--backend pkcs11 needs --token-label or --slot", Exit.USAGE)
        if not args.pin_file and not args.pin_env:
            raise CliError("--backend pkcs11 needs --pin-file or --pin-env", Exit.USAGE)
        token = TokenSettings(
            module=module,
            token_label=args.token_label or "",
            slot=args.slot,
            pin_file=os.path.abspath(args.pin_file) if args.pin_file else "",
            pin_env=args.pin_env or "",
            key_label=args.label,
        ).to_json()
    elif any((args.module, args.token_label, args.slot is not None, args.pin_file, args.pin_env)):
        raise CliError(
            "token options (--module, --token-label, ...) need --backend pkcs11", Exit.USAGE
        )
    return KeySettingsRecord(
        tenant_id=args.tenant,
        purpose=args.purpose,
        backend=args.backend,
        updated_at=now,
        token=token,
        max_age_seconds=max_age,
    )


async def _keys_create(args: argparse.Namespace) -> dict[str, Any]:
    from eudi_connect.cli.admin import opened_services

    async with opened_services(args.db, ServiceSettings(public_url=args.public_url)) as services:
        if await services.store.get_tenant(args.tenant) is None:
            raise CliError(f"no tenant {args.tenant!r} in this database", Exit.REFUSED)
        now = int(datetime.now(UTC).timestamp())
        settings = _settings_from(args, now)
        kid = await services.keys.create_key(settings)
        records = await services.keys.list_keys(args.tenant)
    [made] = [r for r in records if r.kid == kid]
    return {
        "tenant_id": args.tenant,
        "settings": settings_json(settings),
        **key_json(made, {settings.purpose: settings}, now),
    }


async def _keys_list(args: argparse.Namespace) -> dict[str, Any]:
    from eudi_connect.cli.admin import opened_services

    async with opened_services(args.db) as services:
        if await services.store.get_tenant(args.tenant) is None:
            raise CliError(f"no tenant {args.tenant!r} in this database", Exit.REFUSED)
        settings = {s.purpose: s for s in await services.keys.key_settings(args.tenant)}
        records = await services.keys.list_keys(args.tenant)
    now = datetime.now(UTC).timestamp()
    return {
        "tenant_id": args.tenant,
        "keys": [key_json(r, settings, now) for r in records],
        "settings": [settings_json(s) for s in settings.values()],
    }


async def _keys_rotate(args: argparse.Namespace) -> dict[str, Any]:
    from eudi_connect.cli.admin import opened_services

    async with opened_services(args.db, ServiceSettings(public_url=args.public_url)) as services:
        if await services.store.get_tenant(args.tenant) is None:
            raise CliError(f"no tenant {args.tenant!r} in this database", Exit.REFUSED)
        kid = await services.keys.rotate(args.tenant, args.purpose)
    return {"tenant_id": args.tenant, "purpose": args.purpose, "active_kid": kid}


def cmd_keys_create(args: argparse.Namespace) -> None:
    from eudi_connect.cli.output import emit

    emit(args, asyncio.run(_keys_create(args)))


def cmd_keys_list(args: argparse.Namespace) -> None:
    from eudi_connect.cli.output import emit

    emit(args, asyncio.run(_keys_list(args)))


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    from eudi_connect.cli.output import emit

    emit(args, asyncio.run(_keys_rotate(args)))


def _add_public_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-url",
        default=ServiceSettings().public_url,
        help="named in the new key's certificate if the tenant has not issued yet (it keeps "
        "its own URL otherwise)",
    )


def _add_purpose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purpose",
        choices=PURPOSES,
        default=CREDENTIAL_PURPOSE,
        help="credential: signs credentials (and status lists unless they have a key of "
        "their own); status: signs status list tokens",
    )


def add_issuer_key_commands(actions: Any) -> None:
    """`keys create|list|rotate` under the `keys` subparsers."""
    from eudi_connect.cli.database import add_db_flag
    from eudi_connect.cli.output import add_output_flags

    create = actions.add_parser(
        "create",
        help="set where a tenant's keys of a purpose are made (software or a PKCS#11 token) "
        "and make the first one there",
    )
    create.add_argument("--tenant", required=True, help="the tenant id")
    _add_purpose(create)
    create.add_argument(
        "--backend",
        choices=BACKENDS,
        default=SOFTWARE_BACKEND,
        help="where the keys are made: in this process, encrypted under the master key "
        "(software), or inside a PKCS#11 token, never leaving it (pkcs11)",
    )
    token = create.add_argument_group("PKCS#11 token (--backend pkcs11)")
    token.add_argument("--module", help=f"the PKCS#11 library (default: ${PKCS11_MODULE_ENV})")
    where = token.add_mutually_exclusive_group()
    where.add_argument("--token-label", help="the token, by its label")
    where.add_argument("--slot", type=int, help="the token, by its slot id")
    pin = token.add_mutually_exclusive_group()
    pin.add_argument("--pin-file", help="file whose first line is the user PIN")
    pin.add_argument("--pin-env", help="environment variable that holds the user PIN")
    token.add_argument(
        "--label", default=DEFAULT_KEY_LABEL, help="key label prefix inside the token"
    )
    create.add_argument(
        "--max-age",
        help="rotate the active key when it is this old: 90d, 12h, 30m, 2w or seconds "
        "(default: only by hand)",
    )
    _add_public_url(create)
    add_db_flag(create)
    add_output_flags(create, quiet="kid")
    create.set_defaults(func=cmd_keys_create)

    listing = actions.add_parser(
        "list", help="every issuer key of a tenant with its purpose, backend and state"
    )
    listing.add_argument("--tenant", required=True, help="the tenant id")
    add_db_flag(listing)
    add_output_flags(listing, table=True)
    listing.set_defaults(func=cmd_keys_list)

    rotate = actions.add_parser(
        "rotate", help="activate a new issuer key; old credentials keep verifying"
    )
    rotate.add_argument("--tenant", required=True, help="the tenant id")
    _add_purpose(rotate)
    _add_public_url(rotate)
    add_db_flag(rotate)
    add_output_flags(rotate, quiet="active_kid")
    rotate.set_defaults(func=cmd_keys_rotate)
