"""The conference a handler's path names, looked up once as a Litestar dependency.

A controller (or router, or handler) that registers `PUBLIC` or `STAFF` as its `dependencies`
hands its handlers the row as `conference: ConferenceRow`; the path parameter `slug` is read by
the provider (and documented in the OpenAPI as before). Two rules, one place each:

- `published_conference`: what the public sees. A draft is not there: 404, as an unknown slug.
- `staff_conference`: what staff see: drafts too. The place where, once staff have their own
  conferences, a staff member is limited to theirs (it will take `staff: CurrentStaff`).

Both answer an unknown conference with the same 404 ("There is no conference at this address.").
Handlers that find the slug elsewhere (in a body) call the same functions directly. A handler
whose other input Litestar validates (a JSON body, a query parameter with bounds) keeps calling
them itself: Litestar resolves dependencies before it validates the handler's own parameters,
so a dependency would answer such a request 404 where it is 400 today.

Register a lookup on the handler, not its controller, where another handler of the controller
takes a body with a field of the lookup's name (`conference`): Litestar takes an invalid value
of that field for a failed dependency and answers 500 (tests/test_lookups.py checks this).
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from service.conferences import queries
from service.conferences.logic import not_found
from service.db import DB

# A handler's `conference: ConferenceRow`: the row of `conferences` (with seats_left and
# registration_open), from whichever provider its controller registered.
ConferenceRow = NamedDependency[asyncpg.Record]


async def published_conference(db: DB, slug: FromPath[str]) -> asyncpg.Record:
    """The published conference at `slug`; a draft or unknown slug: 404."""
    conference = await queries.by_slug(db, slug)
    if conference is None or not conference["published"]:
        raise not_found()
    return conference


async def staff_conference(db: DB, slug: FromPath[str]) -> asyncpg.Record:
    """The conference at `slug`, published or not (organisers prepare drafts); unknown: 404."""
    conference = await queries.by_slug(db, slug)
    if conference is None:
        raise not_found()
    return conference


PUBLIC = {"conference": Provide(published_conference)}
STAFF = {"conference": Provide(staff_conference)}
