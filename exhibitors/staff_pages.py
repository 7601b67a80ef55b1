"""HTML for organisers: the stand catalogue (add one, add a row, block) and the review of
booking requests (approve onto a fitting stand, waiting list, reject, reassign, release).

Every change goes through `exhibitors.logic`, like the JSON API. Invalid input shows the form
again with messages next to the fields (400); a step that is not possible now (a stand taken,
blocked or too small, a booking in the wrong state) shows the logic's reason (409).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from markupsafe import Markup

from exhibitors import logic, queries
from exhibitors.formats import metres, price, size, stand_choice
from exhibitors.forms import (
    ROW_DEFAULTS,
    STAND_DEFAULTS,
    read_blocked,
    read_reason,
    read_row,
    read_stand,
    redisplay,
    whole_number,
)
from exhibitors.options import (
    feature_names,
    features,
    kind_name,
    staff_status_name,
    stand_state_name,
)
from service.auth import CurrentStaff, requires
from service.conferences.lookups import STAFF, ConferenceRow, staff_conference
from service.db import DB
from service.domain_errors import DomainError, FieldErrors, refusal
from service.forms import Form
from service.i18n import gettext as _
from service.i18n import ngettext

ORGANISER = [requires("organiser")]
NOT_CACHED = CacheControlHeader(private=True, no_store=True)
ALL = 10_000  # bookings read for the page at once (a market has a few hundred at most)
ACTIONS = ("approve", "waitlist", "reject", "reassign", "release")
CONFIRMED_ACTIONS = ("reject", "release")  # these have a page that asks first


# ── shared helpers ──────────────────────────────────────────────────────────────────────


def _page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("notice", None)
    context.setdefault("problem", None)
    context.update(
        features=features(),
        feature_names=feature_names,
        kind_name=kind_name,
        status_name=staff_status_name,
        stand_state_name=stand_state_name,
        size=size,
        price=price,
        metres=metres,
    )
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


def _see(url: str) -> Redirect:
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


# ── the stand catalogue ─────────────────────────────────────────────────────────────────


def stand_counts(stands: list[asyncpg.Record]) -> dict[str, int]:
    booked = sum(1 for s in stands if s["booked_by"] is not None)
    blocked = sum(1 for s in stands if s["blocked"] and s["booked_by"] is None)
    free = len(stands) - booked - blocked
    return {"all": len(stands), "booked": booked, "blocked": blocked, "free": free}


class StaffStandPages(Controller):
    path = "/staff/conferences/{slug:str}/stands"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED
    # Published or not: organisers prepare the market before the conference is public.
    dependencies = STAFF

    @get("/")
    async def catalogue(self, request: Request, db: DB, conference: ConferenceRow) -> Template:
        done, n = request.query_params.get("done"), whole_number(request.query_params.get("n"))
        notice = None
        if done == "added" and n:
            notice = ngettext("%(num)s stand added.", "%(num)s stands added.", n)
        elif done in ("blocked", "unblocked"):
            code = request.query_params.get("code", "")
            notice = (
                _("Stand %(code)s is blocked: it cannot be booked.", code=code)
                if done == "blocked"
                else _("Stand %(code)s can be booked again.", code=code)
            )
        return await self._catalogue(db, conference, notice=notice)

    @post("/")
    async def add_stand(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        form = Form(await request.form())
        stand = read_stand(form)
        status = 400
        if form.valid:
            try:
                await logic.create_stands(db, slug, [stand], staff=staff)
                return _see(f"/staff/conferences/{slug}/stands?done=added&n=1")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
                status = 409 if exc.taken else 400
        return await self._catalogue(
            db,
            conference,
            status=status,
            stand_fields=redisplay(form, ("features",)),
            stand_errors=form.errors,
        )

    @post("/row")
    async def add_row(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        form = Form(await request.form())
        stands = read_row(form)
        if form.valid:
            try:
                await logic.create_stands(db, slug, stands, staff=staff)
                return _see(f"/staff/conferences/{slug}/stands?done=added&n={len(stands)}")
            except FieldErrors as exc:
                form.errors["row_prefix"] = _(
                    "One of these codes is taken already (%(first)s to %(last)s).",
                    first=stands[0]["code"],
                    last=stands[-1]["code"],
                )
                return await self._catalogue(
                    db,
                    conference,
                    status=409 if exc.taken else 400,
                    row_fields=redisplay(form, ("row_features",)),
                    row_errors=form.errors,
                )
        return await self._catalogue(
            db,
            conference,
            status=400,
            row_fields=redisplay(form, ("row_features",)),
            row_errors=form.errors,
        )

    @post("/{stand_id:int}/block")
    async def block(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
        stand_id: FromPath[int],
    ) -> Any:
        stand = await queries.stand(db, stand_id)
        if stand is None or stand["conference_id"] != conference["id"]:
            raise NotFoundException(_("There is no such stand."))
        blocked = read_blocked(await request.form())
        try:
            await logic.update_stand(db, stand_id, {"blocked": blocked}, staff=staff)
        except DomainError as exc:
            return await self._catalogue(db, conference, status=409, problem=refusal(exc))
        done = "blocked" if blocked else "unblocked"
        return _see(f"/staff/conferences/{slug}/stands?done={done}&code={stand['code']}")

    async def _catalogue(
        self, db: asyncpg.Connection, conference: asyncpg.Record, *, status: int = 200, **context
    ) -> Template:
        stands = await queries.stands(db, conference["id"])
        return _page(
            "exhibitors/staff_stands.html",
            status,
            conference=conference,
            stands=stands,
            counts=stand_counts(stands),
            **{
                "stand_fields": STAND_DEFAULTS,
                "stand_errors": {},
                "row_fields": ROW_DEFAULTS,
                "row_errors": {},
                **context,
            },
        )


# ── the review of booking requests ──────────────────────────────────────────────────────


async def all_bookings(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    return await queries.bookings(db, conference_id, status=None, after=0, limit=ALL)


async def _booking(
    db: asyncpg.Connection, conference: asyncpg.Record, booking_id: int
) -> asyncpg.Record:
    booking = await queries.booking(db, booking_id)
    if booking is None or booking["conference_id"] != conference["id"]:
        raise logic.booking_not_found()
    return booking


def _notice(action: str | None, booking: asyncpg.Record | None) -> str | None:
    if booking is None or action not in ACTIONS:
        return None
    organisation, code = booking["organisation"], booking["stand_code"]
    return {
        "approve": lambda: _(
            "%(organisation)s is approved on stand %(code)s. The organisation gets an e-mail.",
            organisation=organisation,
            code=code,
        ),
        "reassign": lambda: _(
            "%(organisation)s now has stand %(code)s. The organisation gets an e-mail.",
            organisation=organisation,
            code=code,
        ),
        "waitlist": lambda: _(
            "%(organisation)s is on the waiting list. The organisation gets an e-mail.",
            organisation=organisation,
        ),
        "reject": lambda: _(
            "The request of %(organisation)s is rejected. The organisation gets an e-mail "
            "with the reason.",
            organisation=organisation,
        ),
        "release": lambda: _(
            "The stand of %(organisation)s is free again, its passes are withdrawn, and the "
            "request is back in the queue.",
            organisation=organisation,
        ),
    }[action]()


class StaffExhibitorPages(Controller):
    path = "/staff/conferences/{slug:str}/exhibitors"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get("/")
    async def review(self, request: Request, db: DB, conference: ConferenceRow) -> Template:
        params = request.query_params
        booking_id = whole_number(params.get("id"))
        booking = None
        if booking_id is not None:
            booking = await queries.booking(db, booking_id)
            if booking is not None and booking["conference_id"] != conference["id"]:
                booking = None
        return await self._review(db, conference, notice=_notice(params.get("done"), booking))

    @get("/{booking_id:int}/{action:str}")
    async def confirm_page(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        booking_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        """'Really reject X?': the step between the list and the change, without JavaScript."""
        if action not in CONFIRMED_ACTIONS:
            raise NotFoundException()
        # By hand, after the action's check (a dependency would look the conference up first).
        conference = await staff_conference(db, slug, staff)
        booking = await _booking(db, conference, booking_id)
        return self._confirm(conference, booking, action)

    @post("/{booking_id:int}/{action:str}")
    async def act(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        booking_id: FromPath[int],
        action: FromPath[str],
    ) -> Any:
        if action not in ACTIONS:
            raise NotFoundException()
        conference = await staff_conference(db, slug, staff)  # by hand: see confirm_page
        booking = await _booking(db, conference, booking_id)
        data = await request.form()
        try:
            if action in ("approve", "reassign"):
                stand_id = whole_number(data.get("stand_id"))
                if stand_id is None:
                    return await self._review(
                        db, conference, status=400, problem=_("Please choose a stand.")
                    )
                step = logic.approve if action == "approve" else logic.reassign
                await step(db, booking_id, stand_id, staff=staff)
            elif action == "release":
                await logic.release(db, booking_id, staff=staff)
            else:
                reason, error = read_reason(data, required=action == "reject")
                if error and action == "reject":
                    return self._confirm(
                        conference, booking, action, 400, errors={"reason": error}, reason=reason
                    )
                if error:
                    return await self._review(db, conference, status=400, problem=error)
                status = "rejected" if action == "reject" else "waitlisted"
                await logic.decide(db, booking_id, status, reason, staff=staff)
        except DomainError as exc:
            problem = _(
                "%(organisation)s: %(reason)s",
                organisation=booking["organisation"],
                reason=refusal(exc),
            )
            return await self._review(db, conference, status=409, problem=problem)
        return _see(f"/staff/conferences/{slug}/exhibitors?done={action}&id={booking_id}")

    def _confirm(
        self,
        conference: asyncpg.Record,
        booking: asyncpg.Record,
        action: str,
        status: int = 200,
        **context: Any,
    ) -> Template:
        return _page(
            "exhibitors/staff_confirm.html",
            status,
            conference=conference,
            booking=booking,
            action=action,
            heading=_("Reject request") if action == "reject" else _("Release stand"),
            possible=(
                booking["status"] in ("requested", "waitlisted", "approved")
                if action == "reject"
                else booking["status"] == "approved"
            ),
            back_url=f"/staff/conferences/{conference['slug']}/exhibitors#booking-{booking['id']}",
            **{"errors": {}, "reason": "", **context},
        )

    async def _review(
        self, db: asyncpg.Connection, conference: asyncpg.Record, *, status: int = 200, **context
    ) -> Template:
        stands = await queries.stands(db, conference["id"])
        codes = {s["id"]: s["code"] for s in stands}
        bookings = await all_bookings(db, conference["id"])
        by_status = Counter(b["status"] for b in bookings)
        requested = sorted(
            (b for b in bookings if b["status"] == "requested"),
            key=lambda b: (b["confirmed_at"] or b["created_at"], b["id"]),
        )
        waiting = sorted(
            (b for b in bookings if b["status"] == "waitlisted"),
            key=lambda b: b["waitlist_position"],
        )
        approved = sorted(
            (b for b in bookings if b["status"] == "approved"),
            key=lambda b: b["organisation"].casefold(),
        )
        others = [
            b for b in bookings if b["status"] in ("pending_confirmation", "rejected", "cancelled")
        ]
        offered = [b["id"] for b in (*requested, *waiting, *approved)]
        stands_for = await queries.fitting_stands_by_booking(db, conference["id"], offered)
        # A free stand is offered to many bookings, mostly in the same list: its text is made
        # once (numbers and prices in the page language cost ~0.2 ms each time), and so are
        # the <option>s of each list (at 500 stands the page has ~13,000 of them).
        free = {s["id"]: s for rows in stands_for.values() for s in rows}
        text = {stand_id: stand_choice(stand) for stand_id, stand in free.items()}
        lists: dict[tuple[int, ...], Markup] = {}
        fitting = {}
        for booking_id in offered:
            ids = tuple(s["id"] for s in stands_for.get(booking_id, []))
            if ids not in lists:
                lists[ids] = Markup("").join(
                    Markup('<option value="{}">{}</option>').format(i, text[i]) for i in ids
                )
            fitting[booking_id] = lists[ids]
        return _page(
            "exhibitors/staff_exhibitors.html",
            status,
            conference=conference,
            stand_counts=stand_counts(stands),
            by_status=by_status,
            queue=[*requested, *waiting],
            waiting_place={b["id"]: i for i, b in enumerate(waiting, start=1)},
            approved=approved,
            others=others,
            fitting=fitting,
            codes=codes,
            **context,
        )
