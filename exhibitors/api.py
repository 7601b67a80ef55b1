"""JSON API: stands (staff), booking requests (organisations), review (staff), directory."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from exhibitors import logic, queries
from exhibitors.lookups import BY_TOKEN, BookingRow, staff_booking, staff_stand
from exhibitors.schemas import (
    Accepted,
    Approve,
    Booking,
    BookingCreate,
    BookingItem,
    BookingPage,
    BookingStatus,
    Confirmed,
    ConfirmRequest,
    Decision,
    DirectoryUpdate,
    Exhibitor,
    Pass,
    PassCreate,
    Stand,
    StandCreate,
    StandRow,
    StandUpdate,
)
from exhibitors.views import booking_view, exhibitor_view, item_view, stand_view
from registration.views import token_key
from service.auth import CurrentStaff, requires
from service.conferences.lookups import (
    PUBLIC,
    ConferenceRow,
    staff_conference,
)
from service.conferences.schemas import given
from service.db import DB
from service.ratelimit import per_client
from service.validation import Cursor, PageSize

ORGANISER = [requires("organiser")]
STAFF = [{"BearerToken": []}]
REQUEST_LIMIT = per_client("exhibitor-request", 30)
LINK_LIMIT = per_client("links", 120)


class StandAPI(Controller):
    path = "/api/v1"
    tags = ["exhibitors"]

    @get(
        "/conferences/{slug:str}/stands",
        dependencies=PUBLIC,
        summary="The stand catalogue with what is booked",
    )
    async def list_stands(self, db: DB, conference: ConferenceRow) -> list[Stand]:
        return [stand_view(s) for s in await queries.stands(db, conference["id"])]

    @post(
        "/conferences/{slug:str}/stands",
        guards=ORGANISER,
        security=STAFF,
        status_code=HTTP_201_CREATED,
        summary="Add a stand",
    )
    async def create_stand(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], data: JSONBody[StandCreate]
    ) -> Stand:
        [stand_id] = await logic.create_stands(db, slug, [msgspec.to_builtins(data)], staff=staff)
        return stand_view(await queries.stand(db, stand_id))

    @post(
        "/conferences/{slug:str}/stands/row",
        guards=ORGANISER,
        security=STAFF,
        status_code=HTTP_201_CREATED,
        summary="Add a row of equal stands (B1 … B10)",
    )
    async def create_row(
        self, db: DB, staff: CurrentStaff, slug: FromPath[str], data: JSONBody[StandRow]
    ) -> list[Stand]:
        stands = logic.stand_row(msgspec.to_builtins(data))
        ids = await logic.create_stands(db, slug, stands, staff=staff)
        return [stand_view(await queries.stand(db, i)) for i in ids]

    @patch(
        "/stands/{stand_id:int}",
        guards=ORGANISER,
        security=STAFF,
        summary="Change a stand, block or unblock it",
    )
    async def update_stand(
        self, db: DB, staff: CurrentStaff, stand_id: FromPath[int], data: JSONBody[StandUpdate]
    ) -> Stand:
        await staff_stand(db, stand_id, staff)
        await logic.update_stand(db, stand_id, given(data), staff=staff)
        return stand_view(await queries.stand(db, stand_id))


class BookingAPI(Controller):
    path = "/api/v1"
    tags = ["exhibitors"]

    @post(
        "/conferences/{slug:str}/exhibitor-bookings",
        status_code=HTTP_202_ACCEPTED,
        middleware=[REQUEST_LIMIT],
        summary="Request a stand (double opt-in: a confirmation e-mail goes out)",
    )
    async def request_booking(
        self, db: DB, state: State, slug: FromPath[str], data: JSONBody[BookingCreate]
    ) -> Accepted:
        await logic.request_booking(db, token_key(state.settings), slug, msgspec.to_builtins(data))
        return Accepted()

    @post(
        "/exhibitor-bookings/confirm",
        status_code=200,
        middleware=[LINK_LIMIT],
        summary="Confirm the address with the token from the e-mail link",
    )
    async def confirm(self, db: DB, state: State, data: JSONBody[ConfirmRequest]) -> Confirmed:
        status, manage = await logic.confirm(db, token_key(state.settings), data.token)
        return Confirmed(status=status, manage_token=manage)  # type: ignore[arg-type]

    @get(
        "/exhibitor-bookings/{token:str}",
        middleware=[LINK_LIMIT],
        summary="One's own booking: status, stand, directory entry, passes",
        dependencies=BY_TOKEN,
    )
    async def show(self, db: DB, state: State, booking: BookingRow) -> Booking:
        return await booking_view(db, token_key(state.settings), booking)

    @patch(
        "/exhibitor-bookings/{token:str}",
        middleware=[LINK_LIMIT],
        summary="Edit one's directory entry",
    )
    async def edit(
        self, db: DB, state: State, token: FromPath[str], data: JSONBody[DirectoryUpdate]
    ) -> Booking:
        # By hand: Litestar resolves a dependency before it validates the body (lookups.py).
        booking = await logic.by_manage_token(db, token)
        await logic.update_directory(db, booking, given(data))
        booking = await logic.by_manage_token(db, token)
        return await booking_view(db, token_key(state.settings), booking)

    @delete(
        "/exhibitor-bookings/{token:str}",
        status_code=200,
        middleware=[LINK_LIMIT],
        summary="Withdraw one's booking (the stand and all passes are released)",
        dependencies=BY_TOKEN,
    )
    async def cancel(
        self, db: DB, state: State, token: FromPath[str], booking: BookingRow
    ) -> Booking:
        await logic.cancel(db, booking)
        return await booking_view(
            db, token_key(state.settings), await logic.by_manage_token(db, token)
        )

    @post(
        "/exhibitor-bookings/{token:str}/passes",
        status_code=HTTP_201_CREATED,
        middleware=[LINK_LIMIT],
        summary="Name a stand staff member: a pass is e-mailed",
    )
    async def add_pass(
        self, db: DB, state: State, token: FromPath[str], data: JSONBody[PassCreate]
    ) -> Pass:
        booking = await logic.by_manage_token(db, token)  # by hand: see edit
        key = token_key(state.settings)
        registration_id = await logic.add_pass(
            db, key, booking, data.name, data.email, data.language
        )
        view = await booking_view(db, key, booking)
        return next(p for p in view.passes if p.id == registration_id)

    @delete(
        "/exhibitor-bookings/{token:str}/passes/{pass_id:int}",
        status_code=200,
        middleware=[LINK_LIMIT],
        summary="Remove a staff member: the pass stops working",
        dependencies=BY_TOKEN,
    )
    async def remove_pass(
        self, db: DB, state: State, booking: BookingRow, pass_id: FromPath[int]
    ) -> Booking:
        await logic.remove_pass(db, booking, pass_id)
        return await booking_view(db, token_key(state.settings), booking)


class ReviewAPI(Controller):
    path = "/api/v1"
    tags = ["exhibitors"]
    guards = ORGANISER
    security = STAFF

    @get("/conferences/{slug:str}/exhibitor-bookings", summary="Booking requests (staff list)")
    async def list_bookings(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        status: FromQuery[BookingStatus | None] = None,
        limit: PageSize = 50,
        after: Cursor = 0,
    ) -> BookingPage:
        # By hand: Litestar resolves a dependency before it validates the query. Drafts too,
        # as on the staff pages; another's conference is unknown to a limited account.
        conference = await staff_conference(db, slug, staff)
        rows = await queries.bookings(
            db, conference["id"], status=status, after=after, limit=limit + 1
        )
        page = rows[:limit]
        return BookingPage(
            items=[item_view(r) for r in page], next=page[-1]["id"] if len(rows) > limit else None
        )

    @get(
        "/exhibitor-bookings/{booking_id:int}/fitting-stands",
        summary="Free stands that meet this request",
    )
    async def fitting(self, db: DB, staff: CurrentStaff, booking_id: FromPath[int]) -> list[Stand]:
        booking = await staff_booking(db, booking_id, staff)
        return [stand_view(s) for s in await queries.fitting_stands(db, booking)]

    @post(
        "/exhibitor-bookings/{booking_id:int}/approve",
        status_code=200,
        summary="Approve with a stand (409: taken, blocked, does not fit, wrong state)",
    )
    async def approve(
        self, db: DB, staff: CurrentStaff, booking_id: FromPath[int], data: JSONBody[Approve]
    ) -> BookingItem:
        await staff_booking(db, booking_id, staff)
        await logic.approve(db, booking_id, data.stand_id, staff=staff)
        return item_view(await queries.booking(db, booking_id))

    @post(
        "/exhibitor-bookings/{booking_id:int}/reassign",
        status_code=200,
        summary="Move an approved exhibitor to another stand",
    )
    async def reassign(
        self, db: DB, staff: CurrentStaff, booking_id: FromPath[int], data: JSONBody[Approve]
    ) -> BookingItem:
        await staff_booking(db, booking_id, staff)
        await logic.reassign(db, booking_id, data.stand_id, staff=staff)
        return item_view(await queries.booking(db, booking_id))

    @post(
        "/exhibitor-bookings/{booking_id:int}/release",
        status_code=200,
        summary="Free the stand; the booking goes back to the queue",
    )
    async def release(self, db: DB, staff: CurrentStaff, booking_id: FromPath[int]) -> BookingItem:
        await staff_booking(db, booking_id, staff)
        await logic.release(db, booking_id, staff=staff)
        return item_view(await queries.booking(db, booking_id))

    @post(
        "/exhibitor-bookings/{booking_id:int}/waitlist",
        status_code=200,
        summary="Put on the waiting list",
    )
    async def waitlist(
        self,
        db: DB,
        staff: CurrentStaff,
        booking_id: FromPath[int],
        data: JSONBody[Decision | None] = None,
    ) -> BookingItem:
        await staff_booking(db, booking_id, staff)
        await logic.decide(db, booking_id, "waitlisted", data.reason if data else "", staff=staff)
        return item_view(await queries.booking(db, booking_id))

    @post(
        "/exhibitor-bookings/{booking_id:int}/reject",
        status_code=200,
        summary="Reject, with a reason the organisation reads",
    )
    async def reject(
        self,
        db: DB,
        staff: CurrentStaff,
        booking_id: FromPath[int],
        data: JSONBody[Decision | None] = None,
    ) -> BookingItem:
        await staff_booking(db, booking_id, staff)
        await logic.decide(db, booking_id, "rejected", data.reason if data else "", staff=staff)
        return item_view(await queries.booking(db, booking_id))


class DirectoryAPI(Controller):
    path = "/api/v1"
    tags = ["exhibitors"]
    dependencies = PUBLIC

    @get("/conferences/{slug:str}/exhibitors", summary="Approved exhibitors with their stands")
    async def directory(
        self, db: DB, conference: ConferenceRow, topic: FromQuery[str | None] = None
    ) -> list[Exhibitor]:
        return [exhibitor_view(r) for r in await queries.directory(db, conference["id"], topic)]
