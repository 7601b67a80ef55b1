"""The entrance's CSV exports: attendees with their entrance state, every scan, and the needs
of those who consented to their storage. Streamed from a server-side cursor, a batch at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.response import Stream

from registration.entrance import queries
from registration.schemas import Needs
from registration.staff_api import NOT_CACHED, ORGANISER, STAFF_SECURITY
from service import audit
from service.auth import CurrentStaff, StaffUser
from service.conferences.lookups import STAFF, ConferenceRow
from service.db import DB, share_connection
from service.spreadsheet import MEDIA_TYPE, csv_download


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    # "2027-05-10 09:12:05" in the conference's time zone: a spreadsheet reads date and time.
    # (isoformat cut after the seconds: the same text as strftime, a quarter of its time.)
    return value.astimezone(zone).isoformat(" ", "seconds")[:19] if value else ""


def _yes(value: bool) -> str:
    return "yes" if value else "no"


ATTENDEE_COLUMNS = (
    "id",
    "name",
    "organisation",
    "category",
    "inside",
    "entered_at",
    "entered_gate",
)
CHECKIN_COLUMNS = (
    "scanned_at",
    "gate",
    "type",
    "status",
    "reason",
    "registration_id",
    "name",
    "organisation",
    "offline",
)
NEEDS_COLUMNS = (
    "id",
    "name",
    "organisation",
    "category",
    "accessibility",
    "interpretation",
    "dietary",
    "notes",
    "inside",
)


def attendee_line(r: asyncpg.Record, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        r["id"],
        r["name"],
        r["organisation"],
        r["category"],
        _yes(r["inside"]),
        _when(r["entered_at"], zone),
        r["entered_gate"] or "",
    )


def checkin_line(r: asyncpg.Record, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        _when(r["scanned_at"], zone),
        r["gate"],
        r["type"],
        r["status"],
        r["reason"] or "",
        r["registration_id"] if r["name"] is not None else "",
        r["name"] or "",
        r["organisation"],
        _yes(r["offline"]),
    )


def _needs(stored: Any) -> Needs:
    try:
        return msgspec.convert(stored or {}, Needs)
    except msgspec.ValidationError:  # written by hand into the database: show nothing
        return Needs()


def needs_line(r: asyncpg.Record) -> tuple[Any, ...]:
    needs = _needs(r["needs"])
    return (
        r["id"],
        r["name"],
        r["organisation"],
        r["category"],
        ", ".join(needs.accessibility),
        needs.interpretation or "",
        ", ".join(needs.dietary),
        needs.notes,
        _yes(r["inside"]),
    )


async def _downloaded(
    db: asyncpg.Connection, staff: StaffUser, conference: asyncpg.Record, what: str
) -> None:
    await audit.downloaded(
        db, staff, what, conference_id=conference["id"], subject_label=conference["title"]
    )


class EntranceExports(Controller):
    path = "/api/v1/conferences/{slug:str}/entrance"
    tags = ["entrance (staff)"]
    guards = ORGANISER
    security = STAFF_SECURITY
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get(
        "/attendees.csv",
        summary="Export confirmed attendees with their entrance state as CSV",
        description="UTF-8 with BOM, ';' separated; formula-like cells get a leading apostrophe.",
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        # Streamed from a cursor: the guard's connection serves the handler and the stream.
        middleware=[share_connection],
    )
    async def attendees_export(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow
    ) -> Stream:
        await _downloaded(db, staff, conference, "attendees")
        zone = ZoneInfo(conference["timezone"])
        return csv_download(
            f"teilnehmende-{conference['slug']}.csv",
            ATTENDEE_COLUMNS,
            queries.attendees(db, conference["id"]),
            lambda r: attendee_line(r, zone),
        )

    @get(
        "/checkins.csv",
        summary="Export every scan at the entrance as CSV (admitted and refused)",
        description="Times in the conference's time zone. UTF-8 with BOM, ';' separated.",
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        middleware=[share_connection],
    )
    async def checkins_export(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow
    ) -> Stream:
        await _downloaded(db, staff, conference, "checkins")
        zone = ZoneInfo(conference["timezone"])
        return csv_download(
            f"einlass-{conference['slug']}.csv",
            CHECKIN_COLUMNS,
            queries.all_scans(db, conference["id"]),
            lambda r: checkin_line(r, zone),
        )

    @get(
        "/needs.csv",
        summary="Export the needs of confirmed attendees who consented to their storage",
        description=(
            "Accessibility, interpretation, food and notes, only for registrations with the "
            "special-category consent (GDPR Art. 9) and stated needs. UTF-8 with BOM."
        ),
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        middleware=[share_connection],
    )
    async def needs_export(self, db: DB, staff: CurrentStaff, conference: ConferenceRow) -> Stream:
        await _downloaded(db, staff, conference, "needs")
        return csv_download(
            f"bedarfe-{conference['slug']}.csv",
            NEEDS_COLUMNS,
            queries.needs(db, conference["id"]),
            needs_line,
        )
