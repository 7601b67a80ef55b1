"""Hostile input at every public form and endpoint, table by table.

What arrives from outside is either refused with a clear 4xx (problem details naming the field,
or the form again with a message at the field) and changes nothing, or it is stored as it was
typed and comes out harmless everywhere it is shown: escaped in pages and in the HTML part of
e-mails, one line in mail headers, escaped text in SVG, one property in calendar files, text
(never a formula) in CSV exports. Links that are forged, used up or expired open nothing and
change nothing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import asyncpg
import httpx
import icalendar
import pytest
from litestar.testing import AsyncTestClient

from service import tokens
from service.app import create_app
from service.settings import Settings
from service.staff import create_staff, issue_token
from tests.conftest import PASSWORD, conference_payload, csrf_token, empty_all_tables, login
from tests.exhibitor_support import booking_payload, make_stand, request_and_confirm
from tests.forum_support import forum_payload, make_forum
from tests.live_server import SECRET_KEY as LIVE_SECRET_KEY
from tests.registration_support import (
    SLUG,
    confirm,
    make_conference,
    register,
    registration_payload,
    token_for,
)
from tests.smtp_server import smtp_server
from tests.test_registration_mail import deliver, html_of, text_of

__all__ = ["smtp_server"]  # a fixture, imported for pytest

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;"
FORGED = "ABCDEFGHJKMNPQRSTUVWXYZ234"  # the right length and alphabet, but no one's token
FORMULAS = ['=HYPERLINK("http://evil.example","Hilfe")', "+1+1", "-1+1", "@SUM(1,1)"]

# ── one world for the whole module ──────────────────────────────────────────────────────────
#
# Every test either changes nothing (and checks that) or makes its own people, so the module
# builds its conference, people and hostile texts once.

TITLE = f"Fachtag {MARKUP}"
ORGANISATION = f"Verein {MARKUP}"
EVE = "Eve\r\nBcc: victim@example.org"  # typed into an HTML form, where no schema stops it
CRLF_TITLE = "Fachtag\r\nBcc: victim@example.org"
ICS_TITLE = "Forum\r\nATTENDEE:mailto:evil@example.org; DTSTART:19990101T000000Z, \\ ok"


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        smtp_url="smtp://127.0.0.1:1",
        base_url="http://testserver.local",
        secret_key="hostile-input-secret-key-not-for-production",
        data_dir=data_dir,
        rate_limits=False,
    )


@pytest.fixture(scope="module")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(database_url, tmp_path_factory.mktemp("hostile"))


@pytest.fixture
async def clean_tables() -> None:
    """The module's world stays from test to test (see `world`)."""


@pytest.fixture(scope="module")
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        yield c


class Staff:
    email, password = "orga@example.org", PASSWORD
    headers: dict[str, str] = {}


async def form_post(client: AsyncTestClient, page: str, action: str, **data: Any) -> Any:
    token = await csrf_token(client, page)
    return await client.post(action, data={**data, "_csrf_token": token}, follow_redirects=False)


