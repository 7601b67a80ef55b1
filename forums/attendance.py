"""The forum door: is the person with this ticket signed up for this forum? Recorded per
forum, once per person (later scans count up), for staff with the scanner role."""

from __future__ import annotations

import asyncpg
from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from forums import logic
from forums.schemas import AttendanceDecision, AttendanceRequest
from registration import options
from service import tokens
from service.auth import requires
from service.db import DB

_STATUS = {"confirmed": "signed_up", "waitlisted": "waiting"}


async def check(db: asyncpg.Connection, forum_id: int, secret: str) -> AttendanceDecision:
    forum = await db.fetchrow("SELECT id, conference_id FROM forums WHERE id = $1", forum_id)
    if forum is None:
        raise logic.forum_not_found()
    person = None
    if tokens.looks_valid(secret):
        person = await db.fetchrow(
            "SELECT id, name, organisation, category FROM registrations "
            "WHERE ticket_hash = $1 AND conference_id = $2 AND status = 'confirmed'",
            tokens.digest(secret),
            forum["conference_id"],
        )
    if person is None:
        return AttendanceDecision(status="invalid", attendee=None, first_seen_at=None)
    signup = await db.fetchval(
        "SELECT status FROM forum_signups WHERE forum_id = $1 AND registration_id = $2",
        forum_id,
        person["id"],
    )
    status = _STATUS.get(signup or "", "not_signed_up")
    first_seen = None
    if status == "signed_up":
        first_seen = await db.fetchval(
            """
            INSERT INTO forum_attendance (forum_id, registration_id) VALUES ($1, $2)
            ON CONFLICT (forum_id, registration_id)
            DO UPDATE SET scans = forum_attendance.scans + 1
            RETURNING first_seen_at
            """,
            forum_id,
            person["id"],
        )
    return AttendanceDecision(
        status=status,  # type: ignore[arg-type]
        attendee={
            "name": person["name"],
            "organisation": person["organisation"],
            "category": options.category_name(person["category"]),
        },
        first_seen_at=first_seen,
    )


class AttendanceAPI(Controller):
    path = "/api/v1/forums"
    tags = ["forums"]

    @post(
        "/{forum_id:int}/attendance",
        guards=[requires("scanner")],
        security=[{"BearerToken": []}],
        status_code=200,
        summary="At the forum's door: is this ticket signed up here? Records attendance.",
        description="status: signed_up (recorded), waiting, not_signed_up, or invalid ticket.",
    )
    async def scan(
        self, db: DB, forum_id: FromPath[int], data: JSONBody[AttendanceRequest]
    ) -> AttendanceDecision:
        return await check(db, forum_id, data.secret)
