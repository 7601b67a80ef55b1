"""HTML for organisations: the booking request form, the "check your inbox" page and the
exhibitor page behind the link in every e-mail (status, stand, directory entry, passes,
withdrawal).

The forms are read by `exhibitors.forms` (the rules of the API's schemas, with a message next
to each field); every change then goes through `exhibitors.logic`, like the API. A change that
is valid but not possible now (closed window, no stand yet, all passes named) shows the logic's
reason (409).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from exhibitors import logic, queries
from exhibitors.formats import size
from exhibitors.forms import (
    directory_fields,
    read_directory,
    read_pass,
    read_request,
    redisplay,
)
from exhibitors.lookups import BY_TOKEN, BookingRow
from exhibitors.options import feature_names, features, kind_name, kinds, status_name, topics
from registration.views import token_key
from service.conferences.lookups import PUBLIC, ConferenceRow
from service.db import DB
from service.domain_errors import Closed, DomainError, refusal
from service.forms import Form
from service.i18n import current_language
from service.i18n import gettext as _
from service.ratelimit import per_client

REQUEST_LIMIT = per_client("exhibitor-form", 30)
LINK_LIMIT = per_client("links", 120)
# Personal pages: never cached by shared caches, never indexed.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


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


class ExhibitorRequestPages(Controller):
    include_in_schema = False
    dependencies = PUBLIC

    @get("/conferences/{slug:str}/exhibit")
    async def form(self, conference: ConferenceRow) -> Template:
        return _page(
            "exhibitors/request.html",
            conference=conference,
            fields={"language": current_language.get(), "staff_count": "2"},
            closed=_closed_reason(conference),
        )

    @post("/conferences/{slug:str}/exhibit", middleware=[REQUEST_LIMIT])
    async def submit(
        self,
        request: Request,
        db: DB,
        state: State,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        closed = _closed_reason(conference)
        if closed:
            return _page("exhibitors/request.html", 409, conference=conference, closed=closed)
        form = Form(await request.form())
        values = read_request(form)
        if form.valid:
            try:
                await logic.request_booking(db, token_key(state.settings), slug, values)
            except DomainError as exc:
                return _page(
                    "exhibitors/request.html", 409, conference=conference, closed=refusal(exc)
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
    except Closed as exc:
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
    dependencies = BY_TOKEN

    @get("/")
    async def page(
        self, request: Request, db: DB, token: FromPath[str], booking: BookingRow
    ) -> Template:
        done = NOTICES.get(request.query_params.get("done", ""))
        notice = done() if done else None
        if request.query_params.get("confirmed"):
            notice = _("Thank you! Your e-mail address is confirmed.")
        return await self._manage(db, token, booking, notice=notice)

    @post("/directory")
    async def edit_directory(
        self, request: Request, db: DB, token: FromPath[str], booking: BookingRow
    ) -> Any:
        form = Form(await request.form())
        changes = read_directory(form)
        if form.valid:
            try:
                await logic.update_directory(db, booking, changes)
                return _see(f"/x/{token}?done=directory#directory")
            except DomainError as exc:
                return await self._manage(
                    db, token, booking, status=409, directory_problem=refusal(exc)
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
    async def add_pass(
        self, request: Request, db: DB, state: State, token: FromPath[str], booking: BookingRow
    ) -> Any:
        form = Form(await request.form())
        name, email, language = read_pass(form)
        if form.valid:
            try:
                await logic.add_pass(db, token_key(state.settings), booking, name, email, language)
                return _see(f"/x/{token}?done=pass-added#passes")
            except DomainError as exc:
                return await self._manage(
                    db,
                    token,
                    booking,
                    status=409,
                    pass_fields=form.values,
                    pass_problem=refusal(exc),
                )
        return await self._manage(
            db, token, booking, status=400, pass_fields=form.values, pass_errors=form.errors
        )

    @get("/passes/{pass_id:int}/remove")
    async def remove_pass_confirmation(
        self, db: DB, token: FromPath[str], booking: BookingRow, pass_id: FromPath[int]
    ) -> Template:
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
    async def remove_pass(
        self, db: DB, token: FromPath[str], booking: BookingRow, pass_id: FromPath[int]
    ) -> Redirect:
        await logic.remove_pass(db, booking, pass_id)
        return _see(f"/x/{token}?done=pass-removed#passes")

    @get("/cancel")
    async def cancel_confirmation(
        self, db: DB, token: FromPath[str], booking: BookingRow
    ) -> Template:
        conference = await _conference_of(db, booking)
        return _page(
            "exhibitors/cancel.html",
            private=True,
            booking=booking,
            conference=conference,
            page_url=f"/x/{token}",
        )

    @post("/cancel")
    async def cancel(self, db: DB, token: FromPath[str], booking: BookingRow) -> Redirect:
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
        context.setdefault("directory_fields", directory_fields(booking))
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
    return await queries.conference(db, booking["conference_id"])
