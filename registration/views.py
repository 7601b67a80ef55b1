"""What an attendee sees of their registration: shared by the JSON API and the pages."""

from __future__ import annotations

import asyncpg

from registration import logic, queries
from registration.schemas import ForumSignup, Registration, Ticket
from service import tokens
from service.settings import Settings
from service.tokens import key_from_secret

# Forums hand in a function at wiring time that lists a person's forum places; registration
# itself knows nothing of forums (docs/architecture.md: the direction of imports is fixed).
_forum_signups = []


def provide_forum_signups(provider) -> None:  # type: ignore[no-untyped-def]
    _forum_signups[:] = [provider]


# … and one that counts, per forum of a conference, who was seen at its door (entrance
# dashboard): rows with id, title, title_en, room, starts_at, present, signed_up.
_forum_attendance = []


def provide_forum_attendance(provider) -> None:  # type: ignore[no-untyped-def]
    _forum_attendance[:] = [provider]


async def forum_attendance(db: asyncpg.Connection, conference_id: int) -> list:
    return await _forum_attendance[0](db, conference_id) if _forum_attendance else []


def forums_available() -> bool:
    """Whether a forums domain is wired in (the self-service page then links to it)."""
    return bool(_forum_signups)


def token_key(settings: Settings) -> bytes:
    return key_from_secret(settings.secret_key)


def links(settings: Settings, registration: asyncpg.Record) -> dict[str, str]:
    """The self-service addresses. The subscription feed is not among them: see calendar_links."""
    manage = logic.token(token_key(settings), "manage", registration["manage_salt"])
    base = f"{settings.base_url}/r/{manage}"
    return {
        "manage_token": manage,
        "page": base,
        "qr_svg": f"{base}/ticket.svg",
        "qr_png": f"{base}/ticket.png",
        "ics": f"{base}/calendar.ics",
    }


async def calendar_links(
    db: asyncpg.Connection, settings: Settings, registration: asyncpg.Record
) -> dict[str, str]:
    """The subscription feed's address, with a token of its own that opens the feed and
    nothing else: a subscription address ends up in calendar services and shared calendars,
    so it must not be the self-service link (which can cancel and erase). A registration
    from before migration 0018 has no digest of it yet (the database cannot derive one: no
    SECRET_KEY), so it is stored here, on the way out, once."""
    feed = logic.calendar_token(token_key(settings), registration["manage_salt"])
    await queries.remember_calendar_token(db, registration["id"], tokens.digest(feed))
    url = f"{settings.base_url}/r/{feed}/feed.ics"
    return {"feed": url, "webcal": "webcal://" + url.split("://", 1)[1]}


def ticket_secret(settings: Settings, registration: asyncpg.Record) -> str | None:
    """Only a confirmed registration has a valid ticket."""
    if registration["status"] != "confirmed":
        return None
    return logic.token(token_key(settings), "ticket", registration["ticket_salt"])


async def forum_signups(db: asyncpg.Connection, registration_id: int) -> list[ForumSignup]:
    if not _forum_signups:
        return []
    return [ForumSignup(**row) for row in await _forum_signups[0](db, registration_id)]


async def registration_view(
    db: asyncpg.Connection, settings: Settings, registration: asyncpg.Record
) -> Registration:
    conference = await queries.conference_slug(db, registration["conference_id"])
    urls = links(settings, registration)
    feed = await calendar_links(db, settings, registration)
    secret = ticket_secret(settings, registration)
    return Registration(
        status=registration["status"],
        name=registration["name"],
        email=registration["email"],
        organisation=registration["organisation"],
        category=registration["category"],
        language=registration["language"],
        conference=conference,
        waitlist_position=await queries.waitlist_place(db, registration),
        ticket=Ticket(secret, urls["qr_svg"], urls["qr_png"], urls["ics"]) if secret else None,
        forums=await forum_signups(db, registration["id"]),
        calendar_feed_url=feed["webcal"],
    )
