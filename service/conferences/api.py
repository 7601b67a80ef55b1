"""JSON API: conferences and their programme (public reads, organiser writes)."""

from __future__ import annotations

import asyncpg
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from service.auth import CurrentStaff, requires
from service.conferences import logic, queries
from service.conferences.lookups import PUBLIC, ConferenceRow
from service.conferences.schemas import (
    Conference,
    ConferenceCreate,
    ConferenceSummary,
    ConferenceUpdate,
    ProgrammeItem,
    ProgrammeItemCreate,
    ProgrammeItemUpdate,
    given,
)
from service.db import DB

ORGANISER = [requires("organiser")]
STAFF_SECURITY = [{"BearerToken": []}]


async def _conference(db: asyncpg.Connection, slug: str) -> Conference:
    """The conference as the API shows it after a change, drafts too (the change has checked
    that the caller may see it; a limited organiser's new one is not in the caller's list yet).
    A change reads its answer with this inside its own transaction: if the answer cannot be
    made (a date stored before dates were bounded that overflows in the conference's time
    zone), the change is not committed either."""
    conference = await queries.by_slug(db, slug)
    if conference is None:
        raise logic.not_found()
    return logic.to_api(conference, await queries.programme(db, conference["id"]))


class ConferenceAPI(Controller):
    path = "/api/v1/conferences"
    tags = ["conferences"]

    @get("/", summary="List published conferences")
    async def list_conferences(self, db: DB) -> list[ConferenceSummary]:
        rows = await queries.list_published(db)
        return [
            ConferenceSummary(
                slug=r["slug"],
                title=r["title"],
                venue=r["venue"],
                starts_at=logic.local(r["starts_at"], r),
                ends_at=logic.local(r["ends_at"], r),
                capacity=r["capacity"],
                seats_left=r["seats_left"],
                registration_open=r["registration_open"],
            )
            for r in rows
        ]

    @get(
        "/{slug:str}",
        dependencies=PUBLIC,
        summary="One conference with seats left and its programme",
    )
    async def get_conference(self, db: DB, conference: ConferenceRow) -> Conference:
        return logic.to_api(conference, await queries.programme(db, conference["id"]))

    @post(
        "/",
        guards=ORGANISER,
        security=STAFF_SECURITY,
        status_code=HTTP_201_CREATED,
        summary="Create a conference (published at once)",
    )
    async def create_conference(
        self, db: DB, staff: CurrentStaff, data: JSONBody[ConferenceCreate]
    ) -> Response[Conference]:
        # (Read after the commit: in its transaction, now() would be before the default
        # opening of registration. Only bounded, new values can be read here.)
        slug = await logic.create_conference(db, given(data), staff=staff)
        conference = await _conference(db, slug)
        return Response(
            conference,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/conferences/{slug}"},
        )

    @patch("/{slug:str}", guards=ORGANISER, security=STAFF_SECURITY, summary="Change a conference")
    async def update_conference(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], data: JSONBody[ConferenceUpdate]
    ) -> Conference:
        async with db.transaction():  # see `_conference`
            new_slug = await logic.update_conference(db, slug, given(data), staff=staff)
            return await _conference(db, new_slug)

    @post(
        "/{slug:str}/programme",
        guards=ORGANISER,
        security=STAFF_SECURITY,
        status_code=HTTP_201_CREATED,
        summary="Add a programme item",
    )
    async def add_item(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], data: JSONBody[ProgrammeItemCreate]
    ) -> ProgrammeItem:
        async with db.transaction():  # see `_conference`
            item_id = await logic.add_item(db, slug, given(data), staff=staff)
            return await self._item(db, slug, item_id)

    @patch(
        "/{slug:str}/programme/{item_id:int}",
        guards=ORGANISER,
        security=STAFF_SECURITY,
        summary="Change a programme item",
    )
    async def change_item(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        item_id: FromPath[int],
        data: JSONBody[ProgrammeItemUpdate],
    ) -> ProgrammeItem:
        async with db.transaction():  # see `_conference`
            await logic.change_item(db, slug, item_id, given(data), staff=staff)
            return await self._item(db, slug, item_id)

    @delete(
        "/{slug:str}/programme/{item_id:int}",
        guards=ORGANISER,
        security=STAFF_SECURITY,
        summary="Remove a programme item",
    )
    async def remove_item(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], item_id: FromPath[int]
    ) -> None:
        await logic.remove_item(db, slug, item_id, staff=staff)

    async def _item(self, db: DB, slug: FromPath[str], item_id: FromPath[int]) -> ProgrammeItem:
        conference = await _conference(db, slug)
        return next(i for i in conference.programme if i.id == item_id)