@pytest.fixture(scope="module")
async def world(client, pool, settings) -> dict[str, Any]:
    """A published conference whose title is markup, a forum and a stand, a confirmed attendee
    (markup and a formula in name and organisation, notes with consent), a confirmed
    exhibitor request with markup, approved onto the stand; and a second conference made with
    the staff form whose title has a line break, with a forum whose title tries to add a
    calendar property, and Eve registered through the HTML form with a header in her name."""
    async with pool.acquire() as db:
        await empty_all_tables(db)
        await create_staff(db, Staff.email, "admin", PASSWORD)
        Staff.headers = {"Authorization": f"Bearer {await issue_token(db, Staff.email, 't')}"}
    await make_conference(client, Staff, title=TITLE, venue=f"Saal {MARKUP}")
    forum = await make_forum(client, Staff, title=f"Forum {MARKUP}", room=f"Raum {MARKUP}")
    stand = await make_stand(client, Staff, area=f"Halle {MARKUP}")
    registered = await register(
        client,
        name=f"{FORMULAS[0]} {MARKUP}",
        organisation=FORMULAS[1],
        needs={"notes": f"{FORMULAS[2]} {MARKUP}", "interpretation": FORMULAS[3]},
        consents={"privacy": True, "special_category": True},
    )
    assert registered.status_code == 202, registered.text
    manage = (await confirm(client, pool, settings, "aylin@example.org")).json()["manage_token"]
    signed_up = await client.put(f"/api/v1/registrations/{manage}/forums/{forum['id']}")
    assert signed_up.status_code == 200, signed_up.text
    booking_id, booking_token = await request_and_confirm(
        client,
        pool,
        settings,
        organisation=ORGANISATION,
        description=f"Beratung {MARKUP}",
        topics=['Beratung & "Hilfe"'],
    )
    approved = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand["id"]},
        headers=Staff.headers,
    )
    assert approved.status_code == 200, approved.text

    # Through the staff forms (no JSON schema on the way): line breaks in titles.
    await login(client, Staff)  # type: ignore[arg-type]
    made = await form_post(
        client,
        "/staff/conferences/new",
        "/staff/conferences/new",
        slug="crlf-2027",
        title=CRLF_TITLE,
        description="",
        venue="Rathaus",
        address="",
        starts_at="2027-05-10T09:00",
        ends_at="2027-05-10T17:00",
        capacity="50",
        languages=["de", "en"],
        organiser_name="",
        organiser_email="",
    )
    assert made.status_code in (302, 303), made.text
    forum_page = "/staff/conferences/crlf-2027/forums/new"
    made = await form_post(
        client,
        forum_page,
        forum_page,
        **{
            **forum_payload(),
            "title": ICS_TITLE,
            "room": "Raum 1\r\nLOCATION:elsewhere",
            "starts_at": "2027-05-10T13:30",
            "ends_at": "2027-05-10T15:00",
            "capacity": "20",
            "language": "de",
        },
    )
    assert made.status_code in (302, 303), made.text
    client.cookies.clear()  # logged out: Eve registers as anyone would
    eve = await form_post(
        client,
        "/conferences/crlf-2027/register",
        "/conferences/crlf-2027/register",
        name=EVE,
        email="eve@example.org",
        category="volunteer",
        language="de",
        consent_privacy="on",
    )
    assert eve.status_code == 200, eve.text
    eve_manage = (await confirm(client, pool, settings, "eve@example.org")).json()["manage_token"]
    crlf_forum = await pool.fetchval(
        "SELECT id FROM forums WHERE title LIKE 'Forum%Bcc%' OR title LIKE 'Forum%ATTENDEE%'"
    )
    joined = await client.put(f"/api/v1/registrations/{eve_manage}/forums/{crlf_forum}")
    assert joined.status_code == 200, joined.text
    return {
        "forum": forum["id"],
        "stand": stand["id"],
        "manage": manage,
        "booking": booking_id,
        "booking_token": booking_token,
        "eve_manage": eve_manage,
    }


# ── nothing changes ─────────────────────────────────────────────────────────────────────────


async def snapshot(pool: asyncpg.Pool) -> dict[str, str | None]:
    """Every table's rows, hashed: equal snapshots mean nothing was written. The store of the
    per-client limits counts requests, which is its job; a token records when it was used."""
    async with pool.acquire() as db:
        tables = await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('schema_migrations', 'rate_limit', 'api_tokens')"
        )
        return {
            t["tablename"]: await db.fetchval(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{t['tablename']}\" t"
            )
            for t in tables
        }


