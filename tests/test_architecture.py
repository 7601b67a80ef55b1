"""The direction of imports (docs/architecture.md), checked from the source with `ast`.

`service/` knows no domain, except the modules that wire the domains in; `forums/` and
`exhibitors/` use registration's public modules only; `registration/` uses neither of them; forums
and exhibitors never meet; no domain imports the wiring back. Every `import`, `from … import`
(relative ones too, and those inside functions) and `importlib.import_module("…")` with a literal
name counts, so a wrong import fails here with its file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL = "service"
DOMAINS = ("registration", "forums", "exhibitors")

# The shell's modules that may import the domains, and why. Everything else under service/
# (service/demo.py too: the demo conference and its admin, nothing of a domain) knows none.
SHELL_WIRING = {
    "service/app.py": "create_app calls each domain's wire and mounts the routes it hands back",
    "service/cli.py": "`tagung demo` loads each domain's demo data (forums.demo, …); "
    "`tagung gdpr purge` runs registration's and exhibitors' data-protection clean-up",
}

# What of registration forums and exhibitors may import: the package itself (what its __init__
# names) and these modules, each for the hooks or small functions it offers. A module not listed
# here (queries, schemas, api, pages of staff, entrance, …) is registration's inside.
REGISTRATION_PUBLIC = {
    "registration": "issue_pass / withdraw_pass (an exhibitor's stand staff), "
    "REGISTRATION_BY_TOKEN / RegistrationRow (the registration dependency); wire is the shell's",
    "registration.logic": "on_cancelled (hook), by_id, by_manage_token, check_window, token, "
    "CONSENT_TEXT_VERSIONS",
    "registration.views": "provide_forum_signups / provide_forum_attendance (hooks), token_key, "
    "links",
    "registration.calendar": "provide_events (hook): forums in a person's calendar",
    "registration.privacy": "provide_mail_kinds / provide_export (hooks); anonymise and Erased "
    "for exhibitors' stand staff",
    "registration.pages": "provide_confirmer (hook): the shared page /confirm/{token}",
    "registration.options": "category_name: the labels of attendee categories",
    "registration.mails": "TEMPLATES: the mail layout every domain's mails extend",
}

# Reaches into registration's inside that are there today, tolerated file by file until they
# go (a new file, or another internal module, fails). Remove an entry when its import goes.
KNOWN_INTERNAL_REACHES: dict[tuple[str, str], str] = {}


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted name of a source file, and whether it is a package's __init__."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _is_module(name: str, root: Path) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every module the file imports: `from a import b` is `a.b` when `b` is
    a module of the tree, else `a`; relative imports are resolved against the file's package."""
    name, is_package = _module_name(path, root)
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                yield node.lineno, submodule if _is_module(submodule, root) else module
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _rule_broken(source: str, module: str) -> str | None:
    """Why `source` (a path like forums/logic.py) must not import `module`, or None."""
    home, target = source.split("/", 1)[0], module.split(".", 1)[0]
    if target == home or target not in (SHELL, *DOMAINS):
        return None
    if home == SHELL:
        if source in SHELL_WIRING:
            return None
        return "service/ knows no domain (only the wiring in SHELL_WIRING imports them)"
    if target == SHELL:
        if module in ("service.app", "service.cli"):
            return "a domain does not import the shell's wiring, which imports the domains"
        return None
    if home == "registration":
        return "registration uses neither forums nor exhibitors (they hand in providers)"
    if target != "registration":
        return "forums and exhibitors never import each other"
    if module in REGISTRATION_PUBLIC or (source, module) in KNOWN_INTERNAL_REACHES:
        return None
    return "not registration's public surface (REGISTRATION_PUBLIC in tests/test_architecture.py)"


def source_files(root: Path) -> list[Path]:
    return sorted(p for package in (SHELL, *DOMAINS) for p in (root / package).rglob("*.py"))


