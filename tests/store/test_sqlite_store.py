"""The SQLite store against real database files: schema, group commit, durability, failures."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    ConfigurationError,
    EudiConnectError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from eudi_connect.store.base import (
    ApiKeyRecord,
    IssuerKeyRecord,
    NewCredential,
    StatusListRecord,
    Store,
    TenantRecord,
)
from eudi_connect.store.factory import database_directory, open_store_from_url
from eudi_connect.store.migrations import (
    Migration,
    backend_folder,
    checksum,
    load_migrations,
    pending_migrations,
)
from eudi_connect.store.sqlite import SqliteStore, _apply_migrations, split_statements
from eudi_connect.store.sqlite_writer import run_in_connection

VALID, INVALID, SUSPENDED = 0, 1, 2
SHIPPED_MIGRATIONS = load_migrations(backend_folder("sqlite"))


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "store.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@contextlib.contextmanager
def raw(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection for looking behind the store's back."""
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as connection:
        yield connection


def count_rows(db_path: Path, table: str) -> int:
    with raw(db_path) as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(count)


async def add_tenant(store: Store, tenant_id: str = "t1") -> None:
    await store.create_tenant(
        TenantRecord(tenant_id, f"Tenant {tenant_id}", 100),
        ApiKeyRecord(f"key-{tenant_id}", tenant_id, b"hash-" + tenant_id.encode(), 100),
    )


def status_list(list_id: str, *, tenant_id: str = "t1", size: int = 1024) -> StatusListRecord:
    return StatusListRecord(
        status_list_id=list_id,
        tenant_id=tenant_id,
        size=size,
        bits=2,
        permutation_key=b"k" * 32,
        next_position=0,
        version=0,
        created_at=100,
    )


async def add_list(
    store: SqliteStore, list_id: str = "L1", *, tenant_id: str = "t1", size: int = 1024
) -> None:
    lease = await store.lease_positions(
        tenant_id,
        count=1,
        list_size=size,
        new_list=status_list(list_id, tenant_id=tenant_id, size=size),
    )
    assert lease.status_list_id == list_id


def credential(
    number: int,
    *,
    tenant_id: str = "t1",
    list_id: str = "L1",
    index: int | None = None,
    request_id: str | None = "",
) -> NewCredential:
    """Row `number` (index `number` unless given); request_id "" means `req-<number>`."""
    return NewCredential(
        credential_id=f"cred-{tenant_id}-{number}",
        tenant_id=tenant_id,
        request_id=f"req-{number}" if request_id == "" else request_id,
        template_id="pid",
        format="dc+sd-jwt",
        credential=f"eyJ.payload-{number}.sig~",
        status_list_id=list_id,
        status_index=number if index is None else index,
        issued_at=1_000,
        expires_at=2_000,
    )


def issuer_key(kid: str, created_at: int, *, tenant_id: str = "t1") -> IssuerKeyRecord:
    return IssuerKeyRecord(
        kid=kid,
        tenant_id=tenant_id,
        private_key_encrypted=b"sealed-" + kid.encode(),
        public_jwk={"kty": "EC", "crv": "P-256", "x": kid, "y": "y", "kid": kid},
        created_at=created_at,
    )


# --- migrations ----------------------------------------------------------------------------


async def test_migrations_applied_once_and_idempotent_on_reopen(db_path: Path) -> None:
    """Opening twice records each migration once and leaves the schema untouched."""
    for _ in range(2):
        store = SqliteStore(db_path)
        await store.open()
        await store.close()
    with raw(db_path) as connection:
        recorded = connection.execute("SELECT version, name FROM schema_migrations").fetchall()
        tables = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    assert recorded == [(migration.version, migration.name) for migration in SHIPPED_MIGRATIONS]
    assert {"meta", "tenants", "api_keys", "issuer_keys", "status_lists"} <= tables
    assert {"credentials", "status_events", "templates", "schema_migrations"} <= tables
    assert mode == "wal"


async def test_an_older_database_is_upgraded_on_open(db_path: Path) -> None:
    """A database at schema version 1 gets the later migrations, its data kept."""
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as connection:
        _apply_migrations(connection, SHIPPED_MIGRATIONS[:1])
        connection.execute("INSERT INTO tenants VALUES ('t1', 'Old', 1)")
    store = SqliteStore(db_path)
    await store.open()
    try:
        assert await store.get_tenant("t1") == TenantRecord("t1", "Old", 1)
        assert await store.list_templates("t1", after=None, limit=10) == []
    finally:
        await store.close()
    assert count_rows(db_path, "schema_migrations") == len(SHIPPED_MIGRATIONS)


