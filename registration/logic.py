"""Registration rules: double opt-in, one place per confirmed attendee, the waiting list.

Locks are always taken in one order — the conference row, then registration rows — so that
confirmations, cancellations and capacity changes running at the same moment never deadlock,
and the seat count is only ever changed under the conference row's lock by one atomic UPDATE.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from registration import queries
from service import audit, mail_quota, outbox, tokens
from service.auth import StaffUser
from service.conferences.lookups import published_conference
from service.domain_errors import Closed, FieldErrors, NotFound, WrongState
from service.i18n import gettext as _
from service.wiring import add_once

# Versions of the texts a person agreed to; a new text gets a new version.
CONSENT_TEXT_VERSIONS = {
    "privacy": "2026-11-25",
    "special_category": "2026-11-25",
    "photos": "2026-11-25",
}

# Outbox kinds, rendered by registration.mails
MAIL_CONFIRM = "registration.confirm"
MAIL_MANAGE_LINK = "registration.manage_link"
MAIL_TICKET = "registration.ticket"
MAIL_WAITLISTED = "registration.waitlisted"
MAIL_PROMOTED = "registration.promoted"
MAIL_CANCELLED = "registration.cancelled"
MAIL_CONFERENCE_CHANGED = "registration.conference_changed"
# The payload of the confirmation's mail (ticket or waiting list) as outbox.enqueue renders it
# for `mail()` (no payload): json.dumps(payload or {}). tests/test_confirm_function.py checks
# that the row registration_confirm writes equals enqueue's.
_CONFIRM_MAIL_PAYLOAD = json.dumps({})


# Later domains (forums) hand in what must happen when someone cancels, in their wire(): it runs
# in the same transaction, after the conference and registration rows are locked.
CancelHandler = Callable[[asyncpg.Connection, int], Awaitable[None]]
_cancel_handlers: list[CancelHandler] = []


def on_cancelled(handler: CancelHandler) -> CancelHandler:
    return add_once(_cancel_handlers, handler)


def invalid_link() -> NotFound:
    # The same answer for a forged, an expired and a mistyped link: it reveals nothing.
    return NotFound(
        _("This link is not valid (any more). Please use the link from your latest e-mail.")
    )


class ConfirmationClosed(Closed):
    """A confirmation link used after registration closed or the conference ended: it took
    no place (409; the confirmation page shows registration/confirm_closed.html)."""

    def __init__(self, conference_id: int) -> None:
        super().__init__(
            detail=_(
                "Registration for this conference is closed. This confirmation link can no "
                "longer be used, and no place is held for you."
            )
        )
        self.conference_id = conference_id


def token(key: bytes, purpose: str, salt: bytes) -> str:
    return tokens.derive(key, purpose, salt)


# The calendar feed's own token: read-only, it opens the subscription feed and nothing else
# (views.calendar_links). From the manage salt under a purpose of its own, so it is a token
# independent of the self-service link, and a new manage salt renews both.
CALENDAR_FEED = "calendar-feed"


def calendar_token(key: bytes, manage_salt: bytes) -> str:
    return token(key, CALENDAR_FEED, manage_salt)


async def mail(
    db: asyncpg.Connection,
    kind: str,
    registration: asyncpg.Record | dict,
    *,
    limited: bool = False,
) -> None:
    """`limited`: someone else can make us send it (a registration or its re-send, a pass), so
    it counts against the address's share per hour and is left out beyond it (mail_quota)."""
    await (mail_quota.enqueue if limited else outbox.enqueue)(
        db,
        kind,
        recipient=registration["email"],
        language=registration["language"],
        ref_id=registration["id"],
    )


def check_window(conference: asyncpg.Record) -> None:
    """409 with the reason when registration is not open now."""
    if conference["registration_open"]:
        return
    if conference["registration_closes_at"] <= datetime.now(UTC):
        raise Closed(_("Registration for this conference has closed."))
    raise Closed(_("Registration for this conference has not opened yet."))


async def open_conference(db: asyncpg.Connection, slug: str) -> asyncpg.Record:
    """The published conference, if registration is open now; else 404 or 409 with the reason."""
    conference = await published_conference(db, slug)
    check_window(conference)
    return conference


