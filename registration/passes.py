"""Passes for exhibitors' stand staff: tickets of category exhibitor_staff.

The exhibitors domain calls these two functions (see registration/__init__.py). A pass is a
confirmed registration without double opt-in (the exhibitor named the person) that takes no
seat from the attendee capacity, so the entrance admits it like any other ticket.

A pass is issued also to someone who is registered for the conference already (as an attendee,
or named by another exhibitor): the exhibitor must not learn who is registered, so naming a
person has the same outcome either way, and the person holds a ticket for each role.
"""

from __future__ import annotations

import asyncpg

from registration import logic, queries
from service import tokens


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
    """A new pass (its ticket is e-mailed, within the address's share of mails that others
    can make us send: service.mail_quota); runs in the caller's transaction."""
    salts = {purpose: tokens.new_salt() for purpose in ("confirm", "manage", "ticket")}
    hashes = {p: tokens.digest(logic.token(key, p, salt)) for p, salt in salts.items()}
    hashes["calendar"] = tokens.digest(logic.calendar_token(key, salts["manage"]))
    fields = {
        "email": email.strip().lower(),
        "name": name.strip(),
        "organisation": organisation,
        "category": "exhibitor_staff",
        "language": language,
        "needs": {},
    }
    async with db.transaction():
        # Never None: a pass conflicts with no other registration (migration 0016).
        registration_id = await queries.insert(db, conference_id, fields, salts, hashes)
        await queries.mark_confirmed(db, registration_id)
        await logic.mail(db, logic.MAIL_TICKET, {**fields, "id": registration_id}, limited=True)
    return registration_id


async def withdraw_pass(
    db: asyncpg.Connection, registration_id: int, *, removed_by_exhibitor: bool = False
) -> None:
    """The pass stops working at once; the person is told (when the exhibitor removed this
    one person, within the address's share of such mails)."""
    await logic.cancel(db, registration_id, limited_mail=removed_by_exhibitor)
