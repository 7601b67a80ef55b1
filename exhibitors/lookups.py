"""The booking an exhibitor's link names, as the Litestar dependency `booking`.

A controller that registers `BY_TOKEN` hands its handlers the row as `booking: BookingRow`,
read from the path parameter `token` (documented in the OpenAPI as before). The rule is
`logic.by_manage_token`: the manage token of any booking, withdrawn or rejected ones too
(the handlers and the logic say what such a booking may still do); anything else is the
invalid-link 404.

As with the conference lookups (service/conferences/lookups.py), a handler whose body Litestar
validates keeps calling `logic.by_manage_token` itself, so an invalid body stays a 400 there.

Staff reach a booking or a stand by its id: `staff_booking` and `staff_stand` give it to staff
who may see its conference (`check_scope`; a booking or stand never moves to another one), and
answer one of another conference as an unknown id. Called by hand, after the body is read.
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from exhibitors import logic, queries
from service.auth import StaffUser
from service.conferences.lookups import check_scope
from service.db import DB

BookingRow = NamedDependency[asyncpg.Record]


async def booking_by_token(db: DB, token: FromPath[str]) -> asyncpg.Record:
    return await logic.by_manage_token(db, token)


BY_TOKEN = {"booking": Provide(booking_by_token)}


async def staff_booking(db: DB, booking_id: int, staff: StaffUser) -> asyncpg.Record:
    booking = await queries.booking(db, booking_id)
    if booking is None:
        raise logic.booking_not_found()
    check_scope(staff, booking["conference_id"], logic.booking_not_found)
    return booking


async def staff_stand(db: DB, stand_id: int, staff: StaffUser) -> asyncpg.Record:
    stand = await queries.stand(db, stand_id)
    if stand is None:
        raise logic.stand_not_found()
    check_scope(staff, stand["conference_id"], logic.stand_not_found)
    return stand