def problem_fields(response: Any) -> set[str]:
    """The fields a problem answer names; each with a message a person can read (a sentence,
    not the validator's own words)."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["detail"].strip(), body
    for error in body.get("errors", []):
        message = error["message"]
        assert " " in message and not message.startswith(("'", "Expected", "Object")), body
    return {e["field"] for e in body.get("errors", [])}


# ── the API refuses what breaks its rules, names the field and writes nothing ───────────────

LONG = "x" * 201
CRLF_NAME = "Eve\r\nBcc: victim@example.org"

# (what, method, path, staff call?, body, field named in the answer)
REFUSED = [
    ("name too long", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(name=LONG), "name"),
    ("line break in the name", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(name=CRLF_NAME), "name"),
    ("NUL in the organisation", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(organisation="Verein\x00e. V."), "organisation"),
    ("header in the e-mail", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(email="eve@example.org\r\nBcc: victim@example.org"), "email"),
    ("line break after the e-mail", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(email="eve@example.org\n"), "email"),
    ("markup as the e-mail", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(email="<script>@example.org"), "email"),
    ("a number as the name", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(name=42), "name"),
    ("a string as the consents", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(consents="yes"), "consents"),
    ("a list as the needs", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(needs=[]), "needs"),
    ("notes too long", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(needs={"notes": "n" * 1001},
                          consents={"privacy": True, "special_category": True}), "needs.notes"),
    ("a category of one's choosing", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(category="exhibitor_staff"), "category"),
    ("an unknown field", "POST", "/api/v1/conferences/{slug}/registrations", False,
     registration_payload(status="confirmed"), "status"),
    ("a confirmation token too long", "POST", "/api/v1/registrations/confirm", False,
     {"token": "A" * 101}, "token"),
    ("a number as the token", "POST", "/api/v1/registrations/confirm", False,
     {"token": 12345}, "token"),
    ("markup as a topic", "POST", "/api/v1/conferences/{slug}/exhibitor-bookings", False,
     booking_payload(topics=["<b>Beratung</b>"]), "topics[0]"),
    ("a script address as the website", "POST", "/api/v1/conferences/{slug}/exhibitor-bookings",
     False, booking_payload(website="javascript:alert(1)"), "website"),
    ("organisation too long", "POST", "/api/v1/conferences/{slug}/exhibitor-bookings", False,
     booking_payload(organisation=LONG), "organisation"),
    ("NUL in the description", "POST", "/api/v1/conferences/{slug}/exhibitor-bookings", False,
     booking_payload(description="Beratung\x00"), "description"),
    ("a negative staff count", "POST", "/api/v1/conferences/{slug}/exhibitor-bookings", False,
     booking_payload(staff_count=-1), "staff_count"),
    ("line break in a pass name", "POST", "/api/v1/exhibitor-bookings/{booking_token}/passes",
     False, {"name": CRLF_NAME, "email": "p@example.org"}, "name"),
    ("a line break after the slug", "POST", "/api/v1/conferences", True,
     conference_payload(slug="fachtag-2028\n"), "slug"),
    ("line break in the title", "POST", "/api/v1/conferences", True,
     conference_payload(slug="fachtag-2028", title="Fachtag\r\nBcc: x@example.org"), "title"),
    # (A number in a string, "120", is read as the number: Litestar reads all input leniently.)
    ("a word as the capacity", "POST", "/api/v1/conferences", True,
     conference_payload(slug="fachtag-2028", capacity="viele"), "capacity"),
    ("a list as the title", "POST", "/api/v1/conferences", True,
     conference_payload(slug="fachtag-2028", title=["Fachtag"]), "title"),
    ("a time without offset", "PATCH", "/api/v1/conferences/{slug}", True,
     {"starts_at": "2027-05-10T09:00:00"}, "starts_at"),
    ("line break in the room", "POST", "/api/v1/conferences/{slug}/forums", True,
     forum_payload(room="Raum 1\r\nLOCATION:elsewhere"), "room"),
    ("forum title too long", "PATCH", "/api/v1/forums/{forum}", True, {"title": LONG}, "title"),
    ("an id beyond bigint", "POST", "/api/v1/forums/{forum}/move", True,
     {"registration_id": 2**63, "to_forum_id": 1}, "registration_id"),
    ("markup as a stand code", "POST", "/api/v1/conferences/{slug}/stands", True,
     {"code": "<svg/onload=alert(1)>", "width_m": 3, "depth_m": 2}, "code"),
    ("a stand under a centimetre", "POST", "/api/v1/conferences/{slug}/stands", True,
     {"code": "C1", "width_m": 0.001, "depth_m": 2}, "width_m"),
    ("NUL in a ticket code", "POST", "/api/v1/checkin", True,
     {"conference": SLUG, "secret": "ABC\x00"}, "secret"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "staff", "body", "field"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
async def test_the_api_refuses_bad_input_names_the_field_and_writes_nothing(
    client, pool, world, method, path, staff, body, field
) -> None:
    before = await snapshot(pool)
    response = await client.request(
        method,
        path.format(slug=SLUG, **world),
        json=body,
        headers=Staff.headers if staff else {},
    )
    assert response.status_code == 400, response.text
    assert field in problem_fields(response)
    assert await snapshot(pool) == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"name": "Aylin \xff\xfe"}', "application/json"),  # not UTF-8
        (b'{"name": "Aylin", ', "application/json"),  # cut off
        (b"[1, 2, 3]", "application/json"),  # not an object
        (b"", "application/json"),  # nothing
        (b"name=Aylin&email=a%40example.org", "application/x-www-form-urlencoded"),
    ],
    ids=["invalid UTF-8", "truncated", "an array", "empty", "a form"],
)
async def test_a_body_that_is_no_json_object_is_a_400(
    client, pool, world, body, content_type
) -> None:
    before = await snapshot(pool)
    response = await client.post(
        f"/api/v1/conferences/{SLUG}/registrations",
        content=body,
        headers={"content-type": content_type},
    )
    assert response.status_code == 400, response.text
    assert problem_fields(response)
    assert await snapshot(pool) == before


# ── the forms show themselves again, with the message at the field ─────────────────────────

REGISTRATION_FORM = {
    "name": "Aylin Demir",
    "email": "form@example.org",
    "category": "volunteer",
    "language": "de",
    "consent_privacy": "on",
}
EXHIBITOR_FORM = {
    "organisation": "Tafel Linden e. V.",
    "kind": "association",
    "contact_name": "Petra Schulz",
    "email": "tafel@example.org",
    "description": "Lebensmittel retten.",
    "staff_count": "2",
    "language": "de",
    "consent_privacy": "on",
}
# (what, form page, the form's fields, field named)
FORM_REFUSED = [
    ("NUL in the name", f"/conferences/{SLUG}/register",
     {**REGISTRATION_FORM, "name": "Ay\x00lin"}, "name"),
    ("a control character in the organisation", f"/conferences/{SLUG}/register",
     {**REGISTRATION_FORM, "organisation": "Verein\x1b[31m"}, "organisation"),
    ("name too long", f"/conferences/{SLUG}/register",
     {**REGISTRATION_FORM, "name": LONG}, "name"),
    ("a header in the e-mail", f"/conferences/{SLUG}/register",
     {**REGISTRATION_FORM, "email": "eve@example.org\r\nBcc: victim@example.org"}, "email"),
    ("notes too long", f"/conferences/{SLUG}/register",
     {**REGISTRATION_FORM, "notes": "n" * 1001, "consent_special_category": "on"}, "notes"),
    ("NUL in the organisation", f"/conferences/{SLUG}/exhibit",
     {**EXHIBITOR_FORM, "organisation": "Tafel\x00"}, "organisation"),
    ("a script address as the website", f"/conferences/{SLUG}/exhibit",
     {**EXHIBITOR_FORM, "website": "javascript:alert(1)"}, "website"),
    ("markup as a topic", f"/conferences/{SLUG}/exhibit",
     {**EXHIBITOR_FORM, "other_topics": "<b>Hilfe</b>"}, "other_topics"),
    ("a word as the staff count", f"/conferences/{SLUG}/exhibit",
     {**EXHIBITOR_FORM, "staff_count": "viele"}, "staff_count"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("page", "fields", "field"),
    [case[1:] for case in FORM_REFUSED],
    ids=[case[0] for case in FORM_REFUSED],
)
async def test_a_form_refuses_bad_input_at_the_field_and_writes_nothing(
    client, pool, world, page, fields, field
) -> None:
    before = await snapshot(pool)
    response = await form_post(client, page, page, **fields)
    assert response.status_code == 400, response.text[:300]
    assert f'id="f-{field}-error"' in response.text, f"no message at {field}"
    assert await snapshot(pool) == before


STAFF_FORM_REFUSED = [
    ("NUL in a conference title", f"/staff/conferences/{SLUG}",
     {"title": "Fachtag\x00", "slug": SLUG, "venue": "Rathaus", "starts_at": "2027-05-10T09:00",
      "ends_at": "2027-05-10T17:00", "capacity": "120", "languages": ["de"]}, "title"),
    ("a forum title too long", f"/staff/conferences/{SLUG}/forums/new",
     {**forum_payload(title=LONG), "starts_at": "2027-05-10T13:30",
      "ends_at": "2027-05-10T15:00", "capacity": "20", "language": "de"}, "title"),
    ("a word as the capacity", f"/staff/conferences/{SLUG}/forums/new",
     {**forum_payload(), "starts_at": "2027-05-10T13:30", "ends_at": "2027-05-10T15:00",
      "capacity": "<b>20</b>", "language": "de"}, "capacity"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("page", "fields", "field"),
    [case[1:] for case in STAFF_FORM_REFUSED],
    ids=[case[0] for case in STAFF_FORM_REFUSED],
)
async def test_a_staff_form_refuses_bad_input_at_the_field_and_writes_nothing(
    client, pool, world, page, fields, field
) -> None:
    await login(client, Staff)  # type: ignore[arg-type]
    before = await snapshot(pool)
    response = await form_post(client, page, page, **fields)
    assert response.status_code == 400, response.text[:300]
    assert f'id="f-{field}-error"' in response.text, f"no message at {field}"
    assert_escaped(response.text, page)
    assert await snapshot(pool) == before


# ── too large: refused before it is read ────────────────────────────────────────────────────

MB = 1024 * 1024


def _send_and_wait(base_url: str, path: str, headers: dict[str, str], chunked: bool) -> bytes:
    """Sends the head of a 10 MB request and 1.25 MB of its body, then only waits: a server
    that answers has decided without the other 8.75 MB."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {10 * MB}"]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        piece = b"x" * (64 * 1024)
        try:
            for _ in range(20):  # 1.25 MB
                sock.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all: fine
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = sock.recv(65536)
            if not received:
                break
            answer += received
        return answer


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (f"/api/v1/conferences/{SLUG}/registrations", "application/json"),
        (f"/conferences/{SLUG}/register", "application/x-www-form-urlencoded"),
        (f"/conferences/{SLUG}/exhibit", "application/x-www-form-urlencoded"),
    ],
    ids=["API", "registration form", "exhibitor form"],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
