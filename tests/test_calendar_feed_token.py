"""The calendar subscription has a read-only token of its own (issue 12, point 8).

A subscription address is handed to calendar services and shared calendars; it used to be
the self-service link, which can also cancel and erase. Now the page and the API hand out
`/r/{feed token}/feed.ics`: that token opens the feed and nothing else, every self-service
path (taken from the app's own route table) answers it 404 and changes nothing, and the feed
itself names neither token (its entry links the conference's public page).
"""

from __future__ import annotations

import re

import icalendar
import pytest
from litestar.routes import HTTPRoute

from tests.conftest import csrf_token
from tests.forum_support import make_forum
from tests.registration_support import SLUG, confirm, make_conference, register

FEED_LINK = re.compile(r'href="webcal://testserver\.local/r/([A-Z0-9]+)/feed\.ics"')
FEED_ROUTE = "GET /r/{token}/feed.ics"
# What the attendee's self-service link opens: the pages and the JSON API.
SELF_SERVICE = ("/r/{token}", "/api/v1/registrations/{token}")
# Bodies that pass validation, so that only the token can be what refuses the request.
API_BODIES = {"PATCH /api/v1/registrations/{token}": {"language": "en"}}


async def confirmed(client, pool, settings, email: str = "aylin@example.org") -> str:
    assert (await register(client, email=email)).status_code == 202
    answer = await confirm(client, pool, settings, email)
    assert answer.status_code == 200, answer.text
    return answer.json()["manage_token"]


async def feed_token_from_page(client, manage: str) -> str:
    page = await client.get(f"/r/{manage}")
    assert page.status_code == 200
    [token] = FEED_LINK.findall(page.text)
    return token


def self_service_routes(app) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path_format.startswith(SELF_SERVICE):
            continue
        for method in sorted(route.route_handler_map):
            if method != "OPTIONS" and f"{method} {route.path_format}" != FEED_ROUTE:
                found.append((method, route.path_format))
    return found


async def state(pool) -> dict[str, list]:
    """Everything a self-service request could change."""
    async with pool.acquire() as db:
        return {
            table: [dict(row) for row in await db.fetch(f"SELECT * FROM {table} ORDER BY 1")]
            for table in ("registrations", "conferences", "forum_signups", "forums", "outbox")
        }


