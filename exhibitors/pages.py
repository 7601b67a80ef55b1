"""HTML for organisations: the booking request form, the "check your inbox" page and the
exhibitor page behind the link in every e-mail (status, stand, directory entry, passes,
withdrawal).

The form checks what `exhibitors.schemas.BookingCreate` checks for the API, field by field, so
that the page can say next to each field what is wrong; every change then goes through
`exhibitors.logic`, like the API. A change that is valid but not possible now (closed window,
no stand yet, all passes named) shows the logic's reason (409).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg
from babel.numbers import format_currency, format_decimal
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from exhibitors import logic, queries
from registration.views import token_key
from service.db import DB
from service.forms import Form
from service.i18n import current_language
from service.i18n import gettext as _
from service.ratelimit import per_client

REQUEST_LIMIT = per_client("exhibitor-form", 30)
LINK_LIMIT = per_client("links", 120)
# Personal pages: never cached by shared caches, never indexed.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}

KIND_VALUES = (
    "association",
    "welfare_association",
    "agency",
    "municipality",
    "initiative",
    "other",
)
FEATURE_VALUES = ("power", "wall", "corner", "table")
# Stored as these German tags (the directory filters by them); labelled in the page language.
TOPIC_VALUES = (
    "Sprache",
    "Arbeit",
    "Wohnen",
    "Ehrenamt",
    "Beratung",
    "Bildung",
    "Gesundheit",
    "Kinder und Familie",
)
MAX_TOPICS = 10
TOPIC_LENGTH = 40
DESCRIPTION_LENGTH = 2000
WEBSITE = re.compile(r"^https?://[^\s<>\"]+\.[^\s<>\"]+$")
PHONE = re.compile(r"^[0-9+()/ .-]*$")
NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")


# ── choices and their names ─────────────────────────────────────────────────────────────


def kinds() -> list[tuple[str, str]]:
    return [
        ("association", _("Association (Verein)")),
        ("welfare_association", _("Welfare association")),
        ("agency", _("Agency or public authority")),
        ("municipality", _("Municipality")),
        ("initiative", _("Initiative")),
        ("other", _("Other")),
    ]


def features() -> list[tuple[str, str]]:
    return [
        ("power", _("Power socket")),
        ("wall", _("Wall (for posters)")),
        ("corner", _("Corner stand (open on two sides)")),
        ("table", _("Table and chairs")),
    ]


def topics() -> list[tuple[str, str]]:
    labels = (
        _("Language"),
        _("Work"),
        _("Housing"),
        _("Volunteering"),
        _("Counselling"),
        _("Education"),
        _("Health"),
        _("Children and families"),
    )
    return list(zip(TOPIC_VALUES, labels, strict=True))


def kind_name(value: str) -> str:
    return dict(kinds()).get(value, value)


def feature_names(values: list[str]) -> str:
    names = dict(features())
    return ", ".join(names.get(v, v) for v in values) or _("none")


def status_name(value: str) -> str:
    return {
        "pending_confirmation": _("waiting for confirmation of the e-mail address"),
        "requested": _("requested – the organisers are reviewing it"),
        "approved": _("approved"),
        "waitlisted": _("on the waiting list"),
        "rejected": _("rejected"),
        "cancelled": _("withdrawn"),
    }.get(value, value)


def metres(value: Any) -> str:
    """3, 2.5 (2,5 in German): a size as people write it."""
    return format_decimal(value, format="#,##0.##", locale=current_language.get())


def size(width: Any, depth: Any) -> str:
    return _("%(width)s × %(depth)s m", width=metres(width), depth=metres(depth))


def price(cents: int) -> str:
    if not cents:
        return _("free of charge")
    return format_currency(Decimal(cents) / 100, "EUR", locale=current_language.get())


def split_topics(values: list[str]) -> tuple[list[str], str]:
    """A booking's topics as the form shows them: the common ones ticked, the rest typed."""
    common = [t for t in values if t in TOPIC_VALUES]
    return common, ", ".join(t for t in values if t not in TOPIC_VALUES)


# ── reading the fields (the rules of schemas.BookingCreate) ─────────────────────────────


