"""Every SQL statement of the forums domain: forums, sign-ups and their waiting lists, the
door's attendance, and the registration and conference rows forums read. The other modules
call these functions and hold no SQL of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from service.db import in_batches

FORUM_FIELDS = (
    "title",
    "title_en",
    "description",
    "description_en",
    "room",
    "starts_at",
    "ends_at",
    "capacity",
    "language",
    "interpretation",
    "accessibility",
    "moderators",
)

_SELECT = """
    SELECT f.*, c.slug AS conference, c.timezone, f.capacity - f.seats_taken AS seats_left,
           (SELECT count(*) FROM forum_signups w
             WHERE w.forum_id = f.id AND w.status = 'waitlisted') AS waiting
    FROM forums f JOIN conferences c ON c.id = f.conference_id
"""


async def list_for_conference(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        _SELECT + " WHERE f.conference_id = $1 ORDER BY f.starts_at, f.id", conference_id
    )


async def by_id(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(_SELECT + " WHERE f.id = $1", forum_id)


async def lock(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record | None:
    """The forum row, locked: every change of its seats or waiting list goes through this."""
    return await db.fetchrow("SELECT * FROM forums WHERE id = $1 FOR UPDATE", forum_id)


async def is_over(db: asyncpg.Connection, forum_id: int) -> bool:
    """Whether the forum, or its whole conference, has ended: then nobody signs up any more."""
    return bool(
        await db.fetchval(
            "SELECT f.ends_at <= now() OR c.ends_at <= now() FROM forums f "
            "JOIN conferences c ON c.id = f.conference_id WHERE f.id = $1",
            forum_id,
        )
    )


async def insert(db: asyncpg.Connection, conference_id: int, values: dict[str, Any]) -> int:
    columns = [f for f in FORUM_FIELDS if f in values]
    placeholders = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
    return await db.fetchval(
        f"INSERT INTO forums (conference_id, {', '.join(columns)}) VALUES ($1, {placeholders}) "
        "RETURNING id",
        conference_id,
        *(values[c] for c in columns),
    )


async def update(db: asyncpg.Connection, forum_id: int, values: dict[str, Any]) -> None:
    columns = [f for f in FORUM_FIELDS if f in values]
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    await db.execute(
        f"UPDATE forums SET {assignments}, updated_at = now() WHERE id = $1",
        forum_id,
        *(values[c] for c in columns),
    )


async def bump_sequence(db: asyncpg.Connection, forum_id: int) -> None:
    await db.execute(
        "UPDATE forums SET calendar_sequence = calendar_sequence + 1 WHERE id = $1", forum_id
    )


async def move_signups_in_time(db: asyncpg.Connection, forum_id: int) -> None:
    """After the forum's time changed; the exclusion constraint refuses new clashes."""
    await db.execute(
        "UPDATE forum_signups s SET during = tstzrange(f.starts_at, f.ends_at, '[)'), "
        "updated_at = now() FROM forums f WHERE f.id = s.forum_id AND s.forum_id = $1",
        forum_id,
    )


async def mark_cancelled(db: asyncpg.Connection, forum_id: int) -> list[asyncpg.Record]:
    """Cancels the forum and releases everyone; returns who was signed up or waiting."""
    await db.execute(
        "UPDATE forums SET cancelled_at = now(), seats_taken = 0, "
        "calendar_sequence = calendar_sequence + 1, updated_at = now() WHERE id = $1",
        forum_id,
    )
    return await db.fetch(
        "UPDATE forum_signups SET status = 'left', waitlist_position = NULL, "
        "changes = changes + 1, updated_at = now() "
        "WHERE forum_id = $1 AND status <> 'left' RETURNING registration_id, "
        "(SELECT status FROM forum_signups o WHERE o.id = forum_signups.id) AS previous",
        forum_id,
    )


async def signup(
    db: asyncpg.Connection, forum_id: int, registration_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM forum_signups WHERE forum_id = $1 AND registration_id = $2",
        forum_id,
        registration_id,
    )


async def clash(
    db: asyncpg.Connection, registration_id: int, forum: asyncpg.Record
) -> asyncpg.Record | None:
    """A forum this person holds at an overlapping time, if any."""
    return await db.fetchrow(
        "SELECT f.id, f.title FROM forum_signups s JOIN forums f ON f.id = s.forum_id "
        "WHERE s.registration_id = $1 AND s.status = 'confirmed' AND s.forum_id <> $2 "
        "AND s.during && tstzrange($3, $4, '[)') LIMIT 1",
        registration_id,
        forum["id"],
        forum["starts_at"],
        forum["ends_at"],
    )