async def test_page_and_api_hand_out_a_feed_token_that_opens_the_feed(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    manage = await confirmed(client, pool, settings)
    feed_token = await feed_token_from_page(client, manage)
    assert feed_token != manage
    shown = (await client.get(f"/api/v1/registrations/{manage}")).json()["calendar_feed_url"]
    assert shown == f"webcal://testserver.local/r/{feed_token}/feed.ics"

    feed = await client.get(f"/r/{feed_token}/feed.ics")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert "no-store" in feed.headers["cache-control"]
    calendar = icalendar.Calendar.from_ical(feed.content)
    assert calendar["METHOD"] == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert event["SUMMARY"] == "Fachtag Ehrenamt 2027"
    # Read-only all the way: the entry links the public page, and no token is in the file.
    assert str(event["URL"]) == f"http://testserver.local/conferences/{SLUG}"
    unfolded = feed.text.replace("\r\n ", "")
    assert manage not in unfolded and feed_token not in unfolded


async def test_the_feed_token_opens_no_self_service_path_and_changes_nothing(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    forum = await make_forum(client, organiser)
    manage = await confirmed(client, pool, settings)
    feed_token = await feed_token_from_page(client, manage)
    routes = self_service_routes(client.app)
    # The table really lists the paths that matter (no vacuous pass).
    for needed in (
        ("GET", "/r/{token}"),
        ("POST", "/r/{token}/cancel"),
        ("POST", "/r/{token}/delete"),
        ("GET", "/r/{token}/ticket.svg"),
        ("GET", "/r/{token}/calendar.ics"),
        ("POST", "/r/{token}/forums/{forum_id}/join"),
        ("GET", "/api/v1/registrations/{token}/export"),
        ("POST", "/api/v1/registrations/{token}/erase"),
        ("DELETE", "/api/v1/registrations/{token}"),
        ("PUT", "/api/v1/registrations/{token}/forums/{forum_id}"),
    ):
        assert needed in routes, needed
    csrf = await csrf_token(client, f"/conferences/{SLUG}/register")
    before = await state(pool)

    answers = {}
    for method, template in routes:
        path = template.format(token=feed_token, forum_id=forum["id"])
        kwargs: dict = {"follow_redirects": True}
        if template.startswith("/api/"):
            if method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = API_BODIES.get(f"{method} {template}", {})
        elif method == "POST":
            kwargs["data"] = {"_csrf_token": csrf, "language": "en"}
        response = await client.request(method, path, **kwargs)
        answers[f"{method} {template}"] = response.status_code
    assert answers == dict.fromkeys(answers, 404), answers
    assert await state(pool) == before

    # The person's own link still does all of it, and the feed still opens.
    assert (await client.get(f"/r/{manage}")).status_code == 200
    assert (await client.get(f"/r/{feed_token}/feed.ics")).status_code == 200


@pytest.mark.parametrize("erase", ["page", "api"])
async def test_erasure_ends_the_feed_too(client, organiser, pool, settings, erase):
    await make_conference(client, organiser)
    manage = await confirmed(client, pool, settings)
    feed_token = await feed_token_from_page(client, manage)
    if erase == "page":
        csrf = await csrf_token(client, f"/r/{manage}/delete")
        erased = await client.post(f"/r/{manage}/delete", data={"_csrf_token": csrf})
    else:
        erased = await client.post(f"/api/v1/registrations/{manage}/erase")
    assert erased.status_code == 200
    assert (await client.get(f"/r/{feed_token}/feed.ics")).status_code == 404
    assert (await client.get(f"/r/{manage}/feed.ics")).status_code == 404


async def test_addresses_subscribed_before_keep_updating(client, organiser, pool, settings):
    """Subscriptions made with the old address (the self-service token) still get the feed:
    that token opens everything anyway, so refusing it here would protect nothing and only
    stop those calendars from following changes. No page shows that address any more."""
    await make_conference(client, organiser)
    manage = await confirmed(client, pool, settings)
    page = await client.get(f"/r/{manage}")
    assert f"/r/{manage}/feed.ics" not in page.text
    old = await client.get(f"/r/{manage}/feed.ics")
    assert old.status_code == 200
    assert manage not in old.text.replace("\r\n ", "")


async def test_a_forged_or_foreign_feed_token_is_404(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed(client, pool, settings)
    feed_token = await feed_token_from_page(client, manage)
    forged = feed_token[:-1] + ("A" if feed_token[-1] != "A" else "B")
    assert (await client.get(f"/r/{forged}/feed.ics")).status_code == 404
    assert (await client.get("/r/not-a-token/feed.ics")).status_code == 404


async def test_a_registration_from_before_the_feed_token_gets_one_when_shown(
    client, organiser, pool, settings
):
    """New registrations store the feed token's digest with their other hashes, so showing
    the address writes nothing; one made before migration 0018 has none (the database cannot
    derive it), and gets it the first time its address is shown."""
    await make_conference(client, organiser)
    manage = await confirmed(client, pool, settings)
    stored = await pool.fetchval("SELECT calendar_hash FROM registrations")
    assert stored is not None
    await feed_token_from_page(client, manage)
    assert await pool.fetchval("SELECT calendar_hash FROM registrations") == stored

    await pool.execute("UPDATE registrations SET calendar_hash = NULL")  # as before 0018
    feed_token = await feed_token_from_page(client, manage)
    assert await pool.fetchval("SELECT calendar_hash FROM registrations") == stored
    assert (await client.get(f"/r/{feed_token}/feed.ics")).status_code == 200
