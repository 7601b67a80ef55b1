"""The forum e-mails: one outbox renderer per kind that forums.logic enqueues.

forums.logic writes the rows (ref_id = the registration, payload {"forum_id": …}) in the
transaction of the change; like every outbox row they hold no text, so each mail is rendered
at send time from the forum, the registration and the sign-up as they are then. A mail that
no longer fits is skipped (None) instead of sent: a promotion for someone who has left the
forum again, a change notice for someone who left meanwhile or for a forum cancelled since.

Every mail is multipart text + HTML in the recipient's language (the forum's English title
for English mails when it has one), from templates/mail/forum_<kind>.txt and .html, which say
the same in the same sentences. They share the registration mails' layout and pieces: the
Jinja environment here looks in this domain's templates first, then in registration's.

Calendar: a person holding a seat gets the forum's own entry as an iTIP message (RFC 5546),
one event each, with the UID of forums.providers.forum_uid (the same as in the calendar
download and the subscription feed) and SEQUENCE = forums.calendar_sequence +
forum_signups.changes, which grows with every change: METHOD:REQUEST when promoted or when
the forum changes, METHOD:CANCEL when it is cancelled. People only waiting never had the
entry, so they get the notice alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg

from forums import logic, queries
from forums.providers import forum_event
from registration import logic as registration_logic
from registration import mails as registration_mails
from registration import views as registration_views
from service import mail_render
from service.i18n import gettext as _
from service.ical import build_calendar
from service.mail_render import (
    Attachment,
    Mail,
    conference_context,
    oneline,
    privacy_url,
    same_day,
)
from service.outbox import OutboxMessage
from service.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
# This domain's templates first, then registration's (the shared mail/layout and mail/_parts);
# forum mails are named mail/forum_*, so no name is ambiguous.
TEMPLATE_DIRS = (TEMPLATES, registration_mails.TEMPLATES)


@dataclass(frozen=True)
class Source:
    """What a kind's builder gets: the current rows, as they are at send time."""

    settings: Settings
    message: OutboxMessage
    language: str
    registration: asyncpg.Record
    conference: asyncpg.Record
    forum: asyncpg.Record
    signup: asyncpg.Record
    place: int | None  # on the forum's waiting list, when waiting

    @property
    def title(self) -> str:
        """The forum's title in the recipient's language (German when there is no English)."""
        forum = self.forum
        english = self.language == "en" and forum["title_en"]
        return oneline(forum["title_en"] if english else forum["title"], 200)

    @property
    def sequence(self) -> int:
        return self.forum["calendar_sequence"] + self.signup["changes"]


Builder = Callable[[Source], Awaitable[Mail | None]]


# -- what goes into every forum mail ---------------------------------------------------------


def _forum_context(source: Source) -> dict[str, Any]:
    forum, conference = source.forum, source.conference
    starts, ends = forum["starts_at"], forum["ends_at"]
    return {
        "id": forum["id"],
        "title": source.title,
        "room": oneline(forum["room"], 200),
        "starts_at": starts,
        "ends_at": ends,
        "timezone": conference["timezone"],
        "same_day": same_day(starts, ends, conference["timezone"]),
    }


def _common_context(source: Source) -> dict[str, Any]:
    registration, conference = source.registration, source.conference
    links = registration_views.links(source.settings, registration)
    links = {**links, "forums": f"{links['page']}/forums"}
    return {
        "lang": source.language,
        "name": oneline(registration["name"], 200),
        "conference": conference_context(conference),
        "forum": _forum_context(source),
        "links": links,
        "place": source.place,
        "organiser_name": oneline(conference["organiser_name"], 200),
        "organiser_email": oneline(conference["organiser_email"], 254),
        "privacy_url": privacy_url(source.settings.base_url, conference),
    }


def _localised(source: Source) -> Mapping[str, Any]:
    """The forum row with title and description in the recipient's language, for the
    calendar entry (the same UID whatever the language, so an entry only ever updates)."""
    forum = dict(source.forum)
    if source.language == "en":
        forum["title"] = forum["title_en"] or forum["title"]
        forum["description"] = forum["description_en"] or forum["description"]
    return forum


