"""The registration e-mails: one outbox renderer per kind that registration.logic enqueues.

Outbox rows hold no text (see service.outbox), so each mail is rendered at send time from the
registration as it is then: a mail that no longer fits (a ticket for a registration cancelled
meanwhile, a confirmation link for an address confirmed already) is skipped instead of sent.

Every mail is multipart text + HTML in the recipient's language, from the Jinja templates in
templates/mail (`<kind>.txt` and `<kind>.html`, which say the same in the same sentences). The
HTML is simple and accessible: `lang`, one column, inline styles only, no external images, and
everything in it readable without images; the ticket's QR code is an inline PNG (cid) with alt
text, and the ticket code is there as text as well.

Calendar invites go by e-mail as iTIP messages (RFC 5546), which service.ical allows with one
event each: the mails here carry the conference's own entry (METHOD:REQUEST on a ticket or an
update, METHOD:CANCEL on a cancellation; one UID per registration, SEQUENCE from the
registration's calendar_sequence). Forum entries are not in these invites (one entry per iTIP
message): forum mails carry their own, and the download and the subscription feed
(METHOD:PUBLISH) list everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from registration import calendar, logic, options, queries, views
from service import mail_render
from service.i18n import gettext as _
from service.ical import build_calendar
from service.mail_render import (
    Attachment,
    InlineImage,
    Mail,
    conference_context,
    oneline,
    privacy_url,
)
from service.outbox import OutboxMessage
from service.qr import qr_png
from service.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
# Only this domain's templates (and the shared ones): `mail/…` names stay unambiguous.
TEMPLATE_DIRS = (TEMPLATES,)


@dataclass(frozen=True)
class Source:
    """What a kind's builder gets: the current rows and everything derived from settings."""

    db: asyncpg.Connection
    settings: Settings
    message: OutboxMessage
    language: str
    registration: asyncpg.Record
    conference: asyncpg.Record
    links: dict[str, str]

    @property
    def title(self) -> str:
        return oneline(self.conference["title"])


Builder = Callable[[Source], Awaitable[Mail | None]]


