"""The audit log: who did what, when, on which subject (migration 0021).

Every staff action records itself with `record()` on the connection of its own transaction,
so the entry exists exactly when the action does. The entry holds ids, kinds and the names of
changed fields, never personal values; the words that name people (the staff member's e-mail,
the address of a failed login, a device's name, an attendee's name as subject) go to
audit_labels, which the retention purge empties while the entries stay.

Actions are `<thing>.<verb>`: conference.updated, exhibitor_booking.approved, checkin.manual,
checkin.undone, registration.added, registration.updated, registration.erased,
export.downloaded, announcement.sent, staff.invited, staff.updated, device.added,
device.removed, staff.login, staff.login_failed, …
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import asyncpg


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
    entry_id = await db.fetchval(
        """
        INSERT INTO audit_log (conference_id, actor_staff_id, actor_device_id, action,
                               subject_type, subject_id, details)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id
        """,
        conference_id,
        staff_id,
        device_id,
        action,
        subject_type,
        "" if subject_id is None else str(subject_id),
        json.dumps(payload, default=str),
    )
    if label or subject_label:
        await db.execute(
            "INSERT INTO audit_labels (entry_id, actor, subject) VALUES ($1, $2, $3)",
            entry_id,
            label,
            subject_label,
        )
    return entry_id
