"""Run the ghz configs in ``loadtest/ghz/`` against the credential service.

The configs (:mod:`loadtest.lib.ghz`) resolve their method through server reflection and
name what only exists at run time as ``${NAME}`` placeholders:

* ``${EUDI_CONNECT_API_KEY}`` — the tenant's API key (``x-api-key`` metadata);
* ``${EUDI_CONNECT_CREDENTIAL}`` — a credential to verify;
* ``${EUDI_CONNECT_CREDENTIAL_ID}`` / ``${EUDI_CONNECT_STATUS_LIST_ID}`` — for status reads;
* ``${EUDI_CONNECT_REVOKE_CREDENTIAL_ID}`` — the credential the revocation config revokes;
* ``${EUDI_CONNECT_SUSPEND_CREDENTIAL_ID}`` — suspended, then reinstated by those configs.

This runner fills them (issuing the credentials it needs first), writes the filled configs
to a temporary folder and runs ``ghz --config FILE`` for each. By hand::

    export EUDI_CONNECT_API_KEY=ek_...
    envsubst < loadtest/ghz/issue_credential.json > /tmp/issue.json && ghz --config /tmp/issue.json

Status changes repeat on one credential: the first call changes it and the rest are answered
without a change (the idempotent path), so ghz's revocation figures are a lower bound; the
project's own load generator (``loadtest.scenarios:revoke_scenario``) revokes a fresh
credential per call.

    python -m loadtest.ghz_run                      # own server on a temporary database
    python -m loadtest.ghz_run --endpoint 127.0.0.1:50051 --api-key ek_...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loadtest.lib.cpu import plan_cpus
from loadtest.lib.ghz import PLACEHOLDERS, load_configs, substitute
from loadtest.lib.service import ServiceUnderTest

__all__ = ["main", "own_server", "prepare_values"]


async def _prepare(address: str, api_key: str) -> dict[str, str]:
    import grpc
    from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

    from loadtest.scenarios import ScenarioConfig, issue_credentials

    config = ScenarioConfig.from_options({"api_key": api_key})
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CredentialServiceStub(channel)
        verify, status, revoke, suspend = await issue_credentials(stub, config, 4)
    return {
        "EUDI_CONNECT_API_KEY": api_key,
        "EUDI_CONNECT_CREDENTIAL": verify.credential,
        "EUDI_CONNECT_CREDENTIAL_ID": status.credential_id,
        "EUDI_CONNECT_STATUS_LIST_ID": status.status_list_id,
        "EUDI_CONNECT_REVOKE_CREDENTIAL_ID": revoke.credential_id,
        "EUDI_CONNECT_SUSPEND_CREDENTIAL_ID": suspend.credential_id,
    }


def prepare_values(address: str, api_key: str) -> dict[str, str]:
    """Issues the credentials the configs refer to and returns every placeholder's value.

    Values already set in the environment win, so a staging run can point at its own data.
    """
    values = asyncio.run(_prepare(address, api_key))
    for name in PLACEHOLDERS:
        if os.environ.get(name):
            values[name] = os.environ[name]
    return values


@contextmanager
def own_server(*, no_pin: bool = False) -> Iterator[tuple[str, str]]:
    """A credential service on a temporary database with one tenant: (address, API key)."""
    with (
        ServiceUnderTest.temporary(
            plan_cpus(pin=not no_pin), log_level="WARNING", tenant="ghz"
        ) as service,
        service.session() as server,
    ):
        yield server.address, service.api_key


def _run_ghz(ghz: str, name: str, config: Mapping[str, Any], folder: Path) -> int:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(config, indent=2), "utf-8")
    print(f"\n=== {name}: {config['call']} (c={config['concurrency']}, n={config['total']})")
    return subprocess.run([ghz, "--config", str(path)], check=False, timeout=600).returncode


def _configs_for(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    configs = load_configs()
    if args.only:
        unknown = set(args.only) - set(configs)
        if unknown:
            raise SystemExit(f"unknown config(s): {', '.join(sorted(unknown))}")
        configs = {name: config for name, config in configs.items() if name in args.only}
    return configs


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: fill the placeholders and run ghz once per config."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", help="host:port of a running service (default: own one)")
    parser.add_argument(
        "--api-key", help="tenant key for --endpoint (default $EUDI_CONNECT_API_KEY)"
    )
    parser.add_argument("--only", nargs="+", help="config names, e.g. issue_credential")
    parser.add_argument("--total", type=int, help="override every config's total")
    parser.add_argument("--concurrency", type=int, help="override every config's concurrency")
    parser.add_argument("--write", metavar="DIR", help="write the filled configs here; no ghz")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the own server")
    args = parser.parse_args(argv)
    ghz = shutil.which("ghz")
    if ghz is None and not args.write:
        print(
            "ghz is not on PATH, so the ghz configs were not run.\n"
            "Install it from https://ghz.sh/docs/install, or use `make bench` (the project's own "
            "load generator) instead. The configs are checked against the service's reflection "
            "data by tests/loadtest/test_ghz_configs.py either way.",
            file=sys.stderr,
        )
        return 0
    configs = _configs_for(args)

    def run_all(address: str, api_key: str) -> int:
        values = prepare_values(address, api_key)
        failures = 0
        with tempfile.TemporaryDirectory(prefix="eudi-ghz-configs-") as scratch:
            folder = Path(args.write) if args.write else Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            for name, config in configs.items():
                filled = substitute(config, values) | {"host": address}
                if args.total is not None:
                    filled["total"] = args.total
                if args.concurrency is not None:
                    filled["concurrency"] = args.concurrency
                if args.write:
                    (folder / f"{name}.json").write_text(json.dumps(filled, indent=2), "utf-8")
                elif ghz is not None and _run_ghz(ghz, name, filled, folder) != 0:
                    failures += 1
        if args.write:
            print(f"filled configs written to {args.write}")
        return 1 if failures else 0

    if args.endpoint:
        api_key = args.api_key or os.environ.get("EUDI_CONNECT_API_KEY")
        if not api_key:
            raise SystemExit("--endpoint needs --api-key or $EUDI_CONNECT_API_KEY")
        return run_all(args.endpoint, api_key)
    with own_server(no_pin=args.no_pin) as (address, api_key):
        return run_all(address, api_key)


if __name__ == "__main__":
    sys.exit(main())