def violations(root: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, module, reason) for every import against the direction."""
    found = []
    for path in source_files(root):
        source = path.relative_to(root).as_posix()
        for line, module in imports(path, root):
            reason = _rule_broken(source, module)
            if reason:
                found.append((source, line, module, reason))
    return found


@pytest.fixture(autouse=True)
def clean_tables() -> None:
    """These tests read source files only: no database to empty (overrides conftest's)."""


def test_imports_follow_the_direction() -> None:
    found = [
        f"{source}:{line}: imports {module}: {why}"
        for source, line, module, why in violations(ROOT)
    ]
    assert not found, "imports against the direction:\n" + "\n".join(found)


def test_the_check_reads_every_package() -> None:
    """The scan sees the tree as it is (else an empty scan would pass): the shell's wiring
    imports each domain, and the domains use registration's hooks."""
    seen = {
        (path.relative_to(ROOT).as_posix(), module)
        for path in source_files(ROOT)
        for _line, module in imports(path, ROOT)
    }
    assert {("service/app.py", domain) for domain in DOMAINS} <= seen
    assert any(source.startswith("forums/") and m == "registration.views" for source, m in seen)
    assert any(source.startswith("exhibitors/") and m == "registration" for source, m in seen)


def test_known_internal_reaches_are_still_there() -> None:
    """An entry whose import has gone must go too, so the list stays what is left to do."""
    seen = {
        (path.relative_to(ROOT).as_posix(), module)
        for path in source_files(ROOT)
        for _line, module in imports(path, ROOT)
    }
    gone = sorted(set(KNOWN_INTERNAL_REACHES) - seen)
    assert not gone, f"remove from KNOWN_INTERNAL_REACHES (no longer imported): {gone}"


def test_the_map_names_every_allowed_import() -> None:
    """docs/architecture.md describes the same exceptions as this test allows."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    allowed = [*SHELL_WIRING, *REGISTRATION_PUBLIC, *(f for f, _m in KNOWN_INTERNAL_REACHES)]
    missing = [name for name in allowed if f"`{name}`" not in text]
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_a_wrong_import_is_reported_with_file_and_line(tmp_path: Path) -> None:
    """The checker on a small tree with one wrong import of each kind."""
    files = {
        "service/__init__.py": "",
        "service/app.py": "import forums\n",  # the wiring: allowed
        "service/mail.py": "def f():\n    from registration import logic\n",
        "service/tools/__init__.py": "from importlib import import_module\n"
        "import_module('exhibitors.api')\n",
        "registration/__init__.py": "from registration.passes import issue_pass\n",
        "registration/logic.py": "",
        "registration/passes.py": "",
        "registration/queries.py": "",
        "registration/entrance/__init__.py": "",
        "registration/entrance/api.py": "from ...forums import queries\n",
        "forums/__init__.py": "from registration import issue_pass, logic\n",
        "forums/queries.py": "",
        "forums/pages.py": "import registration.queries\nfrom registration.entrance import api\n",
        "forums/mails.py": "from service import app\n",
        "exhibitors/__init__.py": "",
        "exhibitors/api.py": "if True:\n    from forums.queries import signup\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert [found[:3] for found in violations(tmp_path)] == [
        ("exhibitors/api.py", 2, "forums.queries"),
        ("forums/mails.py", 1, "service.app"),
        ("forums/pages.py", 1, "registration.queries"),
        ("forums/pages.py", 2, "registration.entrance.api"),
        ("registration/entrance/api.py", 1, "forums.queries"),
        ("service/mail.py", 2, "registration.logic"),
        ("service/tools/__init__.py", 2, "exhibitors.api"),
    ]


def test_the_rules_know_no_http() -> None:
    """`logic.py` says what the rules refuse with service.domain_errors; only service/errors.py
    turns that into answers. A Litestar import in a logic module brings HTTP back into them."""
    found = [
        f"{path.relative_to(ROOT).as_posix()}:{line} imports {module}"
        for path in source_files(ROOT)
        if path.name == "logic.py" or path.name == "domain_errors.py"
        for line, module in imports(path, ROOT)
        if module.split(".")[0] == "litestar"
    ]
    assert not found, "\n".join(found)
