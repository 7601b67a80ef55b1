"""HTML pages: the public conference list and page, and the staff forms to edit both."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from service.auth import CurrentStaff, requires
from service.conferences import logic, queries
from service.conferences.lookups import PUBLIC, STAFF, ConferenceRow
from service.db import DB
from service.errors import FieldErrors
from service.forms import Form, local_input

KINDS = ("plenary", "forums", "market", "break")
ORGANISER = [requires("organiser")]


class PublicPages(Controller):
    include_in_schema = False
    dependencies = PUBLIC

    @get("/")
    async def home(self, db: DB) -> Template:
        return Template(
            "conferences/list.html", context={"conferences": await queries.list_published(db)}
        )

    @get("/conferences/{slug:str}")
    async def conference_page(self, db: DB, conference: ConferenceRow) -> Template:
        items = await queries.programme(db, conference["id"])
        return Template("conferences/page.html", context={"conference": conference, "items": items})


def _conference_form(form: Form, seats_taken: int = 0) -> None:
    form.slug("slug")
    form.text("title", required=True)
    form.text("description", max_length=10_000)
    form.text("venue", required=True)
    form.text("address", max_length=500)
    form.moment("starts_at")
    form.moment("ends_at")
    form.integer("capacity")
    form.moment("registration_opens_at", required=False)
    form.moment("registration_closes_at", required=False)
    form.choices("languages", ("de", "en"))
    form.name("organiser_name", max_length=500, kind="organisation_name")
    form.email("organiser_email")
    form.errors = {**logic.conference_errors(form.values, seats_taken), **form.errors}


def _item_form(form: Form, conference: asyncpg.Record) -> None:
    form.text("title", required=True)
    form.choice("kind", KINDS)
    form.moment("starts_at")
    form.moment("ends_at")
    form.text("room", max_length=500)
    form.errors = {**logic.item_errors(form.values, conference), **form.errors}


def _conference_fields(conference: asyncpg.Record) -> dict[str, Any]:
    tz = conference["timezone"]
    fields: dict[str, Any] = {k: conference[k] for k in queries.CONFERENCE_FIELDS}
    for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
        fields[name] = local_input(conference[name], tz)
    return fields


def _item_fields(item: asyncpg.Record, tz: str) -> dict[str, Any]:
    return {
        "title": item["title"],
        "kind": item["kind"],
        "room": item["room"],
        "starts_at": local_input(item["starts_at"], tz),
        "ends_at": local_input(item["ends_at"], tz),
    }


def _form_page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("errors", {})
    context.setdefault("kinds", KINDS)
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


class StaffConferencePages(Controller):
    path = "/staff/conferences"
    guards = ORGANISER
    include_in_schema = False
    dependencies = STAFF

    @get("/new")
    async def new_conference(self) -> Template:
        return _form_page("conferences/edit.html", fields={"languages": ["de", "en"]})

    @post("/new")
    async def create_conference(self, request: Request, db: DB, staff: CurrentStaff) -> Any:
        form = Form(await request.form())
        _conference_form(form)
        if form.valid:
            values = {k: v for k, v in form.values.items() if v is not None}
            try:
                slug = await logic.create_conference(db, values, staff=staff)
                return Redirect(f"/staff/conferences/{slug}")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        return _form_page("conferences/edit.html", 400, fields=form.redisplay(), errors=form.errors)

    @get("/{slug:str}")
    async def edit_conference(self, db: DB, conference: ConferenceRow) -> Template:
        return _form_page(
            "conferences/edit.html",
            conference=conference,
            items=await queries.programme(db, conference["id"]),
            fields=_conference_fields(conference),
        )

    @post("/{slug:str}")
    async def update_conference(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        items = await queries.programme(db, conference["id"])
        form = Form(await request.form(), conference["timezone"])
        _conference_form(form, conference["seats_taken"])
        form.checkbox("published")
        if form.valid:
            values = {k: v for k, v in form.values.items() if v is not None}
            try:
                new_slug = await logic.update_conference(db, slug, values, staff=staff)
                return Redirect(f"/staff/conferences/{new_slug}?saved=1")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        return _form_page(
            "conferences/edit.html",
            400,
            conference=conference,
            items=items,
            fields=form.redisplay(),
            errors=form.errors,
        )

    @get("/{slug:str}/programme/new")
    async def new_item(self, conference: ConferenceRow) -> Template:
        return _form_page("conferences/item.html", conference=conference, fields={})

    @post("/{slug:str}/programme/new")
    async def create_item(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        form = Form(await request.form(), conference["timezone"])
        _item_form(form, conference)
        if form.valid:
            try:
                await logic.add_item(db, slug, form.values, staff=staff)
                return Redirect(f"/staff/conferences/{slug}#programme")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        return _form_page(
            "conferences/item.html",
            400,
            conference=conference,
            fields=form.redisplay(),
            errors=form.errors,
        )

    @get("/{slug:str}/programme/{item_id:int}")
    async def edit_item(
        self, db: DB, conference: ConferenceRow, item_id: FromPath[int]
    ) -> Template:
        items = await queries.programme(db, conference["id"])
        item = next((i for i in items if i["id"] == item_id), None)
        if item is None:
            raise logic.item_not_found()
        return _form_page(
            "conferences/item.html",
            conference=conference,
            item=item,
            fields=_item_fields(item, conference["timezone"]),
        )

    @post("/{slug:str}/programme/{item_id:int}")
    async def update_item(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
        item_id: FromPath[int],
    ) -> Any:
        items = await queries.programme(db, conference["id"])
        item = next((i for i in items if i["id"] == item_id), None)
        if item is None:  # also one of another conference
            raise logic.item_not_found()
        form = Form(await request.form(), conference["timezone"])
        _item_form(form, conference)
        if form.valid:
            try:
                await logic.change_item(db, slug, item_id, form.values, staff=staff)
                return Redirect(f"/staff/conferences/{slug}#programme")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        return _form_page(
            "conferences/item.html",
            400,
            conference=conference,
            item=item,
            fields=form.redisplay(),
            errors=form.errors,
        )

    @post("/{slug:str}/programme/{item_id:int}/delete")
    async def delete_item(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], item_id: FromPath[int]
    ) -> Redirect:
        await logic.remove_item(db, slug, item_id, staff=staff)
        return Redirect(f"/staff/conferences/{slug}#programme")
