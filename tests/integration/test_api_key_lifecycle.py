"""API keys have a lifecycle: several per tenant, expiry, revocation seen by every instance.

Two `eudi-connect serve` processes share one database (a SQLite file; PostgreSQL too),
and the keys are managed with the operator's CLI on that database, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.core.keys import MasterKey
from tests.backends import BACKENDS
from tests.postgres_fixture import new_database, remove_database

from .processes import CLI, create_tenant, start_server
from .template_helpers import error_info

# Short, so the test is; the default (5 s) is the same mechanism.
CACHE_SECONDS = 2.0
# Slack for a loaded machine on top of the bound: polling, a store read, scheduling.
MARGIN_SECONDS = 3.0


@dataclass
class Instances:
    db: str
    addresses: list[str]


@pytest.fixture(scope="module", params=BACKENDS)
def instances(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instances]:
    """Two server processes on one database, each caching verified keys CACHE_SECONDS."""
    server_url = None
    if request.param == "postgres":
        server_url = str(request.getfixturevalue("postgres_server"))
        db = new_database(server_url)
    else:
        db = f"sqlite:///{tmp_path_factory.mktemp('keys') / 'eudi.db'}"
    started: list[subprocess.Popen[str]] = []
    addresses = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EUDI_CONNECT_MASTER_KEY", MasterKey.generate().to_text())
        try:
            for _ in range(2):
                process, address = start_server(
                    db, "--sign-workers", "0", "--api-key-cache-seconds", str(CACHE_SECONDS)
                )
                started.append(process)
                addresses.append(address)
            yield Instances(db, addresses)
        finally:
            for process in started:
                os.killpg(process.pid, signal.SIGTERM)
            codes = [process.wait(timeout=30) for process in started]
            for process in started:
                if process.stdout is not None:
                    process.stdout.close()
            if server_url is not None:
                remove_database(server_url, db)
    assert codes == [0, 0]


def keys_cli(db: str, *argv: str) -> dict[str, Any]:
    """`eudi-connect tenant keys ...` on the database; its JSON."""
    completed = subprocess.run(
        [*CLI, "--log-level", "WARNING", "tenant", "keys", *argv, "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    parsed: dict[str, Any] = json.loads(completed.stdout)
    return parsed


def call(address: str, api_key: str) -> grpc.RpcError | None:
    """One authenticated call (GetIssuerKeys); the error, None when it passed."""
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.CredentialServiceStub(channel)
        try:
            stub.GetIssuerKeys(
                pb.GetIssuerKeysRequest(), metadata=(("x-api-key", api_key),), timeout=10
            )
        except grpc.RpcError as error:
            return error
    return None


def reason(error: grpc.RpcError | None) -> str:
    assert error is not None
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    return str(error_info(error).reason)  # type: ignore[arg-type]


def first_key(instances: Instances, name: str) -> dict[str, str]:
    """`tenant create` (the module's master key is in the environment meanwhile)."""
    return create_tenant(instances.db, name)


def test_tenant_create_gives_its_key_an_id_that_list_shows(instances: Instances) -> None:
    """`tenant create` prints the key id of the tenant's first key; `keys list` shows it
    as active with its label, and never a secret or hash."""
    created = first_key(instances, "Listed")
    assert created["api_key"].startswith(f"ek_{created['key_id']}.")
    listed = keys_cli(instances.db, "list", "--tenant", created["tenant_id"])
    [entry] = listed["keys"]
    assert entry["key_id"] == created["key_id"]
    assert entry["label"] == "initial"
    assert entry["state"] == "active"
    assert entry["revoked_at"] is None
    assert entry["expires_at"] is None
    assert "api_key" not in entry
    assert "secret_hash" not in entry


def test_a_revoked_key_is_refused_by_every_instance_within_the_bound(
    instances: Instances,
) -> None:
    """Both instances have verified (and cached) the key; after `keys revoke` both refuse
    it with API_KEY_REVOKED within the cache bound, while the tenant's second key works."""
    created = first_key(instances, "Revoked")
    tenant_id = created["tenant_id"]
    second = keys_cli(instances.db, "create", "--tenant", tenant_id, "--label", "replacement")
    assert second["label"] == "replacement"
    assert second["api_key"].startswith("ek_")
    for address in instances.addresses:
        assert call(address, created["api_key"]) is None
        assert call(address, second["api_key"]) is None
    revoked = keys_cli(instances.db, "revoke", "--tenant", tenant_id, created["key_id"])
    revoked_at = time.monotonic()
    assert revoked["state"] == "revoked"
    assert revoked["revoked_at"] is not None
    pending = set(instances.addresses)
    while pending:
        for address in sorted(pending):
            error = call(address, created["api_key"])
            if error is not None:
                assert reason(error) == "API_KEY_REVOKED"
                pending.discard(address)
        elapsed = time.monotonic() - revoked_at
        assert elapsed < CACHE_SECONDS + MARGIN_SECONDS, f"still accepted after {elapsed:.1f} s"
        time.sleep(0.1)
    for address in instances.addresses:
        assert call(address, second["api_key"]) is None
    states = {
        k["key_id"]: k["state"]
        for k in keys_cli(instances.db, "list", "--tenant", tenant_id)["keys"]
    }
    assert states == {created["key_id"]: "revoked", second["key_id"]: "active"}


def test_an_expired_key_is_refused_with_its_reason(instances: Instances) -> None:
    """A key made with --expires-in works until then and is refused with API_KEY_EXPIRED
    by both instances after, without waiting for a cache refresh."""
    tenant_id = first_key(instances, "Expiring")["tenant_id"]
    expiring = keys_cli(instances.db, "create", "--tenant", tenant_id, "--expires-in", "8s")
    for address in instances.addresses:
        assert call(address, expiring["api_key"]) is None
    listed = keys_cli(instances.db, "list", "--tenant", tenant_id)["keys"]
    expires_at = next(k for k in listed if k["key_id"] == expiring["key_id"])["expires_at"]
    assert expires_at == expiring["expires_at"]
    deadline = time.time() + 8 + MARGIN_SECONDS
    while call(instances.addresses[0], expiring["api_key"]) is None:
        assert time.time() < deadline, "an expired key still passes"
        time.sleep(0.2)
    for address in instances.addresses:
        assert reason(call(address, expiring["api_key"])) == "API_KEY_EXPIRED"
    listed = keys_cli(instances.db, "list", "--tenant", tenant_id)["keys"]
    assert next(k for k in listed if k["key_id"] == expiring["key_id"])["state"] == "expired"


def test_unknown_and_wrong_secret_keys_say_nothing_about_revocation(
    instances: Instances,
) -> None:
    """A revoked key's id with a wrong secret is API_KEY_INVALID, like an unknown key:
    only the key's holder learns that it was revoked."""
    created = first_key(instances, "Guessed")
    keys_cli(instances.db, "revoke", "--tenant", created["tenant_id"], created["key_id"])
    forged = f"ek_{created['key_id']}.{'A' * 42}w"
    for address in instances.addresses:
        assert reason(call(address, forged)) == "API_KEY_INVALID"
        assert reason(call(address, f"ek_{'0' * 16}.{'A' * 42}w")) == "API_KEY_INVALID"


def test_last_use_is_recorded_coarsely_not_per_call(instances: Instances) -> None:
    """After calls the key's last use shows in `keys list`; further calls over the next
    seconds leave it unchanged (at most one write a minute per key and instance)."""
    created = first_key(instances, "Used")
    tenant_id = created["tenant_id"]
    assert call(instances.addresses[0], created["api_key"]) is None
    deadline = time.monotonic() + 10
    last_used = None
    while last_used is None:
        assert time.monotonic() < deadline, "the last use was never recorded"
        [entry] = keys_cli(instances.db, "list", "--tenant", tenant_id)["keys"]
        last_used = entry["last_used_at"]
    for _ in range(3):
        time.sleep(1.1)  # a write per call would move the time on by a second or more
        for _ in range(5):
            assert call(instances.addresses[0], created["api_key"]) is None
    [entry] = keys_cli(instances.db, "list", "--tenant", tenant_id)["keys"]
    assert entry["last_used_at"] == last_used


def test_key_commands_refuse_bad_input_with_a_reason(instances: Instances) -> None:
    """Unknown tenant, unknown key id, an expiry in the past and a malformed duration
    each fail with exit code 1 and their reason."""
    tenant_id = first_key(instances, "Refusing")["tenant_id"]
    cases = [
        (["create", "--tenant", "no-such-tenant"], "TENANT_NOT_FOUND"),
        (["list", "--tenant", "no-such-tenant"], "TENANT_NOT_FOUND"),
        (["revoke", "--tenant", tenant_id, "0" * 16], "API_KEY_NOT_FOUND"),
        (["revoke", "--tenant", tenant_id, "not-a-key-id"], "API_KEY_ID_INVALID"),
        (["create", "--tenant", tenant_id, "--expires-at", "2001-01-01"], "API_KEY_EXPIRY_INVALID"),
        (["create", "--tenant", tenant_id, "--expires-in", "soon"], "API_KEY_EXPIRY_INVALID"),
    ]
    for argv, expected in cases:
        completed = subprocess.run(
            [*CLI, "--log-level", "WARNING", "tenant", "keys", *argv, "--db", instances.db],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 1, (argv, completed.stdout)
        assert f"error: {expected}:" in completed.stderr, (argv, completed.stderr)
