"""The migration runner: order, once only, checksums, transactions, concurrent runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from service.migrate import MigrationError, load_functions, load_migrations, migrate


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


async def applied(url: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        return [(r["version"], r["name"]) for r in rows]
    finally:
        await conn.close()


async def test_applies_in_order_once(create_database, tmp_path):
    url = await create_database()
    write(tmp_path, "0002_add_column.sql", "ALTER TABLE things ADD COLUMN colour text;")
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    assert await migrate(url, tmp_path) == ["0001_things.sql", "0002_add_column.sql"]
    assert await migrate(url, tmp_path) == []
    assert await applied(url) == [(1, "0001_things.sql"), (2, "0002_add_column.sql")]


async def test_changed_applied_file_is_refused(create_database, tmp_path):
    url = await create_database()
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    await migrate(url, tmp_path)
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id bigint PRIMARY KEY);")
    write(tmp_path, "0002_more.sql", "CREATE TABLE more (id int);")
    with pytest.raises(MigrationError, match=r"0001_things\.sql was changed"):
        await migrate(url, tmp_path)
    assert await applied(url) == [(1, "0001_things.sql")]


async def test_failing_migration_leaves_nothing_behind(create_database, tmp_path):
    url = await create_database()
    write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    write(tmp_path, "0002_broken.sql", "CREATE TABLE half (id int);\nSELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(url, tmp_path)
    assert await applied(url) == [(1, "0001_ok.sql")]
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


async def test_concurrent_runs_apply_each_file_once(create_database, tmp_path):
    url = await create_database()
    # Not idempotent on purpose: a second application would fail.
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int); SELECT pg_sleep(0.2);")
    write(tmp_path, "0002_index.sql", "CREATE INDEX things_id ON things (id);")
    results = await asyncio.gather(*(migrate(url, tmp_path) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 2]
    assert len(await applied(url)) == 2


def test_badly_named_files_are_refused(tmp_path):
    write(tmp_path, "1_things.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_lowercase_name\.sql"):
        load_migrations(tmp_path)


def test_project_migrations_are_well_formed():
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


# The function files (migrations/functions/*.sql): applied after the numbered migrations,
# again when changed or after a numbered migration, never twice for nothing.

GREET = "CREATE OR REPLACE FUNCTION greet() RETURNS text LANGUAGE sql AS $$ SELECT 'hallo' $$;"


def write_function(directory: Path, name: str, sql: str) -> None:
    (directory / "functions").mkdir(exist_ok=True)
    (directory / "functions" / name).write_text(sql)


async def call(url: str, sql: str):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_function_file_is_applied_once_and_again_when_changed(create_database, tmp_path):
    url = await create_database()
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int);")
    # A LANGUAGE sql body is checked at creation: the table of migration 0001 exists by then.
    write_function(
        tmp_path,
        "count_things.sql",
        "CREATE OR REPLACE FUNCTION count_things() RETURNS bigint LANGUAGE sql "
        "AS $$ SELECT count(*) FROM things $$;",
    )
    write_function(tmp_path, "greet.sql", GREET)
    assert await migrate(url, tmp_path) == [
        "0001_things.sql",
        "functions/count_things.sql",
        "functions/greet.sql",
    ]
    assert await call(url, "SELECT greet()") == "hallo"

    assert await migrate(url, tmp_path) == []  # unchanged: not applied again

    write_function(tmp_path, "greet.sql", GREET.replace("hallo", "moin"))
    assert await migrate(url, tmp_path) == ["functions/greet.sql"]
    assert await call(url, "SELECT greet()") == "moin"
    assert await migrate(url, tmp_path) == []


async def test_function_file_wins_after_a_numbered_migration(create_database, tmp_path):
    """A later migration that drops or redefines a function: the file is applied after it,
    also when the run that applied the migration stopped before the file."""
    url = await create_database()
    write_function(tmp_path, "greet.sql", GREET)
    await migrate(url, tmp_path)

    write(tmp_path, "0001_drop.sql", "DROP FUNCTION greet();")
    write_function(tmp_path, "aaa_broken.sql", "SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(url, tmp_path)
    assert await call(url, "SELECT to_regproc('greet')") is None

    write_function(tmp_path, "aaa_broken.sql", GREET.replace("greet", "aaa_broken"))
    assert await migrate(url, tmp_path) == ["functions/aaa_broken.sql", "functions/greet.sql"]
    assert await call(url, "SELECT greet()") == "hallo"

    write(tmp_path, "0002_redefine.sql", GREET.replace("hallo", "servus"))
    assert await migrate(url, tmp_path) == [
        "0002_redefine.sql",
        "functions/aaa_broken.sql",
        "functions/greet.sql",
    ]
    assert await call(url, "SELECT greet()") == "hallo"


async def test_failing_function_file_is_applied_on_the_next_run(create_database, tmp_path):
    url = await create_database()
    write_function(tmp_path, "greet.sql", GREET.replace("SELECT 'hallo'", "SELECT nothing"))
    with pytest.raises(asyncpg.UndefinedColumnError):
        await migrate(url, tmp_path)
    assert await call(url, "SELECT count(*) FROM schema_functions") == 0
    write_function(tmp_path, "greet.sql", GREET)
    assert await migrate(url, tmp_path) == ["functions/greet.sql"]


async def test_concurrent_runs_apply_each_function_file_once(create_database, tmp_path):
    url = await create_database()
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int); SELECT pg_sleep(0.2);")
    write_function(tmp_path, "greet.sql", GREET)
    results = await asyncio.gather(*(migrate(url, tmp_path) for _ in range(4)))
    assert sorted(results) == [[], [], [], ["0001_things.sql", "functions/greet.sql"]]

    write_function(tmp_path, "greet.sql", GREET.replace("hallo", "moin"))
    results = await asyncio.gather(*(migrate(url, tmp_path) for _ in range(4)))
    assert sorted(results) == [[], [], [], ["functions/greet.sql"]]
    assert await call(url, "SELECT greet()") == "moin"


def test_badly_named_function_files_are_refused(tmp_path):
    write_function(tmp_path, "Greet-Function.sql", GREET)
    with pytest.raises(MigrationError, match=r"lowercase_name\.sql"):
        load_functions(tmp_path)
