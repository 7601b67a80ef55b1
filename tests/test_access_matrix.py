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
from tests.conftest import PASSWORD, StaffAccount, conference_payload, csrf_token, empty_all_tables
from tests.exhibitor_support import booking_payload
from tests.forum_support import forum_payload, make_attendees
from tests.registration_support import registration_payload

SLUG = "fachtag-2027"
ROLES = ("attendee", "anonymous", "scanner", "organiser", "admin")
STAFF_RANK = {"scanner": 1, "organiser": 2, "admin": 3}

# Access rules.
PUBLIC = "public"  # anyone
SCANNER, ORGANISER, ADMIN = "scanner", "organiser", "admin"  # staff with at least this role
ATTENDEE = "attendee link"  # whoever holds an attendee's self-service link
EXHIBITOR = "exhibitor link"  # whoever holds an exhibitor's self-service link
CONFIRMATION = "confirmation link"  # whoever holds a confirmation link from the e-mail
NOWHERE = "404 for all"  # nothing there for anyone
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
    "POST /staff/logout": LOGOUT,
    "GET /staff": SCANNER,
    "GET /staff/tokens": SCANNER,
    "POST /staff/tokens": SCANNER,
    "POST /staff/tokens/{token_id}/revoke": SCANNER,
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
        yield world


def rule_of(route: Route) -> str:
    return MATRIX[route.key]


def expected(route: Route, role: str) -> str:
    rule = rule_of(route)
    if rule == PUBLIC:
        return "allowed"
    if rule == NOWHERE:
        return "404"
    if rule == LOGOUT:
        return "login page"
    if rule in (ATTENDEE, EXHIBITOR, CONFIRMATION):
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
