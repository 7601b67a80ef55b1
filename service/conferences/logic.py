"""Rules about conferences and their programme that the schema alone cannot say.

Both the JSON API and the staff pages go through these functions, so a rule holds everywhere.
Each runs inside the caller's transaction and raises before anything is written.

A change takes the caller as `staff` (None: the demo, the CLI) and checks, on the row it has
locked, that the caller may see that conference (service.conferences.lookups.check_scope): a
conference outside a limited account's is as unknown as a wrong slug.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service import audit, events, staff_queries
from service.auth import StaffUser
from service.conferences import lookups, queries
from service.conferences.schemas import Conference, Organiser, ProgrammeItem
from service.domain_errors import FieldErrors, NotFound
from service.i18n import gettext as _
from service.i18n import ngettext


def not_found() -> NotFound:
    return NotFound(_("There is no conference at this address."))


def conference_errors(values: dict[str, Any], seats_taken: int = 0) -> dict[str, str]:
    """Rules across fields; a value that is missing (or was itself invalid) is skipped, so
    a form can show these messages together with its own."""
    errors: dict[str, str] = {}
    starts, ends = values.get("starts_at"), values.get("ends_at")
    opens, closes = values.get("registration_opens_at"), values.get("registration_closes_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The end must be after the start.")
    if opens and closes and closes <= opens:
        errors["registration_closes_at"] = _("Registration must close after it opens.")
    elif closes and ends and "ends_at" not in errors and closes > ends:
        errors["registration_closes_at"] = _(
            "Registration must close by the end of the conference."
        )
    capacity = values.get("capacity")
    if capacity is not None and capacity < seats_taken:
        errors["capacity"] = ngettext(
            "%(num)s place is already taken; the capacity cannot be lower.",
            "%(num)s places are already taken; the capacity cannot be lower.",
            seats_taken,
        )
    return errors


async def _locked(
    db: asyncpg.Connection,
    slug: str,
    staff: StaffUser | None,
    missing: Callable[[], NotFound] = not_found,
) -> asyncpg.Record:
    """The conference at `slug`, locked for the change, if `staff` may see it; else 404."""
    conference = await queries.by_slug(db, slug, for_update=True)
    if conference is None:
        raise missing()
    lookups.check_scope(staff, conference["id"], missing)
    return conference


def item_not_found() -> NotFound:
    return NotFound(_("There is no such programme item."))


def _subject(conference_id: int, title: str) -> dict[str, Any]:
    """What an audit entry about the conference names (service.audit)."""
    return {
        "conference_id": conference_id,
        "subject_type": "conference",
        "subject_id": conference_id,
        "subject_label": title,
    }


def _item(conference: asyncpg.Record, item_id: int, title: str) -> dict[str, Any]:
    return {
        "conference_id": conference["id"],
        "subject_type": "programme_item",
        "subject_id": item_id,
        "subject_label": title,
    }


def _slug_taken() -> FieldErrors:
    return FieldErrors(
        {"slug": _("This web address is already used by another conference.")}, taken=True
    )


async def create_conference(
    db: asyncpg.Connection, values: dict[str, Any], *, staff: StaffUser | None
) -> str:
    """A limited account's new conference becomes one of its conferences (else it could not
    open what it just made)."""
    values = dict(values)
    values["registration_opens_at"] = values.get("registration_opens_at") or datetime.now(UTC)
    values["registration_closes_at"] = values.get("registration_closes_at") or values["starts_at"]
    errors = conference_errors(values)
    if errors:
        raise FieldErrors(errors)
    try:
        async with db.transaction():
            conference_id = await queries.insert(db, values)
            if staff is not None and staff.conferences is not None:
                await staff_queries.add_conference(db, staff.id, conference_id)
            await audit.staff_action(
                db, staff, "conference.created", **_subject(conference_id, values["title"])
            )
    except asyncpg.UniqueViolationError:
        raise _slug_taken() from None
    return values["slug"]


async def update_conference(
    db: asyncpg.Connection, slug: str, changes: dict[str, Any], *, staff: StaffUser | None
) -> str:
    try:
        async with db.transaction():
            current = await _locked(db, slug, staff)
            merged = {**dict(current), **changes}
            errors = conference_errors(merged, current["seats_taken"])
            bounds = await queries.programme_bounds(db, current["id"])
            if bounds["first"] is not None and (
                bounds["first"] < merged["starts_at"] or bounds["last"] > merged["ends_at"]
            ):
                errors.setdefault(
                    "starts_at", _("The programme must stay inside the conference time.")
                )
            if errors:
                raise FieldErrors(errors)
            changed = {k: v for k, v in changes.items() if current[k] != v}
            if changed:
                await queries.update(db, current["id"], changed)
                updated = await queries.by_slug(db, merged["slug"])
                await events.conference_changed(db, updated, changed)
                await audit.staff_action(
                    db,
                    staff,
                    "conference.updated",
                    **_subject(current["id"], merged["title"]),
                    fields=changed,
                )
    except asyncpg.UniqueViolationError:
        raise _slug_taken() from None
    return merged["slug"]


def item_errors(values: dict[str, Any], conference: asyncpg.Record) -> dict[str, str]:
    """Rules across fields of a programme item; missing values are skipped (see above)."""
    errors: dict[str, str] = {}
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The end must be after the start.")
    if starts and not conference["starts_at"] <= starts < conference["ends_at"]:
        errors["starts_at"] = _("The item must lie inside the conference time.")
    if ends and "ends_at" not in errors and ends > conference["ends_at"]:
        errors["ends_at"] = _("The item must end by the end of the conference.")
    return errors


async def add_item(
    db: asyncpg.Connection, slug: str, values: dict[str, Any], *, staff: StaffUser | None
) -> int:
    async with db.transaction():
        conference = await _locked(db, slug, staff)
        errors = item_errors(values, conference)
        if errors:
            raise FieldErrors(errors)
        item_id = await queries.insert_item(db, conference["id"], values)
        await audit.staff_action(
            db, staff, "programme_item.created", **_item(conference, item_id, values["title"])
        )
        return item_id


async def change_item(
    db: asyncpg.Connection,
    slug: str,
    item_id: int,
    changes: dict[str, Any],
    *,
    staff: StaffUser | None,
) -> None:
    async with db.transaction():
        conference = await _locked(db, slug, staff, item_not_found)
        current = await queries.item(db, conference["id"], item_id)
        if not current:
            raise item_not_found()
        merged = {**dict(current), **changes}
        errors = item_errors(merged, conference)
        if errors:
            raise FieldErrors(errors)
        await queries.update_item(db, item_id, merged)
        changed = [k for k, v in changes.items() if current[k] != v]
        if changed:
            await audit.staff_action(
                db,
                staff,
                "programme_item.updated",
                **_item(conference, item_id, merged["title"]),
                fields=changed,
            )


async def remove_item(
    db: asyncpg.Connection, slug: str, item_id: int, *, staff: StaffUser | None
) -> None:
    async with db.transaction():
        conference = await _locked(db, slug, staff, item_not_found)
        item = await queries.item(db, conference["id"], item_id)
        if not item:
            raise item_not_found()
        await queries.delete_item(db, item_id)
        await audit.staff_action(
            db, staff, "programme_item.deleted", **_item(conference, item_id, item["title"])
        )


def local(moment: datetime, conference: asyncpg.Record) -> datetime:
    return moment.astimezone(ZoneInfo(conference["timezone"]))


def to_api(conference: asyncpg.Record, items: list[asyncpg.Record]) -> Conference:
    return Conference(
        slug=conference["slug"],
        title=conference["title"],
        description=conference["description"],
        venue=conference["venue"],
        address=conference["address"],
        starts_at=local(conference["starts_at"], conference),
        ends_at=local(conference["ends_at"], conference),
        timezone=conference["timezone"],
        capacity=conference["capacity"],
        seats_left=conference["seats_left"],
        registration_opens_at=local(conference["registration_opens_at"], conference),
        registration_closes_at=local(conference["registration_closes_at"], conference),
        registration_open=conference["registration_open"],
        languages=list(conference["languages"]),
        organiser=Organiser(conference["organiser_name"], conference["organiser_email"]),
        published=conference["published"],
        programme=[
            ProgrammeItem(
                id=i["id"],
                title=i["title"],
                kind=i["kind"],
                starts_at=local(i["starts_at"], conference),
                ends_at=local(i["ends_at"], conference),
                room=i["room"],
            )
            for i in items
        ],
    )
