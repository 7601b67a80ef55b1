"""A simple page for staff at a forum's door: a handheld scanner (which types like a
keyboard) or a typed code goes into one field; the answer fills the screen, and the field is
ready for the next ticket. The camera scanner page of the entrance builds on the same check."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from forums import attendance, logic, queries
from service.auth import CurrentStaff, StaffUser, requires
from service.conferences.lookups import check_scope
from service.db import DB


class ForumDoorPage(Controller):
    path = "/staff/forums/{forum_id:int}/door"
    guards = [requires("scanner")]
    include_in_schema = False

    @get("/")
    async def door(self, db: DB, staff: CurrentStaff, forum_id: FromPath[int]) -> Template:
        return await self._page(db, staff, forum_id, None)

    @post("/")
    async def scan(
        self, request: Request, db: DB, staff: CurrentStaff, forum_id: FromPath[int]
    ) -> Template:
        secret = str((await request.form()).get("secret", "")).strip()
        decision = await attendance.check(db, staff, forum_id, secret) if secret else None
        return await self._page(db, staff, forum_id, decision)

    async def _page(self, db: DB, staff: StaffUser, forum_id: int, decision) -> Template:  # type: ignore[no-untyped-def]
        forum = await queries.door_page_forum(db, forum_id)
        if forum is None:
            raise logic.forum_not_found()
        check_scope(staff, forum["conference_id"], logic.forum_not_found)
        counts = await queries.door_counts(db, forum_id)
        return Template(
            "forums/door.html",
            context={"forum": forum, "decision": decision, "counts": counts},
            media_type=MediaType.HTML,
            headers={"Cache-Control": "private, no-store"},
        )