def read_number(
    form: Form,
    name: str,
    *,
    required: bool = False,
    minimum: Decimal = Decimal(0),
    maximum: Decimal,
    above_minimum: bool = False,
    places: int = 2,
) -> Decimal | None:
    """A decimal number typed with a point or a comma (2.5 or 2,5)."""
    raw = form.raw(name)
    form.values[name] = raw
    if not raw:
        if required:
            form.errors[name] = _("Please fill in this field.")
        return None
    value = None
    if NUMBER.match(raw) and len(raw) <= 12:
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            value = None
    if value is None:
        form.errors[name] = _("Please enter a number, e.g. 2.5.")
        return None
    too_low = value <= minimum if above_minimum else value < minimum
    if too_low or value > maximum:
        if above_minimum:
            message = _(
                "Please enter a number greater than %(min)s and at most %(max)s.",
                min=metres(minimum),
                max=metres(maximum),
            )
        else:
            message = _(
                "Please enter a number from %(min)s to %(max)s.",
                min=metres(minimum),
                max=metres(maximum),
            )
        form.errors[name] = message
        return None
    if value != round(value, places):
        form.errors[name] = _("At most %(n)s decimal places, please.", n=places)
        return None
    return value


def read_email(form: Form, name: str) -> str:
    value = form.email(name, required=True)
    if value and name not in form.errors and any(c in value for c in '<>"'):
        form.errors[name] = _("Please enter a valid e-mail address, e.g. name@example.org.")
    return value


def read_website(form: Form, name: str = "website") -> str:
    value = form.text(name, max_length=300)
    if value and name not in form.errors and not WEBSITE.match(value):
        form.errors[name] = _(
            "Please enter a web address that starts with https:// or http://, "
            "e.g. https://example.org."
        )
    return value


def read_topics(form: Form) -> list[str]:
    """The ticked common topics and the typed ones (comma-separated), at most ten in all."""
    picked = form.choices("topics", TOPIC_VALUES, at_least=0)
    typed = form.text("other_topics", max_length=1000)
    others = [t.strip() for t in typed.split(",") if t.strip()]
    if "other_topics" in form.errors:
        return picked
    for topic in others:
        if "<" in topic or ">" in topic:
            form.errors["other_topics"] = _("Topics may not contain the characters < and >.")
            return picked
        if len(topic) > TOPIC_LENGTH:
            form.errors["other_topics"] = _(
                "Each topic may have at most %(n)s characters.", n=TOPIC_LENGTH
            )
            return picked
    chosen: list[str] = []
    for topic in picked + others:
        if topic.casefold() not in {t.casefold() for t in chosen}:
            chosen.append(topic)
    if len(chosen) > MAX_TOPICS:
        form.errors["other_topics"] = _("At most %(n)s topics in all, please.", n=MAX_TOPICS)
    return chosen


def read_directory(form: Form) -> dict[str, Any]:
    """The part of the request that the public directory shows (also edited later)."""
    description = form.text("description", required=True, max_length=DESCRIPTION_LENGTH)
    description_en = form.text("description_en", max_length=DESCRIPTION_LENGTH)
    return {
        "description": description,
        "description_en": description_en,
        "topics": read_topics(form),
        "website": read_website(form),
    }


def read_request(form: Form) -> dict[str, Any]:
    organisation = form.name("organisation", required=True, kind="organisation_name")
    kind = form.choice("kind", KIND_VALUES)
    contact_name = form.name("contact_name", required=True)
    email = read_email(form, "email")
    phone = form.text("phone", max_length=50)
    if phone and "phone" not in form.errors and not PHONE.match(phone):
        form.errors["phone"] = _(
            "Please use only digits, spaces and + ( ) / . - in the phone number."
        )
    directory = read_directory(form)
    width = read_number(form, "wished_width_m", maximum=Decimal(100), above_minimum=True)
    depth = read_number(form, "wished_depth_m", maximum=Decimal(100), above_minimum=True)
    wished_features = form.choices("wished_features", FEATURE_VALUES, at_least=0)
    staff_count = form.integer("staff_count", minimum=0, maximum=50)
    language = form.choice("language", ("de", "en"))
    return {
        "organisation": organisation,
        "kind": kind,
        "contact_name": contact_name,
        "email": email,
        "phone": phone,
        **directory,
        "wished_width_m": float(width) if width is not None else None,
        "wished_depth_m": float(depth) if depth is not None else None,
        "wished_features": wished_features,
        "staff_count": staff_count,
        "language": language,
    }