async def test_concurrent_open_of_a_new_file_migrates_once(db_path: Path) -> None:
    """Two stores opening the same new file at once both succeed; the schema is built once."""
    first, second = SqliteStore(db_path), SqliteStore(db_path)
    try:
        await asyncio.gather(first.open(), second.open())
        await add_tenant(first)
        assert await second.get_tenant("t1") is not None
    finally:
        await first.close()
        await second.close()
    assert count_rows(db_path, "schema_migrations") == len(SHIPPED_MIGRATIONS)


async def test_two_processes_opening_a_new_file_migrate_once(db_path: Path) -> None:
    """Two processes opening the same new file at once both succeed; one migrates it."""
    script = (
        "import asyncio, sys\n"
        "from eudi_connect.store.sqlite import SqliteStore\n"
        "async def main():\n"
        "    store = SqliteStore(sys.argv[1])\n"
        "    await store.open()\n"
        "    await store.get_or_set_meta('opened-by-' + sys.argv[2], b'1')\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, str(db_path), str(number)
        )
        for number in range(2)
    ]
    codes = await asyncio.gather(*(process.wait() for process in processes))
    assert codes == [0, 0]
    assert count_rows(db_path, "schema_migrations") == len(SHIPPED_MIGRATIONS)
    assert count_rows(db_path, "meta") == 2


async def test_edited_migration_is_refused(db_path: Path) -> None:
    """A database whose applied migration no longer matches the file refuses to open."""
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    with raw(db_path) as connection:
        connection.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    reopened = SqliteStore(db_path)
    with pytest.raises(ConfigurationError) as caught:
        await reopened.open()
    assert caught.value.reason == "MIGRATION_CHANGED"
    await reopened.close()


def test_pending_migrations_refuses_a_newer_schema() -> None:
    """A database migrated by a newer build is refused rather than used by old code."""
    known = [Migration(1, "initial", "SELECT 1;", checksum("SELECT 1;"))]
    assert pending_migrations(known, {}) == known
    assert pending_migrations(known, {1: checksum("SELECT 1;")}) == []
    with pytest.raises(ConfigurationError) as caught:
        pending_migrations(known, {1: checksum("SELECT 1;"), 2: "x"})
    assert caught.value.reason == "SCHEMA_TOO_NEW"


@pytest.mark.parametrize(
    "names",
    [["0001_a.sql", "0003_c.sql"], ["0001_a.sql", "2_b.sql"], ["0001_a.sql", "0001_b.sql"], []],
)
def test_load_migrations_rejects_gaps_bad_names_and_empty_folders(
    tmp_path: Path, names: list[str]
) -> None:
    """Gaps, duplicates, misnamed files and an empty folder stop the service at start."""
    for name in names:
        (tmp_path / name).write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_migrations(tmp_path)
    assert caught.value.reason == "MIGRATION_INVALID"


def test_sqlite_migrations_ship_in_order() -> None:
    """The packaged SQLite migrations load, numbered from 1."""
    migrations = load_migrations(backend_folder("sqlite"))
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"


def test_split_statements_respects_strings_comments_and_triggers() -> None:
    """Semicolons inside strings, comments and trigger bodies do not end a statement."""
    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE a (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;\n"
        "INSERT INTO a VALUES ('c'); INSERT INTO a VALUES ('d');\n"
        "-- trailing comment\n"
    )
    statements = split_statements(script)
    assert len(statements) == 4
    assert "'a;b'" in statements[0]
    assert statements[1].endswith("END;")
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        for statement in statements:
            connection.execute(statement)
        assert connection.execute("SELECT count(*) FROM a").fetchone() == (2,)


# --- lifecycle -----------------------------------------------------------------------------


async def test_calls_after_close_are_unavailable(db_path: Path) -> None:
    """Reads and writes after close() raise UnavailableError, and close() is idempotent."""
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    await store.close()
    with pytest.raises(UnavailableError) as caught:
        await store.get_tenant("t1")
    assert caught.value.reason == "STORE_UNAVAILABLE"
    with pytest.raises(UnavailableError):
        await add_tenant(store)


async def test_open_failure_leaves_nothing_open(tmp_path: Path) -> None:
    """A path that cannot be opened gives UnavailableError and leaks no connection."""
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    store = SqliteStore(folder)
    with pytest.raises(UnavailableError) as caught:
        await store.open()
    assert caught.value.reason == "STORE_UNAVAILABLE"
    assert str(folder) not in caught.value.message
    await store.close()


