"""The exhibitor e-mails: one outbox renderer per kind that exhibitors.logic enqueues.

exhibitors.logic writes the rows (ref_id = the booking) in the transaction of the change; like
every outbox row they hold no text, so each mail is rendered at send time from the booking as
it is then. A mail that no longer fits is skipped (None) instead of sent: a confirmation link
for an address confirmed meanwhile, "your request is in review" for a request decided since,
an approval for a booking rejected since.

Every mail is multipart text + HTML in the booking's language, from templates/mail/
exhibitor_<kind>.txt and .html, which say the same in the same sentences. They use the
registration mails' pieces (button, table rows, mailto): the Jinja environment here looks in
this domain's templates first, then in registration's; their layout (mail/exhibitor_layout)
extends registration's with its own tagline and footer, because they go to an organisation that
asked for a stand, not to an attendee. Every mail after the confirmation carries the
self-service link `{BASE_URL}/x/{manage token}`; the confirmation mail carries
`{BASE_URL}/confirm/{token}`, the page shared with the attendees (registration.pages, which asks
exhibitors through its confirmer hook).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from babel.numbers import format_decimal

from exhibitors import logic, queries
from exhibitors.options import kind_name, mail_feature_name, status_name
from registration import mails as registration_mails
from registration.views import token_key
from service import mail_render
from service.i18n import LANGUAGES
from service.i18n import gettext as _
from service.mail_render import Mail, conference_context, oneline, privacy_url
from service.outbox import OutboxMessage
from service.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
# This domain's templates first, then registration's (mail/layout, mail/_parts); exhibitor mails
# are named mail/exhibitor_*, so no name is ambiguous.
TEMPLATE_DIRS = (TEMPLATES, registration_mails.TEMPLATES)


# -- sizes in the recipient's language (the choices' names: exhibitors.options) ---------------


def metres(value: Decimal | float | None, language: str) -> str | None:
    """3 → "3", 2.5 → "2,5" in German and "2.5" in English."""
    if value is None:
        return None
    return format_decimal(value, format="#,##0.##", locale=language)


def size(width: Any, depth: Any, language: str) -> str | None:
    """ "3 × 2 m", "at least 3 m wide", … or None when nothing was given."""
    w, d = metres(width, language), metres(depth, language)
    if w and d:
        return _("%(width)s m wide × %(depth)s m deep", width=w, depth=d)
    if w:
        return _("%(width)s m wide", width=w)
    if d:
        return _("%(depth)s m deep", depth=d)
    return None


# -- what every mail gets ---------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What a kind's builder gets: the current rows, as they are at send time."""

    db: asyncpg.Connection
    settings: Settings
    message: OutboxMessage
    language: str
    booking: asyncpg.Record
    conference: asyncpg.Record

    @property
    def title(self) -> str:
        return oneline(self.conference["title"])

    @property
    def manage_url(self) -> str:
        manage = logic.token(token_key(self.settings), "manage", self.booking["manage_salt"])
        return f"{self.settings.base_url}/x/{manage}"


Builder = Callable[[Source], Awaitable[Mail | None]]


def _request_context(booking: asyncpg.Record, language: str) -> dict[str, Any]:
    """What the organisation asked for, as it reads in the mails."""
    return {
        "organisation": oneline(booking["organisation"], 200),
        "kind": kind_name(booking["kind"]),
        "wished_size": size(booking["wished_width_m"], booking["wished_depth_m"], language),
        "wished_features": [mail_feature_name(f) for f in booking["wished_features"]],
        "staff_count": booking["staff_count"],
        "topics": [oneline(t, 40) for t in booking["topics"]],
    }


def _common_context(source: Source) -> dict[str, Any]:
    booking, conference = source.booking, source.conference
    return {
        "lang": source.language,
        "name": oneline(booking["contact_name"], 200),
        "conference": conference_context(conference),
        "request": _request_context(booking, source.language),
        "organiser_name": oneline(conference["organiser_name"], 200),
        "organiser_email": oneline(conference["organiser_email"], 254),
        "privacy_url": privacy_url(source.settings.base_url, conference),
    }


async def _stand_context(source: Source) -> dict[str, Any] | None:
    """The booking's stand as the mails show it, or None without one."""
    stand_id = source.booking["stand_id"]
    stand = await queries.stand(source.db, stand_id) if stand_id else None
    if stand is None:
        return None
    return {
        "code": stand["code"],
        "area": oneline(stand["area"], 100),
        "size": size(stand["width_m"], stand["depth_m"], source.language),
        "features": [mail_feature_name(f) for f in stand["features"]],
        "max_staff": stand["max_staff"],
    }


async def _had_passes(source: Source) -> bool:
    """Whether people were named for the stand (their passes are withdrawn with it)."""
    return bool(await queries.pass_count(source.db, source.booking["id"]))


def _page(source: Source) -> dict[str, Any]:
    return {"manage_url": source.manage_url}


# -- the kinds --------------------------------------------------------------------------------