def consent_errors(consents: dict[str, bool], needs_given: bool) -> dict[str, str]:
    errors = {}
    if not consents.get("privacy"):
        errors["consents.privacy"] = _("Please confirm that you have read the privacy notice.")
    if needs_given and not consents.get("special_category"):
        errors["consents.special_category"] = _(
            "We may only store your needs with your consent. Please consent or leave the "
            "needs empty."
        )
    return errors


async def register(
    db: asyncpg.Connection,
    key: bytes,
    slug: str,
    fields: dict[str, Any],
    consents: dict[str, bool],
) -> None:
    """Always the same outcome for the caller, whether the address is new or known: a mail
    goes out — the confirmation link, or for a confirmed address its self-service link —
    unless the address had its share of such mails this hour (mail_quota)."""
    fields = {**fields, "email": fields["email"].strip().lower(), "name": fields["name"].strip()}
    needs_given = bool(fields.get("needs"))
    errors = consent_errors(consents, needs_given)
    if errors:
        raise FieldErrors(errors)
    if not needs_given:
        fields["needs"] = {}
    async with db.transaction():
        conference = await open_conference(db, slug)
        salts = {purpose: tokens.new_salt() for purpose in ("confirm", "manage", "ticket")}
        hashes = {p: tokens.digest(token(key, p, salt)) for p, salt in salts.items()}
        hashes["calendar"] = tokens.digest(calendar_token(key, salts["manage"]))
        registration_id = await queries.insert(db, conference["id"], fields, salts, hashes)
        if registration_id is not None:
            given = {kind: CONSENT_TEXT_VERSIONS[kind] for kind, yes in consents.items() if yes}
            await queries.add_consents(db, registration_id, given)
            await mail(db, MAIL_CONFIRM, {**fields, "id": registration_id}, limited=True)
            return
        existing = await queries.active_by_email(db, conference["id"], fields["email"])
        if existing["status"] == "pending_confirmation":
            if existing["expired"]:
                salt = tokens.new_salt()
                await queries.renew_confirmation(
                    db, existing["id"], salt, tokens.digest(token(key, "confirm", salt))
                )
            await mail(db, MAIL_CONFIRM, existing, limited=True)
        else:
            await mail(db, MAIL_MANAGE_LINK, existing, limited=True)


async def confirm(db: asyncpg.Connection, key: bytes, confirm_token: str) -> tuple[str, str]:
    """(status, manage token). Using a link twice gives the same answer again.

    One statement, registration_confirm (migrations/0011_confirm_function.sql): the lookup, the
    conference row's lock and then the registration's, the place or the next waiting place, the
    status, and the mail — the outbox row exactly as outbox.enqueue writes it, with its NOTIFY —
    so the conference row, which every confirmation of a conference queues for, is held for
    that one round trip and the commit instead of five. The mail kinds, the payload text and
    the channel are handed in from here, so they stay defined once, in Python."""
    if not tokens.looks_valid(confirm_token):
        raise invalid_link()
    answer = await queries.confirm(
        db,
        tokens.digest(confirm_token),
        ticket_kind=MAIL_TICKET,
        waitlisted_kind=MAIL_WAITLISTED,
        payload=_CONFIRM_MAIL_PAYLOAD,
        channel=outbox.CHANNEL,
    )
    status = answer["status"]
    if status == "cancelled":
        raise WrongState(_("This registration was cancelled. You are welcome to register again."))
    if status == "closed":  # the window closed or the conference ended first (migration 0018)
        pending = await queries.by_hash(db, "confirm_hash", tokens.digest(confirm_token))
        if pending is None:  # made anonymous in between
            raise invalid_link()
        raise ConfirmationClosed(pending["conference_id"])
    if status not in ("confirmed", "waitlisted"):  # 'invalid' (no such link) or 'expired'
        raise invalid_link()
    return status, token(key, "manage", answer["manage_salt"])


async def by_id(db: asyncpg.Connection, registration_id: int) -> asyncpg.Record | None:
    """The registration with this id, or None (gone, e.g. erased): for other domains, whose
    rows (a forum sign-up, a forum mail) name the person by id."""
    return await queries.by_id(db, registration_id)