@pytest.fixture
def not_a_database(db_path: Path) -> Path:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just some bytes" * 100)
    return db_path


async def test_a_file_that_is_not_a_database_is_a_configuration_error(
    not_a_database: Path,
) -> None:
    """Opening a file that is not SQLite fails at once as a configuration error."""
    store = SqliteStore(not_a_database)
    with pytest.raises(ConfigurationError) as caught:
        await store.open()
    assert caught.value.reason == "DATABASE_UNUSABLE"


# --- meta, tenants, keys -------------------------------------------------------------------


async def test_meta_keeps_the_first_value(store: SqliteStore) -> None:
    """get_or_set_meta stores a value once and returns the stored one afterwards."""
    assert await store.get_or_set_meta("master-key-check", b"first") == b"first"
    assert await store.get_or_set_meta("master-key-check", b"second") == b"first"


async def test_tenant_and_api_key_round_trip(store: SqliteStore) -> None:
    """A tenant and its API key are stored together and read back equal."""
    tenant = TenantRecord("t1", "Tenant One", 100)
    key = ApiKeyRecord("key-1", "t1", b"\x00hash\xff", 101)
    await store.create_tenant(tenant, key)
    assert await store.get_tenant("t1") == tenant
    assert await store.get_api_key("key-1") == key
    assert await store.get_tenant("nope") is None
    assert await store.get_api_key("nope") is None


async def test_create_tenant_is_all_or_nothing(store: SqliteStore, db_path: Path) -> None:
    """A clashing tenant or key id fails with its own reason and writes nothing."""
    await add_tenant(store, "t1")
    with pytest.raises(AlreadyExistsError) as tenant_clash:
        await store.create_tenant(
            TenantRecord("t1", "x", 1), ApiKeyRecord("key-new", "t1", b"h", 1)
        )
    assert tenant_clash.value.reason == "TENANT_EXISTS"
    with pytest.raises(AlreadyExistsError) as key_clash:
        await store.create_tenant(TenantRecord("t2", "x", 1), ApiKeyRecord("key-t1", "t2", b"h", 1))
    assert key_clash.value.reason == "API_KEY_EXISTS"
    assert await store.get_tenant("t2") is None
    assert await store.get_api_key("key-new") is None
    with pytest.raises(InvalidArgumentError):
        await store.create_tenant(TenantRecord("t3", "x", 1), ApiKeyRecord("k3", "t1", b"h", 1))
    assert count_rows(db_path, "tenants") == 1


async def test_issuer_key_ensure_rotate_and_list(store: SqliteStore) -> None:
    """One key is active at a time; rotation retires the old key and keeps it listed."""
    await add_tenant(store)
    first = issuer_key("kid-1", 200)
    assert await store.ensure_active_issuer_key(first) == first
    assert await store.ensure_active_issuer_key(issuer_key("kid-other", 201)) == first

    second = issuer_key("kid-2", 300)
    await store.rotate_issuer_key(second, retired_at=300)
    keys = await store.list_issuer_keys("t1")
    assert [key.kid for key in keys] == ["kid-2", "kid-1"]
    assert keys[0] == second
    assert keys[1].retired_at == 300
    assert keys[1].public_jwk == first.public_jwk
    assert keys[1].private_key_encrypted == first.private_key_encrypted
    assert await store.ensure_active_issuer_key(issuer_key("kid-3", 400)) == second
    assert await store.list_issuer_keys("someone-else") == []


async def test_issuer_key_errors(store: SqliteStore) -> None:
    """A reused kid, an unknown tenant and a failed rotation change nothing."""
    await add_tenant(store)
    await store.ensure_active_issuer_key(issuer_key("kid-1", 200))
    with pytest.raises(AlreadyExistsError) as reused:
        await store.rotate_issuer_key(issuer_key("kid-1", 300), retired_at=300)
    assert reused.value.reason == "ISSUER_KEY_EXISTS"
    [still_active] = await store.list_issuer_keys("t1")
    assert still_active.retired_at is None
    with pytest.raises(NotFoundError) as unknown:
        await store.ensure_active_issuer_key(issuer_key("kid-x", 1, tenant_id="ghost"))
    assert unknown.value.reason == "TENANT_NOT_FOUND"


# --- status lists --------------------------------------------------------------------------


