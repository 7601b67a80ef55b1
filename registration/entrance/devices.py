"""Door devices: a phone becomes a scanner for one conference without an account or password.

An organiser adds a door by name ("Eingang Nord") and gets a pairing link
(`{BASE_URL}/pair/{code}`) to show as a QR code. The code is 192 random bits, kept only as its
SHA-256, pairs once, and no longer pairs 24 hours after the door was added. Pairing hands the
phone a Bearer token (`tgd_…`, also kept only as its SHA-256): with it the phone scans for that
conference alone, under the door's name as gate, and may use the scanner page's other calls for
that conference (service.auth: `FOR_DOOR_DEVICES`, the conference scope); everything else
answers 401 or 403. Removing the door ends its token at once: every lookup asks for
`removed_at IS NULL`, the scan's statement too.

Each change is written to the audit log in its own transaction: `device.added` and
`device.removed` by the organiser, `device.paired` by the device.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

import asyncpg

from registration.entrance import device_queries as queries
from registration.entrance.schemas import Device, NewDevice
from service import audit
from service.auth import StaffUser, door_device, new_device_token
from service.conferences.logic import local
from service.domain_errors import Conflict, DomainError, FieldErrors, NotFound
from service.errors import status_of
from service.i18n import gettext as _

CODE_BYTES = 24  # 192 bits: 32 characters in the link
PAIRING_PATH = "/pair/"


def code_digest(code: str) -> bytes:
    return hashlib.sha256(code.strip().encode()).digest()


def pairing_url(base_url: str, code: str) -> str:
    return base_url.rstrip("/") + PAIRING_PATH + code


def status(row: asyncpg.Record) -> str:
    if row["paired_at"] is not None:
        return "paired"
    return "expired" if row["expired"] else "waiting"


def to_api(row: asyncpg.Record, conference: asyncpg.Record) -> Device:
    def shown(moment: datetime | None) -> datetime | None:
        return local(moment, conference) if moment else None

    return Device(
        id=row["id"],
        name=row["name"],
        status=status(row),  # type: ignore[arg-type]
        created_at=local(row["created_at"], conference),
        pairing_expires_at=local(row["pairing_expires_at"], conference),
        paired_at=shown(row["paired_at"]),
        last_seen_at=shown(row["last_seen_at"]),
    )


def name_taken() -> str:
    return _("This conference already has a door of this name. Please choose another name.")


async def add(
    db: asyncpg.Connection,
    staff: StaffUser,
    conference: asyncpg.Record,
    name: str,
    base_url: str,
) -> NewDevice:
    """A new door waiting for its phone; its pairing link is in the answer and nowhere else."""
    code = secrets.token_urlsafe(CODE_BYTES)
    async with db.transaction():
        try:
            row = await queries.insert(db, conference["id"], name, code_digest(code), staff.id)
        except asyncpg.UniqueViolationError:
            raise FieldErrors({"name": name_taken()}, taken=True) from None
        await audit.record(
            db,
            "device.added",
            actor=staff,
            conference_id=conference["id"],
            subject_type="device",
            subject_id=row["id"],
            subject_label=name,
        )
    return NewDevice(
        id=row["id"],
        name=row["name"],
        pairing_url=pairing_url(base_url, code),
        pairing_expires_at=local(row["pairing_expires_at"], conference),
    )


def no_such_device() -> NotFound:
    return NotFound(_("This conference has no such door device."))


async def remove(
    db: asyncpg.Connection, staff: StaffUser, conference: asyncpg.Record, device_id: int
) -> str:
    """Removes the door: its token answers 401 from the next request on, its pairing link no
    longer pairs. Returns its name; 404 if the conference has no such device (any more)."""
    async with db.transaction():
        name = await queries.remove(db, conference["id"], device_id)
        if name is None:
            raise no_such_device()
        await audit.record(
            db,
            "device.removed",
            actor=staff,
            conference_id=conference["id"],
            subject_type="device",
            subject_id=device_id,
            subject_label=name,
        )
    return name


def why_not_paired(found: asyncpg.Record | None) -> DomainError:
    """The answer for a code that did not pair: unknown 404, otherwise 409 saying why."""
    if found is None:
        return NotFound(
            _("This pairing link is unknown. Please check it, or ask the organisers for a new one.")
        )
    if found["removed_at"] is not None:
        return Conflict(
            _("This door has been removed by the organisers. Ask them for a new pairing link.")
        )
    if found["paired_at"] is not None:
        return Conflict(
            _(
                "This pairing link has already been used: it sets up one device only. Ask the "
                "organisers for a new one."
            )
        )
    return Conflict(
        _(
            "This pairing link has expired: it is valid for 24 hours. Ask the organisers "
            "for a new one."
        )
    )


async def pair(db: asyncpg.Connection, code: str) -> tuple[str, asyncpg.Record]:
    """Pairs the door of `code` with the calling phone: (the device's token, the device with
    its conference). Exactly one of any number of phones sending one code gets a token
    (device_queries.pair); the others get why_not_paired's 409."""
    token, token_hash = new_device_token()
    digest = code_digest(code)
    async with db.transaction():
        row = await queries.pair(db, digest, token_hash)
        if row is None:
            raise why_not_paired(await queries.by_code(db, digest))
        await audit.record(
            db,
            "device.paired",
            actor=door_device(row),
            conference_id=row["conference_id"],
            subject_type="device",
            subject_id=row["id"],
            subject_label=row["name"],
        )
    return token, row


async def pairing_state(db: asyncpg.Connection, code: str) -> dict[str, Any]:
    """What the phone's page shows before it pairs: the door and conference of a code that
    still pairs, or the reason it does not (`problem`: the message, `status`: its code)."""
    found = await queries.by_code(db, code_digest(code))
    used = found is None or found["paired_at"] or found["removed_at"] or found["expired"]
    if not used:
        return {"device": found, "problem": None, "status": 200}
    problem = why_not_paired(found)
    return {"device": None, "problem": problem.detail, "status": status_of(problem)}
