"""The booking workflow: request (double opt-in) → review → approved with a stand, waiting
list or rejected; stand staff passes; the stand catalogue.

A stand is never assigned twice: the UNIQUE on exhibitor_bookings.stand_id decides, and each
assignment first locks the stand's row, so concurrent approvals onto one stand queue up and
all but the first get a clear 409.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from exhibitors import queries
from registration import issue_pass, withdraw_pass
from registration.logic import CONSENT_TEXT_VERSIONS, check_window
from service import audit, mail_quota, outbox, tokens
from service.auth import StaffUser
from service.conferences.lookups import published_conference, staff_conference
from service.domain_errors import Closed, Conflict, FieldErrors, Full, NotFound, Taken, WrongState
from service.i18n import gettext as _

MAIL_CONFIRM = "exhibitor.confirm"
MAIL_MANAGE_LINK = "exhibitor.manage_link"
MAIL_REQUESTED = "exhibitor.requested"
MAIL_APPROVED = "exhibitor.approved"
MAIL_WAITLISTED = "exhibitor.waitlisted"
MAIL_REJECTED = "exhibitor.rejected"
MAIL_CANCELLED = "exhibitor.cancelled"
MAIL_STAND_CHANGED = "exhibitor.stand_changed"
MAIL_RELEASED = "exhibitor.released"


def token(key: bytes, purpose: str, salt: bytes) -> str:
    return tokens.derive(key, f"exhibitor-{purpose}", salt)


def invalid_link() -> NotFound:
    return NotFound(
        _("This link is not valid (any more). Please use the link from your latest e-mail.")
    )


def booking_not_found() -> NotFound:
    return NotFound(_("There is no such booking."))


def stand_not_found() -> NotFound:
    return NotFound(_("There is no such stand."))


async def mail(
    db: asyncpg.Connection, kind: str, booking: asyncpg.Record | dict, *, limited: bool = False
) -> None:
    """`limited`: anyone can make us send it (a request or its re-send), so it counts against
    the address's share per hour and is left out beyond it (service.mail_quota)."""
    await (mail_quota.enqueue if limited else outbox.enqueue)(
        db, kind, recipient=booking["email"], language=booking["language"], ref_id=booking["id"]
    )


# ── stands ──────────────────────────────────────────────────────────────────────────────


def _stand_taken_code() -> FieldErrors:
    return FieldErrors({"code": _("A stand with this code already exists.")}, taken=True)


async def create_stands(
    db: asyncpg.Connection,
    slug: str,
    stands: list[dict[str, Any]],
    *,
    staff: StaffUser | None,
) -> list[int]:
    """`staff`: the caller, who must be able to see the conference (None: the demo)."""
    try:
        async with db.transaction():
            conference = await staff_conference(db, slug, staff)  # published or not yet
            made = []
            for stand in stands:  # one audit entry per stand: each is a subject of its own
                stand_id = await queries.insert_stand(db, conference["id"], stand)
                await audit.staff_action(
                    db, staff, "stand.created", **_stand_subject(conference["id"], stand_id, stand)
                )
                made.append(stand_id)
            return made
    except asyncpg.UniqueViolationError:
        raise _stand_taken_code() from None


def stand_row(row: dict[str, Any]) -> list[dict[str, Any]]:
    """B1 … B10 side by side (or one under the other) with `gap_m` between them."""
    stands = []
    for i in range(row["count"]):
        step = i * (
            (row["width_m"] if row["direction"] == "right" else row["depth_m"]) + row["gap_m"]
        )
        stands.append(
            {
                "code": f"{row['prefix']}{row['first_number'] + i}",
                "area": row["area"],
                "width_m": row["width_m"],
                "depth_m": row["depth_m"],
                "features": row["features"],
                "price_cents": row["price_cents"],
                "max_staff": row["max_staff"],
                "x": row["x"] + (step if row["direction"] == "right" else 0),
                "y": row["y"] + (step if row["direction"] == "down" else 0),
            }
        )
    return stands


def _stand_subject(conference_id: int, stand_id: int, stand: Any) -> dict[str, Any]:
    """What an audit entry about the stand names (service.audit): its code."""
    return {
        "conference_id": conference_id,
        "subject_type": "stand",
        "subject_id": stand_id,
        "subject_label": stand["code"],
    }


async def update_stand(
    db: asyncpg.Connection,
    stand_id: int,
    changes: dict[str, Any],
    *,
    staff: StaffUser | None = None,
) -> None:
    """`staff`: who changes it, for the audit log (None: the demo)."""
    async with db.transaction():
        stand = await queries.lock_stand(db, stand_id)
        if stand is None:
            raise stand_not_found()
        if changes.get("blocked") and await queries.stand_holder(db, stand_id):
            raise Taken(_("This stand is assigned to an exhibitor; release it first."))
        await queries.update_stand(db, stand_id, changes)
        changed = [k for k, v in changes.items() if k not in stand or stand[k] != v]
        if changed:
            subject = _stand_subject(stand["conference_id"], stand_id, {**dict(stand), **changes})
            await audit.staff_action(db, staff, "stand.updated", **subject, fields=changed)


