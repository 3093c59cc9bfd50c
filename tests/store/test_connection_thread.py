"""The thread that owns each SQLite connection of the store: calls, closing, failures."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from eudi_connect.store.sqlite.thread import ConnectionThread


def alive(name: str) -> bool:
    return any(thread.name == name and thread.is_alive() for thread in threading.enumerate())


async def open_thread(path: Path, name: str) -> ConnectionThread:
    return await ConnectionThread.open(
        lambda: sqlite3.connect(path, isolation_level=None), name=name
    )


async def test_work_runs_in_the_thread_that_owns_the_connection(tmp_path: Path) -> None:
    """Every call runs on the one thread, never on the event loop's."""
    connection = await open_thread(tmp_path / "a.db", "owner")
    try:
        names = {await connection.run(lambda _: threading.current_thread().name) for _ in range(5)}
        assert await connection.run(lambda conn: conn.execute("SELECT 40 + 2").fetchone()) == (42,)
    finally:
        await connection.close()
    assert names == {"owner"}


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads threads in /proc")
async def test_the_thread_carries_its_name_for_the_kernel(tmp_path: Path) -> None:
    """`top -H`, `ps -L` and the load tools see the connection thread under its own name
    (cut to the kernel's 15 bytes), not under the process's."""
    connection = await open_thread(tmp_path / "a.db", "sqlite-reader-12345")

    def kernel_name(_: sqlite3.Connection) -> str:
        path = Path(f"/proc/self/task/{threading.get_native_id()}/comm")
        return path.read_text(encoding="utf-8").strip()

    try:
        assert await connection.run(kernel_name) == "sqlite-reader-1"
    finally:
        await connection.close()


async def test_an_error_in_work_reaches_the_caller_and_the_thread_goes_on(tmp_path: Path) -> None:
    """A failing call raises its own error; the next call is served as usual."""
    connection = await open_thread(tmp_path / "a.db", "errors")
    try:
        with pytest.raises(sqlite3.OperationalError):
            await connection.run(lambda conn: conn.execute("SELECT * FROM nowhere"))
        assert await connection.run(lambda conn: conn.execute("SELECT 1").fetchone()) == (1,)
    finally:
        await connection.close()


async def test_a_failed_connect_raises_and_leaves_no_thread(tmp_path: Path) -> None:
    """When connecting fails, the error is the caller's and the thread has ended."""

    def refuse() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    with pytest.raises(sqlite3.OperationalError):
        await ConnectionThread.open(refuse, name="refused")
    assert not alive("refused")


async def test_close_runs_queued_calls_then_refuses_more(tmp_path: Path) -> None:
    """Calls queued before close still run; calls after it fail; the thread ends."""
    path = tmp_path / "a.db"
    connection = await open_thread(path, "closing")
    await connection.run(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))

    def insert(n: int) -> Callable[[sqlite3.Connection], object]:
        return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (n,))

    queued = [asyncio.ensure_future(connection.run(insert(n))) for n in range(20)]
    await asyncio.sleep(0)  # the calls are queued, not yet answered
    await connection.close()
    await asyncio.gather(*queued)
    with pytest.raises(sqlite3.ProgrammingError):
        await connection.run(lambda conn: conn.execute("SELECT 1"))
    await connection.close()  # a second close is a no-op
    assert not alive("closing")
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (20,)


async def test_a_cancelled_caller_does_not_stop_its_work(tmp_path: Path) -> None:
    """Cancelling a caller abandons the answer; the work itself still runs to its end."""
    connection = await open_thread(tmp_path / "a.db", "cancel")
    started, release = threading.Event(), threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(5)
        conn.execute("CREATE TABLE done (n INTEGER)")

    try:
        call = asyncio.ensure_future(connection.run(slow))
        await asyncio.to_thread(started.wait, 5)
        call.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await call
        tables = await connection.run(
            lambda conn: conn.execute("SELECT name FROM sqlite_master").fetchall()
        )
        assert tables == [("done",)]
    finally:
        await connection.close()
