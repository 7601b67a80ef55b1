"""The booking an exhibitor's link names, as the Litestar dependency `booking`.

A controller that registers `BY_TOKEN` hands its handlers the row as `booking: BookingRow`,
read from the path parameter `token` (documented in the OpenAPI as before). The rule is
`logic.by_manage_token`: the manage token of any booking, withdrawn or rejected ones too
(the handlers and the logic say what such a booking may still do); anything else is the
invalid-link 404.

As with the conference lookups (service/conferences/lookups.py), a handler whose body Litestar
validates keeps calling `logic.by_manage_token` itself, so an invalid body stays a 400 there.
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from exhibitors import logic
from service.db import DB

BookingRow = NamedDependency[asyncpg.Record]


async def booking_by_token(db: DB, token: FromPath[str]) -> asyncpg.Record:
    return await logic.by_manage_token(db, token)


BY_TOKEN = {"booking": Provide(booking_by_token)}
