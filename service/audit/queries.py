"""SQL of the audit log (migration 0021): appending entries, reading them page by page, and
forgetting the words that name people (audit_labels) while the entries stay.

Every statement is fixed text; filters and the cursor are parameters. Pages are newest first
by id (ids are handed out in the order entries are written), so the cursor `after` is the
last id shown and the next page has smaller ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from service.db import in_batches


async def insert_entry(
    db: asyncpg.Connection,
    *,
    conference_id: int | None,
    staff_id: int | None,
    device_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str,
    details: str,
) -> int:
    # `details` is JSON text: through text, so that a connection with a jsonb codec
    # (service.db.init_connection) does not encode it a second time.
    return await db.fetchval(
        """
        INSERT INTO audit_log (conference_id, actor_staff_id, actor_device_id, action,
                               subject_type, subject_id, details)
        VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) RETURNING id
        """,
        conference_id,
        staff_id,
        device_id,
        action,
        subject_type,
        subject_id,
        details,
    )


async def insert_labels(db: asyncpg.Connection, entry_id: int, actor: str, subject: str) -> None:
    await db.execute(
        "INSERT INTO audit_labels (entry_id, actor, subject) VALUES ($1, $2, $3)",
        entry_id,
        actor,
        subject,
    )


@dataclass(frozen=True)
class Filters:
    """What a reader asks for. `conference_id` None: every entry of the installation (admins).
    `action`: exact, or a prefix ending in "." (`checkin.`). `actor`: part of the actor's
    label (an e-mail address, a device's name), any case. `since` inclusive, `until` not."""

    conference_id: int | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def args(self) -> tuple[object, ...]:
        prefix = self.action if self.action and self.action.endswith(".") else None
        exact = None if prefix else self.action
        pattern = None
        if self.actor:
            escaped = self.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
        return (self.conference_id, exact, prefix, pattern, self.since, self.until)


# $1 conference, $2 exact action, $3 action prefix, $4 actor pattern, $5 since, $6 until.
_SELECT = """
    SELECT a.id, a.at, a.conference_id, c.slug AS conference_slug,
           coalesce(c.timezone, 'Europe/Berlin') AS timezone,
           a.actor_staff_id, a.actor_device_id, a.action, a.subject_type, a.subject_id,
           a.details, coalesce(l.actor, '') AS actor_label,
           coalesce(l.subject, '') AS subject_label, d.name AS device_name
    FROM audit_log a
    LEFT JOIN audit_labels l ON l.entry_id = a.id
    LEFT JOIN conferences c ON c.id = a.conference_id
    LEFT JOIN devices d ON d.id = a.actor_device_id
"""
# A conference's entries along its index (conference_id, id DESC); the installation's along
# the primary key ($1 is then NULL, named only to keep the numbering).
_OF_CONFERENCE = " WHERE a.conference_id = $1"
_OF_INSTALLATION = " WHERE $1::bigint IS NULL"
_FILTERS = """
      AND ($2::text IS NULL OR a.action = $2)
      AND ($3::text IS NULL OR starts_with(a.action, $3))
      AND ($4::text IS NULL OR l.actor ILIKE $4 ESCAPE '\\')
      AND ($5::timestamptz IS NULL OR a.at >= $5)
      AND ($6::timestamptz IS NULL OR a.at < $6)
"""


def _entries(filters: Filters) -> str:
    scope = _OF_INSTALLATION if filters.conference_id is None else _OF_CONFERENCE
    return _SELECT + scope + _FILTERS


NEWEST = 2**63 - 1  # above every id: the first page


async def page(
    db: asyncpg.Connection, filters: Filters, after: int, limit: int
) -> tuple[list[asyncpg.Record], int | None]:
    """One page, newest first: entries with ids below `after` (0: from the newest); and the
    cursor of the next page, or None on the last."""
    rows = await db.fetch(
        # `a.id < $7` alone, so that the page starts where the index is (no OR to undo that).
        _entries(filters) + " AND a.id < $7 ORDER BY a.id DESC LIMIT $8",
        *filters.args(),
        after or NEWEST,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["id"] if more else None


def all_matching(db: asyncpg.Connection, filters: Filters) -> AsyncIterator[list[asyncpg.Record]]:
    """Every matching entry, newest first, a batch at a time (the CSV download)."""
    return in_batches(db, _entries(filters) + " ORDER BY a.id DESC", *filters.args())


async def forget_subjects(db: asyncpg.Connection, subject_type: str, subject_ids: list[str]) -> int:
    """The subject's name goes from entries about these (an erased person); the actor's stays."""
    status = await db.execute(
        """
        UPDATE audit_labels l SET subject = ''
        FROM audit_log a
        WHERE a.id = l.entry_id AND a.subject_type = $1 AND a.subject_id = ANY ($2::text[])
          AND l.subject <> ''
        """,
        subject_type,
        subject_ids,
    )
    return int(status.split()[-1])


async def forget_labels_of_ended(db: asyncpg.Connection, days_after_end: int) -> tuple[int, int]:
    """Every label of entries about conferences that ended `days_after_end` days ago or earlier,
    and of entries written that long ago about no conference (logins, accounts) or about one
    that is gone: (labels, conferences). The entries stay."""
    row = await db.fetchrow(
        """
        WITH gone AS (
            DELETE FROM audit_labels l
            USING audit_log a
            LEFT JOIN conferences c ON c.id = a.conference_id
            WHERE a.id = l.entry_id
              AND CASE WHEN c.id IS NULL THEN a.at <= now() - make_interval(days => $1)
                       ELSE c.ends_at <= now() - make_interval(days => $1) END
            RETURNING a.conference_id
        )
        SELECT count(*) AS labels, count(DISTINCT conference_id) AS conferences FROM gone
        """,
        days_after_end,
    )
    return row["labels"], row["conferences"]