def redisplay(form: Form, lists: tuple[str, ...]) -> dict[str, Any]:
    """What was typed, with the check-box groups as lists (for showing the form again)."""
    fields = form.redisplay()
    for name in lists:
        fields[name] = form.values.get(name) or []
    return fields


# ── responses ───────────────────────────────────────────────────────────────────────────


def _page(template: str, status: int = 200, *, private: bool = False, **context: Any) -> Template:
    context.setdefault("errors", {})
    context.setdefault("fields", {})
    context.update(kinds=kinds(), features=features(), topics=topics())
    return Template(
        template,
        context=context,
        status_code=status,
        media_type=MediaType.HTML,
        headers=PRIVATE if private else None,
    )


def _see(url: str) -> Redirect:
    return Redirect(url, status_code=HTTP_303_SEE_OTHER, headers=PRIVATE)


def _conflict(exc: HTTPException) -> str:
    """The reason of a 409 from the logic; anything else goes on to the error page."""
    if exc.status_code != 409:
        raise exc
    return exc.detail


class ExhibitorRequestPages(Controller):
    include_in_schema = False

    @get("/conferences/{slug:str}/exhibit")
    async def form(self, db: DB, slug: FromPath[str]) -> Template:
        conference = await logic.conference_or_404(db, slug)
        return _page(
            "exhibitors/request.html",
            conference=conference,
            fields={"language": current_language.get(), "staff_count": "2"},
            closed=_closed_reason(conference),
        )

    @post("/conferences/{slug:str}/exhibit", middleware=[REQUEST_LIMIT])
    async def submit(self, request: Request, db: DB, state: State, slug: FromPath[str]) -> Any:
        conference = await logic.conference_or_404(db, slug)
        closed = _closed_reason(conference)
        if closed:
            return _page("exhibitors/request.html", 409, conference=conference, closed=closed)
        form = Form(await request.form())
        values = read_request(form)
        if form.valid:
            try:
                await logic.request_booking(db, token_key(state.settings), slug, values)
            except HTTPException as exc:
                return _page(
                    "exhibitors/request.html", 409, conference=conference, closed=_conflict(exc)
                )
            return _page(
                "exhibitors/check_inbox.html", conference=conference, email=values["email"]
            )
        return _page(
            "exhibitors/request.html",
            400,
            conference=conference,
            fields=redisplay(form, ("topics", "wished_features")),
            errors=form.errors,
            closed=None,
        )


def _closed_reason(conference: asyncpg.Record) -> str | None:
    try:
        logic.check_window(conference)
    except HTTPException as exc:
        return exc.detail
    return None


NOTICES = {
    "directory": lambda: _("Saved. The directory shows your changes."),
    "pass-added": lambda: _("The pass is on its way to the person by e-mail."),
    "pass-removed": lambda: _("The pass is withdrawn; it no longer works at the entrance."),
    "cancelled": lambda: _("Your booking is withdrawn."),
}


