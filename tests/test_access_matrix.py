"""Who may do what, on every route of the app.

MATRIX names an access rule for every (method, route) of the app's own route table, so a new
route without an entry fails `test_every_route_has_a_rule`. `test_access_matrix` then makes one
request per route and caller:

- anonymous: nobody logged in (a CSRF cookie only, so that forms get past the CSRF check and
  reach the access check);
- attendee: someone who holds only their own self-service link. On staff routes they send it as
  a bearer token; on routes that take a link they try a link that is not one of that route's
  kind (an exhibitor's link on an attendee's page and the other way round, a manage link where
  a confirmation link belongs): someone else's token link is 404, never someone else's data;
- scanner, organiser, admin: staff, by bearer token on the API and by session on pages.

Expected: staff API routes 401 without a staff token and 403 for a role below the one needed;
staff pages send the anonymous to the login page and show a lower role the 403 page; a link
route answers its holder and 404 for any other token. Allowed cells send an empty body, so a
write is refused by validation and changes nothing (where it is valid, it acts on throwaway
objects made for that cell). `test_forms_need_csrf` posts every form without the token: 403,
nothing changed. The rest checks that no id or token opens someone else's data.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from service import tokens
from service.app import create_app
from service.settings import Settings
from service.staff import create_staff, issue_token
from service.team import logic as team_logic
from tests.conftest import PASSWORD, StaffAccount, conference_payload, csrf_token, empty_all_tables
from tests.exhibitor_support import booking_payload
from tests.forum_support import forum_payload, make_attendees
from tests.registration_support import registration_payload

SLUG = "fachtag-2027"
# Staff limited to SLUG: there they are what their role is; the conference FOREIGN (with things
# of its own) is unknown to them (`test_limited_staff_find_nothing_of_another_conference`).
LIMITED = {"limited scanner": "scanner", "limited organiser": "organiser"}
FOREIGN = "andere-tagung-2027"
ROLES = ("attendee", "anonymous", "scanner", "organiser", "admin", *LIMITED)
STAFF_RANK = {"scanner": 1, "organiser": 2, "admin": 3}

# Access rules.
PUBLIC = "public"  # anyone
SCANNER, ORGANISER, ADMIN = "scanner", "organiser", "admin"  # staff with at least this role
ATTENDEE = "attendee link"  # whoever holds an attendee's self-service link
EXHIBITOR = "exhibitor link"  # whoever holds an exhibitor's self-service link
CONFIRMATION = "confirmation link"  # whoever holds a confirmation link from the e-mail
NOWHERE = "404 for all"  # nothing there for anyone
STAFF_LINK = "staff link"  # whoever holds an invitation or password-reset link from the e-mail
LOGOUT = "anyone, back to the login page"

MATRIX: dict[str, str] = {
    # the shell
    "GET /health": PUBLIC,
    "GET /": PUBLIC,
    "GET /privacy": PUBLIC,
    "GET /accessibility": PUBLIC,
    "GET /static/{file_path}": PUBLIC,
    "HEAD /static/{file_path}": PUBLIC,
    "GET /schema": PUBLIC,
    "GET /schema/openapi.json": PUBLIC,
    "GET /schema/{path}": NOWHERE,
    # staff accounts
    "GET /staff/login": PUBLIC,
    "POST /staff/login": PUBLIC,
    # two-factor login: the code step after the password (without a pending login it sends
    # anyone back to the password), one's own set-up page, the installation's settings
    "GET /staff/login/code": LOGOUT,
    "POST /staff/login/code": LOGOUT,
    "GET /staff/account/two-factor": SCANNER,
    "POST /staff/account/two-factor": SCANNER,
    "POST /staff/account/two-factor/recovery-codes": SCANNER,
    "POST /staff/account/two-factor/disable": SCANNER,
    "GET /staff/settings": ADMIN,
    "POST /staff/settings": ADMIN,
    "GET /api/v1/settings": ADMIN,
    "PATCH /api/v1/settings": ADMIN,
    "POST /staff/logout": LOGOUT,
    "GET /staff": SCANNER,
    "GET /staff/tokens": SCANNER,
    "POST /staff/tokens": SCANNER,
    "POST /staff/tokens/{token_id}/revoke": SCANNER,
    # staff accounts: the team, the links of invitation and reset mails, one's own account
    "GET /api/v1/staff": ADMIN,
    "POST /api/v1/staff": ADMIN,
    "GET /api/v1/staff/{staff_id}": ADMIN,
    "PATCH /api/v1/staff/{staff_id}": ADMIN,
    "POST /api/v1/staff/{staff_id}/invitation": ADMIN,
    "POST /api/v1/staff/invitations/accept": PUBLIC,
    "POST /api/v1/staff/password-reset": PUBLIC,
    "GET /staff/team": ADMIN,
    "POST /staff/team": ADMIN,
    "GET /staff/team/{staff_id}": ADMIN,
    "POST /staff/team/{staff_id}": ADMIN,
    "POST /staff/team/{staff_id}/deactivate": ADMIN,
    "POST /staff/team/{staff_id}/reactivate": ADMIN,
    "POST /staff/team/{staff_id}/invitation": ADMIN,
    "GET /staff/invite/{token}": STAFF_LINK,
    "POST /staff/invite/{token}": STAFF_LINK,
    "GET /staff/reset": PUBLIC,
    "POST /staff/reset": PUBLIC,
    "GET /staff/reset/{token}": STAFF_LINK,
    "POST /staff/reset/{token}": STAFF_LINK,
    "GET /staff/account": SCANNER,
    "POST /staff/account/password": SCANNER,
    # conferences
    "GET /api/v1/conferences": PUBLIC,
    "POST /api/v1/conferences": ORGANISER,
    "GET /api/v1/conferences/{slug}": PUBLIC,
    "PATCH /api/v1/conferences/{slug}": ORGANISER,
    "POST /api/v1/conferences/{slug}/programme": ORGANISER,
    "PATCH /api/v1/conferences/{slug}/programme/{item_id}": ORGANISER,
    "DELETE /api/v1/conferences/{slug}/programme/{item_id}": ORGANISER,
    "GET /conferences/{slug}": PUBLIC,
    "GET /conferences/{slug}/privacy": PUBLIC,
    "GET /staff/conferences/new": ORGANISER,
    "POST /staff/conferences/new": ORGANISER,
    "GET /staff/conferences/{slug}": ORGANISER,
    "POST /staff/conferences/{slug}": ORGANISER,
    "GET /staff/conferences/{slug}/programme/new": ORGANISER,
    "POST /staff/conferences/{slug}/programme/new": ORGANISER,
    "GET /staff/conferences/{slug}/programme/{item_id}": ORGANISER,
    "POST /staff/conferences/{slug}/programme/{item_id}": ORGANISER,
    "POST /staff/conferences/{slug}/programme/{item_id}/delete": ORGANISER,
    # the audit log: a conference's for its organisers, the installation's for admins
    "GET /api/v1/conferences/{slug}/audit": ORGANISER,
    "GET /api/v1/conferences/{slug}/audit.csv": ORGANISER,
    "GET /staff/conferences/{slug}/audit": ORGANISER,
    "GET /api/v1/audit": ADMIN,
    "GET /api/v1/audit.csv": ADMIN,
    "GET /staff/audit": ADMIN,
    # registration: attendees
    "POST /api/v1/conferences/{slug}/registrations": PUBLIC,
    "POST /api/v1/registrations/confirm": PUBLIC,
    "GET /api/v1/registrations/{token}": ATTENDEE,
    "PATCH /api/v1/registrations/{token}": ATTENDEE,
    "DELETE /api/v1/registrations/{token}": ATTENDEE,
    "GET /api/v1/registrations/{token}/export": ATTENDEE,
    "POST /api/v1/registrations/{token}/erase": ATTENDEE,
    "GET /conferences/{slug}/register": PUBLIC,
    "POST /conferences/{slug}/register": PUBLIC,
    # The confirmation page shows only a button, the same for every well-formed token.
    "GET /confirm/{token}": PUBLIC,
    "POST /confirm/{token}": CONFIRMATION,
    "GET /r/{token}": ATTENDEE,
    "GET /r/{token}/ticket": ATTENDEE,
    "GET /r/{token}/ticket.svg": ATTENDEE,
    "GET /r/{token}/ticket.png": ATTENDEE,
    "GET /r/{token}/calendar.ics": ATTENDEE,
    "GET /r/{token}/feed.ics": ATTENDEE,
    "POST /r/{token}/language": ATTENDEE,
    "GET /r/{token}/cancel": ATTENDEE,
    "POST /r/{token}/cancel": ATTENDEE,
    "GET /r/{token}/delete": ATTENDEE,
    "POST /r/{token}/delete": ATTENDEE,
    # registration: staff
    "GET /api/v1/conferences/{slug}/registrations": ORGANISER,
    "GET /api/v1/conferences/{slug}/registrations.csv": ORGANISER,
    "GET /api/v1/conferences/{slug}/registrations/summary": ORGANISER,
    "POST /api/v1/conferences/{slug}/registrations/{registration_id}/cancel": ORGANISER,
    "POST /api/v1/conferences/{slug}/registrations/{registration_id}/resend-ticket": ORGANISER,
    "GET /api/v1/conferences/{slug}/registrations/{registration_id}/export": ORGANISER,
    "POST /api/v1/conferences/{slug}/registrations/{registration_id}/erase": ORGANISER,
    "GET /staff/conferences/{slug}/registrations": ORGANISER,
    "GET /staff/conferences/{slug}/registrations/{registration_id}": ORGANISER,
    "GET /staff/conferences/{slug}/registrations/{registration_id}/{action}": ORGANISER,
    "POST /staff/conferences/{slug}/registrations/{registration_id}/{action}": ORGANISER,
    # the entrance
    "POST /api/v1/checkin": SCANNER,
    "POST /api/v1/checkin/manual": SCANNER,
    "POST /api/v1/checkin/undo": SCANNER,
    "POST /api/v1/checkin/batch": SCANNER,
    "GET /api/v1/conferences/{slug}/checkin/search": SCANNER,
    "GET /api/v1/conferences/{slug}/checkin/offline-data": SCANNER,
    "GET /scan": SCANNER,
    "GET /scan/sw.js": PUBLIC,  # the list of static files to keep; nothing personal
    "GET /api/v1/conferences/{slug}/entrance/stats": ORGANISER,
    "GET /api/v1/conferences/{slug}/entrance/attendees.csv": ORGANISER,
    "GET /api/v1/conferences/{slug}/entrance/checkins.csv": ORGANISER,
    "GET /api/v1/conferences/{slug}/entrance/needs.csv": ORGANISER,
    "GET /staff/conferences/{slug}/entrance": ORGANISER,
    "GET /staff/conferences/{slug}/entrance/arrivals.svg": ORGANISER,
    "GET /staff/conferences/{slug}/entrance/events": ORGANISER,
    "GET /staff/conferences/{slug}/badges": ORGANISER,
    # door devices
    "POST /api/v1/conferences/{slug}/devices": ORGANISER,
    "GET /api/v1/conferences/{slug}/devices": ORGANISER,
    "DELETE /api/v1/conferences/{slug}/devices/{device_id}": ORGANISER,
    "POST /api/v1/devices/pair": PUBLIC,
    "GET /pair/{code}": PUBLIC,  # what a live pairing code names: its door and conference
    "GET /scan/device": PUBLIC,  # the scanner page, nothing of any conference in it
    "GET /staff/conferences/{slug}/devices": ORGANISER,
    "POST /staff/conferences/{slug}/devices": ORGANISER,
    "GET /staff/conferences/{slug}/devices/{device_id}/remove": ORGANISER,
    "POST /staff/conferences/{slug}/devices/{device_id}/remove": ORGANISER,
    # forums
    "GET /api/v1/conferences/{slug}/forums": PUBLIC,
    "POST /api/v1/conferences/{slug}/forums": ORGANISER,
    "GET /api/v1/forums/{forum_id}": PUBLIC,
    "PATCH /api/v1/forums/{forum_id}": ORGANISER,
    "POST /api/v1/forums/{forum_id}/move": ORGANISER,
    "POST /api/v1/forums/{forum_id}/attendance": SCANNER,
    "PUT /api/v1/registrations/{token}/forums/{forum_id}": ATTENDEE,
    "DELETE /api/v1/registrations/{token}/forums/{forum_id}": ATTENDEE,
    "GET /conferences/{slug}/forums": PUBLIC,
    "GET /r/{token}/forums": ATTENDEE,
    # A reload after a sign-up: a redirect to /r/{token}/forums for any token (reveals nothing).
    "GET /r/{token}/forums/{forum_id}/join": PUBLIC,
    "POST /r/{token}/forums/{forum_id}/join": ATTENDEE,
    "GET /r/{token}/forums/{forum_id}/leave": PUBLIC,
    "POST /r/{token}/forums/{forum_id}/leave": ATTENDEE,
    "GET /staff/conferences/{slug}/forums": ORGANISER,
    "GET /staff/conferences/{slug}/forums/new": ORGANISER,
    "POST /staff/conferences/{slug}/forums/new": ORGANISER,
    "GET /staff/forums/{forum_id}": ORGANISER,
    "POST /staff/forums/{forum_id}": ORGANISER,
    "GET /staff/forums/{forum_id}/cancel": ORGANISER,
    "POST /staff/forums/{forum_id}/cancel": ORGANISER,
    "GET /staff/forums/{forum_id}/move": ORGANISER,
    "POST /staff/forums/{forum_id}/move": ORGANISER,
    "GET /staff/forums/{forum_id}/participants": ORGANISER,
    "GET /staff/forums/{forum_id}/participants.csv": ORGANISER,
    "GET /staff/forums/{forum_id}/door": SCANNER,
    "POST /staff/forums/{forum_id}/door": SCANNER,
    # exhibitors
    "GET /api/v1/conferences/{slug}/stands": PUBLIC,
    "POST /api/v1/conferences/{slug}/stands": ORGANISER,
    "POST /api/v1/conferences/{slug}/stands/row": ORGANISER,
    "PATCH /api/v1/stands/{stand_id}": ORGANISER,
    "POST /api/v1/conferences/{slug}/exhibitor-bookings": PUBLIC,
    "GET /api/v1/conferences/{slug}/exhibitor-bookings": ORGANISER,
    "POST /api/v1/exhibitor-bookings/confirm": PUBLIC,
    "GET /api/v1/exhibitor-bookings/{token}": EXHIBITOR,
    "PATCH /api/v1/exhibitor-bookings/{token}": EXHIBITOR,
    "DELETE /api/v1/exhibitor-bookings/{token}": EXHIBITOR,
    "GET /api/v1/exhibitor-bookings/{token}/export": EXHIBITOR,
    "POST /api/v1/exhibitor-bookings/{token}/erase": EXHIBITOR,
    "POST /api/v1/exhibitor-bookings/{token}/passes": EXHIBITOR,
    "DELETE /api/v1/exhibitor-bookings/{token}/passes/{pass_id}": EXHIBITOR,
    "GET /api/v1/exhibitor-bookings/{booking_id}/fitting-stands": ORGANISER,
    "POST /api/v1/exhibitor-bookings/{booking_id}/approve": ORGANISER,
    "POST /api/v1/exhibitor-bookings/{booking_id}/reassign": ORGANISER,
    "POST /api/v1/exhibitor-bookings/{booking_id}/waitlist": ORGANISER,
    "POST /api/v1/exhibitor-bookings/{booking_id}/reject": ORGANISER,
    "POST /api/v1/exhibitor-bookings/{booking_id}/release": ORGANISER,
    "GET /api/v1/conferences/{slug}/exhibitors": PUBLIC,
    "GET /conferences/{slug}/exhibitors": PUBLIC,
    "GET /conferences/{slug}/floorplan.svg": PUBLIC,
    "GET /conferences/{slug}/exhibit": PUBLIC,
    "POST /conferences/{slug}/exhibit": PUBLIC,
    "GET /x/{token}": EXHIBITOR,
    "GET /x/{token}/data.json": EXHIBITOR,
    "POST /x/{token}/directory": EXHIBITOR,
    "POST /x/{token}/passes": EXHIBITOR,
    "GET /x/{token}/passes/{pass_id}/remove": EXHIBITOR,
    "POST /x/{token}/passes/{pass_id}/remove": EXHIBITOR,
    "GET /x/{token}/cancel": EXHIBITOR,
    "POST /x/{token}/cancel": EXHIBITOR,
    "GET /x/{token}/delete": EXHIBITOR,
    "POST /x/{token}/delete": EXHIBITOR,
    "GET /staff/conferences/{slug}/stands": ORGANISER,
    "POST /staff/conferences/{slug}/stands": ORGANISER,
    "POST /staff/conferences/{slug}/stands/row": ORGANISER,
    "POST /staff/conferences/{slug}/stands/{stand_id}/block": ORGANISER,
    "GET /staff/conferences/{slug}/exhibitors": ORGANISER,
    "GET /staff/conferences/{slug}/exhibitors/{booking_id}/{action}": ORGANISER,
    "POST /staff/conferences/{slug}/exhibitors/{booking_id}/{action}": ORGANISER,
}

# Live streams do not end; an allowed caller asks for a conference that does not exist and
# gets 404 from the handler, which only runs once the guard has let them in.
STREAMS = {"GET /staff/conferences/{slug}/entrance/events"}
# Bodies that pass validation where the access check is the handler's own (a link, or the
# door's token checked in the scan statement): an empty one would be refused before it.
BODIES: dict[str, dict[str, Any]] = {
    "PATCH /api/v1/registrations/{token}": {"language": "en"},
    "POST /api/v1/exhibitor-bookings/{token}/passes": {
        "name": "Standhilfe",
        "email": "standhilfe@example.org",
    },
    "POST /api/v1/checkin": {"conference": SLUG, "secret": "ABCDEFGHJKMNPQRSTUVWXYZ234"},
}
# These change or remove what they are called on: each allowed call gets its own.
DESTRUCTIVE_WORDS = ("/cancel", "/delete", "/erase", "/remove", "/revoke")


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/r/{token}/cancel"

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/")

    @property
    def destructive(self) -> bool:
        return self.method == "DELETE" or any(w in self.template for w in DESTRUCTIVE_WORDS)


def app_routes(app: Litestar) -> list[Route]:
    """Every (method, path template) the app answers, from its own route table."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        template = route.path_format  # "/r/{token}" without the ":str" of route.path
        for method in sorted(route.route_handler_map):
            if method != "OPTIONS":  # Litestar's own answer to CORS preflights
                found.append(Route(method, template))
    return found


