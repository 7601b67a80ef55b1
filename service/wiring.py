"""What wiring a domain means. Each domain package has one `wire(settings) -> Domain`, called
by `create_app` (service/app.py): it registers the domain's mail renderers, handlers and
providers, and hands back its routes and templates. Importing a domain registers nothing.

`create_app` runs more than once in a process (tests build many apps), so wiring runs again:
every hook keeps one registration per handler (`add_once`), and a second wiring replaces the
first instead of calling a handler twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from litestar import Router

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class Domain:
    """What a domain's `wire` hands to the shell: its routes, its template folder, and the
    routes a door device calls at scan rate with its token, which take the door's hot path
    (service/hot_path.py): (method, path) pairs."""

    router: Router
    templates: Path
    device_routes: frozenset[tuple[str, str]] = frozenset()


def _name(handler: Callable[..., Any]) -> tuple[str, str]:
    return handler.__module__, handler.__qualname__


def add_once(handlers: list[H], handler: H) -> H:
    """Adds `handler` to a hook's list, replacing one of the same module and name (a closure
    made anew by each wiring is the same handler too). Returns it, for use as a decorator."""
    handlers[:] = [h for h in handlers if _name(h) != _name(handler)]
    handlers.append(handler)
    return handler
