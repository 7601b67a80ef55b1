"""Forum rules: sign-up and leave with capacity, the waiting list, no clashes, changes.

Lock order everywhere: conference row, then registration row, then forum rows by id. Seats
change only under the forum row's lock by one atomic UPDATE; the exclusion constraint on
forum_signups is the last word on clashes, whatever runs at the same moment.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from forums import queries
from registration import logic as registration_logic
from service import audit, outbox
from service.auth import StaffUser
from service.conferences import queries as conference_queries
from service.conferences.lookups import check_scope
from service.domain_errors import Clash, Closed, Conflict, FieldErrors, NotFound, WrongState
from service.i18n import gettext as _

MAIL_PROMOTED = "forum.promoted"
MAIL_CHANGED = "forum.changed"
MAIL_CANCELLED = "forum.cancelled"
NOTIFY_FIELDS = {"starts_at", "ends_at", "room", "title"}


def forum_not_found() -> NotFound:
    return NotFound(_("There is no such forum."))


def forum_errors(values: dict[str, Any], conference: asyncpg.Record) -> dict[str, str]:
    errors: dict[str, str] = {}
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The end must be after the start.")
    if starts and not conference["starts_at"] <= starts < conference["ends_at"]:
        errors["starts_at"] = _("The forum must lie inside the conference time.")
    if ends and "ends_at" not in errors and ends > conference["ends_at"]:
        errors["ends_at"] = _("The forum must end by the end of the conference.")
    return errors


async def _mail(
    db: asyncpg.Connection, kind: str, registration_id: int, forum_id: int, **extra: Any
) -> None:
    person = await registration_logic.by_id(db, registration_id)
    await outbox.enqueue(
        db,
        kind,
        recipient=person["email"],
        language=person["language"],
        ref_id=registration_id,
        payload={"forum_id": forum_id, **extra},
    )


async def create_forum(
    db: asyncpg.Connection, slug: str, values: dict[str, Any], *, staff: StaffUser | None
) -> int:
    """`staff`: the caller, who must be able to see the conference (None: the demo)."""
    async with db.transaction():
        conference = await conference_queries.by_slug(db, slug, for_update=True)
        if conference is None:
            raise NotFound(_("There is no conference at this address."))
        check_scope(staff, conference["id"])
        errors = forum_errors(values, conference)
        if errors:
            raise FieldErrors(errors)
        forum_id = await queries.insert(db, conference["id"], values)
        await audit.staff_action(
            db, staff, "forum.created", **_subject(conference["id"], forum_id, values["title"])
        )
        return forum_id


def _subject(conference_id: int, forum_id: int, title: str) -> dict[str, Any]:
    """What an audit entry about the forum names (service.audit)."""
    return {
        "conference_id": conference_id,
        "subject_type": "forum",
        "subject_id": forum_id,
        "subject_label": title,
    }


async def _fill_seats(db: asyncpg.Connection, forum: asyncpg.Record) -> int:
    """Free seats go to those waiting, in order; someone who now holds a clashing forum is
    passed over and keeps their place in the queue. Returns how many moved up."""
    promoted = 0
    for candidate in await queries.waiting_in_order(db, forum["id"]):
        if not await queries.take_seat(db, forum["id"]):
            break
        try:
            async with db.transaction():  # a savepoint: a clash undoes only this promotion
                await queries.promote(db, candidate["id"])
        except asyncpg.ExclusionViolationError:
            await queries.release_seat(db, forum["id"])
            continue
        await _mail(db, MAIL_PROMOTED, candidate["registration_id"], forum["id"])
        promoted += 1
    return promoted


async def update_forum(
    db: asyncpg.Connection,
    forum_id: int,
    changes: dict[str, Any],
    *,
    staff: StaffUser | None = None,
) -> None:
    """`staff`: who changes it, for the audit log (None: the demo)."""
    cancel = changes.pop("cancelled", None)
    try:
        async with db.transaction():
            current = await queries.lock(db, forum_id)
            if current is None:
                raise forum_not_found()
            conference = await conference_queries.by_slug(
                db,
                await queries.conference_slug(db, current["conference_id"]),
            )
            merged = {**dict(current), **changes}
            errors = forum_errors(merged, conference)
            if "capacity" in changes and changes["capacity"] < current["seats_taken"]:
                errors["capacity"] = _(
                    "%(taken)s people hold a seat; the capacity cannot be lower. Move people "
                    "to another forum first.",
                    taken=current["seats_taken"],
                )
            if errors:
                raise FieldErrors(errors)
            changed = {k: v for k, v in changes.items() if current[k] != v}
            if changed:
                await queries.update(db, forum_id, changed)
            if {"starts_at", "ends_at"} & changed.keys():
                await queries.move_signups_in_time(db, forum_id)
            if NOTIFY_FIELDS & changed.keys():
                await queries.bump_sequence(db, forum_id)
                for signup in await _holders(db, forum_id):
                    await _mail(db, MAIL_CHANGED, signup["registration_id"], forum_id)
            if "capacity" in changed and changed["capacity"] > current["capacity"]:
                await _fill_seats(db, await queries.lock(db, forum_id))
            if cancel and current["cancelled_at"] is None:
                for signup in await queries.mark_cancelled(db, forum_id):
                    # Only those who held a seat have the forum in their calendar to cancel.
                    await _mail(
                        db,
                        MAIL_CANCELLED,
                        signup["registration_id"],
                        forum_id,
                        held_seat=signup["previous"] == "confirmed",
                    )
            cancelled = bool(cancel and current["cancelled_at"] is None)
            if cancelled or changed:
                await audit.staff_action(
                    db,
                    staff,
                    "forum.cancelled" if cancelled else "forum.updated",
                    **_subject(current["conference_id"], forum_id, merged["title"]),
                    fields=changed,
                )
    except asyncpg.ExclusionViolationError:
        raise Clash(
            _(
                "At this time the forum would overlap with another forum that some of its "
                "participants hold. Move those people first."
            )
        ) from None


async def _holders(db: asyncpg.Connection, forum_id: int) -> list[asyncpg.Record]:
    return await queries.holders(db, forum_id)


async def _registration_for_signup(
    db: asyncpg.Connection, registration_id: int, forum: asyncpg.Record
) -> asyncpg.Record:
    """The registration row, share-locked (so it cannot be cancelled meanwhile), which must
    be confirmed and of the forum's conference."""
    registration = await queries.share_registration_status(db, registration_id)
    if registration["conference_id"] != forum["conference_id"]:
        raise forum_not_found()
    if registration["status"] != "confirmed":
        raise WrongState(_("Only confirmed attendees of the conference can sign up for forums."))
    return registration


