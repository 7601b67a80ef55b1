"""JSON API of staff accounts: admins invite, list and change them; the person accepts an
invitation or asks for a password-reset link (../shared/API.md, "Staff, teams, doors")."""

from __future__ import annotations

from litestar import Controller, Response, get, patch, post
from litestar.datastructures import CacheControlHeader, State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED
from msgspec import UNSET

from service import tokens
from service.auth import CurrentStaff, requires
from service.db import DB
from service.ratelimit import per_client
from service.team import logic, queries
from service.team.schemas import (
    Activated,
    InvitationAccept,
    PasswordResetRequest,
    ResetAccepted,
    StaffCreate,
    StaffMember,
    StaffPage,
    StaffUpdate,
    member_view,
)
from service.validation import Cursor, PageSize

ADMIN = [requires("admin")]
STAFF_SECURITY = [{"BearerToken": []}]
NOT_CACHED = CacheControlHeader(private=True, no_store=True)
# Strangers may call these: a few a minute per client address are plenty for a person.
RESET_LIMIT = per_client("password-reset", 5)
INVITATION_LIMIT = per_client("links", 120)


def link_key(state: State) -> bytes:
    return tokens.key_from_secret(state.settings.secret_key)


class TeamAPI(Controller):
    path = "/api/v1/staff"
    tags = ["staff accounts"]
    guards = ADMIN
    security = STAFF_SECURITY
    cache_control = NOT_CACHED

    @get(
        "/",
        summary="List staff accounts (keyset pagination)",
        description=(
            "Ordered by id. `status`: `invited` (no password set yet), `active`, `deactivated`. "
            "`conferences` are slugs; empty with `all_conferences`. `next` is the cursor of "
            "the following page (pass it as `after`), null on the last page."
        ),
    )
    async def list_staff(self, db: DB, limit: PageSize = 100, after: Cursor = 0) -> StaffPage:
        rows = await queries.page(db, after, limit + 1)
        shown = rows[:limit]
        return StaffPage(
            items=[member_view(r) for r in shown],
            next=shown[-1]["id"] if len(rows) > limit else None,
        )

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Invite a person: an account without a password, and an e-mail with a link",
        description=(
            "The e-mail carries `{BASE_URL}/staff/invite/{token}`, valid 7 days and once, where "
            "the person sets a password. `conferences`: slugs, absent or empty for all; an "
            "administrator always has all. An address that has an account: 409."
        ),
    )
    async def invite(
        self, db: DB, state: State, staff: CurrentStaff, data: JSONBody[StaffCreate]
    ) -> Response[StaffMember]:
        row = await logic.invite(
            db,
            link_key(state),
            staff,
            email=data.email,
            name=data.name,
            role=data.role,
            conferences=data.conferences,
        )
        return Response(
            member_view(row),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/staff/{row['id']}"},
        )

    @get("/{staff_id:int}", summary="One staff account")
    async def show(self, db: DB, staff_id: FromPath[int]) -> StaffMember:
        row = await queries.member(db, staff_id)
        if row is None:
            raise logic.no_such_account()
        return member_view(row)

    @patch(
        "/{staff_id:int}",
        summary="Change role, conferences, name; deactivate or reactivate",
        description=(
            "`active: false` ends every session and revokes every API token of the account at "
            "once (their next request: 401). One's own account cannot be deactivated, and the "
            "last active administrator stays one (409)."
        ),
    )
    async def change(
        self, db: DB, staff: CurrentStaff, staff_id: FromPath[int], data: JSONBody[StaffUpdate]
    ) -> StaffMember:
        changes = {
            name: value
            for name in ("role", "conferences", "active", "name")
            if (value := getattr(data, name)) is not UNSET
        }
        return member_view(await logic.update(db, staff, staff_id, changes))

    @post(
        "/{staff_id:int}/invitation",
        status_code=HTTP_201_CREATED,
        summary="Send the invitation again, with a new link (the earlier links stop working)",
    )
    async def resend(
        self, db: DB, state: State, staff: CurrentStaff, staff_id: FromPath[int]
    ) -> StaffMember:
        return member_view(await logic.resend_invitation(db, link_key(state), staff, staff_id))


class AccountAPI(Controller):
    """What a person does with their own account without being logged in."""

    path = "/api/v1/staff"
    tags = ["staff accounts"]
    cache_control = NOT_CACHED

    @post(
        "/invitations/accept",
        status_code=200,
        middleware=[INVITATION_LIMIT],
        summary="Set the password with the token of an invitation link",
        description=(
            "An unknown token: 404; a used, expired or replaced one: 409; a weak password: "
            "400 naming `password` (the link stays good)."
        ),
    )
    async def accept(self, db: DB, data: JSONBody[InvitationAccept]) -> Activated:
        await logic.accept_invitation(db, data.token, data.password)
        return Activated()

    @post(
        "/password-reset",
        status_code=HTTP_202_ACCEPTED,
        middleware=[RESET_LIMIT],
        summary="Ask for a password-reset link by e-mail",
        description=(
            "The same answer whatever the address. An active account gets "
            "`{BASE_URL}/staff/reset/{token}`, valid 1 hour and once."
        ),
    )
    async def request_reset(
        self, db: DB, state: State, data: JSONBody[PasswordResetRequest]
    ) -> ResetAccepted:
        await logic.request_password_reset(db, link_key(state), data.email)
        return ResetAccepted()
