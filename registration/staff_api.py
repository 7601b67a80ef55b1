"""What organisers see and do with a conference's registrations: the JSON API and CSV.

Lists, counts and the needs summary come from `staff_queries`; cancelling and re-sending a
ticket go through `logic`, so the waiting list moves up and the e-mails go out exactly as
when an attendee acts. Everything here is personal data: never cached, organisers only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import CacheControlHeader, State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from registration import logic, options, privacy
from registration import staff_queries as queries
from registration.schemas import Needs
from registration.staff_queries import Filters
from registration.views import token_key
from service import audit
from service.auth import CurrentStaff, requires
from service.conferences.logic import local
from service.conferences.lookups import STAFF, ConferenceRow, staff_conference
from service.db import DB, share_connection
from service.i18n import gettext as _
from service.spreadsheet import MEDIA_TYPE, csv_download
from service.validation import Cursor

ORGANISER = [requires("organiser")]
STAFF_SECURITY = [{"BearerToken": []}]
NOT_CACHED = CacheControlHeader(private=True, no_store=True)

STATUSES = ("confirmed", "waitlisted", "pending_confirmation", "cancelled")
CATEGORIES = (*options.CATEGORY_VALUES, "exhibitor_staff")
DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY = 50, 500, 200
MAX_ID = 2**63 - 1  # bigint

StatusFilter = Literal["confirmed", "waitlisted", "pending_confirmation", "cancelled"]
CategoryFilter = Literal[
    "volunteer", "full_time_staff", "association", "speaker", "press", "exhibitor_staff"
]


# ── shapes ──────────────────────────────────────────────────────────────────


class StaffRegistration(msgspec.Struct):
    id: int
    name: str
    email: str
    organisation: str
    category: str
    language: str
    status: str
    waitlist_position: int | None
    created_at: datetime
    confirmed_at: datetime | None
    needs: Needs
    consents: list[str]


class RegistrationPage(msgspec.Struct):
    items: list[StaffRegistration]
    next: int | None  # the last id of this page, when there is a next one: pass it as `after`


class LanguageCount(msgspec.Struct):
    language: str
    count: int


class NeedsSummary(msgspec.Struct):
    people: int
    with_needs: int
    accessibility: dict[str, int]
    interpretation: list[LanguageCount]
    dietary: dict[str, int]
    notes: int


class RegistrationSummary(msgspec.Struct):
    conference: str
    capacity: int
    seats_taken: int
    seats_left: int
    by_status: dict[str, int]
    by_category: dict[str, dict[str, int]]
    needs: NeedsSummary


# ── shared by the API and the pages ─────────────────────────────────────────


async def registration_or_404(
    db: asyncpg.Connection, conference: asyncpg.Record, registration_id: int
) -> asyncpg.Record:
    fits = 0 < registration_id <= MAX_ID  # a bigger number is no id (and no database error)
    row = await queries.one(db, conference["id"], registration_id) if fits else None
    if row is None:
        raise NotFoundException(_("There is no such registration for this conference."))
    return row


def _needs(stored: dict[str, Any]) -> Needs:
    try:
        return msgspec.convert(stored or {}, Needs)
    except msgspec.ValidationError:  # written by hand into the database: show nothing
        return Needs()


def to_item(row: asyncpg.Record, conference: asyncpg.Record) -> StaffRegistration:
    return StaffRegistration(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        organisation=row["organisation"],
        category=row["category"],
        language=row["language"],
        status=row["status"],
        waitlist_position=row["waitlist_position"],
        created_at=local(row["created_at"], conference),
        confirmed_at=local(row["confirmed_at"], conference) if row["confirmed_at"] else None,
        needs=_needs(row["needs"]),
        consents=list(row["consents"]),
    )


async def summary(db: asyncpg.Connection, conference: asyncpg.Record) -> RegistrationSummary:
    cid = conference["id"]
    by_status = dict.fromkeys(STATUSES, 0)
    by_category = {c: dict.fromkeys(STATUSES, 0) for c in CATEGORIES}
    for row in await queries.by_status_and_category(db, cid):
        by_status[row["status"]] += row["n"]
        by_category[row["category"]][row["status"]] += row["n"]
    # Everyone holding a place or waiting for one, from the counts above (not another scan).
    people = by_status["confirmed"] + by_status["waitlisted"]
    counts: dict[str, dict[str | None, int]] = {}
    interpretation: list[LanguageCount] = []
    for row in await queries.needs(db, cid):  # interpretation most asked first
        if row["part"] == "interpretation":
            interpretation.append(LanguageCount(row["item"], row["n"]))
        counts.setdefault(row["part"], {})[row["item"]] = row["n"]
    accessibility, dietary = counts.get("accessibility", {}), counts.get("dietary", {})
    return RegistrationSummary(
        conference=conference["slug"],
        capacity=conference["capacity"],
        seats_taken=conference["seats_taken"],
        seats_left=conference["seats_left"],
        by_status=by_status,
        by_category=by_category,
        needs=NeedsSummary(
            people=people,
            with_needs=counts.get("with_needs", {}).get(None, 0),
            accessibility={v: accessibility.get(v, 0) for v in options.ACCESSIBILITY_VALUES},
            interpretation=interpretation,
            dietary={v: dietary.get(v, 0) for v in options.DIET_VALUES},
            notes=counts.get("notes", {}).get(None, 0),
        ),
    )


CSV_COLUMNS = (
    "id",
    "name",
    "email",
    "organisation",
    "category",
    "language",
    "status",
    "waitlist_position",
    "created_at",
    "confirmed_at",
    "photos_consent",
)


def _clock(value: datetime | None, conference: asyncpg.Record) -> str:
    # "2027-05-10 09:00" in the conference's time zone: Excel reads it as a date and time.
    # (isoformat cut after the minutes: the same text as strftime, a quarter of its time.)
    return local(value, conference).isoformat(" ", "minutes")[:16] if value else ""


def registration_line(r: asyncpg.Record, conference: asyncpg.Record) -> tuple[Any, ...]:
    return (
        r["id"],
        r["name"],
        r["email"],
        r["organisation"],
        r["category"],
        r["language"],
        r["status"],
        r["waitlist_position"] or "",
        _clock(r["created_at"], conference),
        _clock(r["confirmed_at"], conference),
        "yes" if r["photos"] else "no",
    )


# ── JSON API ────────────────────────────────────────────────────────────────

Slug = FromPath[str]
StatusParam = Annotated[
    StatusFilter | None, QueryParameter(description="Only registrations with this status.")
]
CategoryParam = Annotated[
    CategoryFilter | None, QueryParameter(description="Only registrations of this category.")
]
SearchParam = Annotated[
    str | None,
    QueryParameter(
        description="Part of the name, e-mail address or organisation (any case).",
        max_length=MAX_QUERY,
    ),
]


class RegistrationStaffAPI(Controller):
    path = "/api/v1/conferences/{slug:str}"
    tags = ["registration (staff)"]
    guards = ORGANISER
    security = STAFF_SECURITY
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get(
        "/registrations",
        summary="List a conference's registrations (search, filter, keyset pagination)",
        description=(
            "Ordered by id. `next` is the cursor of the following page (pass it as `after`), "
            "null on the last page. `waitlist_position` is the 1-based place on the waiting "
            "list. `needs` are shown only where the person consented to storing them."
        ),
    )
    async def list_registrations(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: Slug,
        status: StatusParam = None,
        category: CategoryParam = None,
        q: SearchParam = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size, 1 to 500.")
        ] = DEFAULT_LIMIT,
        after: Cursor = 0,
    ) -> RegistrationPage:
        # By hand: Litestar resolves a dependency before it validates the query (lookups.py).
        conference = await staff_conference(db, slug, staff)
        filters = Filters(status, category, (q or "").strip() or None)
        rows, next_id = await queries.page(db, conference["id"], filters, after, limit)
        return RegistrationPage(
            items=[to_item(r, conference) for r in rows],
            next=next_id,
        )

    @get(
        "/registrations/summary",
        summary="Counts by status and category, seats left, and the needs for planning",
        description=(
            "Needs are counted over confirmed and waitlisted registrations that consented "
            "to storing them (`needs.people` is how many are confirmed or waiting in all)."
        ),
    )
    async def registration_summary(self, db: DB, conference: ConferenceRow) -> RegistrationSummary:
        return await summary(db, conference)

    @get(
        "/registrations.csv",
        summary="Export registrations as CSV (UTF-8 with BOM, ';' separated, for Excel)",
        description=(
            "Takes the filters of the list. Cells that a spreadsheet would run as a formula "
            "get a leading apostrophe. Needs are not exported: they are health data, and the "
            "summary gives what planning needs."
        ),
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        # Streamed from a cursor: the guard's connection serves the handler and the stream.
        middleware=[share_connection],
    )
    async def export_csv(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: Slug,
        status: StatusParam = None,
        category: CategoryParam = None,
        q: SearchParam = None,
    ) -> Stream:
        conference = await staff_conference(db, slug, staff)  # by hand: see list_registrations
        filters = Filters(status, category, (q or "").strip() or None)
        await audit.downloaded(
            db,
            staff,
            "registrations",
            conference_id=conference["id"],
            subject_label=conference["title"],
        )
        return csv_download(
            f"anmeldungen-{conference['slug']}.csv",
            CSV_COLUMNS,
            queries.all_matching(db, conference["id"], filters),
            lambda r: registration_line(r, conference),
        )

    @post(
        "/registrations/{registration_id:int}/cancel",
        status_code=200,
        summary="Cancel a registration (the first person waiting moves up)",
        description="Cancelling again changes nothing and gives the same answer.",
    )
    async def cancel(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow, registration_id: FromPath[int]
    ) -> StaffRegistration:
        await registration_or_404(db, conference, registration_id)
        await logic.cancel(db, registration_id, staff=staff)
        return to_item(await registration_or_404(db, conference, registration_id), conference)

    @post(
        "/registrations/{registration_id:int}/resend-ticket",
        status_code=200,
        summary="Issue a new ticket and e-mail it (the old ticket stops working)",
        description="409 unless the registration is confirmed.",
    )
    async def resend_ticket(
        self,
        db: DB,
        state: State,
        staff: CurrentStaff,
        conference: ConferenceRow,
        registration_id: FromPath[int],
    ) -> StaffRegistration:
        await registration_or_404(db, conference, registration_id)
        await logic.reissue_ticket(db, token_key(state.settings), registration_id, staff=staff)
        return to_item(await registration_or_404(db, conference, registration_id), conference)

    @get(
        "/registrations/{registration_id:int}/export",
        summary="Everything stored about one person, as JSON (a request under GDPR Art. 15)",
        description="The same document the person downloads from their own page.",
    )
    async def export_person(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow, registration_id: FromPath[int]
    ) -> Response[dict[str, Any]]:
        registration = await registration_or_404(db, conference, registration_id)
        await audit.downloaded(
            db,
            staff,
            "registration_data",
            format="json",
            conference_id=conference["id"],
            subject_type="registration",
            subject_id=registration_id,
            subject_label=registration["name"],
        )
        filename = f"tagung-data-{registration_id}.json"
        return Response(
            await privacy.export(db, registration),
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post(
        "/registrations/{registration_id:int}/erase",
        status_code=200,
        summary="Erase one person's data on request (GDPR Art. 17)",
        description=(
            "Cancels first (the first person waiting moves up, forum seats are passed on), "
            "then name, e-mail address, organisation, needs, consents and the mails about the "
            "registration are deleted. Erasing again changes nothing."
        ),
    )
    async def erase(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow, registration_id: FromPath[int]
    ) -> StaffRegistration:
        await registration_or_404(db, conference, registration_id)
        await privacy.erase(db, registration_id, staff=staff)
        return to_item(await registration_or_404(db, conference, registration_id), conference)


# ── HTML pages ──────────────────────────────────────────────────────────────