async def test_a_10_mb_body_is_413_without_being_read(
    live_server, pool, world, path, content_type, chunked
) -> None:
    """Against the real server (Granian): the answer comes after 1.25 MB of the 10 MB."""
    before = await snapshot(pool)
    answer = await asyncio.to_thread(
        _send_and_wait, live_server, path, {"Content-Type": content_type}, chunked
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert await snapshot(pool) == before


# ── bytes that are no text: 400 or 404, never 500 ───────────────────────────────────────────


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/conferences/%FF%FE/register", None, 404),
        ("GET", "/r/%C3%28", None, 404),
        ("GET", f"/api/v1/conferences/{SLUG}/forums?x=%FF", None, 200),
        ("GET", f"/conferences/{SLUG}/exhibitors?topic=%FF%FE", None, 200),
        ("POST", f"/conferences/{SLUG}/register", b"name=%FF%FE&email=a%40b.de", 400),
        ("POST", f"/conferences/{SLUG}/register", b"name=\xff\xfe&email=a%40b.de", 400),
        ("POST", f"/conferences/{SLUG}/exhibit", b"organisation=%C3%28", 400),
    ],
)
async def test_invalid_utf8_is_a_client_error(
    client, pool, world, method, path, body, expected
) -> None:
    before = await snapshot(pool)
    token = await csrf_token(client, f"/conferences/{SLUG}/register")
    if body is not None:
        body += f"&_csrf_token={token}".encode()
    response = await client.request(
        method,
        path,
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"} if body else {},
    )
    assert response.status_code == expected, response.text[:500]
    assert await snapshot(pool) == before


