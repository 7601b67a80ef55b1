"""JSON API of the entrance, for scanning devices and scripts (scanner role or above)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta

from registration.entrance import checkin
from registration.entrance.schemas import (
    CheckinDecision,
    CheckinRequest,
    Found,
    PersonRequest,
    Undone,
)
from service.auth import (
    FOR_DOOR_DEVICES,
    CurrentStaff,
    StaffUser,
    bearer_token,
    requires,
    scanner_or_token_checked_by_handler,
    token_digest,
    unknown_token_message,
)
from service.conferences.lookups import staff_conference
from service.db import DB, share_connection
from service.i18n import gettext as _
from service.openapi import problems
from service.validation import ONE_LINE

SCANNER = [requires("scanner")]
STAFF = [{"BearerToken": []}]


def as_decision(data: dict[str, Any]) -> CheckinDecision:
    return msgspec.convert(data, CheckinDecision)


async def _conference_id(db: DB, slug: str, staff: StaffUser) -> int:
    """The conference named in a body or next to a validated query, looked up by hand: as a
    dependency it would be looked up before Litestar validates them (conferences.lookups)."""
    return (await staff_conference(db, slug, staff))["id"]


# The scan: a door device calls it at scan rate, so it takes the hot path (registration.wire).
SCAN_ROUTE = ("POST", "/api/v1/checkin")


class ScanAPI(Controller):
    """The door's hot path, apart from CheckinAPI for its guard: a device's token is checked
    by the scan statement itself (one round trip per scan)."""

    path = "/api/v1"
    tags = ["entrance"]
    guards = [scanner_or_token_checked_by_handler]
    security = STAFF

    @post(
        "/checkin",
        status_code=200,
        # A session's staff lookup and the scan share one pooled connection.
        middleware=[share_connection],
        responses=problems(429, description="Too many unknown codes from this device"),
        summary="Scan a ticket at the entrance: always 200 with the decision",
        description=(
            "status ok, or error with reason invalid, already_checked_in (with the time and "
            "gate of that entry), cancelled, not_confirmed or other_conference. The same nonce "
            "from the same device gets the same answer and records one scan. After an exit "
            "scan the person may enter again. Too many refused scans from one device in a "
            "minute: 429."
        ),
    )
    async def scan(
        self, request: Request, db: DB, data: JSONBody[CheckinRequest]
    ) -> CheckinDecision:
        # Only `db` is injected: a second dependency would make Litestar resolve them in a
        # task group, which costs more than the rest of this handler.
        token = bearer_token(request)
        where = {
            "conference_slug": data.conference,
            "secret": data.secret,
            "gate": data.gate,
            "kind": data.type,
            "nonce": data.nonce,
        }
        try:
            if token is not None:
                decision = await checkin.scan_by_token(db, token_digest(token), **where)
            else:
                decision = await checkin.scan(db, request.state.staff, **where)
        except checkin.UnknownToken:
            raise NotAuthorizedException(
                unknown_token_message(token or ""),
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        except checkin.TooManyFailures:
            raise HTTPException(
                status_code=429,
                detail=_("Too many invalid codes from this device. Please wait a minute."),
            ) from None
        return as_decision(decision)


class CheckinAPI(Controller):
    path = "/api/v1"
    tags = ["entrance"]
    guards = SCANNER
    security = STAFF
    opt = FOR_DOOR_DEVICES  # the scanner page's calls, also from a paired door device

    @post(
        "/checkin/manual",
        status_code=200,
        summary="Admit someone found by name (no ticket at hand)",
    )
    async def manual(
        self, db: DB, staff: CurrentStaff, data: JSONBody[PersonRequest]
    ) -> CheckinDecision:
        conference_id = await _conference_id(db, data.conference, staff)
        return as_decision(
            await checkin.manual(db, staff, conference_id, data.registration_id, data.gate)
        )

    @post(
        "/checkin/undo",
        status_code=200,
        summary="Take back an entry (the wrong person was waved through)",
    )
    async def undo(self, db: DB, staff: CurrentStaff, data: JSONBody[PersonRequest]) -> Undone:
        conference_id = await _conference_id(db, data.conference, staff)
        return Undone(await checkin.undo(db, staff, conference_id, data.registration_id))

    @get(
        "/conferences/{slug:str}/checkin/search",
        summary="Find people without their ticket by name, organisation or e-mail",
    )
    async def search(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        q: FromQuery[Annotated[str, Meta(min_length=2, max_length=100, pattern=ONE_LINE)]],
    ) -> list[Found]:
        conference_id = await _conference_id(db, slug, staff)
        return [
            Found(
                registration_id=r["id"],
                name=r["name"],
                organisation=r["organisation"],
                category=r["category"],
                status=r["status"],
                inside=r["inside"],
                entered_at=r["entered_at"],
                entered_gate=r["entered_gate"],
            )
            for r in await checkin.search(db, conference_id, q)
        ]
