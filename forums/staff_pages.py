"""Staff pages of the forums: list with counts, create and edit, cancel (with a confirmation
step), participants (a page at a time, with a move to another forum) and their CSV export
(everyone, always).

Every change goes through `forums.logic`, like the JSON API: the same validation, the same
e-mails and calendar updates. Invalid input shows the form again with messages next to the
fields (400); a change that is valid but not possible now (a clash) shows the reason (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT

from forums import logic, queries
from forums.lookups import staff_forum
from registration import options
from service import audit
from service.auth import CurrentStaff, StaffUser, requires
from service.conferences.lookups import STAFF, ConferenceRow, staff_conference
from service.db import DB, share_connection
from service.domain_errors import Conflict, FieldErrors
from service.forms import Form, local_input
from service.i18n import gettext as _
from service.spreadsheet import csv_download

ORGANISER = [requires("organiser")]
NOT_CACHED = CacheControlHeader(private=True, no_store=True)
LANGUAGES = ("de", "en")
TEXT_FIELDS = {  # name → longest value, as in forums.schemas
    "title_en": 200,
    "description": 5000,
    "description_en": 5000,
    "room": 300,
    "interpretation": 300,
    "accessibility": 300,
    "moderators": 300,
}

# ── shared helpers ──────────────────────────────────────────────────────────


async def _forum(
    db: asyncpg.Connection, staff: StaffUser, forum_id: int
) -> tuple[asyncpg.Record, asyncpg.Record]:
    forum = await staff_forum(db, forum_id, staff)
    return forum, await staff_conference(db, forum["conference"], staff)


def _languages(current: str | None = None) -> tuple[str, ...]:
    """The choices for 'language spoken'; a value set otherwise (through the API) is kept."""
    return LANGUAGES if not current or current in LANGUAGES else (*LANGUAGES, current)


def read_forum_form(form: Form, conference: asyncpg.Record, language: str | None = None) -> None:
    form.text("title", required=True)
    for name, longest in TEXT_FIELDS.items():
        form.text(name, max_length=longest)
    form.moment("starts_at")
    form.moment("ends_at")
    form.integer("capacity", maximum=100_000)
    form.choice("language", _languages(language))
    form.errors = {**logic.forum_errors(form.values, conference), **form.errors}


def forum_fields(forum: asyncpg.Record) -> dict[str, Any]:
    fields: dict[str, Any] = {name: forum[name] for name in queries.FORUM_FIELDS}
    for name in ("starts_at", "ends_at"):
        fields[name] = local_input(forum[name], forum["timezone"])
    return fields


def _page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("errors", {})
    context.setdefault("problem", None)
    context.setdefault("notice", None)
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


def _see(url: str) -> Redirect:
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


def _int(raw: Any) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


# ── the participants list, a page at a time ─────────────────────────────────

PAGE_SIZE = 100  # rows of the participants page; the CSV export always has everyone
START = (-1, 0)  # before the first (part, n) of the list (forums.queries.participants_page)
_PARTS = "sw"  # a place in the address: s<sign-up id> for a seat, w<position> for waiting


def _cursor(raw: Any) -> tuple[int, int] | None:
    """A place in the list from the address (`s123`, `w45`); anything else is none."""
    if not isinstance(raw, str) or not raw or raw[0] not in _PARTS:
        return None
    n = _int(raw[1:])
    return None if n is None else (_PARTS.index(raw[0]), n)


def _place(row: Mapping[str, Any]) -> str:
    return f"{_PARTS[row['part']]}{row['n']}"


@dataclass(frozen=True)
class ListPage:
    rows: list[asyncpg.Record]
    here: dict[str, str]  # the address's place (`after` or `before`), kept across a move
    first: bool  # this is the first page
    previous: str | None = None  # the neighbouring pages' query strings
    next: str | None = None


async def _list_page(db: asyncpg.Connection, forum_id: int, params: Mapping[str, Any]) -> ListPage:
    """The page the address asks for: `after` or `before` a place in the list, else the
    first. Keyset pagination: every page costs the same, however long the list is."""
    after, before = _cursor(params.get("after")), _cursor(params.get("before"))
    if after is None and before is not None:
        rows = await queries.participants_page(
            db, forum_id, before, before=True, limit=PAGE_SIZE + 1
        )
        if len(rows) > PAGE_SIZE:  # a page in the middle (else: the whole first page)
            rows = rows[1:]
            return ListPage(
                rows,
                {"before": params["before"]},
                first=False,
                previous=f"?before={_place(rows[0])}",
                next=f"?after={_place(rows[-1])}",
            )
    rows = await queries.participants_page(
        db, forum_id, after or START, before=False, limit=PAGE_SIZE + 1
    )
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    return ListPage(
        rows,
        {"after": params["after"]} if after else {},
        first=after is None,
        previous=f"?before={_place(rows[0])}" if after and rows else None,
        next=f"?after={_place(rows[-1])}" if more else None,
    )


# ── CSV ─────────────────────────────────────────────────────────────────────

CSV_COLUMNS = ("status", "waiting_place", "name", "organisation", "email", "category", "attended")


def participant_line(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        r["status"],
        r["position"] or "",
        r["name"],
        r["organisation"],
        r["email"],
        r["category"],
        "yes" if r["attended"] else "no",
    )


# ── pages ───────────────────────────────────────────────────────────────────


class StaffForumPages(Controller):
    path = "/staff"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get("/conferences/{slug:str}/forums")
    async def list_page(self, request: Request, db: DB, conference: ConferenceRow) -> Template:
        forums = await queries.list_for_conference(db, conference["id"])
        return _page(
            "forums/staff_list.html",
            conference=conference,
            forums=forums,
            attended={
                f["id"]: f["present"]
                for f in await queries.attendance_by_forum(db, conference["id"])
            },
            notice=_list_notice(request.query_params, forums),
        )

    @get("/conferences/{slug:str}/forums/new")
    async def new_forum(self, conference: ConferenceRow) -> Template:
        return _page(
            "forums/edit.html",
            conference=conference,
            forum=None,
            fields={"language": "de"},
            languages=LANGUAGES,
        )

    @post("/conferences/{slug:str}/forums/new")
    async def create_forum(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        form = Form(await request.form(), conference["timezone"])
        read_forum_form(form, conference)
        if form.valid:
            try:
                forum_id = await logic.create_forum(db, slug, form.values, staff=staff)
                return _see(f"/staff/conferences/{slug}/forums?done=created&forum={forum_id}")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        return _page(
            "forums/edit.html",
            HTTP_400_BAD_REQUEST,
            conference=conference,
            forum=None,
            fields=form.redisplay(),
            errors=form.errors,
            languages=LANGUAGES,
        )

    @get("/forums/{forum_id:int}")
    async def edit_forum(
        self, request: Request, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Template:
        forum, conference = await _forum(db, staff, forum_id)
        saved = request.query_params.get("saved") == "1"
        return _page(
            "forums/edit.html",
            conference=conference,
            forum=forum,
            fields=forum_fields(forum),
            languages=_languages(forum["language"]),
            notice=_("Saved.") if saved else None,
        )

    @post("/forums/{forum_id:int}")
    async def update_forum(
        self, request: Request, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Any:
        forum, conference = await _forum(db, staff, forum_id)
        form = Form(await request.form(), conference["timezone"])
        read_forum_form(form, conference, forum["language"])
        problem = None
        if form.valid:
            try:
                await logic.update_forum(db, forum_id, dict(form.values), staff=staff)
                return _see(f"/staff/forums/{forum_id}?saved=1")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
            except Conflict as exc:
                problem = exc.detail
        return _page(
            "forums/edit.html",
            HTTP_409_CONFLICT if problem else HTTP_400_BAD_REQUEST,
            conference=conference,
            forum=forum,
            fields=form.redisplay(),
            errors=form.errors,
            problem=problem,
            languages=_languages(forum["language"]),
        )

    @get("/forums/{forum_id:int}/cancel")
    async def cancel_confirmation(
        self, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Template:
        """'Really cancel?': the step between the form and the change, without JavaScript."""
        forum, conference = await _forum(db, staff, forum_id)
        return _page("forums/cancel.html", conference=conference, forum=forum)

    @post("/forums/{forum_id:int}/cancel")
    async def cancel(self, db: DB, staff: CurrentStaff, forum_id: FromPath[int]) -> Redirect:
        _forum_row, conference = await _forum(db, staff, forum_id)
        await logic.update_forum(db, forum_id, {"cancelled": True}, staff=staff)
        return _see(
            f"/staff/conferences/{conference['slug']}/forums?done=cancelled&forum={forum_id}"
        )

    @get("/forums/{forum_id:int}/participants")
    async def participants_page(
        self, request: Request, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Template:
        return await _participants_page(db, staff, forum_id, request.query_params)

    @get("/forums/{forum_id:int}/move")
    async def back_to_participants(self, request: Request, forum_id: FromPath[int]) -> Redirect:
        """The address of a refused move, opened again (e.g. by the language switch)."""
        lang = request.query_params.get("lang")
        query = f"?lang={lang}" if lang in ("de", "en") else ""
        return _see(f"/staff/forums/{forum_id}/participants{query}")

    @post("/forums/{forum_id:int}/move")
    async def move(
        self, request: Request, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Any:
        forum, _conference_row = await _forum(db, staff, forum_id)
        data = await request.form()
        registration_id, to_forum_id = _int(data.get("registration_id")), _int(data.get("to"))
        here = {k: data[k] for k in ("after", "before") if _cursor(data.get(k))}
        if registration_id is None or to_forum_id is None:
            problem = _("Please choose a forum to move this person to.")
            return await _participants_page(
                db, staff, forum_id, here, problem, HTTP_400_BAD_REQUEST
            )
        target = await queries.by_id(db, to_forum_id)
        signup = await queries.signup(db, forum_id, registration_id)
        try:
            if target is None or target["conference_id"] != forum["conference_id"]:
                raise Conflict(_("There is no such forum at this conference."))
            if to_forum_id == forum_id:
                raise Conflict(_("This person is already in this forum."))
            if signup is None or signup["status"] == "left":
                raise Conflict(_("This person is not signed up for this forum."))
            await logic.move(db, registration_id, forum_id, to_forum_id, staff=staff)
        except Conflict as exc:
            return await _participants_page(
                db, staff, forum_id, here, exc.detail, HTTP_409_CONFLICT
            )
        # Back to the same page of the list, with a notice of the move.
        query = urlencode({**here, "moved": registration_id, "to": to_forum_id})
        return _see(f"/staff/forums/{forum_id}/participants?{query}")

    # Streamed from a cursor: the guard's connection serves the handler and the stream.
    @get("/forums/{forum_id:int}/participants.csv", middleware=[share_connection])
    async def participants_csv(
        self, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Stream:
        forum = await staff_forum(db, forum_id, staff)  # 404 for an unknown forum
        await audit.downloaded(
            db,
            staff,
            "forum_participants",
            conference_id=forum["conference_id"],
            subject_type="forum",
            subject_id=forum_id,
            subject_label=forum["title"],
        )
        return csv_download(
            f"forum-{forum_id}.csv",
            CSV_COLUMNS,
            queries.participants(db, forum_id),
            participant_line,
        )


def _list_notice(params: Mapping[str, str], forums: list[asyncpg.Record]) -> str | None:
    forum = next((f for f in forums if str(f["id"]) == params.get("forum")), None)
    if forum is None:
        return None
    if params.get("done") == "created":
        return _("The forum “%(title)s” has been created.", title=forum["title"])
    if params.get("done") == "cancelled":
        return _(
            "The forum “%(title)s” is cancelled. Everyone who was signed up or waiting is "
            "being told by e-mail.",
            title=forum["title"],
        )
    return None


async def _participants_page(
    db: asyncpg.Connection,
    staff: StaffUser,
    forum_id: int,
    params: Mapping[str, Any],
    problem: str | None = None,
    status: int = 200,
) -> Template:
    forum, conference = await _forum(db, staff, forum_id)
    page = await _list_page(db, forum_id, params)
    counts = await queries.participant_counts(db, forum_id)
    others = [
        f
        for f in await queries.list_for_conference(db, conference["id"])
        if f["id"] != forum_id and f["cancelled_at"] is None
    ]
    return _page(
        "forums/participants.html",
        status,
        conference=conference,
        forum=forum,
        page=page,
        counts=counts,
        seated=[r for r in page.rows if r["status"] == "confirmed"],
        waiting=[r for r in page.rows if r["status"] == "waitlisted"],
        shown=((_rank(page.rows[0], counts), _rank(page.rows[-1], counts)) if page.rows else None),
        others=others,
        category_name=options.category_name,
        problem=problem,
        notice=await _moved_notice(db, params, conference),
    )


def _rank(row: Mapping[str, Any], counts: Mapping[str, int]) -> int:
    """The row's number in the whole list: those with a seat first, then the waiting list."""
    return row["number"] + (counts["seated"] if row["part"] else 0)


async def _moved_notice(
    db: asyncpg.Connection, params: Mapping[str, str], conference: asyncpg.Record
) -> str | None:
    """'X is now in Y': from the database; the address only holds the two ids."""
    registration_id, to_forum_id = _int(params.get("moved")), _int(params.get("to"))
    if registration_id is None or to_forum_id is None:
        return None
    found = await queries.signup_in_conference(db, to_forum_id, registration_id, conference["id"])
    if found is None or found["status"] == "left":
        return None
    if found["status"] == "confirmed":
        return _(
            "%(name)s now has a seat in “%(title)s”.", name=found["name"], title=found["title"]
        )
    return _(
        "%(name)s is now on the waiting list of “%(title)s” (it is full).",
        name=found["name"],
        title=found["title"],
    )