# ── forged, used and expired links ──────────────────────────────────────────────────────────

LINKS = [
    ("POST", "/confirm/{forged}"),
    ("GET", "/confirm/{overlong}"),
    ("POST", "/confirm/{overlong}"),
    ("GET", "/r/{forged}"),
    ("GET", "/r/{forged}/ticket.svg"),
    ("GET", "/r/{forged}/ticket.png"),
    ("GET", "/r/{forged}/calendar.ics"),
    ("GET", "/r/{forged}/feed.ics"),
    ("POST", "/r/{forged}/cancel"),
    ("POST", "/r/{forged}/delete"),
    ("POST", "/r/{forged}/language"),
    ("GET", "/r/{forged}/forums"),
    ("POST", "/r/{forged}/forums/{forum}/join"),
    ("GET", "/r/{markup}"),
    ("GET", "/x/{forged}"),
    ("POST", "/x/{forged}/passes"),
    ("POST", "/x/{forged}/cancel"),
    ("GET", "/x/{booking_token}/passes/99999/remove"),
    ("GET", "/api/v1/registrations/{forged}"),
    ("DELETE", "/api/v1/registrations/{forged}"),
    ("GET", "/api/v1/registrations/{forged}/export"),
    ("PUT", "/api/v1/registrations/{forged}/forums/{forum}"),
    ("POST", "/api/v1/registrations/confirm"),
    ("GET", "/api/v1/exhibitor-bookings/{forged}"),
    ("DELETE", "/api/v1/exhibitor-bookings/{forged}"),
    ("POST", "/api/v1/exhibitor-bookings/confirm"),
    # Each kind of token opens only its own door.
    ("GET", "/x/{manage}"),
    ("GET", "/r/{booking_token}"),
    ("GET", "/api/v1/exhibitor-bookings/{manage}"),
    ("POST", "/api/v1/exhibitor-bookings/confirm?kind=manage"),
]


