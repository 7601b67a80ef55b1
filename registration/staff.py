"""What organisers see and do with a conference's registrations: JSON API, CSV, HTML pages.

Lists, counts and the needs summary come from `staff_queries`; cancelling and re-sending a
ticket go through `logic`, so the waiting list moves up and the e-mails go out exactly as
when an attendee acts. Everything here is personal data: never cached, organisers only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import asyncpg
import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import CacheControlHeader, State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from registration import logic, options
from registration import staff_queries as queries
from registration.schemas import Needs
from registration.staff_queries import Filters
from registration.views import token_key
from service.auth import requires
from service.conferences import queries as conference_queries
from service.conferences.logic import local, not_found
from service.db import DB
from service.i18n import gettext as _

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


async def _conference(db: asyncpg.Connection, slug: str) -> asyncpg.Record:
    """Published or not: organisers see every conference."""
    conference = await conference_queries.by_slug(db, slug)
    if conference is None:
        raise not_found()
    return conference


async def _registration(
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
    totals = await queries.needs_totals(db, cid)
    accessibility = await queries.needs_items(db, cid, "accessibility")
    dietary = await queries.needs_items(db, cid, "dietary")
    return RegistrationSummary(
        conference=conference["slug"],
        capacity=conference["capacity"],
        seats_taken=conference["seats_taken"],
        seats_left=conference["seats_left"],
        by_status=by_status,
        by_category=by_category,
        needs=NeedsSummary(
            people=totals["people"],
            with_needs=totals["with_needs"],
            accessibility={v: accessibility.get(v, 0) for v in options.ACCESSIBILITY_VALUES},
            interpretation=[
                LanguageCount(r["language"], r["n"]) for r in await queries.interpretation(db, cid)
            ],
            dietary={v: dietary.get(v, 0) for v in options.DIET_VALUES},
            notes=totals["with_notes"],
        ),
    )


# Spreadsheet programs run a cell that starts with one of these as a formula (CWE-1236).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
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


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _clock(value: datetime | None, conference: asyncpg.Record) -> str:
    # "2027-05-10 09:00" in the conference's time zone: Excel reads it as a date and time.
    return local(value, conference).strftime("%Y-%m-%d %H:%M") if value else ""


def registrations_csv(rows: list[asyncpg.Record], conference: asyncpg.Record) -> bytes:
    """UTF-8 with a byte-order mark and `;` between cells, as Excel in German opens it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            _cell(v)
            for v in (
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
                "yes" if "photos" in r["consents"] else "no",
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


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
        slug: Slug,
        status: StatusParam = None,
        category: CategoryParam = None,
        q: SearchParam = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size, 1 to 500.")
        ] = DEFAULT_LIMIT,
        after: Annotated[
            int,
            QueryParameter(ge=0, le=MAX_ID, description="The `next` cursor of the previous page."),
        ] = 0,
    ) -> RegistrationPage:
        conference = await _conference(db, slug)
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
    async def registration_summary(self, db: DB, slug: Slug) -> RegistrationSummary:
        return await summary(db, await _conference(db, slug))

    @get(
        "/registrations.csv",
        summary="Export registrations as CSV (UTF-8 with BOM, ';' separated, for Excel)",
        description=(
            "Takes the filters of the list. Cells that a spreadsheet would run as a formula "
            "get a leading apostrophe. Needs are not exported: they are health data, and the "
            "summary gives what planning needs."
        ),
        response_description="text/csv",
    )
    async def export_csv(
        self,
        db: DB,
        slug: Slug,
        status: StatusParam = None,
        category: CategoryParam = None,
        q: SearchParam = None,
    ) -> Response[bytes]:
        conference = await _conference(db, slug)
        filters = Filters(status, category, (q or "").strip() or None)
        rows = await queries.all_matching(db, conference["id"], filters)
        filename = f"anmeldungen-{conference['slug']}.csv"
        return Response(
            registrations_csv(rows, conference),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post(
        "/registrations/{registration_id:int}/cancel",
        status_code=200,
        summary="Cancel a registration (the first person waiting moves up)",
        description="Cancelling again changes nothing and gives the same answer.",
    )
    async def cancel(self, db: DB, slug: Slug, registration_id: FromPath[int]) -> StaffRegistration:
        conference = await _conference(db, slug)
        await _registration(db, conference, registration_id)
        await logic.cancel(db, registration_id)
        return to_item(await _registration(db, conference, registration_id), conference)

    @post(
        "/registrations/{registration_id:int}/resend-ticket",
        status_code=200,
        summary="Issue a new ticket and e-mail it (the old ticket stops working)",
        description="409 unless the registration is confirmed.",
    )
    async def resend_ticket(
        self, db: DB, state: State, slug: Slug, registration_id: FromPath[int]
    ) -> StaffRegistration:
        conference = await _conference(db, slug)
        await _registration(db, conference, registration_id)
        await logic.reissue_ticket(db, token_key(state.settings), registration_id)
        return to_item(await _registration(db, conference, registration_id), conference)


# ── HTML pages ──────────────────────────────────────────────────────────────


def read_filters(params: Mapping[str, str]) -> tuple[Filters, int, int, dict[str, str]]:
    """The list's query string, leniently: an empty field means 'all'."""
    errors: dict[str, str] = {}

    def choice(name: str, allowed: tuple[str, ...]) -> str | None:
        value = (params.get(name) or "").strip()
        if value and value not in allowed:
            errors[name] = _("Please choose one of the options.")
            return None
        return value or None

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = (params.get(name) or "").strip()
        try:
            value = int(raw) if raw else default
        except ValueError:
            value = -1
        if not low <= value <= high:
            errors[name] = _("Please enter a number from %(min)s to %(max)s.", min=low, max=high)
            return default
        return value

    q = (params.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        errors["q"] = _("At most %(n)s characters, please.", n=MAX_QUERY)
        q = ""
    filters = Filters(choice("status", STATUSES), choice("category", CATEGORIES), q or None)
    after = number("after", 0, 0, MAX_ID)
    limit = number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    return filters, after, limit, errors


def _query(filters: Filters, **extra: Any) -> str:
    """The selection (and `extra`) as a query string with its '?', or '' when empty."""
    values = {"q": filters.q, "status": filters.status, "category": filters.category, **extra}
    query = urlencode({k: v for k, v in values.items() if v not in (None, "")})
    return f"?{query}" if query else ""


def _labels() -> dict[str, dict[str, str]]:
    other = {"other": _("Other")}
    return {
        "status": {s: options.status_name(s) for s in STATUSES},
        "category": {c: options.category_name(c) for c in CATEGORIES},
        "accessibility": {**dict(options.accessibility()), **other},
        "dietary": {**dict(options.diets()), **other},
    }


def _page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("labels", _labels())
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


ACTIONS = ("cancel", "resend-ticket")


class RegistrationStaffPages(Controller):
    path = "/staff/conferences/{slug:str}/registrations"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED

    @get("/")
    async def list_page(self, request: Request, db: DB, slug: Slug) -> Template:
        conference = await _conference(db, slug)
        filters, after, limit, errors = read_filters(request.query_params)
        rows, next_id = [], None
        matching = 0
        here = f"/staff/conferences/{slug}/registrations"
        size = limit if limit != DEFAULT_LIMIT else None  # kept across pages when chosen
        if not errors:
            rows, next_id = await queries.page(db, conference["id"], filters, after, limit)
            matching = await queries.count(db, conference["id"], filters)
        return _page(
            "registration/staff_list.html",
            400 if errors else 200,
            conference=conference,
            summary=await summary(db, conference),
            rows=rows,
            matching=matching,
            filters=filters,
            errors=errors,
            after=after,
            next_url=f"{here}{_query(filters, after=next_id, limit=size)}" if next_id else None,
            first_url=f"{here}{_query(filters, limit=size)}" if after else None,
            back=_query(filters, after=after or None),
            csv_url=f"/api/v1/conferences/{slug}/registrations.csv{_query(filters)}",
            notice=await self._notice(db, conference, request.query_params),
        )

    @get("/{registration_id:int}/{action:str}")
    async def confirm_page(
        self,
        request: Request,
        db: DB,
        slug: Slug,
        registration_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        """'Really cancel X?': the step between the list and the change, without JavaScript."""
        if action not in ACTIONS:
            raise NotFoundException()
        conference = await _conference(db, slug)
        registration = await _registration(db, conference, registration_id)
        filters, after, _limit, _errors = read_filters(request.query_params)
        back = _query(filters, after=after or None)
        return _page(
            "registration/staff_confirm.html",
            conference=conference,
            registration=registration,
            action=action,
            heading=_("Cancel registration") if action == "cancel" else _("Resend ticket"),
            filters=filters,
            after=after,
            back_url=f"/staff/conferences/{slug}/registrations{back}",
        )

    @post("/{registration_id:int}/{action:str}")
    async def act(
        self,
        request: Request,
        db: DB,
        state: State,
        slug: Slug,
        registration_id: FromPath[int],
        action: FromPath[str],
    ) -> Redirect:
        if action not in ACTIONS:
            raise NotFoundException()
        conference = await _conference(db, slug)
        await _registration(db, conference, registration_id)
        if action == "cancel":
            await logic.cancel(db, registration_id)
        else:
            await logic.reissue_ticket(db, token_key(state.settings), registration_id)
        # Back to the same selection and page, with a notice of what was done.
        filters, after, _limit, _errors = read_filters(await request.form())
        query = _query(filters, after=after or None, done=action, id=registration_id)
        return Redirect(f"/staff/conferences/{slug}/registrations{query}", status_code=303)

    @staticmethod
    async def _notice(
        db: asyncpg.Connection, conference: asyncpg.Record, params: Mapping[str, str]
    ) -> str | None:
        action, raw_id = params.get("done"), params.get("id") or ""
        if action not in ACTIONS or not raw_id.isdigit():
            return None
        row = await queries.one(db, conference["id"], int(raw_id))
        if row is None:
            return None
        if action == "cancel":
            return _(
                "The registration of %(name)s is cancelled. If anyone was waiting, the first "
                "person on the waiting list has the place now and gets the ticket by e-mail.",
                name=row["name"],
            )
        return _(
            "A new ticket for %(name)s is on its way by e-mail. The old ticket no longer works.",
            name=row["name"],
        )
