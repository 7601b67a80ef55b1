"""Applies migrations/NNNN_name.sql in order, each once, inside its own transaction; then the
database functions' current definitions, migrations/functions/*.sql (migrations/README.md).

Every applied file is recorded with its SHA-256; a numbered file changed after it was applied is
refused. A function file is applied again when it changed, and after any numbered migration, so
that its definition wins over whatever a migration did to that function.
A session-level advisory lock makes two processes migrating at once take turns.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from service.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
FUNCTIONS_SUBDIR = "functions"
# Any fixed 64-bit number, the same in every process: "tagung migrations".
ADVISORY_LOCK_KEY = 0x7A6775_6D6967
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_FUNCTION_FILE_NAME = re.compile(r"^[a-z][a-z0-9_]*\.sql$")
# What the runner records: each numbered migration, and each function file as last applied.
_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS schema_functions (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class FunctionFile:
    name: str  # functions/<name>.sql
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lowercase_name.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations


def load_functions(directory: Path = MIGRATIONS_DIR) -> list[FunctionFile]:
    """The files of directory/functions in name order. A directory without that folder (a
    test's, or one cut at an older migration) has none."""
    functions = []
    for path in sorted((directory / FUNCTIONS_SUBDIR).glob("*.sql")):
        if not _FUNCTION_FILE_NAME.match(path.name):
            raise MigrationError(f"{path.name}: function files are named lowercase_name.sql")
        functions.append(FunctionFile(f"{FUNCTIONS_SUBDIR}/{path.name}", path.read_text()))
    return functions


async def migrate(url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Applies what is pending; returns the names of the files it applied."""
    migrations = load_migrations(directory)
    functions = load_functions(directory)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        try:
            await conn.execute(_BOOKKEEPING)
            done = await _apply_pending(conn, migrations)
            return done + await _apply_functions(conn, functions)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    finally:
        await conn.close()


async def _apply_pending(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    applied = {
        row["version"]: row
        for row in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    }
    done = []
    for migration in migrations:
        previous = applied.get(migration.version)
        if previous is not None:
            if previous["checksum"] != migration.checksum:
                raise MigrationError(
                    f"{migration.name} was changed after it was applied "
                    f"(recorded checksum {previous['checksum'][:12]}…, "
                    f"file {migration.checksum[:12]}…). "
                    "Applied migrations are never edited: restore the file and add a new one."
                )
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            # It may have dropped or redefined a function: every function file is applied
            # after it, also when this run stops before they are.
            await conn.execute("DELETE FROM schema_functions")
        done.append(migration.name)
    return done


async def _apply_functions(conn: asyncpg.Connection, functions: list[FunctionFile]) -> list[str]:
    """Each function file not applied as it is now. The files are CREATE OR REPLACE, so
    applying one again is harmless."""
    applied = {
        row["name"]: row["checksum"]
        for row in await conn.fetch("SELECT name, checksum FROM schema_functions")
    }
    done = []
    for function in functions:
        if applied.get(function.name) == function.checksum:
            continue
        async with conn.transaction():
            await conn.execute(function.sql)
            await conn.execute(
                """
                INSERT INTO schema_functions (name, checksum) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET checksum = $2, applied_at = now()
                """,
                function.name,
                function.checksum,
            )
        done.append(function.name)
    return done
