"""What organisers see and do with a conference's registrations: the HTML pages.

The same rules as the API (registration.staff_api): filters, counts, cancel, re-send; one
person's page with everything stored about them, their data as a download and erasure on
request (GDPR Art. 15, 17, 20).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registration import logic, options, privacy
from registration import staff_queries as queries
from registration.staff_api import (
    CATEGORIES,
    DEFAULT_LIMIT,
    MAX_ID,
    MAX_LIMIT,
    MAX_QUERY,
    NOT_CACHED,
    ORGANISER,
    STATUSES,
    RegistrationSummary,
    Slug,
    registration_or_404,
    summary,
)
from registration.staff_queries import Filters
from registration.views import token_key
from service.auth import CurrentStaff
from service.conferences.lookups import STAFF, ConferenceRow, staff_conference
from service.db import DB
from service.i18n import gettext as _


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


ACTIONS = ("cancel", "resend-ticket", "erase")
COUNT_CAP = 1000  # a search finding more says "more than 1000"


def _counted(counts: RegistrationSummary, filters: Filters) -> int:
    """How many registrations a selection without a search holds: the summary's counts by
    status and category say it exactly, at no cost."""
    by_category = (
        [counts.by_category.get(filters.category, {})]
        if filters.category
        else counts.by_category.values()
    )
    return sum(n for c in by_category for s, n in c.items() if filters.status in (None, s))


class RegistrationStaffPages(Controller):
    path = "/staff/conferences/{slug:str}/registrations"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get("/")
    async def list_page(
        self, request: Request, db: DB, slug: Slug, conference: ConferenceRow
    ) -> Template:
        filters, after, limit, errors = read_filters(request.query_params)
        rows, next_id = [], None
        counts = await summary(db, conference)
        matching = 0
        here = f"/staff/conferences/{slug}/registrations"
        size = limit if limit != DEFAULT_LIMIT else None  # kept across pages when chosen
        if not errors and filters.q:
            rows, next_id, matching = await queries.search_page(
                db, conference["id"], filters, after, limit, up_to=COUNT_CAP + 1
            )
        elif not errors:
            rows, next_id = await queries.page(db, conference["id"], filters, after, limit)
            matching = _counted(counts, filters)
        return _page(
            "registration/staff_list.html",
            400 if errors else 200,
            conference=conference,
            summary=counts,
            rows=rows,
            matching=matching,
            more_than=COUNT_CAP if filters.q and matching > COUNT_CAP else None,
            filters=filters,
            errors=errors,
            after=after,
            next_url=f"{here}{_query(filters, after=next_id, limit=size)}" if next_id else None,
            first_url=f"{here}{_query(filters, limit=size)}" if after else None,
            back=_query(filters, after=after or None),
            csv_url=f"/api/v1/conferences/{slug}/registrations.csv{_query(filters)}",
            notice=await self._notice(db, conference, request.query_params),
        )

    @get("/{registration_id:int}")
    async def detail_page(
        self,
        request: Request,
        db: DB,
        slug: Slug,
        conference: ConferenceRow,
        registration_id: FromPath[int],
    ) -> Template:
        """One person: what is stored about them (the same as their download), and what
        staff can do for them."""
        registration = await registration_or_404(db, conference, registration_id)
        filters, after, _limit, _errors = read_filters(request.query_params)
        back = _query(filters, after=after or None)
        here = f"/staff/conferences/{slug}/registrations"
        return _page(
            "registration/staff_detail.html",
            conference=conference,
            registration=registration,
            stored=await privacy.export(db, registration),
            back=back,
            back_url=f"{here}{back}#registration-{registration_id}",
            export_url=f"/api/v1/conferences/{slug}/registrations/{registration_id}/export",
        )

    @get("/{registration_id:int}/{action:str}")
    async def confirm_page(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: Slug,
        registration_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        """'Really cancel X?': the step between the list and the change, without JavaScript."""
        if action not in ACTIONS:
            raise NotFoundException()
        # By hand, after the action's check (a dependency would look the conference up first).
        conference = await staff_conference(db, slug, staff)
        registration = await registration_or_404(db, conference, registration_id)
        filters, after, _limit, _errors = read_filters(request.query_params)
        back = _query(filters, after=after or None)
        headings = {
            "cancel": _("Cancel registration"),
            "resend-ticket": _("Resend ticket"),
            "erase": _("Delete personal data"),
        }
        return _page(
            "registration/staff_confirm.html",
            conference=conference,
            registration=registration,
            anonymised=await privacy.is_anonymised(db, registration_id),
            action=action,
            heading=headings[action],
            filters=filters,
            after=after,
            back_url=f"/staff/conferences/{slug}/registrations{back}",
        )

    @post("/{registration_id:int}/{action:str}")
    async def act(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        state: State,
        slug: Slug,
        registration_id: FromPath[int],
        action: FromPath[str],
    ) -> Redirect:
        if action not in ACTIONS:
            raise NotFoundException()
        conference = await staff_conference(db, slug, staff)  # by hand: see confirm_page
        await registration_or_404(db, conference, registration_id)
        if action == "cancel":
            await logic.cancel(db, registration_id, staff=staff)
        elif action == "erase":
            await privacy.erase(db, registration_id, staff=staff)
        else:
            await logic.reissue_ticket(db, token_key(state.settings), registration_id, staff=staff)
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
        if action == "erase":
            return _(
                "The personal data of registration no. %(id)s are deleted. If it held a place, "
                "the first person on the waiting list has it now.",
                id=row["id"],
            )
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
