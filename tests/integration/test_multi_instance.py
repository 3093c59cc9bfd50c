"""Several server processes on one database behave as one service.

Two `eudi-connect serve` processes (separate ports) share one store, on each backend:
SQLite (one file, WAL, cross-process write lock) and PostgreSQL. Then `serve --workers 2`:
two processes behind one port. The servers are real subprocesses started once per module
and backend; each test uses its own tenant.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.core.jose import split_jws
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.services.app import Services, open_services
from tests.backends import BACKENDS, query
from tests.postgres_fixture import new_database, remove_database

from .chunks import all_results
from .client_helpers import pid_request, status_list_entry
from .conftest import Tenant
from .processes import CLI, free_port

KEY_REFRESH_SECONDS = 1.0


@dataclass
class Cluster:
    """Server processes on one database, and what a test needs to reach them."""

    db_url: str
    master: MasterKey
    addresses: list[str]


def _start(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[str], int]:
    with open(log, "ab") as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        raise AssertionError(f"no READY line ({line!r}); log:\n{log.read_text()[-3000:]}")
    return process, int(line.split()[1])


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    """Sends `sig` to this one process and waits; its exit code."""
    process.send_signal(sig)
    try:
        return process.wait(timeout=30)
    finally:
        if process.stdout is not None:
            process.stdout.close()


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return str(response.read().decode("ascii"))


def _serve_command(db_url: str, *extra: str) -> list[str]:
    return [
        *CLI,
        "--log-level",
        "WARNING",
        "serve",
        "--port",
        "0",
        "--db",
        db_url,
        "--grace",
        "5",
        "--sign-workers",
        "0",
        "--key-refresh-seconds",
        str(KEY_REFRESH_SECONDS),
        *extra,
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend for the whole module."""
    if request.param == "postgres":
        server = str(request.getfixturevalue("postgres_server"))
        url = new_database(server)
        yield url
        remove_database(server, url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('shared') / 'eudi.db'}"


@pytest.fixture(scope="module")
def cluster(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two server processes, each on its own port, on one database and master key."""
    master = MasterKey.generate()
    env = {**os.environ, "EUDI_CONNECT_MASTER_KEY": master.to_text()}
    log = tmp_path_factory.mktemp("logs") / "servers.log"
    started: list[tuple[subprocess.Popen[str], int]] = []
    try:
        for _ in range(2):
            started.append(_start(_serve_command(database), env, log))
        yield Cluster(database, master, [f"127.0.0.1:{port}" for _, port in started])
    finally:
        codes = [_stop(process) for process, _ in started]
        assert codes == [0] * len(started), log.read_text()[-3000:]


@pytest.fixture
async def local(cluster: Cluster) -> AsyncIterator[Services]:
    """A third instance, in the test's process: makes tenants, rotates keys, reads rows."""
    services = await open_services(cluster.db_url, master_key=cluster.master)
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def tenant(local: Services) -> Tenant:
    created = await local.tenants.create_tenant("Shared Issuer")
    return Tenant(created.tenant_id, created.api_key)


@pytest.fixture
async def stubs(cluster: Cluster) -> AsyncIterator[list[pb_grpc.CredentialServiceStub]]:
    channels = [grpc.aio.insecure_channel(address) for address in cluster.addresses]
    try:
        yield [pb_grpc.CredentialServiceStub(channel) for channel in channels]
    finally:
        for channel in channels:
            await channel.close(None)


async def issue_batch(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, count: int, prefix: str
) -> list[pb.IssueCredentialResponse]:
    request = pb.IssueCredentialBatchRequest(
        items=pb.IssueCredentialBatchItems(
            items=[pid_request(request_id=f"{prefix}-{n}") for n in range(count)]
        )
    )
    results = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    assert all(r.WhichOneof("outcome") == "credential" for r in results)
    return [r.credential for r in results]


def kid_of(credential: str) -> Any:
    return split_jws(credential.split("~", 1)[0]).header["kid"]


# --- two instances, separate ports ---------------------------------------------------------


async def test_concurrent_issuance_through_both_never_reuses_an_index(
    stubs: list[pb_grpc.CredentialServiceStub], tenant: Tenant, local: Services
) -> None:
    """5,000 credentials issued at once through both instances: ids and (list, index) unique."""
    batches = await asyncio.gather(
        *(issue_batch(stubs[n % 2], tenant, 500, f"b{n}") for n in range(10))
    )
    issued = [credential for batch in batches for credential in batch]
    assert len(issued) == 5000
    assert len({c.credential_id for c in issued}) == 5000
    assert len({(c.status_list_id, c.status_index) for c in issued}) == 5000
    rows = await query(
        local.store,
        "SELECT status_list_id, status_index FROM credentials "
        f"WHERE tenant_id = '{tenant.tenant_id}'",
    )
    assert len(rows) == len(set(rows)) == 5000


async def test_revocation_on_one_shows_in_the_other_s_next_token(
    stubs: list[pb_grpc.CredentialServiceStub], tenant: Tenant
) -> None:
    """B caches the list's token; A revokes; B's next token shows the revocation."""
    first, second = stubs
    issued = await first.IssueCredential(pid_request(), metadata=tenant.metadata)
    assert await status_list_entry(second, tenant, issued) == TokenStatus.VALID
    await first.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id, reason="test"),
        metadata=tenant.metadata,
    )
    assert await status_list_entry(second, tenant, issued) == TokenStatus.INVALID
    verified = await second.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=tenant.metadata
    )
    assert not verified.valid


