"""The PostgreSQL store's own behaviour: URL options, migrations under concurrency, several
pools as several instances, prepared statements, and failures mapped to domain errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.errors import (
    ConfigurationError,
    EudiConnectError,
    InvalidArgumentError,
    UnavailableError,
)
from eudi_connect.services.app import master_key_for, open_services
from eudi_connect.store.base import ApiKeyRecord, TenantRecord
from eudi_connect.store.factory import database_directory, open_store_from_url
from eudi_connect.store.migrations import backend_folder, load_migrations
from eudi_connect.store.postgres import PostgresOptions, PostgresStore, parse_postgres_url
from tests.backends import count_rows, query
from tests.store.test_store_contract import add_list, add_tenant, credential, status_list


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore.from_url(postgres_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


# --- URL and factory (no server needed, but kept with their backend) --------------------------


def test_url_options_go_to_the_pool_and_the_rest_to_asyncpg() -> None:
    """Pool sizes and timeouts come from the query; other parameters pass through."""
    dsn, options, settings = parse_postgres_url(
        "postgresql+asyncpg://u:secret@db:5433/eudi?min_size=1&max_size=20"
        "&acquire_timeout=2.5&sslmode=require&application_name=issuer-a"
    )
    assert dsn == "postgresql://u:secret@db:5433/eudi?sslmode=require&application_name=issuer-a"
    assert options == PostgresOptions(min_size=1, max_size=20, acquire_timeout=2.5)
    assert settings == {"jit": "off"}  # application_name was given: the default steps aside
    _, defaults, default_settings = parse_postgres_url("postgres://db/eudi")
    assert defaults == PostgresOptions()
    assert default_settings["application_name"] == "eudi-connect"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:secret@db/eudi?max_size=0",
        "postgresql://u:secret@db/eudi?min_size=5&max_size=2",
        "postgresql://u:secret@db/eudi?max_size=ten",
        "postgresql://u:secret@db/eudi?acquire_timeout=-1",
        "postgresql://u:secret@db/eudi?command_timeout=nan",
        "postgresql://u:secret@/eudi",
        "postgresql://u:secret@[::1/eudi",
    ],
)
def test_bad_urls_are_configuration_errors_without_the_password(url: str) -> None:
    """A wrong pool option or an unparsable URL fails at once and never echoes the URL."""
    with pytest.raises(ConfigurationError) as caught:
        open_store_from_url(url)
    assert caught.value.reason == "DATABASE_URL"
    assert "secret" not in caught.value.message


def test_factory_builds_a_postgres_store_and_requires_a_shared_master_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """postgresql:// URLs give a PostgresStore; its master key must come from the environment."""
    url = "postgresql://u@db/eudi?max_size=3"
    store = open_store_from_url(url)
    assert isinstance(store, PostgresStore)
    assert store.options.max_size == 3
    assert database_directory(url) is None
    monkeypatch.delenv("EUDI_CONNECT_MASTER_KEY", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        master_key_for(url)
    assert caught.value.reason == "MASTER_KEY_REQUIRED"
    key = MasterKey.generate()
    monkeypatch.setenv("EUDI_CONNECT_MASTER_KEY", key.to_text())
    assert master_key_for(url).to_text() == key.to_text()


# --- migrations ------------------------------------------------------------------------------


async def test_instances_starting_together_migrate_once(postgres_url: str) -> None:
    """Four stores opening one new database at once all succeed; each migration runs once."""
    stores = [PostgresStore.from_url(postgres_url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.open() for store in stores))
        await add_tenant(stores[0])
        assert await stores[3].get_tenant("t1") is not None
        recorded = await query(stores[1], "SELECT version, name FROM schema_migrations")
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    expected = [(m.version, m.name) for m in load_migrations(backend_folder("postgres"))]
    assert sorted(recorded) == expected


def test_postgres_migrations_mirror_the_sqlite_ones() -> None:
    """Both dialects ship the same numbered migrations, so both schemas stay in step."""
    postgres = [(m.version, m.name) for m in load_migrations(backend_folder("postgres"))]
    sqlite = [(m.version, m.name) for m in load_migrations(backend_folder("sqlite"))]
    assert postgres == sqlite


async def test_edited_migration_is_refused(store: PostgresStore, postgres_url: str) -> None:
    """A database whose applied migration no longer matches the file refuses to open."""
    pool = store._pool  # test-only: tamper with the record behind the store's back
    await pool.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    reopened = PostgresStore.from_url(postgres_url)
    with pytest.raises(ConfigurationError) as caught:
        await reopened.open()
    assert caught.value.reason == "MIGRATION_CHANGED"
    await reopened.close()


# --- several instances -----------------------------------------------------------------------


async def test_two_pools_lease_without_overlap_and_without_spare_lists(postgres_url: str) -> None:
    """Two instances leasing at once from small lists claim each position once and open a
    new list only when the last one is full."""
    first, second = PostgresStore.from_url(postgres_url), PostgresStore.from_url(postgres_url)
    await first.open()
    await second.open()
    try:
        await add_tenant(first)
        leases = await asyncio.gather(
            *(
                (first if n % 2 else second).lease_positions(
                    "t1", count=5, list_size=16, new_list=status_list(f"L{n}", size=16)
                )
                for n in range(40)
            )
        )
    finally:
        await first.close()
        await second.close()
    taken = [
        (lease.status_list_id, p)
        for lease in leases
        for p in range(lease.start, lease.start + lease.count)
    ]
    assert len(taken) == len(set(taken)) == 40 * 5 - sum(5 - lease.count for lease in leases)
    lists = {lease.status_list_id for lease in leases}
    assert len(lists) == -(-len(taken) // 16)


async def test_statements_are_prepared_once_per_connection(postgres_url: str) -> None:
    """Repeated calls reuse the connection's prepared statement (asyncpg's cache)."""
    store = PostgresStore.from_url(postgres_url + "&min_size=1&max_size=1")
    await store.open()
    try:
        await add_tenant(store)
        for _ in range(5):
            assert await store.get_tenant("t1") is not None
        rows = await store._pool.fetch(  # test-only: the store's only connection
            "SELECT statement FROM pg_prepared_statements"
        )
    finally:
        await store.close()
    tenant_reads = [row[0] for row in rows if "FROM tenants WHERE tenant_id" in row[0]]
    assert len(tenant_reads) == 1


# --- grouped inserts -------------------------------------------------------------------------


async def test_concurrent_inserts_are_grouped_and_a_bad_call_fails_alone(
    store: PostgresStore,
) -> None:
    """Concurrent calls share statements; a group with a bad call is re-run call by call."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(0)])
    results = await asyncio.gather(
        *(store.insert_credentials([credential(n)]) for n in range(1, 40)),
        store.insert_credentials([credential(99, index=0)]),
        return_exceptions=True,
    )
    stats = store.grouper_stats
    assert stats.largest_group > 1
    assert stats.groups < 41
    assert stats.split_groups >= 1
    failure = results[-1]
    assert isinstance(failure, EudiConnectError)
    assert failure.reason == "STATUS_INDEX_TAKEN"
    assert all(not isinstance(result, BaseException) for result in results[:-1])
    assert await count_rows(store, "credentials") == 40


async def test_close_commits_the_inserts_already_queued(postgres_url: str) -> None:
    """Inserts queued before close() are committed and answered; later ones are refused."""
    store = PostgresStore.from_url(postgres_url)
    await store.open()
    await add_tenant(store)
    await add_list(store)
    tasks = [asyncio.create_task(store.insert_credentials([credential(n)])) for n in range(200)]
    await asyncio.sleep(0)  # every task has queued its call
    await store.close()
    results = await asyncio.gather(*tasks)
    assert all(outcome.inserted for [outcome] in results)
    with pytest.raises(UnavailableError):
        await store.insert_credentials([credential(500)])
    reopened = PostgresStore.from_url(postgres_url)
    await reopened.open()
    try:
        assert await count_rows(reopened, "credentials") == 200
    finally:
        await reopened.close()


# --- failures --------------------------------------------------------------------------------


async def test_pool_exhaustion_is_unavailable(postgres_url: str) -> None:
    """With every connection busy, a call waits acquire_timeout, then fails as unavailable."""
    store = PostgresStore.from_url(postgres_url + "&min_size=1&max_size=1&acquire_timeout=0.2")
    await store.open()
    try:
        async with store._pool.acquire():  # test-only: hold the only connection
            with pytest.raises(UnavailableError) as caught:
                await store.get_tenant("t1")
        assert caught.value.reason == "STORE_UNAVAILABLE"
        assert await store.get_tenant("t1") is None  # served again once a connection is free
    finally:
        await store.close()


async def test_unreachable_server_and_unknown_database(postgres_server: str) -> None:
    """No server is UnavailableError (retry); a database that does not exist is a
    configuration error (fix the URL). Neither message repeats the URL."""
    closed = PostgresStore.from_url("postgresql://u:secret@127.0.0.1:9/eudi?acquire_timeout=2")
    with pytest.raises(UnavailableError) as unreachable:
        await closed.open()
    assert unreachable.value.reason == "STORE_UNAVAILABLE"
    base = postgres_server.split("?", 1)[0].rsplit("/", 1)[0]
    missing = PostgresStore.from_url(f"{base}/no_such_database_here")
    with pytest.raises(ConfigurationError) as unknown:
        await missing.open()
    assert unknown.value.reason == "DATABASE_UNUSABLE"
    assert "secret" not in unreachable.value.message + unknown.value.message


async def test_lost_connections_are_unavailable_then_replaced(store: PostgresStore) -> None:
    """Server-side disconnects fail the calls on them as unavailable; later calls reconnect."""
    await add_tenant(store)
    admin = await asyncpg.connect(store._dsn)  # test-only: the store's own DSN
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'eudi-connect' AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    reasons: list[str] = []
    for _ in range(5):
        try:
            assert await store.get_tenant("t1") is not None
            break
        except UnavailableError as error:
            reasons.append(error.reason)
    else:
        pytest.fail("the store did not reconnect")
    assert len(reasons) <= 2  # at most the pool's two dropped connections
    assert set(reasons) <= {"STORE_UNAVAILABLE"}


async def test_values_postgres_cannot_store_are_invalid_arguments(store: PostgresStore) -> None:
    """A NUL character in text, or a number beyond the column, is an invalid argument."""
    await add_tenant(store)
    await add_list(store)
    with pytest.raises(InvalidArgumentError) as nul:
        await store.insert_credentials([credential(1, request_id="a\x00b")])
    assert nul.value.reason == "INVALID_RECORD"
    with pytest.raises(InvalidArgumentError):
        await store.insert_credentials([credential(2, index=2**40)])
    with pytest.raises(InvalidArgumentError):
        await store.create_tenant(
            TenantRecord("t\x00", "x", 1), ApiKeyRecord("k\x00", "t\x00", b"", 1)
        )
    assert await count_rows(store, "credentials") == 0


async def test_services_run_on_postgres(postgres_url: str) -> None:
    """open_services accepts a PostgreSQL URL: a tenant, its key, a lease, an issuance row."""
    services = await open_services(postgres_url, master_key=MasterKey.generate())
    try:
        created = await services.tenants.create_tenant("Acme")
        assert await services.tenants.authenticate(created.api_key) == created.tenant_id
        slots = await services.status_lists.allocate(created.tenant_id, 3)
        assert len({slot.index for slot in slots}) == 3
        key = await services.keys.signing_key(created.tenant_id)
        assert (await services.keys.public_key(created.tenant_id, key.kid)) is not None
    finally:
        await services.close()
