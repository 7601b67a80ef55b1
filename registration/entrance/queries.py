"""The entrance's SQL: the check-in decision, the scanner's offline data, the dashboard, the
name badges and the exports.

A scan is decided and recorded by one call of a database function: `checkin_scan`, or
`checkin_scan_by_token` for a device's API token (their current bodies:
migrations/functions/<name>.sql). A manual entry and an undo use the statements below, in the
caller's transaction.

"Expected" is everyone confirmed; "entered" is a confirmed registration with an entry that
stands (an undone entry clears `entered_at`); "inside" is who has entered and not left.
A scan's person is joined only when the registration belongs to the scan's conference: a
ticket of another conference is refused without a name, and stays nameless here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime

import asyncpg

from service.db import in_batches

# ── check-in ────────────────────────────────────────────────────────────────


async def checkin_scan(
    db: asyncpg.Connection,
    device: str,
    staff_id: int,
    conference_slug: str,
    ticket_hash: bytes | None,
    gate: str,
    kind: str,
    nonce: str | None,
    offline: bool,
    scanned_at: datetime | None,
    failures_per_minute: int,
    category_labels: str,
) -> str:
    """One scan by a logged-in staff member, decided and recorded: the answer as JSON text."""
    return await db.fetchval(
        "SELECT checkin_scan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)::text",
        device,
        staff_id,
        conference_slug,
        ticket_hash,
        gate,
        kind,
        nonce,
        offline,
        scanned_at,
        failures_per_minute,
        category_labels,
    )


async def checkin_scan_by_token(
    db: asyncpg.Connection,
    token_hash: bytes,
    conference_slug: str,
    ticket_hash: bytes | None,
    gate: str,
    kind: str,
    nonce: str | None,
    failures_per_minute: int,
    category_labels: str,
) -> str:
    """One live scan from a device with an API token, the token checked in the same call."""
    return await db.fetchval(
        "SELECT checkin_scan_by_token($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb)::text",
        token_hash,
        conference_slug,
        ticket_hash,
        gate,
        kind,
        nonce,
        failures_per_minute,
        category_labels,
    )


async def person(db: asyncpg.Connection, registration_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, conference_id, name, category, organisation, status, inside, "
        "entered_at, entered_gate FROM registrations WHERE id = $1",
        registration_id,
    )


async def enter(db: asyncpg.Connection, registration_id: int, gate: str) -> datetime | None:
    """The entry, if the person is confirmed and not inside (else None): one statement, so of
    simultaneous scans of one ticket exactly one enters."""
    return await db.fetchval(
        "UPDATE registrations SET inside = true, entered_at = now(), entered_gate = $2 "
        "WHERE id = $1 AND status = 'confirmed' AND NOT inside RETURNING entered_at",
        registration_id,
        gate,
    )


async def first_entry(db: asyncpg.Connection, registration_id: int) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT entered_at, entered_gate FROM registrations WHERE id = $1", registration_id
    )


async def leave(db: asyncpg.Connection, registration_id: int) -> datetime | None:
    """The exit's time, or None if the person was not inside."""
    return await db.fetchval(
        "UPDATE registrations SET inside = false WHERE id = $1 AND inside RETURNING now() AS at",
        registration_id,
    )


async def undo_entry(
    db: asyncpg.Connection, registration_id: int, conference_id: int
) -> int | None:
    """Takes back an entry; None if the person was not inside."""
    return await db.fetchval(
        "UPDATE registrations SET inside = false, entered_at = NULL, entered_gate = NULL "
        "WHERE id = $1 AND conference_id = $2 AND inside RETURNING id",
        registration_id,
        conference_id,
    )


async def record_scan(
    db: asyncpg.Connection,
    *,
    conference_id: int | None,
    registration_id: int | None,
    device: str | None,
    staff_id: int,
    nonce: str | None,
    gate: str,
    kind: str,
    status: str,
    reason: str | None,
    response: str,
    offline: bool,
    scanned_at: datetime | None,
) -> None:
    """A scan decided in Python (manual entry, undo); `response` is the answer as JSON text."""
    await db.execute(
        """
        INSERT INTO scans (conference_id, registration_id, device, staff_id, nonce, gate, type,
                           status, reason, response, offline, scanned_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, coalesce($12, now()))
        """,
        conference_id,
        registration_id,
        device,
        staff_id,
        nonce,
        gate,
        kind,
        status,
        reason,
        response,
        offline,
        scanned_at,
    )


async def notify(db: asyncpg.Connection, channel: str, payload: str) -> None:
    """Sent when the transaction commits (not at all if it rolls back)."""
    await db.execute("SELECT pg_notify($1, $2)", channel, payload)


async def search(
    db: asyncpg.Connection, conference_id: int, pattern: str, limit: int
) -> list[asyncpg.Record]:
    """People of the conference not cancelled whose name, organisation or e-mail address is
    like `pattern` (ILIKE, its wildcards escaped by the caller)."""
    return await db.fetch(
        "SELECT id, name, organisation, category, status, inside, entered_at, entered_gate "
        "FROM registrations WHERE conference_id = $1 AND status <> 'cancelled' "
        "AND (name ILIKE $2 OR organisation ILIKE $2 OR email ILIKE $2) "
        "ORDER BY name LIMIT $3",
        conference_id,
        pattern,
        limit,
    )


# ── the scanner ─────────────────────────────────────────────────────────────


async def database_now(db: asyncpg.Connection) -> datetime:
    return await db.fetchval("SELECT now()")


async def door_conferences(
    db: asyncpg.Connection, only: Collection[int] | None
) -> list[asyncpg.Record]:
    """Conferences a door may scan for: the current and coming ones (all, if none); `only`
    these ids (a limited account's), or any (None)."""
    mine = "($1::bigint[] IS NULL OR id = ANY($1))"
    ids = None if only is None else list(only)
    rows = await db.fetch(
        "SELECT slug, title, timezone FROM conferences "
        f"WHERE ends_at > now() - interval '1 day' AND {mine} ORDER BY starts_at, id",
        ids,
    )
    if not rows:
        rows = await db.fetch(
            f"SELECT slug, title, timezone FROM conferences WHERE {mine} ORDER BY starts_at, id",
            ids,
        )
    return rows


async def ticket_snapshot(
    db: asyncpg.Connection, conference_id: int
) -> tuple[datetime, list[asyncpg.Record]]:
    """Every registration of the conference with its ticket hash, and the database time they
    were read at (one snapshot)."""
    async with db.transaction(isolation="repeatable_read", readonly=True):
        generated_at = await db.fetchval("SELECT now()")
        rows = await db.fetch(
            "SELECT id, ticket_hash, name, category, organisation, status, inside, entered_at, "
            "entered_gate FROM registrations WHERE conference_id = $1 ORDER BY id",
            conference_id,
        )
    return generated_at, rows


# ── the dashboard ───────────────────────────────────────────────────────────

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