@pytest.mark.parametrize(("method", "path"), LINKS)
async def test_a_forged_link_opens_nothing_and_changes_nothing(
    client, pool, world, method, path
) -> None:
    values = {"forged": FORGED, "overlong": "A" * 500, "markup": "%3Cscript%3E", **world}
    url = path.format(**values)
    token = await csrf_token(client, f"/conferences/{SLUG}/register")
    before = await snapshot(pool)
    body: dict[str, Any] = {}
    if url.startswith("/api/") and url.endswith("/confirm?kind=manage"):
        url, body = url.split("?")[0], {"token": world["manage"]}
    elif url.endswith("/confirm"):
        body = {"token": FORGED}
    if url.startswith("/api/"):
        response = await client.request(method, url, json=body or None)
        assert response.status_code == 404, response.text
        assert problem_fields(response) == set()
    else:
        data = {"_csrf_token": token, "language": "en", "pass_name": "X", "pass_email": "x@y.de"}
        response = await client.request(
            method, url, data=data if method == "POST" else None, follow_redirects=False
        )
        assert response.status_code == 404, response.text[:500]
        assert response.headers["content-type"].startswith("text/html")
        assert "<script>" not in response.text.split("</head>")[1]
    assert await snapshot(pool) == before


async def test_expired_and_used_up_links_change_nothing(client, pool, settings, world) -> None:
    # An expired confirmation link (the request was never confirmed in time).
    assert (await register(client, email="late@example.org")).status_code == 202
    late = await token_for(pool, settings, "late@example.org")
    await pool.execute(
        "UPDATE registrations SET confirm_expires_at = now() - interval '1 minute' "
        "WHERE email = 'late@example.org'"
    )
    token = await csrf_token(client, f"/conferences/{SLUG}/register")
    before = await snapshot(pool)
    page = await client.post(f"/confirm/{late}", data={"_csrf_token": token})
    assert page.status_code == 404
    api = await client.post("/api/v1/registrations/confirm", json={"token": late})
    assert api.status_code == 404
    assert await snapshot(pool) == before
    # A cancelled registration: its confirmation link is used up, and stays so.
    assert (await register(client, email="gone@example.org")).status_code == 202
    gone = (await confirm(client, pool, settings, "gone@example.org")).json()["manage_token"]
    assert (await client.delete(f"/api/v1/registrations/{gone}")).status_code == 200
    used = await token_for(pool, settings, "gone@example.org")
    before = await snapshot(pool)
    again = await client.post("/api/v1/registrations/confirm", json={"token": used})
    assert again.status_code == 409, again.text
    assert problem_fields(again) == set()
    page = await client.post(f"/confirm/{used}", data={"_csrf_token": token})
    assert page.status_code == 409, page.text[:300]
    assert (await client.get(f"/api/v1/registrations/{gone}")).json()["status"] == "cancelled"
    assert await snapshot(pool) == before


async def test_the_confirmation_page_looks_the_same_for_a_forged_link(client, world) -> None:
    """It shows a button and reveals nothing (the button answers, see above)."""
    page = await client.get(f"/confirm/{FORGED}")
    assert page.status_code == 200
    assert f'action="/confirm/{FORGED}"' in page.text


# ── what was stored comes out harmless ──────────────────────────────────────────────────────


def assert_escaped(html: str, where: str) -> None:
    assert MARKUP not in html, f"markup unescaped on {where}"
    assert "<script>alert" not in html and "onerror=alert" not in html.replace(
        "onerror=alert(1)&gt;", ""
    ), f"markup unescaped on {where}"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"/conferences/{SLUG}",
        f"/conferences/{SLUG}/register",
        f"/conferences/{SLUG}/forums",
        f"/conferences/{SLUG}/exhibitors",
        f"/conferences/{SLUG}/exhibit",
        "/r/{manage}",
        "/r/{manage}/ticket",
        "/r/{manage}/forums",
        "/r/{manage}/cancel",
        "/x/{booking_token}",
        f"/staff/conferences/{SLUG}",
        f"/staff/conferences/{SLUG}/registrations",
        f"/staff/conferences/{SLUG}/registrations?q=%3Cscript%3E",
        f"/staff/conferences/{SLUG}/forums",
        "/staff/forums/{forum}",
        "/staff/forums/{forum}/participants",
        f"/staff/conferences/{SLUG}/stands",
        f"/staff/conferences/{SLUG}/exhibitors",
        f"/staff/conferences/{SLUG}/entrance",
        f"/staff/conferences/{SLUG}/badges",
    ],
)
async def test_pages_show_stored_markup_as_text(client, world, path) -> None:
    url = path.format(**world)
    if url.startswith("/staff/"):
        await login(client, Staff)  # type: ignore[arg-type]
    page = await client.get(url)
    assert page.status_code == 200, page.text[:300]
    assert_escaped(page.text, url)
    if "{manage}" in path or ("staff/conferences" in path and "stands" not in path):
        assert ESCAPED in page.text, f"the stored text is not shown on {url}"


