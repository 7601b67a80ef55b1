"""Where SQL lives (docs/architecture.md), checked from the source with `ast`: every statement
of a domain, of conferences and of staff accounts is in a queries module (`queries.py`,
`*_queries.py`); the other modules call its named functions. The shell's infrastructure
modules (outbox, migrate, ratelimit, …) keep their own statements and are not checked here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("registration", "forums", "exhibitors", "service/conferences")
CHECKED_SHELL_MODULES = (
    "service/auth.py",
    "service/staff.py",
    "service/demo.py",
    "service/cli.py",
    "service/two_factor/__init__.py",
    "service/two_factor/pages.py",
)

# Statements that stay beside their code, and why.
ALLOWED = {
    ("service/cli.py", "SELECT pg_advisory_xact_lock(hashtext('tagung gdpr purge'))"): (
        "the CLI's own lock that keeps two purges apart; the purge's statements are the domains'"
    ),
}

# SQL as this code base writes it (keywords in capitals), not "UPDATE 1" or "Delete …" in text.
STATEMENT = re.compile(
    r"^\s*(SELECT\s|INSERT INTO\s|UPDATE \w+(\s+(AS\s+)?\w+)?\s+SET\s|DELETE FROM\s|WITH \w+ AS\b)"
)
CALLS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "cursor", "prepare"}


def _modules() -> Iterator[Path]:
    for part in CHECKED:
        yield from sorted((ROOT / part).rglob("*.py"))
    for module in CHECKED_SHELL_MODULES:
        yield ROOT / module


def _is_queries_module(path: Path) -> bool:
    return path.name == "queries.py" or path.name.endswith("_queries.py")


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def sql_outside_queries(paths: Iterator[Path], root: Path = ROOT) -> list[str]:
    found: dict[tuple[str, str], int] = {}  # each statement once, at its first line
    for path in paths:
        if _is_queries_module(path):
            continue
        name = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), name)):
            text = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in CALLS and node.args:
                    text = _literal(node.args[0])
            elif isinstance(node, ast.Constant | ast.JoinedStr):
                literal = _literal(node)
                text = literal if literal and STATEMENT.match(literal) else None
            if text is not None and (name, text.strip()) not in ALLOWED:
                key = (name, text.strip())
                found[key] = min(found.get(key, node.lineno), node.lineno)
    return sorted(f"{name}:{line}: {text[:60]!r}" for (name, text), line in found.items())


def test_every_statement_is_in_a_queries_module() -> None:
    assert sql_outside_queries(_modules()) == []


def test_the_check_finds_a_statement(tmp_path: Path) -> None:
    # The check itself must see a literal statement, passed directly or kept in a variable.
    module = tmp_path / "forums" / "logic.py"
    module.parent.mkdir()
    module.write_text(
        "async def f(db):\n"
        "    await db.fetchrow('SELECT * FROM forums WHERE id = $1', 1)\n"
        "    sql = '''\n        UPDATE forums SET title = $2 WHERE id = $1'''\n"
        "    await db.execute(sql, 1, 'x')\n",
        encoding="utf-8",
    )
    assert len(sql_outside_queries(iter([module]), tmp_path)) == 2
    queries = tmp_path / "forums" / "queries.py"
    queries.write_text(module.read_text(encoding="utf-8"), encoding="utf-8")
    assert sql_outside_queries(iter([queries]), tmp_path) == []