def misfit(stand: asyncpg.Record, booking: asyncpg.Record) -> str | None:
    """Why this stand does not meet the request, or None if it does."""
    if booking["wished_width_m"] and stand["width_m"] < booking["wished_width_m"]:
        return _("The stand is narrower than requested.")
    if booking["wished_depth_m"] and stand["depth_m"] < booking["wished_depth_m"]:
        return _("The stand is less deep than requested.")
    if not set(booking["wished_features"]) <= set(stand["features"]):
        return _("The stand lacks a requested feature.")
    if stand["max_staff"] < booking["staff_count"]:
        return _("The stand has room for fewer staff than requested.")
    return None


# ── requests by organisations ───────────────────────────────────────────────────────────


async def request_booking(
    db: asyncpg.Connection, key: bytes, slug: str, values: dict[str, Any]
) -> None:
    """The same outcome for new and known addresses: a mail with the link goes out. The
    request keeps the version of the privacy notice shown with the form (GDPR Art. 13)."""
    values = {
        **values,
        "email": values["email"].strip().lower(),
        "privacy_notice_version": CONSENT_TEXT_VERSIONS["privacy"],
    }
    async with db.transaction():
        conference = await published_conference(db, slug)
        check_window(conference)
        salts = {p: tokens.new_salt() for p in ("confirm", "manage")}
        hashes = {p: tokens.digest(token(key, p, s)) for p, s in salts.items()}
        booking_id = await queries.insert_booking(db, conference["id"], values, salts, hashes)
        if booking_id is not None:
            await mail(db, MAIL_CONFIRM, {**values, "id": booking_id}, limited=True)
            return
        existing = await queries.active_by_email(db, conference["id"], values["email"])
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
    """(status, manage token); a used link gives the same answer again."""
    if not tokens.looks_valid(confirm_token):
        raise invalid_link()
    async with db.transaction():
        found = await queries.booking_by_hash(db, "confirm_hash", tokens.digest(confirm_token))
        if found is None:
            raise invalid_link()
        booking = await queries.booking(db, found["id"], lock=True)
        if booking["status"] == "pending_confirmation":
            if booking["expired"]:
                raise invalid_link()
            await queries.set_status(db, booking["id"], "requested")
            await mail(db, MAIL_REQUESTED, booking)
            status = "requested"
        else:
            status = booking["status"]
    return status, token(key, "manage", booking["manage_salt"])


async def by_manage_token(db: asyncpg.Connection, manage_token: str) -> asyncpg.Record:
    if not tokens.looks_valid(manage_token):
        raise invalid_link()
    booking = await queries.booking_by_hash(db, "manage_hash", tokens.digest(manage_token))
    if booking is None:
        raise invalid_link()
    return booking


async def update_directory(
    db: asyncpg.Connection, booking: asyncpg.Record, changes: dict[str, Any]
) -> None:
    if booking["status"] in ("cancelled", "rejected"):
        raise Closed(_("This booking is closed."))
    await queries.update_directory(db, booking["id"], changes)


# ── review by staff ─────────────────────────────────────────────────────────────────────


async def _locked_booking(db: asyncpg.Connection, booking_id: int) -> asyncpg.Record:
    booking = await queries.booking(db, booking_id, lock=True)
    if booking is None:
        raise booking_not_found()
    return booking


async def _assign(db: asyncpg.Connection, booking: asyncpg.Record, stand_id: int) -> asyncpg.Record:
    """The stand, now the booking's."""
    stand = await queries.lock_stand(db, stand_id)
    if stand is None or stand["conference_id"] != booking["conference_id"]:
        raise Conflict(_("There is no such stand at this conference."))
    if stand["blocked"]:
        raise Taken(_("This stand is blocked and cannot be booked."))
    holder = await queries.stand_holder(db, stand_id)
    if holder is not None and holder != booking["id"]:
        raise Taken(_("This stand is already assigned to another exhibitor."))
    reason = misfit(stand, booking)
    if reason:
        raise Conflict(reason)
    try:
        async with db.transaction():
            await queries.set_status(db, booking["id"], "approved", stand_id=stand_id)
    except asyncpg.UniqueViolationError:
        raise Taken(_("This stand is already assigned to another exhibitor.")) from None
    return stand


async def _decided(
    db: asyncpg.Connection,
    staff: StaffUser | None,
    action: str,
    booking: asyncpg.Record,
    stand: asyncpg.Record | None = None,
) -> None:
    """The audit entry of a staff decision about a booking (service.audit): it names the
    organisation, and the stand by its code. The reason given is not kept: free text."""
    await audit.staff_action(
        db,
        staff,
        action,
        conference_id=booking["conference_id"],
        subject_type="exhibitor_booking",
        subject_id=booking["id"],
        subject_label=booking["organisation"],
        details={"stand": stand["code"]} if stand is not None else None,
    )