async def test_lease_positions_across_a_list_boundary(store: SqliteStore) -> None:
    """Leases fill a list of 8, stop short at its end, then open a new list; none overlap."""
    await add_tenant(store)
    leases = []
    for number in range(5):
        leases.append(
            await store.lease_positions(
                "t1", count=3, list_size=8, new_list=status_list(f"L{number}", size=8)
            )
        )
    assert [(lease.status_list_id, lease.start, lease.count) for lease in leases] == [
        ("L0", 0, 3),
        ("L0", 3, 3),
        ("L0", 6, 2),
        ("L3", 0, 3),
        ("L3", 3, 3),
    ]
    first = await store.get_status_list("L0")
    assert first is not None
    assert (first.next_position, first.size, first.bits) == (8, 8, 2)
    assert first.permutation_key == b"k" * 32
    assert await store.get_status_list("L1") is None  # offered, not needed: never created
    assert await store.get_status_list("L2") is None


async def test_concurrent_leases_never_overlap(store: SqliteStore) -> None:
    """Leases taken concurrently cover each position of each list at most once."""
    await add_tenant(store)
    leases = await asyncio.gather(
        *(
            store.lease_positions("t1", count=3, list_size=8, new_list=status_list(f"L{n}", size=8))
            for n in range(20)
        )
    )
    taken = [
        (lease.status_list_id, position)
        for lease in leases
        for position in range(lease.start, lease.start + lease.count)
    ]
    assert len(taken) == len(set(taken))
    assert all(0 <= position < 8 for _, position in taken)


async def test_lease_positions_rejects_inconsistent_arguments(store: SqliteStore) -> None:
    """A new list of another tenant or size, or a zero count, is an invalid argument."""
    await add_tenant(store)
    with pytest.raises(InvalidArgumentError):
        await store.lease_positions("t1", count=0, list_size=8, new_list=status_list("L", size=8))
    with pytest.raises(InvalidArgumentError):
        await store.lease_positions("t1", count=1, list_size=16, new_list=status_list("L", size=8))
    with pytest.raises(InvalidArgumentError):
        await store.lease_positions(
            "t1", count=1, list_size=8, new_list=status_list("L", tenant_id="t2", size=8)
        )


# --- credentials: group commit -------------------------------------------------------------


async def test_thousand_concurrent_inserts_are_durable(db_path: Path) -> None:
    """1,000 concurrent insert calls all commit, in few groups, and survive a reopen."""
    store = SqliteStore(db_path)
    await store.open()
    try:
        await add_tenant(store)
        await add_list(store)
        outcomes = await asyncio.gather(
            *(store.insert_credentials([credential(n)]) for n in range(1000))
        )
        stats = store.writer_stats
    finally:
        await store.close()
    assert all(outcome.inserted and outcome.record.status == VALID for [outcome] in outcomes)
    assert stats.largest_group > 1
    assert stats.groups < 1000

    reopened = SqliteStore(db_path)
    await reopened.open()
    try:
        sample = await reopened.get_credential("t1", "cred-t1-777")
        assert sample is not None
        assert sample.status_index == 777
        assert sample.credential == "eyJ.payload-777.sig~"
    finally:
        await reopened.close()
    assert count_rows(db_path, "credentials") == 1000


async def test_multi_row_insert_returns_outcomes_in_order(store: SqliteStore) -> None:
    """One call with many rows gets one outcome per row, in order, including replays."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(1)])
    outcomes = await store.insert_credentials(
        [credential(0), credential(99, index=50, request_id="req-1"), credential(2)]
    )
    assert [outcome.inserted for outcome in outcomes] == [True, False, True]
    assert outcomes[1].record.credential_id == "cred-t1-1"
    assert await store.insert_credentials([]) == []


async def test_request_id_replay_returns_the_stored_row(store: SqliteStore) -> None:
    """A second insert with a used request_id stores nothing and returns the first row."""
    await add_tenant(store)
    await add_list(store)
    [first] = await store.insert_credentials([credential(1)])
    await store.change_status(
        "t1", "cred-t1-1", to_status=SUSPENDED, from_statuses=frozenset({VALID}), reason="r", at=5
    )
    [replay] = await store.insert_credentials([credential(2, request_id="req-1")])
    assert first.inserted
    assert not replay.inserted
    assert replay.record.credential_id == "cred-t1-1"
    assert replay.record.status == SUSPENDED
    assert await store.get_status_at("L1", 2) is None
    assert await store.get_credential_by_request_id("t1", "req-1") == replay.record


async def test_request_id_is_per_tenant_and_null_never_collides(store: SqliteStore) -> None:
    """Tenants may reuse each other's request ids; rows without one never clash."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    await add_list(store, "L1", tenant_id="t1")
    await add_list(store, "L2", tenant_id="t2")
    outcomes = await asyncio.gather(
        store.insert_credentials([credential(1, request_id="same")]),
        store.insert_credentials([credential(1, tenant_id="t2", list_id="L2", request_id="same")]),
        store.insert_credentials([credential(2, request_id=None)]),
        store.insert_credentials([credential(3, request_id=None)]),
    )
    assert all(outcome.inserted for [outcome] in outcomes)


