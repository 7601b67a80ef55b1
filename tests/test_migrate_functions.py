"""The database functions' current definitions are the files in migrations/functions: every
function of a migrated database has its file, and its body is the file's, word for word."""

from __future__ import annotations

import re
from collections import Counter

import asyncpg
import pytest

from service.migrate import MIGRATIONS_DIR, load_functions, migrate

# A function's name and its dollar-quoted body, as PostgreSQL keeps it in pg_proc.prosrc.
_DEFINITION = re.compile(
    r"CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(?:public\.)?(\w+)\s*\(.*?\bAS\s+\$(\w*)\$(.*?)\$\2\$",
    re.DOTALL | re.IGNORECASE,
)


def file_definitions() -> dict[str, list[tuple[str, str]]]:
    """Per file: the (function name, body) pairs it defines."""
    return {
        function.name: [(m.group(1), m.group(3)) for m in _DEFINITION.finditer(function.sql)]
        for function in load_functions()
    }


@pytest.fixture(scope="module")
async def database_functions(create_database) -> list[tuple[str, str]]:
    """(name, body) of every function a fresh database has after `tagung migrate`: those of the
    public schema, not those that belong to an extension (btree_gist, pg_trgm)."""
    url = await create_database()
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """
            SELECT p.proname, p.prosrc
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d
                              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                AND d.deptype = 'e')
            """
        )
    finally:
        await conn.close()
    return [(r["proname"], r["prosrc"]) for r in rows]


def test_each_file_defines_the_function_it_is_named_after():
    definitions = file_definitions()
    assert definitions, f"no function files in {MIGRATIONS_DIR / 'functions'}"
    for name, defined in definitions.items():
        stem = name.removeprefix("functions/").removesuffix(".sql")
        assert stem in {function for function, _ in defined}, name


async def test_every_function_in_the_database_has_its_file(database_functions):
    """A function added by a numbered migration without a file fails here."""
    in_files = {function for defined in file_definitions().values() for function, _ in defined}
    without_file = sorted({name for name, _ in database_functions} - in_files)
    assert without_file == [], "give each its file in migrations/functions (migrations/README.md)"


async def test_fresh_database_has_each_body_as_its_file(database_functions):
    """Word for word, and no second function beside one (a signature changed in its file
    without a migration that drops the old one leaves the old one behind)."""
    in_files = Counter(pair for defined in file_definitions().values() for pair in defined)
    assert Counter(database_functions) == in_files
