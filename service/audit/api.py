"""The audit log in the JSON API and as CSV: a conference's entries for its organisers, every
entry of the installation for admins. Newest first, keyset pagination, filters by action (or a
kind of action), actor and period. A CSV download is itself an entry (export.downloaded)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from litestar import Controller, get
from litestar.datastructures import CacheControlHeader
from litestar.params import QueryParameter
from litestar.response import Stream

from service import audit
from service.audit import queries, views
from service.audit.views import (
    MAX_ACTOR,
    AuditPage,
    InstallationAuditPage,
    Query,
    read_filters,
)
from service.auth import CurrentStaff, StaffUser, requires
from service.conferences.lookups import STAFF, ConferenceRow
from service.db import DB, share_connection
from service.errors import FieldErrors
from service.spreadsheet import MEDIA_TYPE, csv_download
from service.validation import END, Cursor, PageSize

NOT_CACHED = CacheControlHeader(private=True, no_store=True)
STAFF_SECURITY = [{"BearerToken": []}]

# What the filters look like, in the OpenAPI document too; whether a date exists and lies in
# the years 2000-2100 is checked by views.read_filters (400 naming the field).
ACTION_PATTERN = rf"^([a-z_]{{1,40}}\.([a-z_]{{1,40}})?)?{END}"
_TIME = r"[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
MOMENT_PATTERN = rf"^([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}({_TIME})?)?{END}"
ActionParam = Annotated[
    str | None,
    QueryParameter(
        description="One action (`exhibitor_booking.approved`) or a kind, ending in a dot "
        "(`checkin.`).",
        max_length=81,
        pattern=ACTION_PATTERN,
    ),
]
ActorParam = Annotated[
    str | None,
    QueryParameter(
        description="Part of the actor: a staff e-mail address or a door device's name.",
        max_length=MAX_ACTOR,
    ),
]
_PERIOD = (
    "A date (YYYY-MM-DD, the whole day) or a date and time (ISO 8601; without an offset in "
    "the conference's time zone)."
)
SinceParam = Annotated[
    str | None,
    QueryParameter(
        description=f"From this moment on. {_PERIOD}", max_length=40, pattern=MOMENT_PATTERN
    ),
]
UntilParam = Annotated[
    str | None,
    QueryParameter(
        description=f"Up to this moment. {_PERIOD}", max_length=40, pattern=MOMENT_PATTERN
    ),
]


def _filters(
    conference: asyncpg.Record | None,
    action: str | None,
    actor: str | None,
    since: str | None,
    until: str | None,
) -> queries.Filters:
    query = Query(action or "", actor or "", since or "", until or "")
    if conference is None:
        filters, errors = read_filters(query, None)
    else:
        filters, errors = read_filters(query, conference["id"], conference["timezone"])
    if errors:
        raise FieldErrors(errors)
    return filters


async def audit_csv(
    db: asyncpg.Connection,
    staff: StaffUser,
    filters: queries.Filters,
    conference: asyncpg.Record | None,
) -> Stream:
    """The filtered entries as CSV, for the API and the pages; the download is recorded first."""
    await audit.record(
        db,
        "export.downloaded",
        actor=staff,
        conference_id=conference["id"] if conference else None,
        subject_type="conference" if conference else "",
        subject_id=conference["id"] if conference else None,
        subject_label=conference["title"] if conference else "",
        details={"format": "csv", "what": "audit_log"},
    )
    whole = conference is None
    name = f"protokoll-{conference['slug']}.csv" if conference else "protokoll.csv"
    return csv_download(
        name,
        views.csv_header(whole),
        queries.all_matching(db, filters),
        lambda row: views.csv_line(row, whole),
    )


class ConferenceAuditAPI(Controller):
    path = "/api/v1/conferences/{slug:str}"
    tags = ["audit log"]
    guards = [requires("organiser")]
    security = STAFF_SECURITY
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get(
        "/audit",
        summary="The conference's audit log: who did what, when (newest first)",
        description=(
            "`next` is the cursor of the following page (pass it as `after`), null on the "
            "last page. `actor` is the staff member's e-mail address or the door device; "
            "after the retention purge the account's number. `details` names changed fields, "
            "never their values."
        ),
    )
    async def conference_audit(
        self,
        db: DB,
        conference: ConferenceRow,
        action: ActionParam = None,
        actor: ActorParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
        limit: PageSize = views.DEFAULT_LIMIT,
        after: Cursor = 0,
    ) -> AuditPage:
        filters = _filters(conference, action, actor, since, until)
        rows, next_id = await queries.page(db, filters, after, limit)
        return AuditPage(items=[views.to_item(r) for r in rows], next=next_id)

    @get(
        "/audit.csv",
        summary="The conference's audit log as CSV (the filters of the list)",
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        # Streamed from a cursor: the guard's connection serves the handler and the stream.
        middleware=[share_connection],
    )
    async def conference_audit_csv(
        self,
        db: DB,
        staff: CurrentStaff,
        conference: ConferenceRow,
        action: ActionParam = None,
        actor: ActorParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
    ) -> Stream:
        filters = _filters(conference, action, actor, since, until)
        return await audit_csv(db, staff, filters, conference)


class InstallationAuditAPI(Controller):
    path = "/api/v1"
    tags = ["audit log"]
    guards = [requires("admin")]
    security = STAFF_SECURITY
    cache_control = NOT_CACHED

    @get(
        "/audit",
        summary="Every audit log entry of the installation (admins; newest first)",
        description="As a conference's log, with `conference` (its slug, or null).",
    )
    async def installation_audit(
        self,
        db: DB,
        action: ActionParam = None,
        actor: ActorParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
        limit: PageSize = views.DEFAULT_LIMIT,
        after: Cursor = 0,
    ) -> InstallationAuditPage:
        filters = _filters(None, action, actor, since, until)
        rows, next_id = await queries.page(db, filters, after, limit)
        return InstallationAuditPage(
            items=[views.to_installation_item(r) for r in rows], next=next_id
        )

    @get(
        "/audit.csv",
        summary="Every audit log entry of the installation as CSV (admins)",
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        middleware=[share_connection],
    )
    async def installation_audit_csv(
        self,
        db: DB,
        staff: CurrentStaff,
        action: ActionParam = None,
        actor: ActorParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
    ) -> Stream:
        return await audit_csv(db, staff, _filters(None, action, actor, since, until), None)


CONTROLLERS = [ConferenceAuditAPI, InstallationAuditAPI]
