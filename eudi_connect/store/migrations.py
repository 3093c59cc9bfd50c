"""Numbered SQL migrations: loading and planning, shared by every SQL backend.

A backend keeps its migrations in its own folder as `NNNN_short_name.sql` files (package
data), loads them with `load_migrations`, asks `pending_migrations` which ones to run
against the versions its `schema_migrations` table records, and applies each one in its
own transaction. Applying is backend-specific (SQLite must split a script into
statements, PostgreSQL can run it whole), so it is not here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from eudi_connect.errors import ConfigurationError

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL script and the checksum that detects later edits to it."""

    version: int
    name: str
    sql: str
    checksum: str


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
                reason="MIGRATION_INVALID",
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
                f"found {migration.version:04d}_{migration.name}.sql",
                reason="MIGRATION_INVALID",
            )
    if not found:
        raise ConfigurationError("no migrations found", reason="MIGRATION_INVALID")
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
                reason="SCHEMA_TOO_NEW",
            )
        if migration.checksum != applied_checksum:
            raise ConfigurationError(
                f"migration {version:04d}_{migration.name}.sql was changed after it was "
                "applied; add a new migration instead of editing an applied one",
                reason="MIGRATION_CHANGED",
            )
    return [migration for migration in available if migration.version not in applied]
