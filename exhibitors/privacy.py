"""Data protection for organisations' contacts (GDPR Art. 15, 17, 20 and storage limitation):
the booking's data as a download, erasure on request from the exhibitor page, and the
clean-up after a conference.

Anonymous means: the contact person's name, e-mail address and phone number, the website, the
descriptions and the organisers' reason are gone, the links stop working, the mails about the
booking are deleted and the stand staff's passes (registrations) are made anonymous too. What
stays is the organisation's name and kind, its topics, the stand and the status: what the
report of the market of opportunities counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Controller, MediaType, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from exhibitors import logic, queries
from exhibitors.lookups import BY_TOKEN, BookingRow
from registration.privacy import Erased
from registration.privacy import anonymise as anonymise_registrations
from service import outbox
from service.db import DB
from service.ratelimit import per_client

LINK_LIMIT = per_client("links", 120)
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
MAIL_KINDS = "exhibitor."

# What the request stored (queries.BOOKING_FIELDS) and what became of it.
_EXPORTED_FIELDS = (
    *queries.BOOKING_FIELDS,
    "status",
    "reason",
    "created_at",
    "confirmed_at",
    "decided_at",
)


async def export(db: asyncpg.Connection, booking_id: int) -> dict[str, Any]:
    """Everything stored about a booking: its contact, the request, the stand staff named."""
    row = await queries.export_booking(db, booking_id)
    conference = await queries.export_conference(db, row["conference_id"])
    passes = await queries.export_passes(db, booking_id)
    mails = await queries.export_mails(db, booking_id, MAIL_KINDS)
    booking = {key: row[key] for key in _EXPORTED_FIELDS}
    for key in ("wished_width_m", "wished_depth_m"):
        booking[key] = float(booking[key]) if booking[key] is not None else None
    return {
        "exported_at": datetime.now(UTC),
        "conference": dict(conference),
        "booking": {**booking, "stand": row["stand_code"]},
        "passes": [dict(p) for p in passes],
        "emails": [dict(m) for m in mails],
    }


async def anonymise(db: asyncpg.Connection, booking_ids: list[int]) -> int:
    """Makes these bookings' contact data anonymous (those not yet), with the passes they
    named; returns how many bookings. Call it inside a transaction."""
    ids = await queries.anonymise(db, booking_ids)
    if ids:
        await anonymise_registrations(db, await queries.pass_registrations(db, ids))
        await outbox.forget(db, MAIL_KINDS, ids)
    return len(ids)


async def erase(db: asyncpg.Connection, booking: asyncpg.Record) -> None:
    """Erasure on request: before the conference's end withdrawn first (the stand becomes
    free, the passes stop working), then anonymous; mails not yet sent are dropped. After the
    end the status stays, for the report. One transaction."""
    async with db.transaction():
        if not await queries.conference_ended(db, booking["conference_id"]):
            await logic.cancel(db, booking)
        await anonymise(db, [booking["id"]])


async def anonymise_ended(db: asyncpg.Connection, days_after_end: int) -> tuple[int, int]:
    """Bookings of conferences that ended `days_after_end` days ago or earlier:
    (bookings, conferences). Safe to run again."""
    rows = await queries.ended_bookings(db, days_after_end)
    count = await anonymise(db, [row["id"] for row in rows])
    return count, len({row["conference_id"] for row in rows})


# ── the organisation's own page and API ─────────────────────────────────────────────────


def _download(data: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(
        data,
        headers={
            **PRIVATE,
            "Content-Disposition": 'attachment; filename="tagung-exhibitor-data.json"',
        },
    )


class ExhibitorPrivacyAPI(Controller):
    path = "/api/v1/exhibitor-bookings/{token:str}"
    tags = ["exhibitors"]
    middleware = [LINK_LIMIT]
    dependencies = BY_TOKEN

    @get(
        "/export",
        summary="Everything stored about one's booking, as JSON (GDPR Art. 15 and 20)",
    )
    async def download(self, db: DB, booking: BookingRow) -> Response[dict[str, Any]]:
        return _download(await export(db, booking["id"]))

    @post(
        "/erase",
        status_code=200,
        summary="Withdraw the booking and erase its contact data (GDPR Art. 17)",
        description=(
            "The stand becomes free and the passes stop working, as on withdrawal; then the "
            "contact person's data, the directory entry and the stand staff's data are made "
            "anonymous and mails not yet sent are dropped. The link stops working."
        ),
    )
    async def erase_booking(self, db: DB, booking: BookingRow) -> Erased:
        await erase(db, booking)
        return Erased()


class ExhibitorPrivacyPages(Controller):
    path = "/x/{token:str}"
    include_in_schema = False
    middleware = [LINK_LIMIT]
    dependencies = BY_TOKEN

    @get("/data.json")
    async def download(self, db: DB, booking: BookingRow) -> Response[dict[str, Any]]:
        return _download(await export(db, booking["id"]))

    @get("/delete")
    async def confirm_erasure(self, db: DB, token: FromPath[str], booking: BookingRow) -> Template:
        conference = await queries.conference(db, booking["conference_id"])
        return Template(
            "exhibitors/delete.html",
            context={
                "booking": booking,
                "conference": conference,
                "page_url": f"/x/{token}",
            },
            media_type=MediaType.HTML,
            headers=PRIVATE,
        )

    @post("/delete")
    async def erase_booking(self, db: DB, booking: BookingRow) -> Template:
        conference = await queries.conference(db, booking["conference_id"])
        await erase(db, booking)
        return Template(
            "registration/erased.html",
            context={"conference": conference},
            media_type=MediaType.HTML,
            headers=PRIVATE,
        )
