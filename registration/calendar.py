"""Calendar entries of a registration: the conference, and (handed in by forums) its forums."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg

from registration import logic, queries, views
from service import tokens
from service.ical import CalendarEvent, build_calendar
from service.settings import Settings
from service.wiring import add_once


def _domain(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "tagung.invalid"


def conference_event(
    settings: Settings,
    conference: asyncpg.Record,
    registration: asyncpg.Record,
    *,
    read_only: bool = False,
) -> CalendarEvent:
    """`read_only`: for the subscription feed, whose address may be seen by others (calendar
    services, shared calendars): the entry links the conference's public page instead of the
    personal self-service page."""
    if read_only:
        page = f"{settings.base_url}/conferences/{conference['slug']}"
    else:
        page = views.links(settings, registration)["page"]
    location = ", ".join(p for p in (conference["venue"], conference["address"]) if p)
    return CalendarEvent(
        # Stable for this registration, so calendar programs update the entry they already have.
        uid=f"registration-{registration['id']}@{_domain(settings)}",
        sequence=registration["calendar_sequence"],
        summary=conference["title"],
        starts_at=conference["starts_at"],
        ends_at=conference["ends_at"],
        location=location,
        description=f"{conference['description']}\n\n{page}".strip(),
        url=page,
        # Calendar programs treat an invitation without an organiser as no invitation.
        organizer_email=conference["organiser_email"] or f"noreply@{_domain(settings)}",
        organizer_name=conference["organiser_name"] or None,
        attendee_email=registration["email"],
        attendee_name=registration["name"],
        cancelled=registration["status"] == "cancelled",
        timezone=conference["timezone"],
    )


async def calendar_file(
    db: asyncpg.Connection,
    settings: Settings,
    registration: asyncpg.Record,
    method: str,
    *,
    read_only: bool = False,
) -> bytes:
    """REQUEST for invitations and updates by e-mail, CANCEL when cancelled, PUBLISH for
    downloads and the subscription feed (which always shows the current state; `read_only`,
    see conference_event)."""
    conference = await queries.conference(db, registration["conference_id"])
    events = [conference_event(settings, conference, registration, read_only=read_only)]
    for provider in _extra_events:
        events.extend(await provider(db, settings, registration))
    return build_calendar(events, method=method, name=conference["title"])  # type: ignore[arg-type]


async def by_feed_token(db: asyncpg.Connection, feed_token: str) -> asyncpg.Record:
    """The registration whose calendar feed this token opens: the feed's own token
    (views.calendar_links), or, for subscriptions made before it existed, the self-service
    token those addresses carried (that token opens everything anyway; refusing it here would
    only stop those calendars from updating). Anything else: the invalid-link 404."""
    if not tokens.looks_valid(feed_token):
        raise logic.invalid_link()
    registration = await queries.by_calendar_hash(db, tokens.digest(feed_token))
    if registration is not None:
        return registration
    return await logic.by_manage_token(db, feed_token)


# Forums add their entries in forums.wire (registration does not import forums).
_extra_events: list = []


def provide_events(provider) -> None:  # type: ignore[no-untyped-def]
    add_once(_extra_events, provider)
