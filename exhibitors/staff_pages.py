"""HTML for organisers: the stand catalogue (add one, add a row, block) and the review of
booking requests (approve onto a fitting stand, waiting list, reject, reassign, release).

Every change goes through `exhibitors.logic`, like the JSON API. Invalid input shows the form
again with messages next to the fields (400); a step that is not possible now (a stand taken,
blocked or too small, a booking in the wrong state) shows the logic's reason (409).
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from markupsafe import Markup

from exhibitors import logic, queries
from exhibitors.pages import (
    FEATURE_VALUES,
    feature_names,
    features,
    kind_name,
    metres,
    price,
    read_number,
    redisplay,
    size,
)
from service.auth import requires
from service.conferences import queries as conference_queries
from service.conferences.logic import not_found
from service.db import DB
from service.errors import FieldErrors
from service.forms import Form
from service.i18n import gettext as _
from service.i18n import ngettext

ORGANISER = [requires("organiser")]
NOT_CACHED = CacheControlHeader(private=True, no_store=True)
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,11}$")
PREFIX = re.compile(r"^[A-Za-z]{0,3}$")
REASON_LENGTH = 1000
ALL = 10_000  # bookings read for the page at once (a market has a few hundred at most)
ACTIONS = ("approve", "waitlist", "reject", "reassign", "release")
CONFIRMED_ACTIONS = ("reject", "release")  # these have a page that asks first


def status_name(value: str) -> str:
    """A booking's state as organisers speak of it."""
    return {
        "pending_confirmation": _("e-mail address not yet confirmed"),
        "requested": _("requested"),
        "approved": _("approved"),
        "waitlisted": _("on the waiting list"),
        "rejected": _("rejected"),
        "cancelled": _("withdrawn"),
    }.get(value, value)


# ── shared helpers ──────────────────────────────────────────────────────────────────────


async def _conference(db: asyncpg.Connection, slug: str) -> asyncpg.Record:
    """Published or not: organisers prepare the market before the conference is public."""
    conference = await conference_queries.by_slug(db, slug)
    if conference is None:
        raise not_found()
    return conference


def _page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("notice", None)
    context.setdefault("problem", None)
    context.update(
        features=features(),
        feature_names=feature_names,
        kind_name=kind_name,
        status_name=status_name,
        size=size,
        price=price,
        metres=metres,
    )
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


def _see(url: str) -> Redirect:
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


def _int(raw: Any) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


def _conflict(exc: HTTPException) -> str:
    if exc.status_code != 409:
        raise exc
    return exc.detail


# ── the stand catalogue ─────────────────────────────────────────────────────────────────


def _cents(form: Form, name: str) -> int:
    euros = read_number(form, name, maximum=Decimal(1_000_000))
    return int(euros * 100) if euros is not None else 0


def _shared(form: Form, p: str) -> dict[str, Any]:
    """What one stand and a row have in common; `p` is the form's prefix for its fields."""
    hundred = Decimal(100)
    width = read_number(form, f"{p}width_m", required=True, maximum=hundred, above_minimum=True)
    depth = read_number(form, f"{p}depth_m", required=True, maximum=hundred, above_minimum=True)
    x = read_number(form, f"{p}x", maximum=Decimal(10_000))
    y = read_number(form, f"{p}y", maximum=Decimal(10_000))
    return {
        "area": form.text(f"{p}area", max_length=100),
        "width_m": float(width) if width is not None else None,
        "depth_m": float(depth) if depth is not None else None,
        "x": float(x or 0),
        "y": float(y or 0),
        "features": form.choices(f"{p}features", FEATURE_VALUES, at_least=0),
        "price_cents": _cents(form, f"{p}price"),
        "max_staff": form.integer(f"{p}max_staff", minimum=0, maximum=50),
    }


def read_stand(form: Form) -> dict[str, Any]:
    code = form.text("code", required=True, max_length=12)
    if code and "code" not in form.errors and not CODE.match(code):
        form.errors["code"] = _(
            "Letters, digits, '.' and '-', starting with a letter or digit; e.g. B12."
        )
    return {"code": code, **_shared(form, "")}


def read_row(form: Form) -> dict[str, Any]:
    prefix = form.text("row_prefix", max_length=3)
    if "row_prefix" not in form.errors and not PREFIX.match(prefix):
        form.errors["row_prefix"] = _("Up to three letters, e.g. B.")
    first = form.integer("row_first_number", minimum=0, maximum=9999)
    count = form.integer("row_count", minimum=1, maximum=200)
    gap = read_number(form, "row_gap_m", maximum=Decimal(50))
    direction = form.choice("row_direction", ("right", "down"))
    return {
        "prefix": prefix,
        "first_number": first,
        "count": count,
        "direction": direction,
        "gap_m": float(gap or 0),
        **_shared(form, "row_"),
    }