async def test_one_request_id_sent_to_both_at_once_issues_once(
    stubs: list[pb_grpc.CredentialServiceStub], tenant: Tenant, local: Services
) -> None:
    """The same request_id sent to both instances together yields one credential."""
    for round_number in range(20):
        request = pid_request(request_id=f"same-{round_number}")
        answers = await asyncio.gather(
            *(stub.IssueCredential(request, metadata=tenant.metadata) for stub in stubs)
        )
        assert answers[0].credential_id == answers[1].credential_id
        assert answers[0].credential == answers[1].credential
    rows = await query(
        local.store,
        f"SELECT count(*) FROM credentials WHERE tenant_id = '{tenant.tenant_id}'",
    )
    assert rows == [(20,)]


async def test_key_rotation_elsewhere_takes_effect_within_the_refresh_interval(
    stubs: list[pb_grpc.CredentialServiceStub], tenant: Tenant, local: Services
) -> None:
    """After `keys rotate` on another instance, both sign with the new key within the
    refresh interval; credentials signed with the old key keep verifying on both."""
    before = [await stub.IssueCredential(pid_request(), metadata=tenant.metadata) for stub in stubs]
    old_kid = kid_of(before[0].credential)
    assert kid_of(before[1].credential) == old_kid
    new_kid = await local.keys.rotate(tenant.tenant_id)
    rotated_at = time.monotonic()
    pending = set(range(len(stubs)))
    while pending:
        for number in sorted(pending):
            issued = await stubs[number].IssueCredential(pid_request(), metadata=tenant.metadata)
            if kid_of(issued.credential) == new_kid:
                pending.discard(number)
        if pending:
            assert time.monotonic() - rotated_at < KEY_REFRESH_SECONDS + 5, "rotation not seen"
            await asyncio.sleep(0.1)
    for stub in stubs:
        for credential in before:
            verified = await stub.VerifyCredential(
                pb.VerifyCredentialRequest(credential=credential.credential),
                metadata=tenant.metadata,
            )
            assert verified.valid


# --- serve --workers 2: one port -------------------------------------------------------------


def _workers(pid: int) -> list[int]:
    """The server worker processes of a `serve --workers` parent (not multiprocessing's
    resource tracker, its other child)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listing:
        children = [int(child) for child in listing.read().split()]
    found = []
    for child in children:
        with open(f"/proc/{child}/cmdline", "rb") as cmdline:
            if b"spawn_main" in cmdline.read():
                found.append(child)
    return found


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_workers_share_one_port_and_stop_together(tmp_path: Path) -> None:
    """`serve --workers 2` prints one READY, both workers take connections and issue without
    clashing, and SIGTERM stops them all with exit code 0. On SQLite: how the workers share
    the store is backend-independent, and the PostgreSQL pair above covers that store."""
    db_url = f"sqlite:///{tmp_path / 'workers.db'}"
    master = MasterKey.generate()
    env = {**os.environ, "EUDI_CONNECT_MASTER_KEY": master.to_text()}
    http_port = free_port()
    command = _serve_command(db_url, "--workers", "2", "--http-port", str(http_port))
    process, port = _start(command, env, tmp_path / "w.log")
    try:
        workers = _workers(process.pid)
        assert len(workers) == 2
        cpu_before = {pid: _cpu_seconds(pid) for pid in workers}
        services = await open_services(db_url, master_key=master)
        try:
            created = await services.tenants.create_tenant("Workers")
            tenant = Tenant(created.tenant_id, created.api_key)
            # Each channel is its own connection (no shared subchannel), so the kernel
            # spreads them over both workers' listeners.
            channels = [
                grpc.aio.insecure_channel(
                    f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
                )
                for _ in range(24)
            ]
            try:
                batches = await asyncio.gather(
                    *(
                        issue_batch(pb_grpc.CredentialServiceStub(channel), tenant, 50, f"w{n}")
                        for n, channel in enumerate(channels)
                    )
                )
            finally:
                for channel in channels:
                    await channel.close(None)
            issued = [credential for batch in batches for credential in batch]
            assert len({(c.status_list_id, c.status_index) for c in issued}) == 24 * 50
            # The public HTTP port is shared too: every fresh connection gets the status
            # list token, whichever worker the kernel hands it to.
            url = f"http://127.0.0.1:{http_port}/status-lists/{issued[0].status_list_id}"
            tokens = await asyncio.gather(*(asyncio.to_thread(_http_get, url) for _ in range(12)))
            assert all(token.count(".") == 2 for token in tokens)
        finally:
            await services.close()
        busy = [pid for pid in workers if _cpu_seconds(pid) - cpu_before[pid] > 0.05]
        assert len(busy) >= 2, "one worker took every connection"
    finally:
        code = _stop(process)
    assert code == 0
    assert not any(_exists(pid) for pid in busy)  # the parent waited for its workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_dead_worker_stops_the_group(tmp_path: Path) -> None:
    """When one worker dies, the parent stops the others and exits 1 for its supervisor."""
    env = {**os.environ, "EUDI_CONNECT_MASTER_KEY": MasterKey.generate().to_text()}
    command = _serve_command(f"sqlite:///{tmp_path / 'crash.db'}", "--workers", "2")
    process, _ = _start(command, env, tmp_path / "crash.log")
    try:
        workers = _workers(process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        assert process.wait(timeout=30) == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert not _exists(workers[1])