async def test_concurrent_replays_in_one_group_insert_once(store: SqliteStore) -> None:
    """Concurrent calls with one request_id insert one row; the others get that row."""
    await add_tenant(store)
    await add_list(store)
    outcomes = await asyncio.gather(
        *(store.insert_credentials([credential(n, request_id="dup")]) for n in range(5))
    )
    inserted = [outcome for [outcome] in outcomes if outcome.inserted]
    assert len(inserted) == 1
    assert {outcome.record.credential_id for [outcome] in outcomes} == {
        inserted[0].record.credential_id
    }


async def test_groups_are_capped_in_calls_and_rows(db_path: Path) -> None:
    """A group takes at most max_group calls and max_group_rows rows (but always one call)."""
    store = SqliteStore(db_path, max_group=2, max_group_rows=4)
    await store.open()
    try:
        await add_tenant(store)
        await add_list(store)
        before = store.writer_stats.groups
        await asyncio.gather(*(store.insert_credentials([credential(n)]) for n in range(6)))
        assert store.writer_stats.groups - before == 3
        before = store.writer_stats.groups
        await asyncio.gather(
            store.insert_credentials([credential(n) for n in range(10, 13)]),
            store.insert_credentials([credential(n) for n in range(20, 23)]),
            store.insert_credentials([credential(n) for n in range(30, 40)]),
        )
        assert store.writer_stats.groups - before == 3
        assert store.writer_stats.largest_group == 2
    finally:
        await store.close()
    assert count_rows(db_path, "credentials") == 22


async def test_cancelled_caller_is_not_written(store: SqliteStore) -> None:
    """A call cancelled while still queued (a cancelled RPC) writes nothing."""
    await add_tenant(store)
    await add_list(store)
    task = asyncio.create_task(store.insert_credentials([credential(1)]))
    await asyncio.sleep(0)  # queued, the writer not yet run
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [outcome] = await store.insert_credentials([credential(2)])
    assert outcome.inserted
    assert await store.get_credential("t1", "cred-t1-1") is None


async def test_one_bad_item_fails_alone_within_its_group(store: SqliteStore, db_path: Path) -> None:
    """A duplicate status index fails its own call while the rest of the group commits."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(0)])
    groups_before = store.writer_stats.groups
    results = await asyncio.gather(
        *(store.insert_credentials([credential(n)]) for n in range(1, 6)),
        store.insert_credentials([credential(6, index=3)]),
        *(store.insert_credentials([credential(n)]) for n in range(7, 10)),
        return_exceptions=True,
    )
    assert store.writer_stats.groups == groups_before + 1
    failure = results[5]
    assert isinstance(failure, EudiConnectError)
    assert failure.reason == "STATUS_INDEX_TAKEN"
    assert isinstance(failure.__cause__, sqlite3.IntegrityError)
    assert all(not isinstance(result, BaseException) for n, result in enumerate(results) if n != 5)
    assert count_rows(db_path, "credentials") == 9
    assert await store.get_credential("t1", "cred-t1-6") is None


async def test_a_failing_row_undoes_its_whole_call(store: SqliteStore) -> None:
    """Rows of one call commit together: one bad row leaves none of that call stored."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(0)])
    with pytest.raises(EudiConnectError) as caught:
        await store.insert_credentials([credential(1), credential(2, index=0)])
    assert caught.value.reason == "STATUS_INDEX_TAKEN"
    assert await store.get_credential("t1", "cred-t1-1") is None


