"""What forums hand to the registration domain at wiring time: a person's forums for the
self-service page and API, their calendar entries, and for their data export the forums at
whose door they were seen."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import asyncpg

from forums import queries
from service.conferences.logic import local
from service.ical import CalendarEvent
from service.settings import Settings


async def signups_for(db: asyncpg.Connection, registration_id: int) -> list[dict[str, Any]]:
    rows = await queries.signups_of(db, registration_id)
    tz = await queries.timezone_of(db, registration_id)
    return [
        {
            "id": r["id"],
            "title": r["title"],
            "starts_at": local(r["starts_at"], {"timezone": tz}),
            "ends_at": local(r["ends_at"], {"timezone": tz}),
            "status": "cancelled" if r["cancelled_at"] else r["status"],
            "position": r["position"],
        }
        for r in rows
    ]


async def attendance_for(db: asyncpg.Connection, registration_id: int) -> list[dict[str, Any]]:
    """The door's record of the person (forums.attendance): which forum, first seen, scans."""
    rows = await queries.attendance_of(db, registration_id)
    return [dict(row) for row in rows]


def forum_uid(settings: Settings, forum_id: int, registration_id: int) -> str:
    host = urlsplit(settings.base_url).hostname or "tagung.invalid"
    return f"forum-{forum_id}-registration-{registration_id}@{host}"


def forum_event(
    settings: Settings,
    forum: asyncpg.Record,
    conference: asyncpg.Record,
    registration: asyncpg.Record,
    sequence: int,
    *,
    cancelled: bool = False,
) -> CalendarEvent:
    location = ", ".join(
        p for p in (forum["room"], conference["venue"], conference["address"]) if p
    )
    return CalendarEvent(
        uid=forum_uid(settings, forum["id"], registration["id"]),
        sequence=sequence,
        summary=forum["title"],
        starts_at=forum["starts_at"],
        ends_at=forum["ends_at"],
        location=location,
        description=forum["description"],
        organizer_email=conference["organiser_email"]
        or f"noreply@{urlsplit(settings.base_url).hostname or 'tagung.invalid'}",
        organizer_name=conference["organiser_name"] or None,
        attendee_email=registration["email"],
        attendee_name=registration["name"],
        cancelled=cancelled,
        timezone=conference["timezone"],
    )


async def calendar_events(
    db: asyncpg.Connection, settings: Settings, registration: asyncpg.Record
) -> list[CalendarEvent]:
    """Forums the person holds; a forum cancelled after they chose it shows as cancelled."""
    conference = await queries.conference(db, registration["conference_id"])
    events = []
    for row in await queries.calendar_rows(db, registration["id"]):
        events.append(
            forum_event(
                settings,
                row,
                conference,
                registration,
                row["sequence"],
                cancelled=row["cancelled_at"] is not None,
            )
        )
    return events