async def _confirm(source: Source) -> Mail | None:
    """Double opt-in: the link to the confirmation page (a button there confirms)."""
    booking = source.booking
    # Confirmed meanwhile, or the link ran out before it could be sent (requesting again
    # renews it and sends a new mail).
    if booking["status"] != "pending_confirmation" or booking["expired"]:
        return None
    confirm_token = logic.token(token_key(source.settings), "confirm", booking["confirm_salt"])
    return Mail(
        "exhibitor_confirm",
        _("Please confirm your stand request: %(conference)s", conference=source.title),
        {
            "confirm_url": f"{source.settings.base_url}/confirm/{confirm_token}",
            "expires_at": booking["confirm_expires_at"],
        },
    )


async def _manage_link(source: Source) -> Mail | None:
    """Someone asked again with an address that has a confirmed booking already."""
    status = source.booking["status"]
    if status in ("pending_confirmation", "cancelled"):
        return None
    return Mail(
        "exhibitor_manage_link",
        _("Your stand booking: %(conference)s", conference=source.title),
        {
            **_page(source),
            "status": status_name(status),
            "stand": await _stand_context(source) if status == "approved" else None,
        },
    )


async def _requested(source: Source) -> Mail | None:
    """The address is confirmed: the request is in the review queue."""
    if source.booking["status"] != "requested":  # decided meanwhile: that mail says it
        return None
    return Mail(
        "exhibitor_requested",
        _("Your stand request has been received: %(conference)s", conference=source.title),
        _page(source),
    )


async def _approved(source: Source) -> Mail | None:
    if source.booking["status"] != "approved":
        return None
    stand = await _stand_context(source)
    if stand is None:
        return None
    return Mail(
        "exhibitor_approved",
        _("Your stand %(stand)s: %(conference)s", stand=stand["code"], conference=source.title),
        {**_page(source), "stand": stand},
    )


async def _stand_changed(source: Source) -> Mail | None:
    if source.booking["status"] != "approved":
        return None
    stand = await _stand_context(source)
    if stand is None:
        return None
    return Mail(
        "exhibitor_stand_changed",
        _(
            "Your stand has changed to %(stand)s: %(conference)s",
            stand=stand["code"],
            conference=source.title,
        ),
        {**_page(source), "stand": stand},
    )


async def _waitlisted(source: Source) -> Mail | None:
    booking = source.booking
    if booking["status"] != "waitlisted":  # approved or rejected meanwhile
        return None
    return Mail(
        "exhibitor_waitlisted",
        _("Your stand request is on the waiting list: %(conference)s", conference=source.title),
        {
            **_page(source),
            "reason": booking["reason"].strip(),
            "place": await queries.waitlist_place(source.db, booking),
        },
    )


async def _rejected(source: Source) -> Mail | None:
    booking = source.booking
    if booking["status"] != "rejected":
        return None
    return Mail(
        "exhibitor_rejected",
        _("Decision on your stand request: %(conference)s", conference=source.title),
        {
            **_page(source),
            "reason": booking["reason"].strip(),
            "had_passes": await _had_passes(source),
        },
    )


async def _cancelled(source: Source) -> Mail | None:
    if source.booking["status"] != "cancelled":
        return None
    return Mail(
        "exhibitor_cancelled",
        _("Stand booking withdrawn: %(conference)s", conference=source.title),
        {**_page(source), "had_passes": await _had_passes(source)},
    )


async def _released(source: Source) -> Mail | None:
    if source.booking["status"] != "requested":  # a new stand was assigned meanwhile
        return None
    return Mail(
        "exhibitor_released",
        _("Your stand has been released: %(conference)s", conference=source.title),
        {**_page(source), "had_passes": await _had_passes(source)},
    )


BUILDERS: dict[str, Builder] = {
    logic.MAIL_CONFIRM: _confirm,
    logic.MAIL_MANAGE_LINK: _manage_link,
    logic.MAIL_REQUESTED: _requested,
    logic.MAIL_APPROVED: _approved,
    logic.MAIL_WAITLISTED: _waitlisted,
    logic.MAIL_REJECTED: _rejected,
    logic.MAIL_CANCELLED: _cancelled,
    logic.MAIL_STAND_CHANGED: _stand_changed,
    logic.MAIL_RELEASED: _released,
}


# -- rendering --------------------------------------------------------------------------------


async def _source(
    settings: Settings, db: asyncpg.Connection, message: OutboxMessage
) -> Source | None:
    if message.ref_id is None:
        return None
    booking = await queries.booking(db, message.ref_id)
    if booking is None:  # deleted with its conference before the mail went out
        return None
    conference = await queries.conference(db, booking["conference_id"])
    # The booking's language as it is now (the row's as it was when the mail was written).
    language = booking["language"]
    if language not in LANGUAGES:
        language = mail_render.message_language(message)
    return Source(db, settings, message, language, booking, conference)


def register_renderers(settings: Settings) -> None:
    """Wiring (exhibitors.wire): the renderers need BASE_URL for links and SECRET_KEY for
    tokens."""
    mail_render.register_renderers(
        BUILDERS,
        partial(_source, settings),
        context=_common_context,
        recipient_name=lambda source: source.booking["contact_name"],
        template_dirs=TEMPLATE_DIRS,
    )
