"""The audit log: who did what, when, on which subject (migration 0021).

Every staff action records itself with `record()` on the connection of its own transaction,
so the entry exists exactly when the action does (an action that fails leaves none). The entry
holds ids, kinds and the names of changed fields, never personal values; the words that name
people (the staff member's e-mail, the address of a failed login, a device's name, an
attendee's name as subject) go to audit_labels. Erasing a person takes their name from the
entries about them (`forget_subjects`); the retention purge empties the labels of ended
conferences (`forget_ended`). The entries themselves stay: the table refuses UPDATE, DELETE
and TRUNCATE.

Actions are `<thing>.<verb>` (service.audit.views names each in words): conference.created,
conference.updated, programme_item.*, forum.*, stand.*, exhibitor_booking.approved,
checkin.manual, checkin.undone, registration.cancelled, registration.erased,
export.downloaded, announcement.sent, staff.invited, staff.updated, device.added,
device.removed, staff.login, staff.login_failed, …
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import asyncpg

from service.audit import queries


class Actor(Protocol):
    """Who acts: a staff member (service.auth.StaffUser) or a paired door device."""

    id: int | None
    email: str
    device_id: int | None


async def record(
    db: asyncpg.Connection,
    action: str,
    *,
    actor: Actor | None,
    conference_id: int | None = None,
    subject_type: str = "",
    subject_id: int | str | None = None,
    subject_label: str = "",
    fields: Iterable[str] = (),
    details: Mapping[str, Any] | None = None,
    actor_label: str | None = None,
) -> int:
    """Appends one entry; returns its id. `fields`: the names of changed fields (kept in
    details["fields"]); `details`: further facts that name nobody (an override, a count, a
    format). `actor_label` overrides how the actor is named (a failed login's address)."""
    payload = dict(details or {})
    changed = sorted(set(fields))
    if changed:
        payload["fields"] = changed
    device_id = getattr(actor, "device_id", None) if actor is not None else None
    staff_id = None if actor is None or device_id is not None else actor.id
    label = actor_label if actor_label is not None else (actor.email if actor else "")
    entry_id = await queries.insert_entry(
        db,
        conference_id=conference_id,
        staff_id=staff_id,
        device_id=device_id,
        action=action,
        subject_type=subject_type,
        subject_id="" if subject_id is None else str(subject_id),
        details=json.dumps(payload, default=str),
    )
    if label or subject_label:
        await queries.insert_labels(db, entry_id, label, subject_label)
    return entry_id


async def forget_subjects(db: asyncpg.Connection, subject_type: str, subject_ids: list[int]) -> int:
    """Erasure: entries about these subjects (registrations of an erased person) no longer name
    them; the entries and who acted stay. Returns how many labels lost their subject."""
    if not subject_ids:
        return 0
    return await queries.forget_subjects(db, subject_type, [str(i) for i in subject_ids])


async def forget_ended(db: asyncpg.Connection, days_after_end: int) -> tuple[int, int]:
    """The retention purge: the labels (staff e-mails, names, devices) of entries about
    conferences that ended `days_after_end` days ago or earlier, and of entries that old about
    no conference, are deleted; the entries stay, their actor then shown as an account or
    device number. (labels, conferences)."""
    return await queries.forget_labels_of_ended(db, days_after_end)


async def staff_action(
    db: asyncpg.Connection, staff: Actor | None, action: str, **entry: Any
) -> int | None:
    """`record()` for a rule in `logic` that staff and the demo (or the CLI) share: an entry
    when a staff member or device acts, none when `staff` is None (nobody acts: demo data)."""
    if staff is None:
        return None
    return await record(db, action, actor=staff, **entry)


async def own_account(db: asyncpg.Connection, action: str, staff: Actor) -> int:
    """An entry about the acting staff member's own account (password, two-factor login)."""
    return await record(
        db,
        action,
        actor=staff,
        subject_type="staff",
        subject_id=staff.id,
        subject_label=staff.email,
    )


async def downloaded(
    db: asyncpg.Connection,
    staff: Actor,
    what: str,
    *,
    format: str = "csv",
    conference_id: int | None,
    subject_type: str = "conference",
    subject_id: int | None = None,
    subject_label: str = "",
) -> int:
    """`export.downloaded`: someone took data away (a CSV, badges, one person's data). Written
    before the file streams, on the request's connection: the entry stands for the request."""
    return await record(
        db,
        "export.downloaded",
        actor=staff,
        conference_id=conference_id,
        subject_type=subject_type,
        subject_id=conference_id if subject_id is None else subject_id,
        subject_label=subject_label,
        details={"format": format, "what": what},
    )