async def by_manage_token(db: asyncpg.Connection, manage_token: str) -> asyncpg.Record:
    if not tokens.looks_valid(manage_token):
        raise invalid_link()
    registration = await queries.by_hash(db, "manage_hash", tokens.digest(manage_token))
    if registration is None:
        raise invalid_link()
    return registration


async def _fill_freed_seat(db: asyncpg.Connection, conference_id: int) -> None:
    """A place became free: the first on the waiting list gets it at once, else it is free."""
    waiting = await queries.first_waiting(db, conference_id)
    if waiting is None:
        await queries.release_seat(db, conference_id)
        return
    await queries.mark_confirmed(db, waiting["id"])
    await mail(db, MAIL_PROMOTED, waiting)


async def cancel(
    db: asyncpg.Connection,
    registration_id: int,
    *,
    limited_mail: bool = False,
    staff: StaffUser | None = None,
) -> None:
    """Cancels (again: nothing happens); a held place goes to the first person waiting.
    `limited_mail`: someone else cancelled it (an exhibitor removing a pass), see `mail`.
    `staff`: a staff member cancels it (the audit log records it)."""
    async with db.transaction():
        found = await queries.by_id(db, registration_id)
        if found is None:
            raise invalid_link()
        await queries.lock_conference(db, found["conference_id"])
        registration = await queries.by_id(db, registration_id, lock=True)
        if registration["status"] == "cancelled":
            return
        await queries.mark_cancelled(db, registration_id)
        for handler in _cancel_handlers:
            await handler(db, registration_id)
        # Exhibitor passes never took a seat, so they free none.
        holds_seat = registration["category"] != "exhibitor_staff"
        if registration["status"] == "confirmed" and holds_seat:
            await _fill_freed_seat(db, registration["conference_id"])
        await mail(db, MAIL_CANCELLED, registration, limited=limited_mail)
        await audit.staff_action(db, staff, "registration.cancelled", **audit_subject(registration))


async def promote_into_free_seats(db: asyncpg.Connection, conference_id: int) -> int:
    """After the capacity grew: as many as now fit move up from the waiting list, in order."""
    promoted = 0
    while True:
        waiting = await queries.first_waiting(db, conference_id)
        if waiting is None or not await queries.take_seat(db, conference_id):
            return promoted
        await queries.mark_confirmed(db, waiting["id"])
        await mail(db, MAIL_PROMOTED, waiting)
        promoted += 1


CALENDAR_FIELDS = {"title", "starts_at", "ends_at", "venue", "address", "description"}


async def conference_changed(
    db: asyncpg.Connection, conference: asyncpg.Record, changes: dict[str, Any]
) -> None:
    """Runs inside the conference update, with the conference row locked (registered with
    service.events by registration.wire)."""
    if "capacity" in changes:
        await promote_into_free_seats(db, conference["id"])
    if CALENDAR_FIELDS & changes.keys():
        for attendee in await queries.bump_calendars(db, conference["id"]):
            await mail(db, MAIL_CONFERENCE_CHANGED, attendee)


async def reissue_ticket(
    db: asyncpg.Connection, key: bytes, registration_id: int, *, staff: StaffUser | None = None
) -> None:
    """A new ticket secret (the old one stops working) and a mail with the new ticket."""
    async with db.transaction():
        registration = await queries.by_id(db, registration_id, lock=True)
        if registration is None:
            raise NotFound(_("There is no such registration."))
        if registration["status"] != "confirmed":
            raise WrongState(_("Only a confirmed registration has a ticket."))
        salt = tokens.new_salt()
        await queries.new_ticket(
            db, registration_id, salt, tokens.digest(token(key, "ticket", salt))
        )
        await mail(db, MAIL_TICKET, registration)
        await audit.staff_action(
            db, staff, "registration.ticket_reissued", **audit_subject(registration)
        )


def audit_subject(registration: asyncpg.Record, *, named: bool = True) -> dict[str, Any]:
    """What an audit entry about the registration names (service.audit): the person's name,
    which goes from the entries when the person is erased (privacy.anonymise)."""
    return {
        "conference_id": registration["conference_id"],
        "subject_type": "registration",
        "subject_id": registration["id"],
        "subject_label": registration["name"] if named else "",
    }
