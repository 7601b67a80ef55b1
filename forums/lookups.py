"""The forum a staff path names by its id, for staff who may see its conference.

A forum belongs to one conference for good, so the check of its id is the conference's:
`service.conferences.lookups.check_scope`. A forum of a conference outside a limited account's
answers the same 404 as an unknown forum id. Handlers call these by hand (most of them take a
body or a form Litestar reads first, and their 404 has always come after it).
"""

from __future__ import annotations

import asyncpg

from forums import logic, queries
from service.auth import StaffUser
from service.conferences.lookups import check_scope


async def staff_forum(db: asyncpg.Connection, forum_id: int, staff: StaffUser) -> asyncpg.Record:
    """The forum (forums.queries.by_id: with its conference's slug and time zone); 404."""
    forum = await queries.by_id(db, forum_id)
    if forum is None:
        raise logic.forum_not_found()
    check_scope(staff, forum["conference_id"], logic.forum_not_found)
    return forum


async def check_forum(db: asyncpg.Connection, forum_id: int, staff: StaffUser) -> None:
    """404 unless the forum exists and `staff` may see its conference (a lighter read)."""
    forum = await queries.door_forum(db, forum_id)
    if forum is None:
        raise logic.forum_not_found()
    check_scope(staff, forum["conference_id"], logic.forum_not_found)