@pytest.fixture(scope="module")
def matrix_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # One client makes hundreds of requests: the per-client limits are tested elsewhere.
    return Settings(
        database_url=database_url,
        smtp_url="smtp://127.0.0.1:1",
        base_url="http://testserver.local",
        secret_key="test-secret-key-not-for-production",
        data_dir=tmp_path_factory.mktemp("matrix"),
        db_pool_size=3,
        rate_limits=False,
    )


@pytest.fixture
def clean_tables() -> None:
    """The module builds its world once (see `world`), instead of on empty tables per test."""


@dataclass
class Caller:
    name: str
    cookies: dict[str, str]
    csrf: str
    account: StaffAccount | None = None


@dataclass
class World:
    client: AsyncTestClient
    pool: asyncpg.Pool
    settings: Settings
    callers: dict[str, Caller]
    organiser: StaffAccount
    attendee_token: str  # attendee A's self-service link
    exhibitor_token: str  # exhibitor E's (approved, with a stand)
    forum_id: int
    stand_ids: list[int]
    booking_id: int  # a request waiting for review
    registration_id: int  # someone else's registration, for the staff pages
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    foreign: dict[str, Any] = field(default_factory=dict)  # FOREIGN's things (path values)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A setup call as the organiser (bearer token, no cookies)."""
        self.client.cookies.clear()
        response = await self.client.request(method, path, headers=self.organiser.headers, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response

    async def fresh_attendee(self) -> tuple[int, str]:
        """A confirmed registration: (id, self-service token)."""
        [made] = await make_attendees(
            self.pool, self.settings.secret_key, SLUG, 1, prefix=self.unique("attendee")
        )
        return made

    async def fresh_confirmation(self) -> str:
        email = f"{self.unique('pending')}@example.org"
        await self.client.post(
            f"/api/v1/conferences/{SLUG}/registrations", json=registration_payload(email=email)
        )
        salt = await self.pool.fetchval(
            "SELECT confirm_salt FROM registrations WHERE email = $1", email
        )
        return tokens.derive(tokens.key_from_secret(self.settings.secret_key), "confirm", salt)

    async def fresh_exhibitor(self) -> str:
        """An approved booking with a stand of its own; returns its self-service token."""
        email = f"{self.unique('exhibitor')}@example.org"
        await self.client.post(
            f"/api/v1/conferences/{SLUG}/exhibitor-bookings",
            json=booking_payload(email=email, organisation=email),
        )
        row = await self.pool.fetchrow(
            "SELECT id, confirm_salt FROM exhibitor_bookings WHERE email = $1", email
        )
        key = tokens.key_from_secret(self.settings.secret_key)
        confirmed = await self.client.post(
            "/api/v1/exhibitor-bookings/confirm",
            json={"token": tokens.derive(key, "exhibitor-confirm", row["confirm_salt"])},
        )
        assert confirmed.status_code == 200, confirmed.text
        stand_id = self.stand_ids.pop()
        await self.api(
            "POST", f"/api/v1/exhibitor-bookings/{row['id']}/approve", json={"stand_id": stand_id}
        )
        return confirmed.json()["manage_token"]

    async def fresh_pass(self, exhibitor_token: str) -> int:
        response = await self.client.post(
            f"/api/v1/exhibitor-bookings/{exhibitor_token}/passes",
            json={"name": "Standhilfe", "email": f"{self.unique('pass')}@example.org"},
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def fresh_programme_item(self) -> int:
        response = await self.api(
            "POST",
            f"/api/v1/conferences/{SLUG}/programme",
            json={
                "kind": "plenary",
                "title": self.unique("Vortrag "),
                "starts_at": "2027-05-10T10:00:00+02:00",
                "ends_at": "2027-05-10T11:00:00+02:00",
            },
        )
        return response.json()["id"]

    async def fresh_forum(self) -> int:
        response = await self.api(
            "POST",
            f"/api/v1/conferences/{SLUG}/forums",
            json=forum_payload(title=self.unique("Forum ")),
        )
        return response.json()["id"]

    async def fresh_door(self) -> tuple[int, str]:
        """A door of the conference waiting for its device: (id, pairing code)."""
        response = await self.api(
            "POST", f"/api/v1/conferences/{SLUG}/devices", json={"name": self.unique("Tür ")}
        )
        door = response.json()
        return door["id"], door["pairing_url"].rsplit("/", 1)[1]

    async def fresh_staff(self) -> int:
        """An invited account (no password yet), to change, deactivate or invite again."""
        email = f"{self.unique('team')}@example.org"
        return await self.pool.fetchval(
            "INSERT INTO staff (email, role) VALUES ($1, 'scanner') RETURNING id", email
        )

    async def fresh_staff_link(self, template: str) -> str:
        """A live invitation link (an invited account) or reset link (an active one)."""
        invitation = "/invite/" in template
        purpose = "invitation" if invitation else "password_reset"
        salt = tokens.new_salt()
        key = tokens.key_from_secret(self.settings.secret_key)
        token = team_logic.link_token(key, purpose, salt)
        async with self.pool.acquire() as db:
            staff_id = await db.fetchval(
                "INSERT INTO staff (email, role, password_hash) VALUES ($1, 'scanner', $2) "
                "RETURNING id",
                f"{self.unique('link')}@example.org",
                None if invitation else "not a hash: nobody logs in with it",
            )
            await db.execute(
                "INSERT INTO staff_links (staff_id, purpose, salt, token_hash, expires_at) "
                "VALUES ($1, $2, $3, $4, now() + interval '1 hour')",
                staff_id,
                purpose,
                salt,
                tokens.digest(token),
            )
        return token

    async def fresh_api_token_id(self, account: StaffAccount) -> int:
        async with self.pool.acquire() as db:
            await issue_token(db, account.email, self.unique("spare "))
            return await db.fetchval(
                "SELECT t.id FROM api_tokens t JOIN staff s ON s.id = t.staff_id "
                "WHERE s.email = $1 ORDER BY t.id DESC LIMIT 1",
                account.email,
            )


async def staff_account(pool: asyncpg.Pool, role: str) -> StaffAccount:
    email = f"{role}@matrix.example.org"
    async with pool.acquire() as db:
        await create_staff(db, email, role, PASSWORD)
        token = await issue_token(db, email, "matrix")
    return StaffAccount(email, role, token)


async def browser_cookies(client: AsyncTestClient, account: StaffAccount | None) -> Caller:
    """The cookies (CSRF, and the session when logged in) and form token of one caller."""
    client.cookies.clear()
    token = await csrf_token(client, "/staff/login")
    if account is not None:
        response = await client.post(
            "/staff/login",
            data={"email": account.email, "password": PASSWORD, "_csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code in (302, 303), response.text
    name = account.role if account else "anonymous"
    return Caller(name, dict(client.cookies), token, account)


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool, matrix_settings: Settings) -> AsyncIterator[World]:
    async with pool.acquire() as db:
        await empty_all_tables(db)
    app = create_app(matrix_settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        accounts = {role: await staff_account(pool, role) for role in STAFF_RANK}
        organiser = accounts["organiser"]
        callers = {role: await browser_cookies(client, accounts[role]) for role in STAFF_RANK}
        callers["anonymous"] = await browser_cookies(client, None)
        callers["attendee"] = replace(callers["anonymous"], name="attendee")
        world = World(
            client=client,
            pool=pool,
            settings=matrix_settings,
            callers=callers,
            organiser=organiser,
            attendee_token="",
            exhibitor_token="",
            forum_id=0,
            stand_ids=[],
            booking_id=0,
            registration_id=0,
        )
        await world.api("POST", "/api/v1/conferences", json=conference_payload(capacity=500))
        rows = await world.api(
            "POST",
            f"/api/v1/conferences/{SLUG}/stands/row",
            json={"prefix": "A", "first_number": 1, "count": 80, "width_m": 4, "depth_m": 3}
            | {"max_staff": 50, "features": ["power", "table"]},
        )
        world.stand_ids = [stand["id"] for stand in rows.json()]
        world.forum_id = await world.fresh_forum()
        [(world.registration_id, _), (_, world.attendee_token)] = await make_attendees(
            pool, matrix_settings.secret_key, SLUG, 2, prefix="known"
        )
        world.exhibitor_token = await world.fresh_exhibitor()
        client.cookies.clear()
        await client.post(
            f"/api/v1/conferences/{SLUG}/exhibitor-bookings",
            json=booking_payload(email="waiting@example.org", organisation="Wartend e. V."),
        )
        world.booking_id = await pool.fetchval(
            "SELECT id FROM exhibitor_bookings WHERE email = 'waiting@example.org'"
        )
        await add_limited_staff(world)
        world.foreign = await foreign_conference(world)
        yield world


def rule_of(route: Route) -> str:
    return MATRIX[route.key]


def expected(route: Route, role: str) -> str:
    rule = rule_of(route)
    role = LIMITED.get(role, role)  # in their own conference, as their role
    if rule == PUBLIC:
        return "allowed"
    if rule == NOWHERE:
        return "404"
    if rule == LOGOUT:
        return "login page"
    if rule in (ATTENDEE, EXHIBITOR, CONFIRMATION, STAFF_LINK):
        return "404" if role == "attendee" else "allowed"
    if role in ("anonymous", "attendee"):
        # A page sends the visitor to the login form; a form posted without a session (it
        # expired) cannot be sent on, and gets the 401 page with a link to log in.
        return "401" if route.is_api or route.method == "POST" else "login page"
    if STAFF_RANK[role] < STAFF_RANK[rule]:
        return "403"
    return "404" if route.key in STREAMS else "allowed"


def outcome(response: httpx.Response) -> str:
    status = response.status_code
    if status in (302, 303, 307) and response.headers["location"].startswith("/staff/login"):
        return "login page"
    if status in (401, 403, 404):
        return str(status)
    if status >= 500:
        return f"error {status}"
    return "allowed"


async def path_for(world: World, route: Route, role: str) -> str:
    """The route's template with real values; what the caller may not use where it matters."""
    rule = rule_of(route)
    wrong_link = role == "attendee"
    values: dict[str, Any] = {
        "slug": SLUG,
        "file_path": "css/site.css",
        "path": "nothing-here",
        "forum_id": world.forum_id,
        "stand_id": world.stand_ids[0],
        "booking_id": world.booking_id,
        "registration_id": world.registration_id,
        "action": "reject" if "/exhibitors/" in route.template else "cancel",
    }
    if route.key in STREAMS:
        values["slug"] = "gibt-es-nicht"  # for everyone: a caller let in would wait forever
    if "{registration_id}" in route.template and route.destructive:
        values["registration_id"], _token = await world.fresh_attendee()
    if "{item_id}" in route.template:
        values["item_id"] = await world.fresh_programme_item()
    if "{forum_id}" in route.template and route.destructive and "/r/" not in route.template:
        values["forum_id"] = await world.fresh_forum()
    if "{device_id}" in route.template or "{code}" in route.template:
        values["device_id"], values["code"] = await world.fresh_door()
    if "{staff_id}" in route.template:
        values["staff_id"] = await world.fresh_staff()
    if "{token_id}" in route.template:
        account = world.callers[role].account or world.callers["admin"].account
        values["token_id"] = await world.fresh_api_token_id(account)
    if rule == ATTENDEE:
        if wrong_link:
            values["token"] = world.exhibitor_token
        elif route.destructive or route.method != "GET":
            _id, values["token"] = await world.fresh_attendee()
        else:
            values["token"] = world.attendee_token
    elif rule == EXHIBITOR:
        exhibitor = world.exhibitor_token
        if route.destructive and not wrong_link and "{pass_id}" not in route.template:
            exhibitor = await world.fresh_exhibitor()
        if "{pass_id}" in route.template:
            values["pass_id"] = await world.fresh_pass(exhibitor)
        values["token"] = world.attendee_token if wrong_link else exhibitor
    elif rule == STAFF_LINK:
        values["token"] = (
            world.attendee_token if wrong_link else await world.fresh_staff_link(route.template)
        )
    elif rule == CONFIRMATION:
        values["token"] = world.attendee_token if wrong_link else await world.fresh_confirmation()
    elif "{token}" in route.template:  # a public page that takes any well-formed token
        values["token"] = world.attendee_token
    return route.template.format(**values)


async def call(world: World, route: Route, role: str, path: str) -> httpx.Response:
    caller = world.callers[role]
    rule = rule_of(route)
    client = world.client
    client.cookies.clear()
    headers: dict[str, str] = {}
    if route.is_api:
        if caller.account is not None:
            headers = caller.account.headers
        elif role == "attendee" and rule in STAFF_RANK:
            headers = {"Authorization": f"Bearer {world.attendee_token}"}
    else:
        client.cookies.update(caller.cookies)
        if role == "attendee" and rule in STAFF_RANK:
            headers = {"Authorization": f"Bearer {world.attendee_token}"}
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if route.method in ("POST", "PUT", "PATCH"):
        if route.is_api:
            kwargs["json"] = BODIES.get(route.key, {})
        else:
            kwargs["data"] = {"_csrf_token": caller.csrf}
    return await client.request(route.method, path, **kwargs)


def test_every_route_has_a_rule(matrix_settings: Settings) -> None:
    routes = {route.key for route in app_routes(create_app(matrix_settings))}
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, "routes without an access rule in MATRIX:\n" + "\n".join(missing)
    assert not stale, "MATRIX names routes the app does not have:\n" + "\n".join(stale)


async def test_access_matrix(world: World) -> None:
    routes = [r for r in app_routes(world.client.app) if r.key in MATRIX]
    routes.sort(key=lambda r: r.destructive)  # what changes things last
    wrong = []
    for route in routes:
        for role in ROLES:
            path = await path_for(world, route, role)
            response = await call(world, route, role, path)
            account = world.callers[role].account
            if rule_of(route) == LOGOUT and account is not None:
                # Logging out ends every session of the account: the caller logs in again.
                world.callers[role] = await browser_cookies(world.client, account)
            want, got = expected(route, role), outcome(response)
            if want != got:
                wrong.append(
                    f"{route.key} as {role} ({rule_of(route)}): expected {want}, got {got} "
                    f"({response.status_code} {response.text[:120]!r})"
                )
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)


async def table_digests(pool: asyncpg.Pool) -> dict[str, str]:
    """A digest of every table's rows, to show that nothing changed."""
    digests = {}
    async with pool.acquire() as db:
        tables = await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('schema_migrations', 'rate_limit')"
        )
        for t in tables:
            rows = await db.fetch(f'SELECT t::text AS row FROM "{t["tablename"]}" t')
            joined = "\n".join(sorted(r["row"] for r in rows))
            digests[t["tablename"]] = hashlib.sha256(joined.encode()).hexdigest()
    return digests


async def test_forms_need_csrf(world: World) -> None:
    """Every form POST without its CSRF token: 403 and nothing changed, even for the admin
    with a valid session; and a cookie-authenticated API write without the X-CSRFToken
    header the same."""
    routes = [r for r in app_routes(world.client.app) if r.key in MATRIX]
    forms = [r for r in routes if r.method == "POST" and not r.is_api]
    api_writes = [r for r in routes if r.is_api and r.method != "GET" and rule_of(r) in STAFF_RANK]
    assert len(forms) > 30 and len(api_writes) > 20
    admin = world.callers["admin"]
    paths = {r.key: await path_for(world, r, "admin") for r in forms + api_writes}
    before = await table_digests(world.pool)
    wrong = []
    for route in forms + api_writes:
        world.client.cookies.clear()
        world.client.cookies.update(admin.cookies)
        body = {"json": {}} if route.is_api else {"data": {"email": "x@example.org"}}
        response = await world.client.request(
            route.method, paths[route.key], follow_redirects=False, **body
        )
        if response.status_code != 403:
            wrong.append(f"{route.key}: {response.status_code} {response.text[:100]!r}")
    assert not wrong, "accepted without the CSRF token:\n" + "\n".join(wrong)
    assert await table_digests(world.pool) == before


async def test_no_token_or_id_opens_someone_elses_data(world: World) -> None:
    client = world.client
    client.cookies.clear()
    (_a, mine), (_b, theirs) = await world.fresh_attendee(), await world.fresh_attendee()
    me = (await client.get(f"/api/v1/registrations/{mine}")).json()
    them = (await client.get(f"/api/v1/registrations/{theirs}")).json()
    assert me["email"] != them["email"]
    confirm_salt = await world.pool.fetchval(
        "SELECT confirm_salt FROM registrations WHERE email = $1", me["email"]
    )
    key = tokens.key_from_secret(world.settings.secret_key)
    changed = mine[:-1] + ("A" if mine[-1] != "A" else "B")
    not_links = {
        "one character changed": changed,
        "the ticket code": me["ticket"]["secret"],
        "the confirmation token": tokens.derive(key, "confirm", confirm_salt),
        "an exhibitor's link": world.exhibitor_token,
    }
    for what, token in not_links.items():
        for path in (
            f"/api/v1/registrations/{token}",
            f"/api/v1/registrations/{token}/export",
            f"/r/{token}",
            f"/r/{token}/ticket.png",
            f"/r/{token}/feed.ics",
        ):
            response = await client.get(path)
            assert response.status_code == 404, f"{path} with {what}: {response.status_code}"
            assert me["email"] not in response.text and me["name"] not in response.text
    # The right link shows its own person and nobody else.
    page = (await client.get(f"/r/{theirs}")).text
    assert them["name"] in page and me["name"] not in page

    # An exhibitor's link does not reach another exhibitor's passes.
    other = await world.fresh_exhibitor()
    their_pass = await world.fresh_pass(other)
    for method, path in (
        ("DELETE", f"/api/v1/exhibitor-bookings/{world.exhibitor_token}/passes/{their_pass}"),
        ("GET", f"/x/{world.exhibitor_token}/passes/{their_pass}/remove"),
    ):
        assert (await client.request(method, path)).status_code == 404, path
    passes = (await client.get(f"/api/v1/exhibitor-bookings/{other}")).json()["passes"]
    assert their_pass in [p["id"] for p in passes]  # still there

    # A staff member revokes only their own API tokens.
    scanner, organiser = world.callers["scanner"], world.callers["organiser"]
    assert scanner.account and organiser.account
    organisers_token = await world.fresh_api_token_id(organiser.account)
    client.cookies.update(scanner.cookies)
    refused = await client.post(
        f"/staff/tokens/{organisers_token}/revoke", data={"_csrf_token": scanner.csrf}
    )
    assert refused.status_code == 404
    assert await world.pool.fetchval(
        "SELECT revoked_at IS NULL FROM api_tokens WHERE id = $1", organisers_token
    )


# What a paired door device may call with its token (service.auth.FOR_DOOR_DEVICES): the
# scanner page's calls. Every other staff route answers it 403.
DOOR_DEVICE_ROUTES = {
    "POST /api/v1/checkin",
    "POST /api/v1/checkin/manual",
    "POST /api/v1/checkin/undo",
    "POST /api/v1/checkin/batch",
    "GET /api/v1/conferences/{slug}/checkin/search",
    "GET /api/v1/conferences/{slug}/checkin/offline-data",
}


async def test_a_door_device_reaches_the_scanner_calls_only(world: World) -> None:
    """Every staff route, page or API, called with a paired door device's token (its own
    conference where a path names one): the scanner's calls let it in, everything else 403."""
    _door_id, code = await world.fresh_door()
    world.client.cookies.clear()
    paired = await world.client.post("/api/v1/devices/pair", json={"code": code})
    assert paired.status_code == 200, paired.text
    device = {"Authorization": f"Bearer {paired.json()['token']}"}
    routes = [r for r in app_routes(world.client.app) if MATRIX.get(r.key) in STAFF_RANK]
    assert {r.key for r in routes} >= DOOR_DEVICE_ROUTES
    wrong = []
    for route in routes:
        path = await path_for(world, route, "scanner")
        world.client.cookies.clear()
        kwargs: dict[str, Any] = {"headers": device, "follow_redirects": False}
        if route.method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = BODIES.get(route.key, {})
        response = await world.client.request(route.method, path, **kwargs)
        want = "allowed" if route.key in DOOR_DEVICE_ROUTES else "403"
        if outcome(response) != want:
            wrong.append(f"{route.key}: expected {want}, got {response.status_code}")
    assert not wrong, "a door device's token:\n" + "\n".join(wrong)


# ── staff limited to some conferences (issue 14, point 3) ───────────────────────────────────

# A path of a conference's things: its slug, or the id of something of it.
OF_A_CONFERENCE = (
    "{slug}",
    "{forum_id}",
    "{stand_id}",
    "{booking_id}",
    "{registration_id}",
    "{item_id}",
    "{device_id}",
)
# Staff calls that name their conference in the body instead.
CONFERENCE_IN_BODY = {
    "POST /api/v1/checkin",
    "POST /api/v1/checkin/manual",
    "POST /api/v1/checkin/undo",
    "POST /api/v1/checkin/batch",
}
# Bodies valid for these calls (Litestar refuses an invalid body with 400 before any lookup),
# so that each call reaches the check of the conference; the ids in them do not matter.
FOREIGN_BODIES: dict[str, dict[str, Any]] = {
    "PATCH /api/v1/conferences/{slug}": {"title": "Übernommen"},
    "POST /api/v1/conferences/{slug}/programme": {
        "kind": "plenary",
        "title": "Fremd",
        "starts_at": "2027-05-10T10:00:00+02:00",
        "ends_at": "2027-05-10T11:00:00+02:00",
    },
    "PATCH /api/v1/conferences/{slug}/programme/{item_id}": {"title": "Fremd"},
    "POST /api/v1/conferences/{slug}/forums": forum_payload(title="Fremd"),
    "PATCH /api/v1/forums/{forum_id}": {"capacity": 3},
    "POST /api/v1/forums/{forum_id}/move": {"registration_id": 1, "to_forum_id": 1},
    "POST /api/v1/forums/{forum_id}/attendance": {"secret": "ABCDEFGHJKMNPQRSTUVWXYZ234"},
    "POST /api/v1/conferences/{slug}/stands": {"code": "Z1", "width_m": 2, "depth_m": 2},
    "POST /api/v1/conferences/{slug}/stands/row": {
        "prefix": "Z",
        "first_number": 1,
        "count": 2,
        "width_m": 2,
        "depth_m": 2,
    },
    "PATCH /api/v1/stands/{stand_id}": {"blocked": True},
    "POST /api/v1/exhibitor-bookings/{booking_id}/approve": {"stand_id": 1},
    "POST /api/v1/exhibitor-bookings/{booking_id}/reassign": {"stand_id": 1},
    "POST /api/v1/checkin/manual": {"conference": FOREIGN, "registration_id": 1},
    "POST /api/v1/checkin/undo": {"conference": FOREIGN, "registration_id": 1},
    "POST /api/v1/checkin/batch": {"conference": FOREIGN, "scans": []},
    "POST /api/v1/conferences/{slug}/devices": {"name": "Fremde Tür"},
}
FOREIGN_QUERIES = {"GET /api/v1/conferences/{slug}/checkin/search": "?q=Fremd"}
# No lookup, nothing shown: a redirect to the page that looks (and answers 404).
REDIRECTS = {"GET /staff/forums/{forum_id}/move"}


async def add_limited_staff(world: World) -> None:
    """A scanner and an organiser who see only SLUG, by token (API) and session (pages)."""
    for name, role in LIMITED.items():
        email = f"{name.replace(' ', '-')}@matrix.example.org"
        async with world.pool.acquire() as db:
            await create_staff(db, email, role, PASSWORD)
            token = await issue_token(db, email, "matrix")
            await db.execute("UPDATE staff SET all_conferences = false WHERE email = $1", email)
            await db.execute(
                "INSERT INTO staff_conferences (staff_id, conference_id) SELECT s.id, c.id "
                "FROM staff s, conferences c WHERE s.email = $1 AND c.slug = $2",
                email,
                SLUG,
            )
        caller = await browser_cookies(world.client, StaffAccount(email, role, token))
        world.callers[name] = replace(caller, name=name)


async def foreign_conference(world: World) -> dict[str, Any]:
    """FOREIGN with one of each thing a staff path names, and an attendee's ticket."""
    payload = conference_payload(slug=FOREIGN, title="Andere Tagung 2027", capacity=50)
    await world.api("POST", "/api/v1/conferences", json=payload)
    base = f"/api/v1/conferences/{FOREIGN}"
    stand = await world.api(
        "POST", f"{base}/stands", json={"code": "F1", "width_m": 3, "depth_m": 2}
    )
    forum = await world.api("POST", f"{base}/forums", json=forum_payload(title="Fremdes Forum"))
    programme = FOREIGN_BODIES["POST /api/v1/conferences/{slug}/programme"]
    item = await world.api("POST", f"{base}/programme", json=programme)
    [(registration_id, token)] = await make_attendees(
        world.pool, world.settings.secret_key, FOREIGN, 1, prefix="fremd"
    )
    world.client.cookies.clear()
    ticket = (await world.client.get(f"/api/v1/registrations/{token}")).json()["ticket"]
    await world.client.post(
        f"{base}/exhibitor-bookings",
        json=booking_payload(email="fremd@example.org", organisation="Fremd e. V."),
    )
    booking_id = await world.pool.fetchval(
        "SELECT id FROM exhibitor_bookings WHERE email = 'fremd@example.org'"
    )
    door = await world.api("POST", f"{base}/devices", json={"name": "Fremde Tür"})
    return {
        "slug": FOREIGN,
        "stand_id": stand.json()["id"],
        "forum_id": forum.json()["id"],
        "item_id": item.json()["id"],
        "registration_id": registration_id,
        "booking_id": booking_id,
        "device_id": door.json()["id"],
        "ticket": ticket["secret"],
    }


def of_a_conference(route: Route) -> bool:
    return any(name in route.template for name in OF_A_CONFERENCE) or (
        route.key in CONFERENCE_IN_BODY
    )


async def test_limited_staff_find_nothing_of_another_conference(world: World) -> None:
    """Every staff route of a conference, called by the limited scanner and organiser (and a
    door device of SLUG) on FOREIGN and its things: 404, as an unknown conference or id, where
    the role would let them in (403 where it would not); the door says `other_conference`. The
    limited staff also try FOREIGN's ids under their own SLUG: 404. Nothing changes. (In SLUG
    they are what their role is: `test_access_matrix`.)"""
    _door_id, code = await world.fresh_door()
    world.client.cookies.clear()
    paired = await world.client.post("/api/v1/devices/pair", json={"code": code})
    device = {"Authorization": f"Bearer {paired.json()['token']}"}
    routes = [
        r
        for r in app_routes(world.client.app)
        if MATRIX.get(r.key) in STAFF_RANK and of_a_conference(r)
    ]
    assert len(routes) > 60
    # The door records the refused scans (nowhere near FOREIGN's) and when the device was seen.
    recorded = ("scans", "devices")
    before = {k: v for k, v in (await table_digests(world.pool)).items() if k not in recorded}
    wrong = []
    for route in routes:
        values = {"action": "reject" if "/exhibitors/" in route.template else "cancel"}
        query = FOREIGN_QUERIES.get(route.key, "")
        cases = [(route.template.format(**world.foreign, **values) + query, "door device")]
        if "{slug}" in route.template and route.template.count("{") > 1:
            # Their own conference with another's id.
            mixed = route.template.format(**{**world.foreign, "slug": SLUG}, **values)
            cases.append((mixed + query, None))
        body = FOREIGN_BODIES.get(route.key, {})
        if route.key == "POST /api/v1/checkin":
            body = {"conference": FOREIGN, "secret": world.foreign["ticket"]}
        for path, also in cases:
            for who in (*LIMITED, also) if also else LIMITED:
                response = await _call_as(world, route, who, path, body, device)
                if who == "door device":
                    let_in = route.key in DOOR_DEVICE_ROUTES
                else:
                    let_in = STAFF_RANK[LIMITED[who]] >= STAFF_RANK[rule_of(route)]
                want = "403" if not let_in else "allowed" if route.key in REDIRECTS else "404"
                got = "400" if response.status_code == 400 else outcome(response)
                if route.key == "POST /api/v1/checkin" and let_in:
                    want = "allowed, other_conference"
                    if got == "allowed":
                        answer = response.json()
                        got += f", {answer['reason']}" if answer["status"] == "error" else ", ok"
                if want != got:
                    wrong.append(
                        f"{route.method} {path} as {who}: expected {want}, got {got} "
                        f"({response.status_code} {response.text[:100]!r})"
                    )
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)
    after = await table_digests(world.pool)
    assert {k: v for k, v in after.items() if k not in recorded} == before


async def _call_as(
    world: World, route: Route, who: str, path: str, body: dict[str, Any], device: dict[str, str]
) -> httpx.Response:
    """A limited caller by token (API) or session (pages), or the door device by its token."""
    caller = world.callers.get(who)
    if caller is None:  # the door device
        headers, cookies, csrf = device, {}, world.callers["anonymous"].csrf
    else:
        assert caller.account is not None
        headers = caller.account.headers if route.is_api else {}
        cookies, csrf = ({} if route.is_api else caller.cookies), caller.csrf
    world.client.cookies.clear()
    world.client.cookies.update(cookies)
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if route.method in ("POST", "PUT", "PATCH"):
        kwargs |= {"json": body} if route.is_api else {"data": {"_csrf_token": csrf}}
    return await world.client.request(route.method, path, **kwargs)
