"""Numbered SQL migrations: loading, planning and applying, shared by every SQL backend.

A backend keeps its migrations in its own folder as `NNNN_short_name.sql` files (package
data), loads them with `load_migrations`, and `apply_migrations` runs the pending ones
through the backend's `MigrationDriver`, each in its own transaction. The driver holds
what differs: how a transaction shuts other processes and instances out (SQLite's write
lock, a PostgreSQL advisory lock), how a script runs (SQLite one statement at a time,
PostgreSQL whole), and which errors mean a bad script rather than a failing database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Protocol

from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL script and the checksum that detects later edits to it."""

    version: int
    name: str
    sql: str
    checksum: str

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def backend_folder(backend: str) -> Traversable:
    """The folder holding one backend's migrations, e.g. `migrations/sqlite`."""
    return files("eudi_connect.store") / "migrations" / backend


def checksum(sql: str) -> str:
    """SHA-256 of the script with line endings normalised (a CRLF checkout is no edit)."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def load_migrations(folder: Traversable) -> tuple[Migration, ...]:
    """Reads every `NNNN_name.sql` of `folder`, ordered by version.

    Versions must run 1, 2, 3... without gaps or duplicates, so a misnamed or missing file
    stops the service at start instead of leaving a schema half upgraded.
    """
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise ConfigurationError(
                f"migration file {entry.name!r} is not named NNNN_short_name.sql",
                reason=Reason.MIGRATION_INVALID,
            )
        sql = entry.read_text(encoding="utf-8")
        found.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                sql=sql,
                checksum=checksum(sql),
            )
        )
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ConfigurationError(
                f"migrations must be numbered 1, 2, 3... without gaps; expected {expected:04d}, "
                f"found {migration.file_name}",
                reason=Reason.MIGRATION_INVALID,
            )
    if not found:
        raise ConfigurationError("no migrations found", reason=Reason.MIGRATION_INVALID)
    return tuple(found)


def pending_migrations(
    available: Sequence[Migration], applied: Mapping[int, str]
) -> list[Migration]:
    """The migrations still to apply, given the applied versions and their checksums.

    Refuses a database whose schema is newer than this build (a downgrade would run new
    data through old code) or whose applied scripts were edited afterwards.
    """
    known = {migration.version: migration for migration in available}
    newest_known = max(known, default=0)
    for version, applied_checksum in applied.items():
        migration = known.get(version)
        if migration is None:
            raise ConfigurationError(
                f"the database schema (version {max(applied)}) is newer than this build "
                f"supports (version {newest_known}); upgrade the service",
                reason=Reason.SCHEMA_TOO_NEW,
            )
        if migration.checksum != applied_checksum:
            raise ConfigurationError(
                f"migration {migration.file_name} was changed after it was "
                "applied; add a new migration instead of editing an applied one",
                reason=Reason.MIGRATION_CHANGED,
            )
    return [migration for migration in available if migration.version not in applied]


class MigrationDriver(Protocol):
    """What `apply_migrations` needs of a backend; every call uses one connection."""

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """One transaction, in which no other process or instance migrates; committed when
        the block ends, rolled back when it raises."""

    async def recorded(self) -> dict[int, str]:
        """Creates `schema_migrations` when missing; the versions and checksums it holds."""

    async def run_script(self, sql: str) -> None:
        """Runs one migration's script in the open transaction."""

    def script_failure(self, error: Exception) -> str | None:
        """What to call `error` from `run_script` when the script itself failed; None when
        the database failed (the error is raised as it is, a retry may work)."""

    async def record(self, migration: Migration) -> None:
        """Adds the migration to `schema_migrations`, in the open transaction."""


async def apply_migrations(driver: MigrationDriver, available: Sequence[Migration]) -> list[int]:
    """Applies the pending migrations, each in its own exclusive transaction.

    Processes or instances opening one database together queue on the exclusive
    transaction; each one, once in it, reads which versions are recorded and skips those.
    Returns the versions applied here.
    """
    applied_here: list[int] = []
    while True:
        async with driver.exclusive():
            todo = pending_migrations(available, await driver.recorded())
            if not todo:
                return applied_here
            migration = todo[0]
            try:
                await driver.run_script(migration.sql)
            except Exception as error:
                failure = driver.script_failure(error)
                if failure is None:
                    raise
                raise ConfigurationError(
                    f"migration {migration.file_name} failed ({failure})",
                    reason=Reason.MIGRATION_FAILED,
                ) from error
            await driver.record(migration)
        applied_here.append(migration.version)
