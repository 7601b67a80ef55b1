"""The forum door: is the person with this ticket signed up for this forum? Recorded per
forum, once per person (later scans count up), for staff with the scanner role."""

from __future__ import annotations

import asyncpg
from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from forums import logic, queries
from forums.schemas import AttendanceDecision, AttendanceRequest
from registration import options
from service import tokens
from service.auth import CurrentStaff, StaffUser, requires
from service.conferences.lookups import check_scope
from service.db import DB

_STATUS = {"confirmed": "signed_up", "waitlisted": "waiting"}


async def check(
    db: asyncpg.Connection, staff: StaffUser, forum_id: int, secret: str
) -> AttendanceDecision:
    forum = await queries.door_forum(db, forum_id)
    if forum is None:
        raise logic.forum_not_found()
    check_scope(staff, forum["conference_id"], logic.forum_not_found)
    person = None
    if tokens.looks_valid(secret):
        person = await queries.confirmed_by_ticket(
            db, tokens.digest(secret), forum["conference_id"]
        )
    if person is None:
        return AttendanceDecision(status="invalid", attendee=None, first_seen_at=None)
    signup = await queries.signup_status(db, forum_id, person["id"])
    status = _STATUS.get(signup or "", "not_signed_up")
    first_seen = None
    if status == "signed_up":
        first_seen = await queries.record_attendance(db, forum_id, person["id"])
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
        self,
        db: DB,
        staff: CurrentStaff,
        forum_id: FromPath[int],
        data: JSONBody[AttendanceRequest],
    ) -> AttendanceDecision:
        return await check(db, staff, forum_id, data.secret)
