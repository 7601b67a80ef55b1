"""HTML pages for attendees: their forums behind the self-service link, and the public list.

Sign-up and leave go through `forums.logic`, like the JSON API, so every rule (confirmed
attendees only, capacity, waiting list, no clash) holds here too. A refusal shows the page
again with status 409 and the reason at the top; a success redirects back (POST, redirect,
GET) with a notice that is built from the database, never from text in the address.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_409_CONFLICT

from forums import logic, queries
from registration import REGISTRATION_BY_TOKEN, RegistrationRow
from service.conferences.lookups import PUBLIC, ConferenceRow
from service.db import DB
from service.domain_errors import Conflict
from service.i18n import current_language
from service.i18n import gettext as _
from service.ratelimit import per_client

# Personal pages: never cached by shared caches, never indexed.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
# The same budget as the other pages behind the self-service link.
LINK_LIMIT = per_client("links", 120)
DONE = ("confirmed", "waitlisted", "left")


def time_slots(forums: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Forums grouped by their time: one group per (start, end), in time order."""
    ordered = sorted(forums, key=lambda f: (f["starts_at"], f["ends_at"], f["id"]))
    return [
        {"starts_at": starts, "ends_at": ends, "forums": list(group)}
        for (starts, ends), group in groupby(ordered, key=lambda f: (f["starts_at"], f["ends_at"]))
    ]


def spans_days(forums: list[asyncpg.Record], timezone: str) -> bool:
    """Whether the day must be named in the headings (forums on more than one day)."""
    zone = ZoneInfo(timezone)
    return len({f["starts_at"].astimezone(zone).date() for f in forums}) > 1


def _overlaps(a: Mapping[str, datetime], b: Mapping[str, datetime]) -> bool:
    return a["starts_at"] < b["ends_at"] and b["starts_at"] < a["ends_at"]


def clashes(
    forums: list[asyncpg.Record], mine: dict[int, asyncpg.Record]
) -> dict[int, asyncpg.Record]:
    """For each forum the person has not chosen: a forum they hold at an overlapping time."""
    held = [f for f in forums if (s := mine.get(f["id"])) and s["status"] == "confirmed"]
    found = {}
    for forum in forums:
        if forum["id"] in mine:
            continue
        other = next((h for h in held if _overlaps(h, forum)), None)
        if other is not None:
            found[forum["id"]] = other
    return found


def forum_title(forum: Mapping[str, Any], language: str) -> str:
    return forum["title_en"] if language == "en" and forum["title_en"] else forum["title"]


class AttendeeForumPages(Controller):
    path = "/r/{token:str}/forums"
    include_in_schema = False
    middleware = [LINK_LIMIT]
    dependencies = REGISTRATION_BY_TOKEN

    @get("/")
    async def forums_page(
        self, request: Request, db: DB, token: FromPath[str], registration: RegistrationRow
    ) -> Template:
        done, forum = request.query_params.get("done", ""), request.query_params.get("forum", "")
        notice = (done, int(forum)) if forum.isdigit() else ("", 0)
        return await _attendee_page(db, token, registration, notice=notice)

    @post("/{forum_id:int}/join")
    async def join(
        self, db: DB, token: FromPath[str], registration: RegistrationRow, forum_id: FromPath[int]
    ) -> Any:
        try:
            status, _position = await logic.sign_up(db, registration["id"], forum_id)
        except Conflict as refused:
            return await _attendee_page(db, token, registration, problem=refused.detail)
        return _back(token, status, forum_id)

    @get(["/{forum_id:int}/join", "/{forum_id:int}/leave"])
    async def back_to_list(self, request: Request, token: FromPath[str]) -> Redirect:
        """The address of a refusal page, opened again (e.g. by the language switch)."""
        lang = request.query_params.get("lang")
        query = f"?lang={lang}" if lang in ("de", "en") else ""
        return Redirect(f"/r/{token}/forums{query}", status_code=HTTP_303_SEE_OTHER)

    @post("/{forum_id:int}/leave")
    async def leave(
        self, db: DB, token: FromPath[str], registration: RegistrationRow, forum_id: FromPath[int]
    ) -> Any:
        try:
            await logic.leave(db, registration["id"], forum_id)
        except Conflict as refused:
            return await _attendee_page(db, token, registration, problem=refused.detail)
        return _back(token, "left", forum_id)


def _back(token: str, done: str, forum_id: int) -> Redirect:
    return Redirect(
        f"/r/{token}/forums?done={done}&forum={forum_id}#notice", status_code=HTTP_303_SEE_OTHER
    )


def _notice(
    done: str, forum_id: int, forums: list[asyncpg.Record], mine: dict[int, asyncpg.Record]
) -> str | None:
    """What was just done, said from the current state (the address only names the forum)."""
    forum = next((f for f in forums if f["id"] == forum_id), None)
    if done not in DONE or forum is None:
        return None
    title = forum_title(forum, current_language.get())
    signup = mine.get(forum_id)
    if done == "left" and signup is None:
        return _("You have left “%(title)s”.", title=title)
    if signup is not None and signup["status"] == "confirmed":
        return _("You have a seat in “%(title)s”.", title=title)
    if signup is not None and signup["status"] == "waitlisted":
        return _(
            "“%(title)s” is full: you are on its waiting list, place %(place)s. When a seat "
            "becomes free, you move up automatically and we tell you by e-mail.",
            title=title,
            place=signup["position"],
        )
    return None


async def _attendee_page(
    db: asyncpg.Connection,
    token: str,
    registration: asyncpg.Record,
    *,
    problem: str | None = None,
    notice: tuple[str, int] = ("", 0),
) -> Template:
    conference = await queries.conference(db, registration["conference_id"])
    forums = await queries.list_for_conference(db, conference["id"])
    mine = {row["id"]: row for row in await queries.signups_of(db, registration["id"])}
    return Template(
        "forums/attendee.html",
        context={
            "token": token,
            "registration": registration,
            "conference": conference,
            "slots": time_slots(forums),
            "show_day": spans_days(forums, conference["timezone"]),
            "mine": mine,
            "clashes": clashes(forums, mine),
            "can_choose": registration["status"] == "confirmed",
            "problem": problem,
            "notice": None if problem else _notice(*notice, forums, mine),
        },
        status_code=HTTP_409_CONFLICT if problem else 200,
        media_type=MediaType.HTML,
        headers=PRIVATE,
    )


class PublicForumPages(Controller):
    include_in_schema = False
    dependencies = PUBLIC

    @get("/conferences/{slug:str}/forums")
    async def public_forums(self, db: DB, conference: ConferenceRow) -> Template:
        forums = await queries.list_for_conference(db, conference["id"])
        return Template(
            "forums/public.html",
            context={
                "conference": conference,
                "slots": time_slots(forums),
                "show_day": spans_days(forums, conference["timezone"]),
            },
            media_type=MediaType.HTML,
        )
