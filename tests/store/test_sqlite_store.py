"""The SQLite store against real database files: schema, group commit, durability, failures.

What every backend promises is tested once for all in `test_store_contract`; the helpers
building its records are shared from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import threading
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
from eudi_connect.store.base import TenantRecord
from eudi_connect.store.factory import database_directory, open_store_from_url
from eudi_connect.store.migrations import (
    Migration,
    apply_migrations,
    backend_folder,
    checksum,
    load_migrations,
    pending_migrations,
)
from eudi_connect.store.sqlite import SqliteStore
from eudi_connect.store.sqlite.migrations import SqliteMigrations, split_statements
from eudi_connect.store.sqlite.thread import ConnectionThread
from tests.store.test_store_contract import add_list, add_tenant, credential

VALID = 0
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
    connection = await ConnectionThread.open(
        lambda: sqlite3.connect(db_path, isolation_level=None), name="old-schema"
    )
    try:
        await apply_migrations(SqliteMigrations(connection), SHIPPED_MIGRATIONS[:1])
        await connection.run(
            lambda conn: conn.execute("INSERT INTO tenants VALUES ('t1', 'Old', 1)")
        )
    finally:
        await connection.close()
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


async def test_open_failure_leaves_nothing_open(tmp_path: Path) -> None:
    """A path that cannot be opened gives UnavailableError and leaks no connection."""
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    store = SqliteStore(folder)
    threads_before = set(threading.enumerate())
    with pytest.raises(UnavailableError) as caught:
        await store.open()
    assert caught.value.reason == "STORE_UNAVAILABLE"
    assert str(folder) not in caught.value.message
    assert {t for t in threading.enumerate() if t.is_alive()} <= threads_before
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


async def test_an_item_alone_in_its_group_is_undone_when_it_fails(
    store: SqliteStore, db_path: Path
) -> None:
    """A failing item that commits alone leaves none of its writes, and the next write works."""
    await add_tenant(store)
    await add_list(store)
    before = store.writer_stats

    def fails_after_writing(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE tenants SET name = 'changed' WHERE tenant_id = 't1'")
        raise InvalidArgumentError("refused after a write")

    with pytest.raises(InvalidArgumentError):
        await store._write(fails_after_writing)
    after = store.writer_stats
    assert (after.groups, after.failed_groups) == (before.groups + 1, before.failed_groups)
    with raw(db_path) as connection:
        (name,) = connection.execute("SELECT name FROM tenants WHERE tenant_id = 't1'").fetchone()
    assert name != "changed"
    await store.insert_credentials([credential(0)])
    assert count_rows(db_path, "credentials") == 1


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
    # test-only: cap the writer's file size, through the writer itself
    (pages,) = await store._write(lambda conn: conn.execute("PRAGMA page_count").fetchone())
    await store._write(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}").fetchall())
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
    await store._write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823").fetchall())
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