async def test_insert_reference_and_id_errors(store: SqliteStore) -> None:
    """Unknown lists, another tenant's list and a reused credential id are refused."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    await add_list(store, "L1", tenant_id="t1")
    with pytest.raises(NotFoundError) as unknown_list:
        await store.insert_credentials([credential(1, list_id="missing")])
    assert unknown_list.value.reason == "STATUS_LIST_NOT_FOUND"
    with pytest.raises(NotFoundError) as foreign_list:
        await store.insert_credentials([credential(1, tenant_id="t2", list_id="L1")])
    assert foreign_list.value.reason == "STATUS_LIST_NOT_FOUND"
    with pytest.raises(NotFoundError) as unknown_tenant:
        await store.insert_credentials([credential(1, tenant_id="ghost")])
    assert unknown_tenant.value.reason == "TENANT_NOT_FOUND"
    await store.insert_credentials([credential(1)])
    with pytest.raises(AlreadyExistsError) as same_id:
        await store.insert_credentials([credential(1, index=7, request_id="other")])
    assert same_id.value.reason == "CREDENTIAL_EXISTS"


# --- credentials: status -------------------------------------------------------------------


async def test_change_status_transitions_events_and_versions(
    store: SqliteStore, db_path: Path
) -> None:
    """Status changes obey their precondition, leave an audit trail and bump the list."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(1, index=5), credential(2, index=9)])

    suspend = await store.change_status(
        "t1",
        "cred-t1-1",
        to_status=SUSPENDED,
        from_statuses=frozenset({VALID}),
        reason="hold",
        at=10,
    )
    assert suspend is not None
    assert suspend.changed
    assert (suspend.record.status, suspend.record.status_updated_at) == (SUSPENDED, 10)
    assert await store.list_status_entries("L1") == [(5, SUSPENDED)]

    reinstate = await store.change_status(
        "t1", "cred-t1-1", to_status=VALID, from_statuses=frozenset({SUSPENDED}), reason="ok", at=20
    )
    assert reinstate is not None
    assert reinstate.changed
    assert await store.list_status_entries("L1") == []

    revoke = await store.change_status(
        "t1",
        "cred-t1-1",
        to_status=INVALID,
        from_statuses=frozenset({VALID, SUSPENDED}),
        reason="x",
        at=30,
    )
    again = await store.change_status(
        "t1",
        "cred-t1-1",
        to_status=INVALID,
        from_statuses=frozenset({VALID, SUSPENDED}),
        reason="x",
        at=40,
    )
    assert revoke is not None
    assert revoke.changed
    assert again is not None
    assert not again.changed
    assert again.record.status == INVALID
    assert again.record.status_updated_at == 30
    assert await store.get_status_at("L1", 5) == INVALID
    assert await store.get_status_at("L1", 9) == VALID
    assert await store.get_status_at("L1", 6) is None
    stored = await store.get_credential("t1", "cred-t1-1")
    assert stored == revoke.record

    status_list_record = await store.get_status_list("L1")
    assert status_list_record is not None
    assert status_list_record.version == 3
    with raw(db_path) as connection:
        events = connection.execute(
            "SELECT credential_id, from_status, to_status, reason, at FROM status_events "
            "ORDER BY event_id"
        ).fetchall()
    assert events == [
        ("cred-t1-1", VALID, SUSPENDED, "hold", 10),
        ("cred-t1-1", SUSPENDED, VALID, "ok", 20),
        ("cred-t1-1", VALID, INVALID, "x", 30),
    ]