async def take_seat(db: asyncpg.Connection, forum_id: int) -> bool:
    return bool(
        await db.fetchval(
            "UPDATE forums SET seats_taken = seats_taken + 1 "
            "WHERE id = $1 AND seats_taken < capacity AND cancelled_at IS NULL RETURNING 1",
            forum_id,
        )
    )


async def release_seat(db: asyncpg.Connection, forum_id: int) -> None:
    await db.execute("UPDATE forums SET seats_taken = seats_taken - 1 WHERE id = $1", forum_id)


async def upsert_signup(
    db: asyncpg.Connection, forum: asyncpg.Record, registration_id: int, status: str
) -> asyncpg.Record:
    """Joins (or joins again after leaving). Waiting places come from one sequence: in order."""
    return await db.fetchrow(
        """
        INSERT INTO forum_signups (forum_id, registration_id, status, waitlist_position, during)
        VALUES ($1, $2, $3, CASE WHEN $3 = 'waitlisted' THEN nextval('forum_waitlist_order') END,
                tstzrange($4, $5, '[)'))
        ON CONFLICT (forum_id, registration_id) DO UPDATE
        SET status = excluded.status, waitlist_position = excluded.waitlist_position,
            changes = forum_signups.changes + 1, updated_at = now()
        RETURNING *
        """,
        forum["id"],
        registration_id,
        status,
        forum["starts_at"],
        forum["ends_at"],
    )


async def set_left(db: asyncpg.Connection, signup_id: int) -> None:
    await db.execute(
        "UPDATE forum_signups SET status = 'left', waitlist_position = NULL, "
        "changes = changes + 1, updated_at = now() WHERE id = $1",
        signup_id,
    )


async def waiting_in_order(db: asyncpg.Connection, forum_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM forum_signups WHERE forum_id = $1 AND status = 'waitlisted' "
        "ORDER BY waitlist_position FOR UPDATE",
        forum_id,
    )


async def promote(db: asyncpg.Connection, signup_id: int) -> None:
    """Raises ExclusionViolationError when the person now holds a clashing forum."""
    await db.execute(
        "UPDATE forum_signups SET status = 'confirmed', waitlist_position = NULL, "
        "changes = changes + 1, updated_at = now() WHERE id = $1",
        signup_id,
    )


async def waitlist_place(db: asyncpg.Connection, signup: asyncpg.Record) -> int | None:
    if signup["status"] != "waitlisted":
        return None
    return await db.fetchval(
        "SELECT count(*) FROM forum_signups WHERE forum_id = $1 AND status = 'waitlisted' "
        "AND waitlist_position <= $2",
        signup["forum_id"],
        signup["waitlist_position"],
    )


async def active_signups(db: asyncpg.Connection, registration_id: int) -> list[asyncpg.Record]:
    """The forums a person holds or waits for, locked, in forum order (the lock order)."""
    return await db.fetch(
        "SELECT s.* FROM forum_signups s WHERE s.registration_id = $1 AND s.status <> 'left' "
        "ORDER BY s.forum_id FOR UPDATE",
        registration_id,
    )