STAND_DEFAULTS = {"x": "0", "y": "0", "price": "0", "max_staff": "3"}
ROW_DEFAULTS = {
    "row_prefix": "",
    "row_first_number": "1",
    "row_count": "10",
    "row_x": "0",
    "row_y": "0",
    "row_direction": "right",
    "row_gap_m": "0",
    "row_price": "0",
    "row_max_staff": "3",
}


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

    @get("/")
    async def catalogue(self, request: Request, db: DB, slug: FromPath[str]) -> Template:
        conference = await _conference(db, slug)
        done, n = request.query_params.get("done"), _int(request.query_params.get("n"))
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
    async def add_stand(self, request: Request, db: DB, slug: FromPath[str]) -> Any:
        conference = await _conference(db, slug)
        form = Form(await request.form())
        stand = read_stand(form)
        status = 400
        if form.valid:
            try:
                await logic.create_stands(db, slug, [stand])
                return _see(f"/staff/conferences/{slug}/stands?done=added&n=1")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
                status = exc.status_code
        return await self._catalogue(
            db,
            conference,
            status=status,
            stand_fields=redisplay(form, ("features",)),
            stand_errors=form.errors,
        )

    @post("/row")
    async def add_row(self, request: Request, db: DB, slug: FromPath[str]) -> Any:
        conference = await _conference(db, slug)
        form = Form(await request.form())
        row = read_row(form)
        if form.valid:
            stands = logic.stand_row(row)
            too_long = [s["code"] for s in stands if not CODE.match(s["code"])]
            if too_long:
                form.errors["row_prefix"] = _(
                    "The codes would be too long, e.g. %(code)s.", code=too_long[0]
                )
            else:
                try:
                    await logic.create_stands(db, slug, stands)
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
                        status=exc.status_code,
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
        self, request: Request, db: DB, slug: FromPath[str], stand_id: FromPath[int]
    ) -> Any:
        conference = await _conference(db, slug)
        stand = await queries.stand(db, stand_id)
        if stand is None or stand["conference_id"] != conference["id"]:
            raise NotFoundException(_("There is no such stand."))
        blocked = (await request.form()).get("blocked") == "yes"
        try:
            await logic.update_stand(db, stand_id, {"blocked": blocked})
        except HTTPException as exc:
            return await self._catalogue(db, conference, status=409, problem=_conflict(exc))
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


def stand_choice(stand: asyncpg.Record) -> str:
    """How a stand is offered in a select: code, area, size, equipment, staff, price."""
    parts = [stand["code"]]
    if stand["area"]:
        parts.append(stand["area"])
    parts += [
        size(stand["width_m"], stand["depth_m"]),
        feature_names(list(stand["features"])),
        _("up to %(n)s staff", n=stand["max_staff"]),
        price(stand["price_cents"]),
    ]
    return " – ".join(parts)


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

    @get("/")
    async def review(self, request: Request, db: DB, slug: FromPath[str]) -> Template:
        conference = await _conference(db, slug)
        params = request.query_params
        booking_id = _int(params.get("id"))
        booking = None
        if booking_id is not None:
            booking = await queries.booking(db, booking_id)
            if booking is not None and booking["conference_id"] != conference["id"]:
                booking = None
        return await self._review(db, conference, notice=_notice(params.get("done"), booking))

    @get("/{booking_id:int}/{action:str}")
    async def confirm_page(
        self, db: DB, slug: FromPath[str], booking_id: FromPath[int], action: FromPath[str]
    ) -> Template:
        """'Really reject X?': the step between the list and the change, without JavaScript."""
        if action not in CONFIRMED_ACTIONS:
            raise NotFoundException()
        conference = await _conference(db, slug)
        booking = await _booking(db, conference, booking_id)
        return self._confirm(conference, booking, action)

    @post("/{booking_id:int}/{action:str}")
    async def act(
        self,
        request: Request,
        db: DB,
        slug: FromPath[str],
        booking_id: FromPath[int],
        action: FromPath[str],
    ) -> Any:
        if action not in ACTIONS:
            raise NotFoundException()
        conference = await _conference(db, slug)
        booking = await _booking(db, conference, booking_id)
        data = await request.form()
        try:
            if action in ("approve", "reassign"):
                stand_id = _int(data.get("stand_id"))
                if stand_id is None:
                    return await self._review(
                        db, conference, status=400, problem=_("Please choose a stand.")
                    )
                step = logic.approve if action == "approve" else logic.reassign
                await step(db, booking_id, stand_id)
            elif action == "release":
                await logic.release(db, booking_id)
            else:
                reason = (data.get("reason") or "").strip()
                error = None
                if action == "reject" and not reason:
                    error = _("Please give a reason; the organisation reads it.")
                elif len(reason) > REASON_LENGTH:
                    error = _("At most %(n)s characters, please.", n=REASON_LENGTH)
                if error and action == "reject":
                    return self._confirm(
                        conference, booking, action, 400, errors={"reason": error}, reason=reason
                    )
                if error:
                    return await self._review(db, conference, status=400, problem=error)
                status = "rejected" if action == "reject" else "waitlisted"
                await logic.decide(db, booking_id, status, reason)
        except HTTPException as exc:
            problem = _(
                "%(organisation)s: %(reason)s",
                organisation=booking["organisation"],
                reason=_conflict(exc),
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