def _domain(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "tagung.invalid"


# -- what goes into every mail --------------------------------------------------------------


def _common_context(source: Source) -> dict[str, Any]:
    registration, conference = source.registration, source.conference
    return {
        "lang": source.language,
        "name": oneline(registration["name"], 200),
        "organisation": oneline(registration["organisation"], 200),
        "category": options.category_name(registration["category"]),
        "conference": conference_context(conference),
        "links": source.links,
        "organiser_name": oneline(conference["organiser_name"], 200),
        "organiser_email": oneline(conference["organiser_email"], 254),
        "privacy_url": privacy_url(source.settings.base_url, conference),
        # A stand's staff did not register themselves: their exhibitor named them (Art. 14).
        "named_by_exhibitor": registration["category"] == "exhibitor_staff",
    }


def _invite(source: Source, method: str) -> Attachment:
    """The conference's calendar entry as an iTIP message (one event, with an organizer)."""
    event = calendar.conference_event(source.settings, source.conference, source.registration)
    data = build_calendar([event], method=method)  # type: ignore[arg-type]
    filename = f"{source.conference['slug']}.ics"
    return (filename, data, "text/calendar", {"method": method, "charset": "utf-8"})


def _ticket_parts(source: Source) -> tuple[dict[str, Any], list[InlineImage]] | None:
    """The ticket code (text) and its QR code (inline PNG), or None without a valid ticket."""
    secret = views.ticket_secret(source.settings, source.registration)
    if secret is None:
        return None
    cid = f"ticket-{source.message.id}@{_domain(source.settings)}"
    return {"ticket_code": secret, "qr_cid": cid}, [(cid, qr_png(secret), "png")]


def _registration_open(conference: asyncpg.Record) -> bool:
    now = datetime.now(UTC)
    return (
        conference["published"]
        and conference["registration_opens_at"] <= now < conference["registration_closes_at"]
    )


# -- the kinds --------------------------------------------------------------------------------


async def _confirm(source: Source) -> Mail | None:
    """Double opt-in: the link to the confirmation page (a button there confirms)."""
    registration = source.registration
    # Confirmed meanwhile, or the link ran out before it could be sent (registering again
    # renews it and sends a new mail).
    if registration["status"] != "pending_confirmation" or registration["expired"]:
        return None
    key = views.token_key(source.settings)
    confirm_token = logic.token(key, "confirm", registration["confirm_salt"])
    return Mail(
        "confirm",
        _("Please confirm your registration: %(conference)s", conference=source.title),
        {
            "confirm_url": f"{source.settings.base_url}/confirm/{confirm_token}",
            "expires_at": registration["confirm_expires_at"],
        },
    )


async def _manage_link(source: Source) -> Mail | None:
    """Someone registered again with an address that is registered already."""
    registration = source.registration
    if registration["status"] not in ("confirmed", "waitlisted"):
        return None
    return Mail(
        "manage_link",
        _("Your registration: %(conference)s", conference=source.title),
        {
            "status": options.status_name(registration["status"]),
            "place": await queries.waitlist_place(source.db, registration),
        },
    )


async def _with_ticket(source: Source, template: str, subject: str) -> Mail | None:
    parts = _ticket_parts(source)
    if parts is None:  # cancelled (or otherwise no longer confirmed) meanwhile
        return None
    context, images = parts
    return Mail(template, subject, context, images, [_invite(source, "REQUEST")])


async def _ticket(source: Source) -> Mail | None:
    return await _with_ticket(
        source, "ticket", _("Your ticket: %(conference)s", conference=source.title)
    )


async def _promoted(source: Source) -> Mail | None:
    return await _with_ticket(
        source, "promoted", _("A place is free for you: %(conference)s", conference=source.title)
    )


async def _waitlisted(source: Source) -> Mail | None:
    registration = source.registration
    if registration["status"] != "waitlisted":  # promoted meanwhile: that mail says it
        return None
    return Mail(
        "waitlisted",
        _("Waiting list: %(conference)s", conference=source.title),
        {"place": await queries.waitlist_place(source.db, registration)},
    )


async def _cancelled(source: Source) -> Mail | None:
    registration = source.registration
    if registration["status"] != "cancelled":
        return None
    # Only a registration that held a place ever had a ticket and a calendar invite; the
    # cancellation carries the same UID with the SEQUENCE that logic.cancel raised.
    held_place = registration["confirmed_at"] is not None
    conference = source.conference
    return Mail(
        "cancelled",
        _("Registration cancelled: %(conference)s", conference=source.title),
        {
            "held_place": held_place,
            "register_url": (
                f"{source.settings.base_url}/conferences/{conference['slug']}/register"
                if _registration_open(conference)
                else None
            ),
        },
        attachments=[_invite(source, "CANCEL")] if held_place else [],
    )


async def _conference_changed(source: Source) -> Mail | None:
    """Time, place or title changed: the new details and the updated calendar entry."""
    if source.registration["status"] != "confirmed":
        return None  # cancelled meanwhile: that mail said goodbye
    return Mail(
        "conference_changed",
        _("Changes to %(conference)s", conference=source.title),
        attachments=[_invite(source, "REQUEST")],
    )


BUILDERS: dict[str, Builder] = {
    logic.MAIL_CONFIRM: _confirm,
    logic.MAIL_MANAGE_LINK: _manage_link,
    logic.MAIL_TICKET: _ticket,
    logic.MAIL_WAITLISTED: _waitlisted,
    logic.MAIL_PROMOTED: _promoted,
    logic.MAIL_CANCELLED: _cancelled,
    logic.MAIL_CONFERENCE_CHANGED: _conference_changed,
}


# -- rendering --------------------------------------------------------------------------------


async def _source(
    settings: Settings, db: asyncpg.Connection, message: OutboxMessage
) -> Source | None:
    if message.ref_id is None:
        return None
    registration = await queries.by_id(db, message.ref_id)
    if registration is None:  # deleted (data protection) before the mail went out
        return None
    conference = await queries.conference(db, registration["conference_id"])
    return Source(
        db,
        settings,
        message,
        mail_render.message_language(message),
        registration,
        conference,
        views.links(settings, registration),
    )


def register_renderers(settings: Settings) -> None:
    """Wiring (registration.wire): the renderers need BASE_URL for links and SECRET_KEY for
    tokens."""
    mail_render.register_renderers(
        BUILDERS,
        partial(_source, settings),
        context=_common_context,
        recipient_name=lambda source: source.registration["name"],
        template_dirs=TEMPLATE_DIRS,
    )
