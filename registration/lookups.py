"""The registration a self-service link names, as the Litestar dependency `registration`.

A controller that registers `BY_TOKEN` hands its handlers the row as
`registration: RegistrationRow`, read from the path parameter `token` (documented in the
OpenAPI as before). The rule is `logic.by_manage_token`: the manage token of any registration,
cancelled ones too; anything else (malformed, unknown, the calendar feed's read-only token) is
the invalid-link 404. Forums' attendee pages use it through the package (`registration`).

As with the conference lookups (service/conferences/lookups.py), a handler whose body Litestar
validates keeps calling `logic.by_manage_token` itself, so an invalid body stays a 400 there.
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from registration import logic
from service.db import DB

RegistrationRow = NamedDependency[asyncpg.Record]


async def registration_by_token(db: DB, token: FromPath[str]) -> asyncpg.Record:
    return await logic.by_manage_token(db, token)


BY_TOKEN = {"registration": Provide(registration_by_token)}
