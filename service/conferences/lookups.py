"""The conference a handler's path names, looked up once as a Litestar dependency, and the one
check of a staff member's conferences.

A controller (or router, or handler) that registers `PUBLIC` or `STAFF` as its `dependencies`
hands its handlers the row as `conference: ConferenceRow`; the path parameter `slug` is read by
the provider (and documented in the OpenAPI as before). Two rules, one place each:

- `published_conference`: what the public sees. A draft is not there: 404, as an unknown slug.
- `staff_conference`: what staff see: drafts too, but only the conferences of the caller
  (`staff: CurrentStaff`, set by the route's guard, which runs before any dependency). A
  conference outside them answers the same 404 as an unknown slug, so a limited account learns
  nothing about the others, not even that they exist.

Both answer an unknown conference with the same 404 ("There is no conference at this address.").
Handlers that find the slug elsewhere (in a body) call the same functions directly. A handler
whose other input Litestar validates (a JSON body, a query parameter with bounds) keeps calling
them itself: Litestar resolves dependencies before it validates the handler's own parameters,
so a dependency would answer such a request 404 where it is 400 today.

Per-conference access (docs/security.md) has one check, `check_scope(staff, conference_id)`:
`staff_conference` calls it, and so does every staff path that reaches a conference's things
another way: by an id (a forum, a stand, a booking: their domains' lookups), in the logic that
locks the conference by slug in its own transaction (the caller's `staff` is handed in), and the
door's database function (`checkin_scan`, which has the same rule in SQL). `staff=None` there
means no caller to limit: the demo and the CLI.

Register a lookup on the handler, not its controller, where another handler of the controller
takes a body with a field of the lookup's name (`conference`): Litestar takes an invalid value
of that field for a failed dependency and answers 500 (tests/test_lookups.py checks this).
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from service.auth import CurrentStaff, StaffUser
from service.conferences import logic, queries  # the module: logic calls check_scope too
from service.db import DB
from service.domain_errors import NotFound

# A handler's `conference: ConferenceRow`: the row of `conferences` (with seats_left and
# registration_open), from whichever provider its controller registered.
ConferenceRow = NamedDependency[asyncpg.Record]


def check_scope(
    staff: StaffUser | None,
    conference_id: int,
    missing: Callable[[], NotFound] | None = None,
) -> None:
    """404 unless `staff` may see the conference: the answer for an unknown conference, or
    `missing()` where the path names something of it (a forum, a booking) that is then as
    unknown as a wrong id. `staff` None: no caller to limit (demo, CLI)."""
    if staff is not None and not staff.may_see(conference_id):
        raise (missing or logic.not_found)()


async def published_conference(db: DB, slug: FromPath[str]) -> asyncpg.Record:
    """The published conference at `slug`; a draft or unknown slug: 404."""
    conference = await queries.by_slug(db, slug)
    if conference is None or not conference["published"]:
        raise logic.not_found()
    return conference


async def staff_conference(db: DB, slug: FromPath[str], staff: CurrentStaff) -> asyncpg.Record:
    """The conference at `slug`, published or not (organisers prepare drafts), if the caller
    may see it; unknown or another's: 404."""
    conference = await queries.by_slug(db, slug)
    if conference is None:
        raise logic.not_found()
    check_scope(staff, conference["id"])
    return conference


PUBLIC = {"conference": Provide(published_conference)}
STAFF = {"conference": Provide(staff_conference)}
