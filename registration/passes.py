"""Passes for exhibitors' stand staff: tickets of category exhibitor_staff.

The exhibitors domain calls these two functions (see registration/__init__.py). A pass is a
confirmed registration without double opt-in (the exhibitor named the person) that takes no
seat from the attendee capacity, so the entrance admits it like any other ticket.
"""

from __future__ import annotations

import asyncpg

from registration import logic, queries
from service import tokens
from service.errors import Conflict
from service.i18n import gettext as _


async def issue_pass(
    db: asyncpg.Connection,
    key: bytes,
    conference_id: int,
    *,
    name: str,
    email: str,
    organisation: str,
    language: str,
) -> int:
    """A new pass (its ticket is e-mailed); runs in the caller's transaction."""
    salts = {purpose: tokens.new_salt() for purpose in ("confirm", "manage", "ticket")}
    hashes = {p: tokens.digest(logic.token(key, p, salt)) for p, salt in salts.items()}
    fields = {
        "email": email.strip().lower(),
        "name": name.strip(),
        "organisation": organisation,
        "category": "exhibitor_staff",
        "language": language,
        "needs": {},
    }
    async with db.transaction():
        registration_id = await queries.insert(db, conference_id, fields, salts, hashes)
        if registration_id is None:
            raise Conflict(
                _(
                    "%(email)s already has a ticket or pass for this conference.",
                    email=fields["email"],
                )
            )
        await queries.mark_confirmed(db, registration_id)
        await logic.mail(db, logic.MAIL_TICKET, {**fields, "id": registration_id})
    return registration_id


async def withdraw_pass(db: asyncpg.Connection, registration_id: int) -> None:
    """The pass stops working at once; the person is told."""
    await logic.cancel(db, registration_id)
