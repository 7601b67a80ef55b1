"""SQL for the entrance dashboard, the name badges and the exports.

"Expected" is everyone confirmed; "entered" is a confirmed registration with an entry that
stands (an undone entry clears `entered_at`); "inside" is who has entered and not left.
A scan's person is joined only when the registration belongs to the scan's conference: a
ticket of another conference is refused without a name, and stays nameless here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg

from service.db import in_batches

ADMITTED = "s.status = 'ok' AND s.type IN ('entry', 'manual')"


async def by_category_and_gate(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Expected, entered and inside per category, the people inside also per door they came
    in by (`inside_gate` is NULL for those not inside): one pass over the conference's
    registrations serves both tables of the dashboard."""
    return await db.fetch(
        """
        SELECT category,
               CASE WHEN inside THEN coalesce(entered_gate, '') END AS inside_gate,
               count(*) AS expected,
               count(*) FILTER (WHERE entered_at IS NOT NULL) AS entered,
               count(*) FILTER (WHERE inside) AS inside
        FROM registrations
        WHERE conference_id = $1 AND status = 'confirmed'
        GROUP BY 1, 2
        """,
        conference_id,
    )


async def scans_by_gate(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        f"""
        SELECT s.gate,
               count(*) FILTER (WHERE {ADMITTED}) AS admitted,
               count(*) FILTER (WHERE s.status = 'error' AND s.type IN ('entry', 'manual'))
                   AS refused,
               count(*) FILTER (WHERE s.status = 'ok' AND s.type = 'exit') AS exits
        FROM scans s
        WHERE s.conference_id = $1 AND s.type <> 'undo'
        GROUP BY s.gate
        """,
        conference_id,
    )


async def arrivals(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Each person's first admission, counted per 15 minutes (only people whose entry stands,
    so the intervals add up to the number entered)."""
    return await db.fetch(
        f"""
        SELECT date_bin('15 minutes', first_at, TIMESTAMPTZ '2000-01-01 00:00+00') AS start,
               count(*) AS n
        FROM (
            SELECT s.registration_id, min(s.scanned_at) AS first_at
            FROM scans s
            JOIN registrations r ON r.id = s.registration_id AND r.conference_id = s.conference_id
            WHERE s.conference_id = $1 AND {ADMITTED}
              AND r.status = 'confirmed' AND r.entered_at IS NOT NULL
            GROUP BY s.registration_id
        ) first_admissions
        GROUP BY 1
        ORDER BY 1
        """,
        conference_id,
    )


async def offline_conflicts(
    db: asyncpg.Connection, conference_id: int, limit: int = 200
) -> list[asyncpg.Record]:
    """Tickets admitted at a door while it was offline although already inside: the offline
    scan (its door and time), and the entry the server had recorded first."""
    return await db.fetch(
        """
        SELECT s.id, s.registration_id, r.name, coalesce(r.organisation, '') AS organisation,
               s.gate, s.scanned_at,
               coalesce(s.response ->> 'gate', r.entered_gate) AS first_gate,
               coalesce((s.response ->> 'checked_in_at')::timestamptz, r.entered_at) AS first_at
        FROM scans s
        LEFT JOIN registrations r ON r.id = s.registration_id AND r.conference_id = s.conference_id
        WHERE s.conference_id = $1 AND s.offline AND s.reason = 'already_checked_in'
        ORDER BY s.scanned_at DESC, s.id DESC
        LIMIT $2
        """,
        conference_id,
        limit,
    )


_SCANS = """
    SELECT s.id, s.scanned_at, s.gate, s.type, s.status, s.reason, s.offline,
           s.registration_id, r.name, coalesce(r.organisation, '') AS organisation
    FROM scans s
    LEFT JOIN registrations r ON r.id = s.registration_id AND r.conference_id = s.conference_id
    WHERE s.conference_id = $1
"""


async def recent_scans(
    db: asyncpg.Connection, conference_id: int, limit: int = 20
) -> list[asyncpg.Record]:
    """The last scans as recorded (an offline scan uploaded late is recent here)."""
    return await db.fetch(_SCANS + " ORDER BY s.id DESC LIMIT $2", conference_id, limit)


def all_scans(db: asyncpg.Connection, conference_id: int) -> AsyncIterator[list[asyncpg.Record]]:
    """Every scan in the order made, for the export: a batch at a time (server-side cursor)."""
    return in_batches(db, _SCANS + " ORDER BY s.scanned_at, s.id", conference_id)


def attendees(db: asyncpg.Connection, conference_id: int) -> AsyncIterator[list[asyncpg.Record]]:
    """Confirmed people by name, for the export: a batch at a time (server-side cursor)."""
    return in_batches(
        db,
        "SELECT id, name, organisation, category, inside, entered_at, entered_gate "
        "FROM registrations WHERE conference_id = $1 AND status = 'confirmed' "
        "ORDER BY lower(name), id",
        conference_id,
    )


def needs(db: asyncpg.Connection, conference_id: int) -> AsyncIterator[list[asyncpg.Record]]:
    """Confirmed people who stated needs AND consented to their storage (GDPR Art. 9), for the
    export: a batch at a time (server-side cursor)."""
    return in_batches(
        db,
        """
        SELECT r.id, r.name, r.organisation, r.category, r.needs, r.inside
        FROM registrations r
        WHERE r.conference_id = $1 AND r.status = 'confirmed' AND r.needs <> '{}'::jsonb
          AND EXISTS (SELECT 1 FROM consents c
                      WHERE c.registration_id = r.id AND c.kind = 'special_category')
        ORDER BY lower(r.name), r.id
        """,
        conference_id,
    )


async def badge_holders(
    db: asyncpg.Connection,
    conference_id: int,
    ids: list[int] | None = None,
    category: str | None = None,
) -> list[asyncpg.Record]:
    """Confirmed registrations (only they hold a valid ticket), by name."""
    return await db.fetch(
        """
        SELECT id, name, organisation, category, status, ticket_salt
        FROM registrations
        WHERE conference_id = $1 AND status = 'confirmed'
          AND ($2::bigint[] IS NULL OR id = ANY ($2))
          AND ($3::text IS NULL OR category = $3)
        ORDER BY lower(name), id
        """,
        conference_id,
        ids,
        category,
    )
