"""Entrance check-in: one decision per scan, a ticket admitted exactly once.

The decision for an entry is one atomic `UPDATE … SET inside = true WHERE … AND NOT inside`:
of any number of simultaneous scans of one ticket, at one door or several, in one process or
many, exactly one changes the row and is `ok`; the others see `already_checked_in` with the
time and door of that entry. A retried request with the same nonce from the same device gets
the answer it got before and records nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from registration import options
from registration.entrance import queries
from service import audit, i18n, tokens
from service.auth import StaffUser

CHECKIN_CHANNEL = "tagung_checkin"
# More refused scans than this per device and minute look like guessing: 429.
FAILED_SCANS_PER_MINUTE = 30
# Category labels per language, as JSON (the catalogues do not change while running).
_LABELS: dict[str, str] = {}
REASONS = ("invalid", "already_checked_in", "cancelled", "not_confirmed", "other_conference")
# A door decides offline while its network is down and uploads when it is back, at the
# conference or at a rehearsal before it (live scans are recorded at any time). A scan from
# longer than this before both the conference's start and the upload comes from a wrong clock;
# stored, it would sit at the far end of the dashboard's timeline and its exports. (A scan
# later than the upload is recorded at the upload: a clock running ahead.)
OFFLINE_SCAN_SLACK = timedelta(days=2)


class TooManyFailures(Exception):
    pass


class UnknownToken(Exception):
    """The API token of a scan is unknown or revoked."""


def _decision(
    status: str,
    reason: str | None,
    person: asyncpg.Record | None,
    checked_in_at: datetime | None,
    gate: str | None,
) -> dict[str, Any]:
    attendee = None
    if person is not None:
        attendee = {
            "name": person["name"],
            "category": person["category"],
            "category_label": options.category_name(person["category"]),
            "organisation": person["organisation"],
        }
    return {
        "status": status,
        "reason": reason,
        "attendee": attendee,
        "checked_in_at": checked_in_at.isoformat() if checked_in_at else None,
        "gate": gate,
    }


async def _record(
    db: asyncpg.Connection,
    *,
    conference_id: int | None,
    registration_id: int | None,
    staff: StaffUser,
    nonce: str | None,
    gate: str,
    kind: str,
    decision: dict[str, Any],
    offline: bool = False,
    scanned_at: datetime | None = None,
) -> None:
    await queries.record_scan(
        db,
        conference_id=conference_id,
        registration_id=registration_id,
        device=staff.device,
        staff_id=staff.id,
        nonce=nonce,
        gate=gate,
        kind=kind,
        status=decision["status"],
        reason=decision["reason"],
        response=json.dumps(decision),
        offline=offline,
        scanned_at=scanned_at,
    )
    if conference_id is not None:
        # Live dashboards in any process hear of it when this commits.
        await queries.notify(db, CHECKIN_CHANNEL, str(conference_id))


def door_gate(staff: StaffUser, gate: str) -> str:
    """The gate a scan is recorded at: a paired door device's own name (what the organiser
    called the door), else the door the scanning staff member named."""
    return staff.email if staff.device_id is not None else gate


async def decide(
    db: asyncpg.Connection,
    staff: StaffUser,
    conference_id: int,
    *,
    person: asyncpg.Record | None,
    gate: str,
    kind: str,
) -> dict[str, Any]:
    """The decision for one person (found by ticket, or picked by staff for a manual entry)."""
    if person is None:
        return _decision("error", "invalid", None, None, None)
    if person["conference_id"] != conference_id:
        return _decision("error", "other_conference", None, None, None)
    if person["status"] == "cancelled":
        return _decision("error", "cancelled", person, None, None)
    if person["status"] != "confirmed":
        return _decision("error", "not_confirmed", person, None, None)
    if kind == "exit":
        left_at = await queries.leave(db, person["id"])
        return _decision("ok", None, person, left_at, gate)
    entered_at = await queries.enter(db, person["id"], gate)
    if entered_at is not None:
        return _decision("ok", None, person, entered_at, gate)
    first = await queries.first_entry(db, person["id"])
    return _decision(
        "error", "already_checked_in", person, first["entered_at"], first["entered_gate"]
    )


async def scan(
    db: asyncpg.Connection,
    staff: StaffUser,
    *,
    conference_slug: str,
    secret: str,
    gate: str = "",
    kind: str = "entry",
    nonce: str | None = None,
    offline: bool = False,
    scanned_at: datetime | None = None,
) -> dict[str, Any]:
    """One scan, decided and recorded in one statement (`checkin_scan`, in
    migrations/functions/: the same steps as `decide` and `_record`, and the retry and guessing
    checks before them)."""
    return _answer(
        await queries.checkin_scan(
            db,
            staff.device,
            staff.id,
            conference_slug,
            _ticket_hash(secret),
            door_gate(staff, gate),
            kind,
            nonce,
            offline,
            scanned_at,
            FAILED_SCANS_PER_MINUTE,
            _category_labels(),
        )
    )


def offline_times_refused(
    scanned_at: Sequence[datetime], starts_at: datetime, now: datetime
) -> dict[str, str]:
    """Field errors (`scans[i].scanned_at`) for offline scans that cannot have happened then."""
    earliest = min(starts_at, now) - OFFLINE_SCAN_SLACK
    return {
        f"scans[{i}].scanned_at": i18n.gettext(
            "This scan time lies too long before the conference and before now "
            "(at most two days): please check the device's clock."
        )
        for i, moment in enumerate(scanned_at)
        if moment < earliest
    }


async def scan_by_token(
    db: asyncpg.Connection,
    token_hash: bytes,
    *,
    conference_slug: str,
    secret: str,
    gate: str = "",
    kind: str = "entry",
    nonce: str | None = None,
) -> dict[str, Any]:
    """A live scan from a device with an API token: the token is checked in the same statement
    (`checkin_scan_by_token`, in migrations/functions/), so the scan is one round trip.
    UnknownToken if the token is unknown or revoked (nothing recorded)."""
    return _answer(
        await queries.checkin_scan_by_token(
            db,
            token_hash,
            conference_slug,
            _ticket_hash(secret),
            gate,
            kind,
            nonce,
            FAILED_SCANS_PER_MINUTE,
            _category_labels(),
        )
    )


def _ticket_hash(secret: str) -> bytes | None:
    """What the ticket table is keyed by; None for a code that cannot be a ticket."""
    return tokens.digest(secret) if tokens.looks_valid(secret) else None


def _answer(text: str) -> dict[str, Any]:
    answer = json.loads(text)
    refused = answer.get("refused")
    if refused == "too_many_failures":
        raise TooManyFailures
    if refused == "unauthorized":
        raise UnknownToken
    return answer


def _category_labels() -> str:
    """The category labels in the current language, as JSON for `checkin_scan`."""
    language = i18n.current_language.get()
    labels = _LABELS.get(language)
    if labels is None:
        values = (*options.CATEGORY_VALUES, "exhibitor_staff")
        labels = _LABELS[language] = json.dumps({v: options.category_name(v) for v in values})
    return labels


async def manual(
    db: asyncpg.Connection, staff: StaffUser, conference_id: int, registration_id: int, gate: str
) -> dict[str, Any]:
    """Admitting someone found by name (no ticket at hand)."""
    gate = door_gate(staff, gate)
    async with db.transaction():
        person = await queries.person(db, registration_id)
        decision = await decide(db, staff, conference_id, person=person, gate=gate, kind="entry")
        await _record(
            db,
            conference_id=conference_id,
            registration_id=person["id"] if person else None,
            staff=staff,
            nonce=None,
            gate=gate,
            kind="manual",
            decision=decision,
        )
        if decision["status"] == "ok":
            # Admitted by hand: the scans hold the attempt, the audit log who let them in.
            await _audited(db, staff, "checkin.manual", conference_id, person, gate=gate)
        return decision


async def _audited(
    db: asyncpg.Connection,
    staff: StaffUser,
    action: str,
    conference_id: int,
    person: asyncpg.Record,
    gate: str = "",
) -> None:
    await audit.record(
        db,
        action,
        actor=staff,
        conference_id=conference_id,
        subject_type="registration",
        subject_id=person["id"],
        subject_label=person["name"],
        details={"gate": gate} if gate else None,
    )


async def undo(
    db: asyncpg.Connection, staff: StaffUser, conference_id: int, registration_id: int
) -> bool:
    """Takes back an entry (the wrong person was waved through). False if not inside."""
    async with db.transaction():
        undone = await queries.undo_entry(db, registration_id, conference_id)
        decision = _decision(
            "ok" if undone else "error", None if undone else "not_inside", None, None, None
        )
        await _record(
            db,
            conference_id=conference_id,
            registration_id=registration_id,
            staff=staff,
            nonce=None,
            gate="",
            kind="undo",
            decision=decision,
        )
        if undone:
            person = await queries.person(db, registration_id)
            await _audited(db, staff, "checkin.undone", conference_id, person)
        return bool(undone)


async def search(
    db: asyncpg.Connection, conference_id: int, query: str, limit: int = 20
) -> list[asyncpg.Record]:
    """For people without their ticket: by name, organisation or e-mail address."""
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return await queries.search(db, conference_id, pattern, limit)