async def test_change_status_is_tenant_isolated(store: SqliteStore) -> None:
    """Another tenant's credential id, or an unknown one, is None and stays unchanged."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    await add_list(store)
    await store.insert_credentials([credential(1)])
    for tenant_id, credential_id in (("t2", "cred-t1-1"), ("t1", "missing")):
        result = await store.change_status(
            tenant_id,
            credential_id,
            to_status=INVALID,
            from_statuses=frozenset({VALID}),
            reason="x",
            at=1,
        )
        assert result is None
    assert await store.get_credential("t2", "cred-t1-1") is None
    assert await store.get_credential_by_request_id("t2", "req-1") is None
    assert await store.get_status_at("L1", 1) == VALID


# --- templates -----------------------------------------------------------------------------

PID_DEFINITION = {
    "vct": "urn:eudi:pid:1",
    "claims": {"given_name": "{{ given_name }}"},
    "n": [1, 2],
}


async def test_template_create_get_and_version(store: SqliteStore) -> None:
    """A created template reads back equal, at version 1; a second create of the id clashes."""
    await add_tenant(store)
    created = await store.create_template(
        "t1", "pid", kind="credential", definition=PID_DEFINITION, description="PID", created_at=5
    )
    assert (created.version, created.created_at, created.updated_at) == (1, 5, 5)
    assert created.definition == PID_DEFINITION
    assert await store.get_template("t1", "pid") == created
    assert await store.get_template_version("t1", "pid") == 1
    assert await store.get_template("t2", "pid") is None
    assert await store.get_template_version("t1", "other") is None
    with pytest.raises(AlreadyExistsError) as clash:
        await store.create_template(
            "t1", "pid", kind="credential", definition={}, description="", created_at=6
        )
    assert clash.value.reason == "TEMPLATE_EXISTS"
    with pytest.raises(NotFoundError) as unknown:
        await store.create_template(
            "ghost", "pid", kind="credential", definition={}, description="", created_at=6
        )
    assert unknown.value.reason == "TENANT_NOT_FOUND"
    with pytest.raises(InvalidArgumentError):
        await store.create_template(
            "t1",
            "nan",
            kind="credential",
            definition={"x": float("nan")},
            description="",
            created_at=6,
        )


async def test_template_update_is_compare_and_set(store: SqliteStore) -> None:
    """An update needs the current version, bumps it, and keeps kind and created_at."""
    await add_tenant(store)
    await store.create_template(
        "t1", "mail", kind="notification", definition={"text": "a"}, description="d", created_at=5
    )
    updated = await store.update_template(
        "t1", "mail", definition={"text": "b"}, description="e", expected_version=1, updated_at=9
    )
    assert updated is not None
    assert (updated.version, updated.kind, updated.created_at, updated.updated_at) == (
        2,
        "notification",
        5,
        9,
    )
    assert await store.get_template("t1", "mail") == updated
    with pytest.raises(AbortedError) as stale:
        await store.update_template(
            "t1", "mail", definition={}, description="", expected_version=1, updated_at=10
        )
    assert stale.value.reason == "TEMPLATE_ETAG_MISMATCH"
    assert await store.get_template_version("t1", "mail") == 2
    missing = await store.update_template(
        "t1", "nope", definition={}, description="", expected_version=1, updated_at=10
    )
    assert missing is None


async def test_template_delete_leaves_a_tombstone_and_versions_continue(
    store: SqliteStore,
) -> None:
    """Deleting hides the template; re-creating the id continues after the tombstone."""
    await add_tenant(store)
    await store.create_template(
        "t1", "pid", kind="credential", definition={"v": 1}, description="", created_at=1
    )
    with pytest.raises(AbortedError):
        await store.delete_template("t1", "pid", expected_version=7, deleted_at=2)
    assert await store.delete_template("t1", "pid", expected_version=1, deleted_at=2)
    assert await store.get_template("t1", "pid") is None
    assert await store.get_template_version("t1", "pid") is None
    assert not await store.delete_template("t1", "pid", expected_version=None, deleted_at=3)
    assert (
        await store.update_template(
            "t1", "pid", definition={}, description="", expected_version=2, updated_at=3
        )
        is None
    )
    again = await store.create_template(
        "t1", "pid", kind="notification", definition={"v": 2}, description="new", created_at=4
    )
    assert (again.version, again.kind, again.created_at) == (3, "notification", 4)
    assert await store.get_template("t1", "pid") == again
    assert await store.delete_template("t1", "pid", expected_version=None, deleted_at=5)


async def test_list_templates_pages_in_bytewise_order(store: SqliteStore) -> None:
    """Listing skips deleted templates, filters by kind and pages after the last id seen."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    ids = ["b", "a", "Z", "é", "a-2", "zz"]
    for number, template_id in enumerate(ids):
        await store.create_template(
            "t1",
            template_id,
            kind="credential" if number % 2 == 0 else "notification",
            definition={"n": number},
            description="",
            created_at=number,
        )
    await store.create_template(
        "t2", "a", kind="credential", definition={}, description="", created_at=1
    )
    await store.delete_template("t1", "zz", expected_version=None, deleted_at=9)
    live = sorted(set(ids) - {"zz"})
    first = await store.list_templates("t1", after=None, limit=3)
    rest = await store.list_templates("t1", after=first[-1].template_id, limit=10)
    assert [t.template_id for t in first + rest] == live
    assert all(t.tenant_id == "t1" for t in first + rest)
    credentials = await store.list_templates("t1", after=None, limit=10, kind="credential")
    assert [t.template_id for t in credentials] == sorted(["b", "Z", "a-2"])
    assert await store.list_templates("t1", after=None, limit=0) == []
    assert await store.list_templates("t1", after="é", limit=10) == []