async def signups_of(db: asyncpg.Connection, registration_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT f.id, f.title, f.title_en, f.starts_at, f.ends_at, f.room, f.cancelled_at,
               f.calendar_sequence + s.changes AS sequence, s.status,
               CASE WHEN s.status = 'waitlisted' THEN
                 (SELECT count(*) FROM forum_signups w WHERE w.forum_id = s.forum_id
                   AND w.status = 'waitlisted' AND w.waitlist_position <= s.waitlist_position)
               END AS position
        FROM forum_signups s JOIN forums f ON f.id = s.forum_id
        WHERE s.registration_id = $1 AND s.status <> 'left'
        ORDER BY f.starts_at, f.id
        """,
        registration_id,
    )


async def attendance_by_forum(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Per forum that takes place: people seen at its door, people holding a seat."""
    return await db.fetch(
        """
        SELECT f.id, f.title, f.title_en, f.room, f.starts_at,
               (SELECT count(*) FROM forum_attendance a WHERE a.forum_id = f.id) AS present,
               (SELECT count(*) FROM forum_signups s
                WHERE s.forum_id = f.id AND s.status = 'confirmed') AS signed_up
        FROM forums f
        WHERE f.conference_id = $1 AND f.cancelled_at IS NULL
        ORDER BY f.starts_at, f.id
        """,
        conference_id,
    )


def participants(db: asyncpg.Connection, forum_id: int) -> AsyncIterator[list[asyncpg.Record]]:
    """Everyone, for the CSV export: those with a seat (by name), then the waiting list in its
    order (place 1, 2, …); a batch at a time (server-side cursor)."""
    return in_batches(
        db,
        """
        SELECT r.id AS registration_id, r.name, r.organisation, r.email, r.category, s.status,
               CASE WHEN s.status = 'waitlisted' THEN
                 row_number() OVER (PARTITION BY s.status ORDER BY s.waitlist_position)
               END AS position,
               a.first_seen_at IS NOT NULL AS attended
        FROM forum_signups s
        JOIN registrations r ON r.id = s.registration_id
        LEFT JOIN forum_attendance a
               ON a.forum_id = s.forum_id AND a.registration_id = s.registration_id
        WHERE s.forum_id = $1 AND s.status <> 'left'
        ORDER BY s.status, s.waitlist_position, lower(r.name), r.id
        """,
        forum_id,
    )


# The staff list of a forum's people, a page at a time: first those with a seat in the order
# they signed up, then the waiting list in its order. A row's place in that order is the pair
# (part, n): part 0 with n the sign-up's id, part 1 with n its waiting-list position; `number`
# counts within the part (for the waiting list: the place). A page starts after (or ends
# before) such a pair, so the address holds no names and a page stays where it is while
# people elsewhere in the list come and go.
_LISTED = """
    WITH listed AS (
        SELECT s.registration_id, s.status, k.part, k.n,
               row_number() OVER (PARTITION BY k.part ORDER BY k.n) AS number
        FROM forum_signups s,
             LATERAL (SELECT CASE WHEN s.status = 'confirmed' THEN 0 ELSE 1 END AS part,
                             coalesce(s.waitlist_position, s.id) AS n) k
        WHERE s.forum_id = $1 AND s.status IN ('confirmed', 'waitlisted')
    )
    SELECT l.registration_id, l.status, l.part, l.n, l.number,
           CASE WHEN l.part = 1 THEN l.number END AS position,
           r.name, r.organisation, r.email, r.category,
           a.first_seen_at IS NOT NULL AS attended
    FROM ({page}) l
    JOIN registrations r ON r.id = l.registration_id
    LEFT JOIN forum_attendance a ON a.forum_id = $1 AND a.registration_id = l.registration_id
    ORDER BY l.part, l.n
"""
_AFTER = _LISTED.format(
    page="SELECT * FROM listed WHERE (part, n) > ($2, $3) ORDER BY part, n LIMIT $4"
)
_BEFORE = _LISTED.format(
    page="SELECT * FROM listed WHERE (part, n) < ($2, $3) ORDER BY part DESC, n DESC LIMIT $4"
)


async def participants_page(
    db: asyncpg.Connection, forum_id: int, cursor: tuple[int, int], *, before: bool, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` people right after (or, with `before`, right before) `cursor`, a
    (part, n) pair as above, in list order either way."""
    return await db.fetch(_BEFORE if before else _AFTER, forum_id, *cursor, limit)


async def participant_counts(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record:
    """With a seat, waiting, and seen at the door among those with a seat: one pass over the
    forum's sign-ups (an index range), whatever page of the list is shown."""
    return await db.fetchrow(
        """
        SELECT count(*) FILTER (WHERE s.status = 'confirmed') AS seated,
               count(*) FILTER (WHERE s.status = 'waitlisted') AS waiting,
               count(a.registration_id) FILTER (WHERE s.status = 'confirmed') AS attended
        FROM forum_signups s
        LEFT JOIN forum_attendance a
               ON a.forum_id = s.forum_id AND a.registration_id = s.registration_id
        WHERE s.forum_id = $1 AND s.status IN ('confirmed', 'waitlisted')
        """,
        forum_id,
    )


async def signup_in_conference(
    db: asyncpg.Connection, forum_id: int, registration_id: int, conference_id: int
) -> asyncpg.Record | None:
    """A person's sign-up for a forum of this conference, with both names."""
    return await db.fetchrow(
        "SELECT r.name, f.title, s.status FROM forum_signups s "
        "JOIN registrations r ON r.id = s.registration_id JOIN forums f ON f.id = s.forum_id "
        "WHERE s.forum_id = $1 AND s.registration_id = $2 AND f.conference_id = $3",
        forum_id,
        registration_id,
        conference_id,
    )


async def row(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record | None:
    """The forum's own row, unlocked (`lock` takes it FOR UPDATE)."""
    return await db.fetchrow("SELECT * FROM forums WHERE id = $1", forum_id)


async def lock_forums(db: asyncpg.Connection, forum_ids: list[int]) -> None:
    """Several forums locked in the order of their ids (the house's lock order)."""
    await db.fetch(
        "SELECT id FROM forums WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
        forum_ids,
    )


async def holders(db: asyncpg.Connection, forum_id: int) -> list[asyncpg.Record]:
    """Who has the forum in their calendar or on its waiting list (not those who left)."""
    return await db.fetch(
        "SELECT registration_id FROM forum_signups WHERE forum_id = $1 AND status <> 'left'",
        forum_id,
    )


# ── the registration and conference rows forums read ─────────────────────────────────────


async def share_registration(db: asyncpg.Connection, registration_id: int) -> None:
    """Share-locks the registration: it cannot be cancelled while a sign-up is decided."""
    await db.fetchrow("SELECT id FROM registrations WHERE id = $1 FOR SHARE", registration_id)


async def share_registration_status(
    db: asyncpg.Connection, registration_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, conference_id, status FROM registrations WHERE id = $1 FOR SHARE",
        registration_id,
    )


async def conference(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM conferences WHERE id = $1", conference_id)


async def conference_slug(db: asyncpg.Connection, conference_id: int) -> str | None:
    return await db.fetchval("SELECT slug FROM conferences WHERE id = $1", conference_id)


async def timezone_of(db: asyncpg.Connection, registration_id: int) -> str | None:
    """The time zone of the registration's conference."""
    return await db.fetchval(
        "SELECT c.timezone FROM registrations r JOIN conferences c ON c.id = r.conference_id "
        "WHERE r.id = $1",
        registration_id,
    )


async def calendar_rows(db: asyncpg.Connection, registration_id: int) -> list[asyncpg.Record]:
    """The forums a person holds (or held, when cancelled since), with each entry's SEQUENCE."""
    return await db.fetch(
        "SELECT f.*, f.calendar_sequence + s.changes AS sequence, s.status FROM forum_signups s "
        "JOIN forums f ON f.id = s.forum_id WHERE s.registration_id = $1 "
        "AND (s.status = 'confirmed' OR f.cancelled_at IS NOT NULL) ORDER BY f.starts_at",
        registration_id,
    )


# ── the forum door ─────────────────────────────────────────────────────────────────────────


async def door_forum(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT id, conference_id FROM forums WHERE id = $1", forum_id)


async def confirmed_by_ticket(
    db: asyncpg.Connection, digest: bytes, conference_id: int
) -> asyncpg.Record | None:
    """The confirmed attendee of this conference holding the ticket, else None."""
    return await db.fetchrow(
        "SELECT id, name, organisation, category FROM registrations "
        "WHERE ticket_hash = $1 AND conference_id = $2 AND status = 'confirmed'",
        digest,
        conference_id,
    )


async def signup_status(db: asyncpg.Connection, forum_id: int, registration_id: int) -> str | None:
    return await db.fetchval(
        "SELECT status FROM forum_signups WHERE forum_id = $1 AND registration_id = $2",
        forum_id,
        registration_id,
    )


async def record_attendance(db: asyncpg.Connection, forum_id: int, registration_id: int) -> Any:
    """Once per person and forum; a later scan counts up. Returns when they were first seen."""
    return await db.fetchval(
        """
            INSERT INTO forum_attendance (forum_id, registration_id) VALUES ($1, $2)
            ON CONFLICT (forum_id, registration_id)
            DO UPDATE SET scans = forum_attendance.scans + 1
            RETURNING first_seen_at
            """,
        forum_id,
        registration_id,
    )


async def door_page_forum(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT f.*, c.timezone FROM forums f JOIN conferences c ON c.id = f.conference_id "
        "WHERE f.id = $1",
        forum_id,
    )


async def door_counts(db: asyncpg.Connection, forum_id: int) -> asyncpg.Record:
    """Who has been seen at the door, and how many hold a seat."""
    return await db.fetchrow(
        "SELECT (SELECT count(*) FROM forum_attendance WHERE forum_id = $1) AS present, "
        "(SELECT count(*) FROM forum_signups WHERE forum_id = $1 AND status = 'confirmed') "
        "AS expected",
        forum_id,
    )


async def attendance_of(db: asyncpg.Connection, registration_id: int) -> list[asyncpg.Record]:
    """A person's record at the forum doors, for their data export."""
    return await db.fetch(
        "SELECT a.forum_id, f.title, a.first_seen_at, a.scans FROM forum_attendance a "
        "JOIN forums f ON f.id = a.forum_id WHERE a.registration_id = $1 "
        "ORDER BY a.first_seen_at, a.forum_id",
        registration_id,
    )
