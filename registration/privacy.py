"""Data protection (GDPR Art. 15, 17, 20 and storage limitation): one person's data as a
download, erasure on request, and the clean-up after a conference.

Anonymous means: name, e-mail address, organisation and needs are gone, the self-service link
and the ticket stop working, the consents and the mails about the person are deleted and the
entrance's record of their scans no longer names them. What stays is a row with category,
status and whether they came in, so that the reports still count.

The needs (accessibility, interpretation, food: special-category data, Art. 9) go earlier, on
the day after the conference: they were collected only to plan it.

Later domains whose mails are about a registration (outbox rows with ref_id = the
registration) name their mail kinds with `provide_mail_kinds`, so that those mails go with the
person too, and hand in what else they store about a registration with `provide_export`
(forums: who was seen at a forum's door); registration itself knows no other domain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import msgspec

from registration import logic, queries
from registration.views import forum_signups
from service import audit, outbox
from service.auth import StaffUser

# Prefixes of the outbox kinds whose ref_id is a registration.
_mail_kinds = ["registration."]
# Sections of the export that later domains hand in: name → rows about a registration.
ExportProvider = Callable[[asyncpg.Connection, int], Awaitable[list[dict[str, Any]]]]
_export_sections: dict[str, ExportProvider] = {}

_EXPORTED_FIELDS = (
    "name",
    "email",
    "organisation",
    "category",
    "language",
    "needs",
    "status",
    "waitlist_position",
    "created_at",
    "confirmed_at",
    "cancelled_at",
    "inside",
    "entered_at",
    "entered_gate",
    "anonymised_at",
)


class Erased(msgspec.Struct):
    status: Literal["erased"] = "erased"


def provide_mail_kinds(prefix: str) -> None:
    """Wiring: mails of these kinds (e.g. "forum.") are about a registration."""
    if prefix not in _mail_kinds:
        _mail_kinds.append(prefix)


def provide_export(section: str, provider: ExportProvider) -> None:
    """Wiring: the export gets `section` with what `provider` lists for the registration."""
    _export_sections[section] = provider


async def export(db: asyncpg.Connection, registration: asyncpg.Record) -> dict[str, Any]:
    """Everything stored about the person of this registration (Art. 15 and 20). The same
    document for the person (self-service, API) and for staff answering a request."""
    registration_id = registration["id"]
    row = await queries.full_row(db, registration_id)
    conference = await queries.conference_summary(db, row["conference_id"])
    scans = await queries.scans_of(db, registration_id)
    mails = await queries.mails_of(db, registration_id, [f"{prefix}%" for prefix in _mail_kinds])
    return {
        "exported_at": datetime.now(UTC),
        "conference": dict(conference),
        "registration": {key: row[key] for key in _EXPORTED_FIELDS},
        "consents": [dict(c) for c in await queries.consents(db, registration_id)],
        "forums": msgspec.to_builtins(await forum_signups(db, registration_id)),
        "entrance": [dict(s) for s in scans],
        **{
            section: await provider(db, registration_id)
            for section, provider in _export_sections.items()
        },
        "emails": [dict(m) for m in mails],
    }


async def is_anonymised(db: asyncpg.Connection, registration_id: int) -> bool:
    return bool(await queries.is_anonymised(db, registration_id))


async def anonymise(db: asyncpg.Connection, registration_ids: list[int]) -> int:
    """Makes these registrations anonymous (those not yet); returns how many. Call it inside
    a transaction."""
    ids = [row["id"] for row in await queries.anonymise(db, registration_ids)]
    if ids:
        await queries.delete_consents(db, ids)
        # The door's answers named the person; the scans themselves stay for the counts.
        await queries.unname_scans(db, ids)
        # The audit log keeps what staff did about them, no longer naming them.
        await audit.forget_subjects(db, "registration", ids)
        for prefix in _mail_kinds:
            await outbox.forget(db, prefix, ids)
    return len(ids)


async def erase(
    db: asyncpg.Connection, registration_id: int, *, staff: StaffUser | None = None
) -> None:
    """Erasure on request (Art. 17): before the conference's end cancelled first, as by the
    person themselves, so that the place and any forum seats go to those waiting; then
    anonymous, and mails not yet sent to the person (the cancellation's among them) are
    dropped. After the end nothing is handed on and the status stays as it was, so the
    report still counts who came. One transaction.

    The person's earlier registrations of the conference that were cancelled (same address:
    registered again after cancelling, a pass that was withdrawn) go with it. Another one
    that is still active (an attendee's registration and a pass, each with its own link)
    stays: it is erased through its own link, as the person may still want to come.

    `staff`: a staff member erases on request; the audit log records it (one entry, without
    the name)."""
    async with db.transaction():
        if await _before_the_end(db, registration_id):
            await logic.cancel(db, registration_id)
        await anonymise(
            db, [registration_id, *await _cancelled_of_same_address(db, registration_id)]
        )
        if staff is not None:
            registration = await logic.by_id(db, registration_id)
            subject = logic.audit_subject(registration, named=False)
            await audit.staff_action(db, staff, "registration.erased", **subject)


async def _cancelled_of_same_address(db: asyncpg.Connection, registration_id: int) -> list[int]:
    rows = await queries.cancelled_of_same_address(db, registration_id)
    return [row["id"] for row in rows]


async def _before_the_end(db: asyncpg.Connection, registration_id: int) -> bool:
    ended = await queries.conference_ended(db, registration_id)
    if ended is None:
        raise logic.invalid_link()
    return not ended


async def remove_needs(db: asyncpg.Connection) -> tuple[int, int]:
    """Deletes the needs of everyone whose conference ended before today (in the
    conference's time zone): (registrations, conferences)."""
    rows = await queries.remove_needs(db)
    return len(rows), len({row["conference_id"] for row in rows})


async def anonymise_ended(db: asyncpg.Connection, days_after_end: int) -> tuple[int, int]:
    """Makes every registration of conferences that ended `days_after_end` days ago or
    earlier anonymous: (registrations, conferences). Safe to run again."""
    rows = await queries.not_anonymised_of_ended(db, days_after_end)
    count = await anonymise(db, [row["id"] for row in rows])
    return count, len({row["conference_id"] for row in rows})