async def test_a_form_shown_again_keeps_markup_as_text(client, pool, world) -> None:
    """The registration form with an error: what was typed comes back escaped, in its field."""
    before = await snapshot(pool)
    page = f"/conferences/{SLUG}/register"
    response = await form_post(
        client,
        page,
        page,
        name=MARKUP,
        email='x@example.org"><script>alert(1)</script>',
        organisation=MARKUP,
        notes=MARKUP,
        category="volunteer",
        language="de",
    )  # no consent to the privacy notice: the form comes back
    assert response.status_code == 400
    assert_escaped(response.text, page)
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)' in response.text or (
        'value="&lt;script&gt;alert(&quot;x&quot;)' in response.text
    )
    assert 'id="f-consent_privacy-error"' in response.text or "consent_privacy" in response.text
    assert await snapshot(pool) == before


async def test_csv_exports_hold_text_never_a_formula(client, world) -> None:
    """Every cell that a spreadsheet would run (=, +, -, @ first) starts with an apostrophe."""
    exports = [
        f"/api/v1/conferences/{SLUG}/registrations.csv",
        f"/api/v1/conferences/{SLUG}/entrance/attendees.csv",
        f"/api/v1/conferences/{SLUG}/entrance/needs.csv",
        f"/staff/forums/{world['forum']}/participants.csv",
    ]
    await login(client, Staff)  # type: ignore[arg-type]
    for path in exports:
        response = await client.get(path, headers=Staff.headers)
        assert response.status_code == 200, path
        cells = [c for row in csv.reader(io.StringIO(response.text), delimiter=";") for c in row]
        found = [c for c in cells if any(f in c for f in FORMULAS)]
        assert found, f"the formula person is not in {path}"
        for cell in cells:
            assert not cell.lstrip("\ufeff").startswith(("=", "+", "-", "@", "\t", "\r")), (
                f"{path}: {cell!r}"
            )


def assert_harmless_svg(svg: str, where: str) -> ElementTree.Element:
    # Our own server's answer; well-formed means the markup did not break out of its text.
    root = ElementTree.fromstring(svg)  # noqa: S314
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        assert tag not in ("script", "foreignObject", "iframe"), f"{tag} in {where}"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{name} in {where}"
            assert not value.strip().lower().startswith("javascript:"), f"{value} in {where}"
    return root


async def test_svg_holds_stored_markup_as_text(client, world) -> None:
    floor = await client.get(f"/conferences/{SLUG}/floorplan.svg")
    assert floor.status_code == 200
    root = assert_harmless_svg(floor.text, "the floor plan")
    text = " ".join(t for t in root.itertext())
    assert "Verein <script>" in text  # the organisation, as text
    ticket = await client.get(f"/r/{world['manage']}/ticket.svg")
    assert ticket.status_code == 200
    assert_harmless_svg(ticket.text, "the ticket")


def the_events(data: bytes) -> list[Any]:
    calendar = icalendar.Calendar.from_ical(data)
    return list(calendar.walk("VEVENT"))


