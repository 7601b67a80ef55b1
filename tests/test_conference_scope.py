"""Per-conference access (issue 14, point 3): an organiser or scanner limited to some
conferences does not see the others in any list, gets the unknown conference's 404 on their
paths (by slug, and by the id of a forum, a stand, a booking), and admits nobody at their door;
their own conferences work as before. Every route is covered by tests/test_access_matrix.py;
here are the rules one by one, with what the answers hold."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.conftest import StaffAccount, conference_payload, login
from tests.exhibitor_support import request_and_confirm
from tests.forum_support import forum_payload, make_attendees, make_forum
from tests.registration_support import SLUG, make_conference

OTHER = "andere-tagung-2027"
UNKNOWN = "There is no conference at this address."


async def limit(pool: asyncpg.Pool, account: StaffAccount, *slugs: str) -> None:
    """The account sees only these conferences (none, without slugs)."""
    async with pool.acquire() as db, db.transaction():
        staff_id = await db.fetchval(
            "UPDATE staff SET all_conferences = false WHERE email = $1 RETURNING id",
            account.email,
        )
        await db.execute(
            "INSERT INTO staff_conferences (staff_id, conference_id) "
            "SELECT $1, id FROM conferences WHERE slug = ANY($2::text[])",
            staff_id,
            list(slugs),
        )


async def two_conferences(client: AsyncTestClient, admin: StaffAccount) -> None:
    await make_conference(client, admin)
    await make_conference(client, admin, slug=OTHER, title="Andere Tagung 2027")


async def ticket(client: AsyncTestClient, token: str) -> str:
    return (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]


def scan_config(page: str) -> dict[str, Any]:
    return json.loads(page.split('id="scan-config">', 1)[1].split("</script>", 1)[0])


async def test_lists_show_only_their_conferences(client, pool, make_staff):
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    organiser = await make_staff("organiser")
    await limit(pool, organiser, SLUG)

    await login(client, organiser)
    area = (await client.get("/staff", headers={"Accept-Language": "en"})).text
    assert "Fachtag Ehrenamt 2027" in area and "Andere Tagung 2027" not in area
    scanner_page = scan_config((await client.get("/scan")).text)
    assert [c["slug"] for c in scanner_page["conferences"]] == [SLUG]

    # The public list is everyone's: both published conferences.
    client.cookies.clear()
    public = (await client.get("/api/v1/conferences")).json()
    assert {c["slug"] for c in public} == {SLUG, OTHER}

    # An account with all conferences (the default) sees both.
    await login(client, admin)
    area = (await client.get("/staff")).text
    assert "Fachtag Ehrenamt 2027" in area and "Andere Tagung 2027" in area


async def test_an_account_limited_to_none_sees_none(client, pool, make_staff):
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    organiser = await make_staff("organiser")
    await limit(pool, organiser)
    await login(client, organiser)
    area = (await client.get("/staff", headers={"Accept-Language": "en"})).text
    assert "Fachtag Ehrenamt 2027" not in area and "Andere Tagung 2027" not in area
    assert scan_config((await client.get("/scan")).text)["conferences"] == []
    for slug in (SLUG, OTHER):
        page = await client.get(f"/staff/conferences/{slug}")
        assert page.status_code == 404


async def test_a_scanners_page_offers_only_theirs(client, pool, make_staff):
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    scanner = await make_staff("scanner")
    await limit(pool, scanner, OTHER)
    await login(client, scanner)
    config = scan_config((await client.get("/scan")).text)
    assert [(c["slug"], c["title"]) for c in config["conferences"]] == [
        (OTHER, "Andere Tagung 2027")
    ]
    own = await client.get(f"/api/v1/conferences/{OTHER}/checkin/offline-data")
    assert own.status_code == 200
    foreign = await client.get(
        f"/api/v1/conferences/{SLUG}/checkin/offline-data", headers={"Accept-Language": "en"}
    )
    assert foreign.status_code == 404 and foreign.json()["detail"] == UNKNOWN


async def test_another_conference_answers_as_an_unknown_one(client, pool, settings, make_staff):
    """The same 404 and message as a slug that does not exist, on API paths and pages, and for
    the ids of the other conference's forums, stands and bookings; nothing changes."""
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    forum = await make_forum(client, admin)
    stand = await client.post(
        f"/api/v1/conferences/{SLUG}/stands",
        json={"code": "A1", "area": "Halle", "width_m": 3, "depth_m": 2, "x": 0, "y": 0},
        headers=admin.headers,
    )
    booking_id, _token = await request_and_confirm(client, pool, settings)
    [(registration_id, _manage)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    organiser = await make_staff("organiser")
    await limit(pool, organiser, OTHER)
    english = organiser.headers | {"Accept-Language": "en"}

    by_slug = [
        ("GET", f"/api/v1/conferences/{SLUG}/registrations", None),
        ("GET", f"/api/v1/conferences/{SLUG}/registrations/summary", None),
        ("GET", f"/api/v1/conferences/{SLUG}/entrance/stats", None),
        ("GET", f"/api/v1/conferences/{SLUG}/exhibitor-bookings", None),
        ("PATCH", f"/api/v1/conferences/{SLUG}", {"title": "Übernommen"}),
        ("POST", f"/api/v1/conferences/{SLUG}/forums", forum_payload(title="Fremd")),
        (
            "POST",
            f"/api/v1/conferences/{SLUG}/registrations/{registration_id}/cancel",
            None,
        ),
    ]
    for method, path, body in by_slug:
        response = await client.request(method, path, json=body, headers=english)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["detail"] == UNKNOWN, path
        unknown = await client.request(
            method, path.replace(SLUG, "gibt-es-nicht"), json=body, headers=english
        )
        assert unknown.status_code == 404, path
        assert unknown.json() | {"instance": ""} == response.json() | {"instance": ""}, path

    stand_id = stand.json()["id"]
    no_forum, no_stand, no_booking = (
        f"There is no such {what}." for what in ("forum", "stand", "booking")
    )
    by_id = [
        ("PATCH", f"/api/v1/forums/{forum['id']}", {"capacity": 3}, no_forum),
        ("POST", f"/api/v1/forums/{forum['id']}/attendance", {"secret": "X" * 26}, no_forum),
        ("PATCH", f"/api/v1/stands/{stand_id}", {"blocked": True}, no_stand),
        ("GET", f"/api/v1/exhibitor-bookings/{booking_id}/fitting-stands", None, no_booking),
        ("POST", f"/api/v1/exhibitor-bookings/{booking_id}/reject", {"reason": "x"}, no_booking),
    ]
    for method, path, body, message in by_id:
        response = await client.request(method, path, json=body, headers=english)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["detail"] == message, path

    await login(client, organiser)
    for path in (
        f"/staff/conferences/{SLUG}",
        f"/staff/conferences/{SLUG}/registrations",
        f"/staff/conferences/{SLUG}/entrance",
        f"/staff/forums/{forum['id']}",
        f"/staff/forums/{forum['id']}/door",
    ):
        page = await client.get(path, headers={"Accept-Language": "en"})
        assert page.status_code == 404, path
        assert "Fachtag Ehrenamt 2027" not in page.text, path

    async with pool.acquire() as db:
        unchanged = await db.fetchrow(
            "SELECT c.title, f.capacity, s.blocked, b.status, r.status AS registration "
            "FROM conferences c, forums f, stands s, exhibitor_bookings b, registrations r "
            "WHERE c.slug = $1 AND f.id = $2 AND s.id = $3 AND b.id = $4 AND r.id = $5",
            SLUG,
            forum["id"],
            stand.json()["id"],
            booking_id,
            registration_id,
        )
        forums = await db.fetchval("SELECT count(*) FROM forums")
    assert dict(unchanged) == {
        "title": "Fachtag Ehrenamt 2027",
        "capacity": 25,
        "blocked": False,
        "status": "requested",
        "registration": "confirmed",
    }
    assert forums == 1


async def test_their_own_conference_works_as_before(client, pool, make_staff):
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    organiser = await make_staff("organiser")
    await limit(pool, organiser, OTHER)
    changed = await client.patch(
        f"/api/v1/conferences/{OTHER}", json={"title": "Unsere Tagung"}, headers=organiser.headers
    )
    assert changed.status_code == 200 and changed.json()["title"] == "Unsere Tagung"
    forum = await make_forum(client, organiser, slug=OTHER)
    moved = await client.patch(
        f"/api/v1/forums/{forum['id']}", json={"capacity": 30}, headers=organiser.headers
    )
    assert moved.status_code == 200 and moved.json()["capacity"] == 30
    await login(client, organiser)
    assert (await client.get(f"/staff/conferences/{OTHER}")).status_code == 200
    assert (await client.get(f"/staff/forums/{forum['id']}")).status_code == 200


async def test_a_limited_organisers_new_conference_is_theirs(client, pool, make_staff):
    admin = await make_staff("admin")
    await make_conference(client, admin)
    organiser = await make_staff("organiser")
    await limit(pool, organiser)
    made = await client.post(
        "/api/v1/conferences",
        json=conference_payload(slug="neu-2027", title="Neue Tagung"),
        headers=organiser.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["slug"] == "neu-2027"
    mine = await client.get("/api/v1/conferences/neu-2027/registrations", headers=organiser.headers)
    assert mine.status_code == 200
    # The others stay hidden.
    theirs = await client.get(
        f"/api/v1/conferences/{SLUG}/registrations", headers=organiser.headers
    )
    assert theirs.status_code == 404
    # An account with all conferences gets no rows: it sees every conference anyway.
    await make_conference(client, admin, slug="alle-2027")
    async with pool.acquire() as db:
        rows = await db.fetch(
            "SELECT s.email, c.slug FROM staff_conferences sc JOIN staff s ON s.id = sc.staff_id "
            "JOIN conferences c ON c.id = sc.conference_id"
        )
    assert [(r["email"], r["slug"]) for r in rows] == [(organiser.email, "neu-2027")]


async def test_the_door_admits_nobody_for_another_conference(client, pool, settings, make_staff):
    """By API token (the scan statement checks the token) and by session (the scanner page):
    a ticket of a conference outside the account's is `other_conference`, nobody is let in,
    and nothing lands among that conference's scans. Their own conference admits as before."""
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    [(_id, theirs)] = await make_attendees(pool, settings.secret_key, SLUG, 1, prefix="fremd")
    [(_id, ours)] = await make_attendees(pool, settings.secret_key, OTHER, 1, prefix="eigen")
    foreign_ticket, own_ticket = await ticket(client, theirs), await ticket(client, ours)
    scanner = await make_staff("scanner")
    await limit(pool, scanner, OTHER)

    async def scan(slug: str, secret: str, **request: Any) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/checkin", json={"conference": slug, "secret": secret}, **request
        )
        assert response.status_code == 200, response.text
        return response.json()

    by_token = await scan(SLUG, foreign_ticket, headers=scanner.headers)
    assert by_token == {
        "status": "error",
        "reason": "other_conference",
        "attendee": None,
        "checked_in_at": None,
        "gate": None,
    }
    # Their own ticket named with the other conference: the same.
    assert (await scan(SLUG, own_ticket, headers=scanner.headers))["reason"] == "other_conference"

    await login(client, scanner)
    csrf = {"x-csrftoken": client.cookies.get("csrftoken")}
    by_session = await scan(SLUG, foreign_ticket, headers=csrf)
    assert by_session == by_token

    async with pool.acquire() as db:
        inside = await db.fetchval("SELECT count(*) FROM registrations WHERE inside")
        recorded = await db.fetch("SELECT s.conference_id, s.reason FROM scans s ORDER BY s.id")
    assert inside == 0
    assert [(r["conference_id"], r["reason"]) for r in recorded] == [(None, "other_conference")] * 3

    admitted = await scan(OTHER, own_ticket, headers=csrf)
    assert admitted["status"] == "ok" and admitted["attendee"]["name"] == "Eigen 0"
    client.cookies.clear()
    again = await scan(OTHER, own_ticket, headers=scanner.headers)
    assert again["reason"] == "already_checked_in"

    # An account with all conferences scans for any (unchanged).
    everywhere = await scan(SLUG, foreign_ticket, headers=admin.headers)
    assert everywhere["status"] == "ok"


async def test_scope_is_read_per_request(client, pool, make_staff):
    """Giving an account a conference (or taking it away) holds from its next request on: the
    scope is read with the account, never kept in the session."""
    admin = await make_staff("admin")
    await two_conferences(client, admin)
    organiser = await make_staff("organiser")
    await limit(pool, organiser, OTHER)
    await login(client, organiser)
    assert (await client.get(f"/staff/conferences/{SLUG}")).status_code == 404
    async with pool.acquire() as db:
        await db.execute(
            "INSERT INTO staff_conferences (staff_id, conference_id) SELECT s.id, c.id "
            "FROM staff s, conferences c WHERE s.email = $1 AND c.slug = $2",
            organiser.email,
            SLUG,
        )
    assert (await client.get(f"/staff/conferences/{SLUG}")).status_code == 200
    async with pool.acquire() as db:
        await db.execute("DELETE FROM staff_conferences")
    assert (await client.get(f"/staff/conferences/{SLUG}")).status_code == 404
    assert (await client.get(f"/staff/conferences/{OTHER}")).status_code == 404