class ExhibitorSelfService(Controller):
    """The exhibitor page `/x/{token}`: the same token as in every e-mail after confirming."""

    path = "/x/{token:str}"
    include_in_schema = False
    middleware = [LINK_LIMIT]

    @get("/")
    async def page(self, request: Request, db: DB, token: FromPath[str]) -> Template:
        booking = await logic.by_manage_token(db, token)
        done = NOTICES.get(request.query_params.get("done", ""))
        notice = done() if done else None
        if request.query_params.get("confirmed"):
            notice = _("Thank you! Your e-mail address is confirmed.")
        return await self._manage(db, token, booking, notice=notice)

    @post("/directory")
    async def edit_directory(self, request: Request, db: DB, token: FromPath[str]) -> Any:
        booking = await logic.by_manage_token(db, token)
        form = Form(await request.form())
        changes = read_directory(form)
        if form.valid:
            try:
                await logic.update_directory(db, booking, changes)
                return _see(f"/x/{token}?done=directory#directory")
            except HTTPException as exc:
                return await self._manage(
                    db, token, booking, status=409, directory_problem=_conflict(exc)
                )
        return await self._manage(
            db,
            token,
            booking,
            status=400,
            directory_fields=redisplay(form, ("topics",)),
            directory_errors=form.errors,
        )

    @post("/passes")
    async def add_pass(self, request: Request, db: DB, state: State, token: FromPath[str]) -> Any:
        booking = await logic.by_manage_token(db, token)
        form = Form(await request.form())
        name = form.name("pass_name", required=True)
        email = read_email(form, "pass_email")
        language = form.choice("pass_language", ("de", "en"))
        if form.valid:
            try:
                await logic.add_pass(db, token_key(state.settings), booking, name, email, language)
                return _see(f"/x/{token}?done=pass-added#passes")
            except HTTPException as exc:
                return await self._manage(
                    db,
                    token,
                    booking,
                    status=409,
                    pass_fields=form.values,
                    pass_problem=_conflict(exc),
                )
        return await self._manage(
            db, token, booking, status=400, pass_fields=form.values, pass_errors=form.errors
        )

    @get("/passes/{pass_id:int}/remove")
    async def remove_pass_confirmation(
        self, db: DB, token: FromPath[str], pass_id: FromPath[int]
    ) -> Template:
        booking = await logic.by_manage_token(db, token)
        held = {p["id"]: p for p in await queries.passes(db, booking["id"])}
        if pass_id not in held:
            raise NotFoundException(_("There is no such pass."))
        return _page(
            "exhibitors/remove_pass.html",
            private=True,
            booking=booking,
            held=held[pass_id],
            page_url=f"/x/{token}",
        )

    @post("/passes/{pass_id:int}/remove")
    async def remove_pass(self, db: DB, token: FromPath[str], pass_id: FromPath[int]) -> Redirect:
        booking = await logic.by_manage_token(db, token)
        await logic.remove_pass(db, booking, pass_id)
        return _see(f"/x/{token}?done=pass-removed#passes")

    @get("/cancel")
    async def cancel_confirmation(self, db: DB, token: FromPath[str]) -> Template:
        booking = await logic.by_manage_token(db, token)
        conference = await _conference_of(db, booking)
        return _page(
            "exhibitors/cancel.html",
            private=True,
            booking=booking,
            conference=conference,
            page_url=f"/x/{token}",
        )

    @post("/cancel")
    async def cancel(self, db: DB, token: FromPath[str]) -> Redirect:
        booking = await logic.by_manage_token(db, token)
        await logic.cancel(db, booking)
        return _see(f"/x/{token}?done=cancelled")

    async def _manage(
        self,
        db: asyncpg.Connection,
        token: str,
        booking: asyncpg.Record,
        *,
        status: int = 200,
        **context: Any,
    ) -> Template:
        booking = await logic.by_manage_token(db, token)  # as it is now
        common, others = split_topics(list(booking["topics"]))
        context.setdefault(
            "directory_fields",
            {
                "description": booking["description"],
                "description_en": booking["description_en"],
                "topics": common,
                "other_topics": others,
                "website": booking["website"],
            },
        )
        context.setdefault("pass_fields", {"pass_language": current_language.get()})
        stand = await queries.stand(db, booking["stand_id"]) if booking["stand_id"] else None
        return _page(
            "exhibitors/manage.html",
            status,
            private=True,
            booking=booking,
            conference=await _conference_of(db, booking),
            stand=stand,
            passes=await queries.passes(db, booking["id"]),
            waitlist_place=await queries.waitlist_place(db, booking),
            page_url=f"/x/{token}",
            status_name=status_name,
            kind_name=kind_name,
            feature_names=feature_names,
            size=size,
            **{
                "notice": None,
                "directory_errors": {},
                "directory_problem": None,
                "pass_errors": {},
                "pass_problem": None,
                **context,
            },
        )


async def _conference_of(db: asyncpg.Connection, booking: asyncpg.Record) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM conferences WHERE id = $1", booking["conference_id"])
