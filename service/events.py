"""Domain events the shell raises and later domains react to, wired in at start-up.

The shell knows no domain (registration, forums, exhibitors); when something in the shell
changes that a domain must act on — a conference grew, moved or changed its venue — the domain
registers a handler here in its `wire(settings)` (service/wiring.py), which create_app calls;
wiring again replaces the handler, never adds it twice. Handlers run inside the caller's
transaction, so their effects (promotions, e-mails in the outbox) commit or roll back
with the change itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from service.wiring import add_once

ConferenceChanged = Callable[[asyncpg.Connection, asyncpg.Record, dict[str, Any]], Awaitable[None]]
_conference_changed: list[ConferenceChanged] = []


def on_conference_changed(handler: ConferenceChanged) -> ConferenceChanged:
    return add_once(_conference_changed, handler)


async def conference_changed(
    db: asyncpg.Connection, conference: asyncpg.Record, changes: dict[str, Any]
) -> None:
    """`conference` is the row after the change; `changes` holds the fields that changed."""
    for handler in _conference_changed:
        await handler(db, conference, changes)
