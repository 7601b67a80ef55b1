"""JSON API: forums of a conference, attendees' sign-ups, staff changes and lists."""

from __future__ import annotations

import asyncpg
from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from forums import logic, queries
from forums.lookups import check_forum
from forums.schemas import Forum, ForumCreate, ForumUpdate, Left, MoveRequest, Signup
from registration import REGISTRATION_BY_TOKEN, RegistrationRow
from service.auth import CurrentStaff, requires
from service.conferences.logic import local
from service.conferences.lookups import PUBLIC, ConferenceRow
from service.conferences.schemas import given
from service.db import DB
from service.ratelimit import per_client

ORGANISER = [requires("organiser")]
STAFF = [{"BearerToken": []}]
SIGNUP_LIMIT = per_client("forum-signup", 120)


def forum_view(row: asyncpg.Record) -> Forum:
    return Forum(
        id=row["id"],
        conference=row["conference"],
        title=row["title"],
        title_en=row["title_en"],
        description=row["description"],
        description_en=row["description_en"],
        room=row["room"],
        starts_at=local(row["starts_at"], row),
        ends_at=local(row["ends_at"], row),
        capacity=row["capacity"],
        seats_left=0 if row["cancelled_at"] else row["seats_left"],
        waiting=row["waiting"],
        language=row["language"],
        interpretation=row["interpretation"],
        accessibility=row["accessibility"],
        moderators=row["moderators"],
        cancelled=row["cancelled_at"] is not None,
    )


async def _forum(db: asyncpg.Connection, forum_id: int) -> Forum:
    row = await queries.by_id(db, forum_id)
    if row is None:
        raise logic.forum_not_found()
    return forum_view(row)


class ForumAPI(Controller):
    path = "/api/v1"
    tags = ["forums"]

    @get(
        "/conferences/{slug:str}/forums",
        dependencies=PUBLIC,
        summary="The forums of a conference, with seats left",
    )
    async def list_forums(self, db: DB, conference: ConferenceRow) -> list[Forum]:
        return [forum_view(r) for r in await queries.list_for_conference(db, conference["id"])]

    @post(
        "/conferences/{slug:str}/forums",
        guards=ORGANISER,
        security=STAFF,
        status_code=HTTP_201_CREATED,
        summary="Create a forum",
    )
    async def create_forum(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], data: JSONBody[ForumCreate]
    ) -> Forum:
        forum_id = await logic.create_forum(db, slug, given(data), staff=staff)
        return await _forum(db, forum_id)

    @get("/forums/{forum_id:int}", summary="One forum")
    async def get_forum(self, db: DB, forum_id: FromPath[int]) -> Forum:
        return await _forum(db, forum_id)

    @patch(
        "/forums/{forum_id:int}",
        guards=ORGANISER,
        security=STAFF,
        summary="Change or cancel a forum (everyone signed up is told, calendars follow)",
    )
    async def update_forum(
        self, db: DB, staff: CurrentStaff, forum_id: FromPath[int], data: JSONBody[ForumUpdate]
    ) -> Forum:
        await check_forum(db, forum_id, staff)
        await logic.update_forum(db, forum_id, given(data), staff=staff)
        return await _forum(db, forum_id)

    @post(
        "/forums/{forum_id:int}/move",
        guards=ORGANISER,
        security=STAFF,
        status_code=200,
        summary="Move a person from this forum to another",
    )
    async def move(
        self, db: DB, staff: CurrentStaff, forum_id: FromPath[int], data: JSONBody[MoveRequest]
    ) -> Signup:
        await check_forum(db, forum_id, staff)
        status = await logic.move(db, data.registration_id, forum_id, data.to_forum_id, staff=staff)
        signup = await queries.signup(db, data.to_forum_id, data.registration_id)
        return Signup(status, await queries.waitlist_place(db, signup))  # type: ignore[arg-type]

    @put(
        "/registrations/{token:str}/forums/{forum_id:int}",
        middleware=[SIGNUP_LIMIT],
        summary="Sign up for a forum (a seat, or its waiting list); 409 on a time clash",
        dependencies=REGISTRATION_BY_TOKEN,
    )
    async def sign_up(
        self, db: DB, registration: RegistrationRow, forum_id: FromPath[int]
    ) -> Signup:
        status, position = await logic.sign_up(db, registration["id"], forum_id)
        return Signup(status, position)  # type: ignore[arg-type]

    @delete(
        "/registrations/{token:str}/forums/{forum_id:int}",
        status_code=200,
        middleware=[SIGNUP_LIMIT],
        summary="Leave a forum (the first person waiting moves up)",
        dependencies=REGISTRATION_BY_TOKEN,
    )
    async def leave(self, db: DB, registration: RegistrationRow, forum_id: FromPath[int]) -> Left:
        await logic.leave(db, registration["id"], forum_id)
        return Left()