async def sign_up(
    db: asyncpg.Connection, registration_id: int, forum_id: int
) -> tuple[str, int | None]:
    """(status, waiting-list place). Signing up again gives the same answer."""
    try:
        async with db.transaction():
            forum = await queries.row(db, forum_id)
            if forum is None:
                raise forum_not_found()
            await _registration_for_signup(db, registration_id, forum)
            forum = await queries.lock(db, forum_id)
            if forum["cancelled_at"] is not None:
                raise Closed(_("This forum has been cancelled."))
            existing = await queries.signup(db, forum_id, registration_id)
            if existing is not None and existing["status"] != "left":
                return existing["status"], await queries.waitlist_place(db, existing)
            # Checked under the forum row's lock, in the transaction that takes the seat.
            if await queries.is_over(db, forum_id):
                raise Closed(_("This forum is over: signing up is no longer possible."))
            clashing = await queries.clash(db, registration_id, forum)
            if clashing is not None:
                raise _clash(clashing["title"])
            status = "confirmed" if await queries.take_seat(db, forum_id) else "waitlisted"
            signup = await queries.upsert_signup(db, forum, registration_id, status)
            return status, await queries.waitlist_place(db, signup)
    except asyncpg.ExclusionViolationError:
        # Another request of the same person took an overlapping forum a moment earlier.
        forum = await queries.row(db, forum_id)
        clashing = await queries.clash(db, registration_id, forum)
        raise _clash(clashing["title"] if clashing else "?") from None


def _clash(title: str) -> Conflict:
    return Clash(
        _(
            "This forum overlaps in time with “%(title)s”, which you have already chosen. "
            "Leave that forum first.",
            title=title,
        )
    )


async def leave(db: asyncpg.Connection, registration_id: int, forum_id: int) -> None:
    async with db.transaction():
        forum = await queries.row(db, forum_id)
        if forum is None:
            raise forum_not_found()
        await queries.share_registration(db, registration_id)
        forum = await queries.lock(db, forum_id)
        signup = await queries.signup(db, forum_id, registration_id)
        if signup is None or signup["status"] == "left":
            raise WrongState(_("You are not signed up for this forum."))
        await _leave(db, forum, signup)


async def _leave(db: asyncpg.Connection, forum: asyncpg.Record, signup: asyncpg.Record) -> None:
    await queries.set_left(db, signup["id"])
    if signup["status"] == "confirmed":
        await queries.release_seat(db, forum["id"])
        await _fill_seats(db, forum)


async def registration_cancelled(db: asyncpg.Connection, registration_id: int) -> None:
    """A cancelled registration gives up its forums; their seats go to those waiting
    (registration.logic.on_cancelled, registered by forums.wire)."""
    for signup in await queries.active_signups(db, registration_id):
        forum = await queries.lock(db, signup["forum_id"])
        await _leave(db, forum, signup)


async def move(
    db: asyncpg.Connection,
    registration_id: int,
    from_forum_id: int,
    to_forum_id: int,
    *,
    staff: StaffUser | None = None,
) -> str:
    """Staff move a person: out of one forum, into another (a seat, else its waiting list)."""
    async with db.transaction():
        # The lock order: the registration, then both forums by id.
        await queries.share_registration(db, registration_id)
        await queries.lock_forums(db, [from_forum_id, to_forum_id])
        await leave(db, registration_id, from_forum_id)
        status, _position = await sign_up(db, registration_id, to_forum_id)
        person = await registration_logic.by_id(db, registration_id)
        await audit.staff_action(
            db,
            staff,
            "forum.signup_moved",
            conference_id=person["conference_id"],
            subject_type="registration",
            subject_id=registration_id,
            subject_label=person["name"],
            details={"from_forum": from_forum_id, "to_forum": to_forum_id},
        )
        return status