# --- shutdown and failures -----------------------------------------------------------------


async def test_close_drains_queued_writes(db_path: Path) -> None:
    """Writes queued before close() are committed and answered; later calls are refused."""
    store = SqliteStore(db_path)
    await store.open()
    await add_tenant(store)
    await add_list(store)
    tasks = [asyncio.create_task(store.insert_credentials([credential(n)])) for n in range(200)]
    await asyncio.sleep(0)  # every task has queued its item
    await store.close()
    results = await asyncio.gather(*tasks)
    assert all(outcome.inserted for [outcome] in results)
    with pytest.raises(UnavailableError):
        await store.insert_credentials([credential(500)])
    assert count_rows(db_path, "credentials") == 200


async def test_write_lock_held_past_busy_timeout_is_unavailable(db_path: Path) -> None:
    """While another connection holds the write lock, a group fails whole, then recovers."""
    store = SqliteStore(db_path, busy_timeout_ms=100)
    await store.open()
    try:
        await add_tenant(store)
        await add_list(store)
        with raw(db_path) as locker:
            locker.execute("BEGIN IMMEDIATE")
            results = await asyncio.gather(
                *(store.insert_credentials([credential(n)]) for n in range(5)),
                return_exceptions=True,
            )
            locker.execute("ROLLBACK")
        for result in results:
            assert isinstance(result, UnavailableError)
            assert result.reason == "STORE_UNAVAILABLE"
            assert "busy" in result.message
        assert store.writer_stats.failed_groups >= 1
        assert count_rows(db_path, "credentials") == 0
        [outcome] = await store.insert_credentials([credential(1)])
        assert outcome.inserted
    finally:
        await store.close()


async def test_disk_full_mid_group_commits_nothing(store: SqliteStore, db_path: Path) -> None:
    """An out-of-space error inside a group fails every item of it and writes nothing."""
    await add_tenant(store)
    await add_list(store)
    writer = store._writer_connection  # test-only: cap the writer's file size
    assert writer is not None
    (pages,) = await run_in_connection(
        writer, lambda conn: conn.execute("PRAGMA page_count").fetchone()
    )
    await run_in_connection(writer, lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))
    big = "x" * 20_000
    results = await asyncio.gather(
        *(
            store.insert_credentials(
                [replace(credential(n), credential=big) if n % 2 else credential(n)]
            )
            for n in range(6)
        ),
        return_exceptions=True,
    )
    for result in results:
        assert isinstance(result, UnavailableError)
        assert "disk space" in result.message
    assert count_rows(db_path, "credentials") == 0
    await run_in_connection(writer, lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    [outcome] = await store.insert_credentials([credential(1)])
    assert outcome.inserted


# --- factory -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/store.db", Path("data/store.db")),
        ("sqlite:////var/lib/eudi/store.db", Path("/var/lib/eudi/store.db")),
        ("data/store.db", Path("data/store.db")),
        ("/var/lib/eudi/store.db", Path("/var/lib/eudi/store.db")),
    ],
)
def test_factory_accepts_sqlite_urls_and_paths(url: str, expected: Path) -> None:
    """SQLite URLs with three or four slashes and bare paths name the same kind of file."""
    store = open_store_from_url(url)
    assert isinstance(store, SqliteStore)
    assert store.path == expected
    assert database_directory(url) == expected.absolute().parent


@pytest.mark.parametrize(
    "url",
    [
        "",
        "postgresql://user:secret@/eudi",  # no host (PostgreSQL URLs: test_postgres_store)
        "mysql://user:secret@db/eudi",
        "sqlite://host/store.db",
        "sqlite:///:memory:",
        "sqlite:///store.db?mode=ro",
        "sqlite:///data/",
    ],
)
def test_factory_rejects_other_urls_without_echoing_them(url: str) -> None:
    """Unsupported URLs are configuration errors whose message never repeats the URL."""
    with pytest.raises(ConfigurationError) as caught:
        open_store_from_url(url)
    assert caught.value.reason == "DATABASE_URL"
    assert "secret" not in caught.value.message


async def test_factory_store_opens(tmp_path: Path) -> None:
    """A store built from a URL opens, creating the database folder."""
    store = open_store_from_url(f"sqlite:///{tmp_path}/nested/eudi.db")
    await store.open()
    try:
        await add_tenant(store)
    finally:
        await store.close()
    assert (tmp_path / "nested" / "eudi.db").exists()