async def approve(
    db: asyncpg.Connection, booking_id: int, stand_id: int, *, staff: StaffUser | None = None
) -> None:
    """`staff`, here and below: who decides, for the audit log (None: the demo)."""
    async with db.transaction():
        booking = await _locked_booking(db, booking_id)
        if booking["status"] not in ("requested", "waitlisted"):
            raise WrongState(_("Only a requested or waiting booking can be approved."))
        stand = await _assign(db, booking, stand_id)
        await mail(db, MAIL_APPROVED, booking)
        await _decided(db, staff, "exhibitor_booking.approved", booking, stand)


async def reassign(
    db: asyncpg.Connection, booking_id: int, stand_id: int, *, staff: StaffUser | None = None
) -> None:
    async with db.transaction():
        booking = await _locked_booking(db, booking_id)
        if booking["status"] != "approved":
            raise WrongState(_("Only an approved booking has a stand to change."))
        stand = await queries.stand(db, stand_id)
        named = len(await queries.passes(db, booking_id))
        if stand is not None and stand["max_staff"] < named:
            raise Full(
                _(
                    "%(named)s stand staff are named, but that stand allows %(n)s; remove "
                    "people first.",
                    named=named,
                    n=stand["max_staff"],
                )
            )
        stand = await _assign(db, booking, stand_id)
        await mail(db, MAIL_STAND_CHANGED, booking)
        await _decided(db, staff, "exhibitor_booking.reassigned", booking, stand)


async def decide(
    db: asyncpg.Connection,
    booking_id: int,
    status: str,
    reason: str,
    *,
    staff: StaffUser | None = None,
) -> None:
    """Waiting list or rejection (with a reason the organisation reads)."""
    allowed = {
        "waitlisted": ("requested", "approved"),
        "rejected": ("requested", "waitlisted", "approved"),
    }[status]
    async with db.transaction():
        booking = await _locked_booking(db, booking_id)
        if booking["status"] not in allowed:
            raise WrongState(_("This step is not possible for a booking in this state."))
        await queries.set_status(db, booking_id, status, reason=reason)
        await _withdraw_passes(db, booking_id)  # passes exist only while there is a stand
        await mail(db, MAIL_WAITLISTED if status == "waitlisted" else MAIL_REJECTED, booking)
        await _decided(db, staff, f"exhibitor_booking.{status}", booking)


async def release(
    db: asyncpg.Connection, booking_id: int, *, staff: StaffUser | None = None
) -> None:
    """The stand is free again; the booking goes back to the queue as requested."""
    async with db.transaction():
        booking = await _locked_booking(db, booking_id)
        if booking["status"] != "approved":
            raise WrongState(_("Only an approved booking has a stand to release."))
        await queries.set_status(db, booking_id, "requested")
        await _withdraw_passes(db, booking_id)  # passes exist only while there is a stand
        await mail(db, MAIL_RELEASED, booking)
        await _decided(db, staff, "exhibitor_booking.released", booking)


async def cancel(db: asyncpg.Connection, booking: asyncpg.Record) -> None:
    async with db.transaction():
        booking = await _locked_booking(db, booking["id"])
        if booking["status"] == "cancelled":
            return
        await queries.set_status(db, booking["id"], "cancelled")
        await _withdraw_passes(db, booking["id"])
        await mail(db, MAIL_CANCELLED, booking)


# ── passes for stand staff ──────────────────────────────────────────────────────────────


async def add_pass(
    db: asyncpg.Connection,
    key: bytes,
    booking: asyncpg.Record,
    name: str,
    email: str,
    language: str,
) -> int:
    async with db.transaction():
        booking = await _locked_booking(db, booking["id"])
        if booking["status"] != "approved":
            raise WrongState(_("Passes are issued once the stand is approved."))
        named = await queries.passes(db, booking["id"])
        if len(named) >= booking["max_staff"]:
            raise Full(
                _(
                    "This stand has passes for %(n)s people; remove someone first.",
                    n=booking["max_staff"],
                )
            )
        # Only this stand's own list is checked (under the booking's lock): whether the person
        # is registered otherwise, the exhibitor must not learn (registration.passes).
        if email.strip().lower() in {held["email"] for held in named}:
            raise Taken(_("This person is already named for your stand."))
        registration_id = await issue_pass(
            db,
            key,
            booking["conference_id"],
            name=name,
            email=email,
            organisation=booking["organisation"],
            language=language,
        )
        await queries.add_pass(db, booking["id"], registration_id)
        return registration_id


async def remove_pass(
    db: asyncpg.Connection, booking: asyncpg.Record, registration_id: int
) -> None:
    held = {p["id"] for p in await queries.passes(db, booking["id"])}
    if registration_id not in held:
        raise NotFound(_("There is no such pass."))
    await withdraw_pass(db, registration_id, removed_by_exhibitor=True)


async def _withdraw_passes(db: asyncpg.Connection, booking_id: int) -> None:
    for held in await queries.passes(db, booking_id):
        await withdraw_pass(db, held["id"])