def _invite(source: Source, method: str) -> Attachment:
    """The person's entry for the forum as an iTIP message (one event, with an organizer)."""
    event = forum_event(
        source.settings,
        _localised(source),  # type: ignore[arg-type]
        source.conference,
        source.registration,
        source.sequence,
        cancelled=method == "CANCEL",
    )
    data = build_calendar([event], method=method)  # type: ignore[arg-type]
    filename = f"forum-{source.forum['id']}.ics"
    return (filename, data, "text/calendar", {"method": method, "charset": "utf-8"})


# -- the kinds --------------------------------------------------------------------------------


async def _promoted(source: Source) -> Mail | None:
    """A seat became free and went to this person, first in line: it is theirs now."""
    if (
        source.signup["status"] != "confirmed"  # left again meanwhile
        or source.forum["cancelled_at"] is not None  # the cancellation mail says it
        or source.registration["status"] != "confirmed"
    ):
        return None
    return Mail(
        "forum_promoted",
        _("A seat is free for you in the forum: %(forum)s", forum=source.title),
        attachments=[_invite(source, "REQUEST")],
    )


async def _changed(source: Source) -> Mail | None:
    """Time, room or title changed: the current details; the updated entry for seat holders."""
    status = source.signup["status"]
    if (
        status not in ("confirmed", "waitlisted")  # left meanwhile: none of their business
        or source.forum["cancelled_at"] is not None  # cancelled since: that mail says it
        or source.registration["status"] != "confirmed"
    ):
        return None
    holds_seat = status == "confirmed"
    return Mail(
        "forum_changed",
        _("Changes to the forum: %(forum)s", forum=source.title),
        {"holds_seat": holds_seat},
        attachments=[_invite(source, "REQUEST")] if holds_seat else [],
    )


async def _cancelled(source: Source) -> Mail | None:
    """The forum is cancelled. Those who held a seat get the calendar cancellation (same UID,
    the SEQUENCE the cancellation raised); those waiting never had an entry to remove."""
    if source.forum["cancelled_at"] is None:
        return None
    # forums.logic may say in the payload whether the person held a seat or was waiting
    # (the cancellation sets everyone to 'left', so the row no longer tells). Without that,
    # the cancellation goes to everyone: removing an entry someone never had does no harm,
    # leaving a stale one in a calendar would.
    held_seat = source.message.payload.get("held_seat")
    send_cancel = held_seat is not False
    return Mail(
        "forum_cancelled",
        _("Forum cancelled: %(forum)s", forum=source.title),
        {"held_seat": held_seat},
        attachments=[_invite(source, "CANCEL")] if send_cancel else [],
    )


BUILDERS: dict[str, Builder] = {
    logic.MAIL_PROMOTED: _promoted,
    logic.MAIL_CHANGED: _changed,
    logic.MAIL_CANCELLED: _cancelled,
}


# -- rendering --------------------------------------------------------------------------------


async def _source(
    settings: Settings, db: asyncpg.Connection, message: OutboxMessage
) -> Source | None:
    """The rows the mail is about, or None when one of them is gone (deleted for data
    protection, or a forum deleted with its conference)."""
    forum_id = message.payload.get("forum_id")
    if message.ref_id is None or not isinstance(forum_id, int):
        return None
    registration = await registration_logic.by_id(db, message.ref_id)
    forum = await queries.row(db, forum_id)
    if registration is None or forum is None:
        return None
    if forum["conference_id"] != registration["conference_id"]:
        return None
    signup = await queries.signup(db, forum_id, registration["id"])
    if signup is None:
        return None
    conference = await queries.conference(db, registration["conference_id"])
    place = await queries.waitlist_place(db, signup)
    language = mail_render.message_language(message)
    return Source(settings, message, language, registration, conference, forum, signup, place)


def register_renderers(settings: Settings) -> None:
    """Wiring (forums.wire): the renderers need BASE_URL for links and SECRET_KEY for tokens."""
    mail_render.register_renderers(
        BUILDERS,
        partial(_source, settings),
        context=_common_context,
        recipient_name=lambda source: source.registration["name"],
        template_dirs=TEMPLATE_DIRS,
    )