async def test_calendar_files_keep_each_text_in_its_property(client, world) -> None:
    """Line breaks and ; , \\ in titles and rooms are escaped: no property is added."""
    feed = await client.get(f"/r/{world['eve_manage']}/feed.ics")
    assert feed.status_code == 200
    events = the_events(feed.content)
    forum = next(e for e in events if "ATTENDEE" in str(e["SUMMARY"]))
    for event in events:  # the invite names its attendee; no one else is added
        assert "evil@example.org" not in str(event.get("ATTENDEE", "")), event
    assert str(forum["SUMMARY"]).replace("\r\n", "\n") == ICS_TITLE.replace("\r\n", "\n")
    assert "elsewhere" in str(forum["LOCATION"])
    assert forum["DTSTART"].dt.year == 2027  # not the injected 1999
    conference = next(e for e in events if "Bcc" in str(e["SUMMARY"]))
    assert str(conference["SUMMARY"]).replace("\r\n", "\n") == CRLF_TITLE.replace("\r\n", "\n")
    for line in feed.text.replace("\r\n ", "").split("\r\n"):  # unfolded content lines
        assert not line.startswith(("BCC", "LOCATION:elsewhere", "DTSTART:1999")), line
        assert not (line.startswith("ATTENDEE") and "evil" in line), line
    own = await client.get(f"/r/{world['manage']}/calendar.ics")
    assert own.status_code == 200
    summaries = {str(event["SUMMARY"]) for event in the_events(own.content)}
    assert TITLE in summaries and f"Forum {MARKUP}" in summaries, summaries


async def test_mails_escape_markup_and_keep_headers_single(pool, world, smtp_server) -> None:
    """The outbox's mails to the markup person and to Eve: their HTML part shows the markup as
    text, and Eve's name and the title with a line break stay inside their header lines."""
    received = await deliver(pool, smtp_server)
    assert received, "no mail was sent"
    for mail in received:
        message = mail.message
        for header in ("Subject", "To", "From", "Reply-To"):
            value = message.get(header)
            assert value is None or ("\r" not in str(value) and "\n" not in str(value)), header
        assert message.get("Bcc") is None and message.get("Cc") is None
        assert "victim@example.org" not in mail.rcpt_tos
        assert len(mail.rcpt_tos) == 1
        assert_escaped(html_of(message), f"mail {message['Subject']}")
        for name in message.keys():  # noqa: SIM118 - the header names, repeated ones too
            assert name.lower() not in ("bcc", "cc"), name
    to_markup = [m for m in received if m.rcpt_tos == ["aylin@example.org"]]
    assert to_markup, [m.rcpt_tos for m in received]
    assert any(ESCAPED in html_of(m.message) for m in to_markup)
    assert any(TITLE in text_of(m.message) for m in to_markup)  # plain text: as typed
    to_eve = [m for m in received if m.rcpt_tos == ["eve@example.org"]]
    assert to_eve
    for mail in to_eve:
        assert str(mail.message["Subject"]).endswith("Fachtag Bcc: victim@example.org")
        assert "Eve Bcc: victim@example.org" in str(mail.message["To"])
    # The raw message: every line that starts a header is one we wrote.
    raw_head = to_eve[0].raw.split(b"\r\n\r\n", 1)[0].decode()
    assert not any(line.lower().startswith("bcc:") for line in raw_head.split("\r\n"))


@pytest.mark.browser
async def test_no_stored_markup_runs_in_the_browser(browser, live_server, pool, world) -> None:
    """Chromium opens the public pages that show the stored markup and the self-service page
    of someone who registered through the live server with markup in name and organisation:
    no script of ours runs, no dialog opens."""
    async with httpx.AsyncClient(base_url=live_server) as api:
        registered = await api.post(
            f"/api/v1/conferences/{SLUG}/registrations",
            json=registration_payload(
                name=f"Mallory {MARKUP}", organisation=MARKUP, email="mallory@example.org"
            ),
        )
        assert registered.status_code == 202, registered.text
        async with pool.acquire() as db:
            salt = await db.fetchval(
                "SELECT confirm_salt FROM registrations WHERE email = 'mallory@example.org'"
            )
        key = tokens.key_from_secret(LIVE_SECRET_KEY)
        confirmed = await api.post(
            "/api/v1/registrations/confirm", json={"token": tokens.derive(key, "confirm", salt)}
        )
        assert confirmed.status_code == 200, confirmed.text
        manage = confirmed.json()["manage_token"]
    context = await browser.new_context(base_url=live_server)
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        for path in (
            f"/conferences/{SLUG}",
            f"/conferences/{SLUG}/forums",
            f"/conferences/{SLUG}/exhibitors",
            f"/r/{manage}",
            f"/r/{manage}/forums",
        ):
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            await page.wait_for_load_state("load")
            assert await page.locator("img[src='x']").count() == 0, path
            assert "<script>" in (await page.locator("main").inner_text()), path
        assert dialogs == []
    finally:
        await context.close()
