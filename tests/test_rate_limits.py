"""Per-client limits (service/ratelimit.py) on everything a stranger could try in bulk: every
self-service and confirmation link, the public forms and their API twins. Login (test_staff),
registration through the API (test_registration) and failed scans at the door (test_checkin)
are tested where they live; the rest here. The `settings` fixture keeps the limits on."""

from __future__ import annotations

import inspect

from litestar.routes import HTTPRoute

from service import ratelimit
from service.app import create_app
from service.ratelimit import AtomicRateLimitMiddleware
from service.settings import Settings
from tests.conftest import csrf_token
from tests.exhibitor_support import booking_payload
from tests.registration_support import SLUG, make_conference, register

UNKNOWN = "ABCDEFGHJKMNPQRSTUVWXYZ234"  # a well-formed token nobody holds
TOO_MANY_DE = "Zu viele Versuche"


def limits_by_route(settings: Settings) -> dict[str, list[str]]:
    """The names of the per-client limits on each (method, route) of the app."""
    found: dict[str, list[str]] = {}
    for route in create_app(settings).routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            names = [
                inspect.getclosurevars(m.kwargs["config"].identifier_for_request).nonlocals["name"]
                for m in handler.resolve_middleware()
                if getattr(m, "middleware", None) is AtomicRateLimitMiddleware
            ]
            for method in handler.http_methods - {"OPTIONS"}:
                found[f"{method} {route.path_format}"] = names
    return found


def test_every_link_and_public_form_is_limited(settings: Settings) -> None:
    limits = limits_by_route(settings)
    links = [key for key in limits if "{token}" in key or key.endswith("/confirm")]
    assert len(links) > 40
    unlimited = [key for key in links if not limits[key]]
    assert not unlimited, "links without a per-client limit:\n" + "\n".join(unlimited)
    forms = {
        "POST /staff/login": "login",
        "POST /conferences/{slug}/register": "registration-form",
        "POST /api/v1/conferences/{slug}/registrations": "registration",
        "POST /conferences/{slug}/exhibit": "exhibitor-form",
        "POST /api/v1/conferences/{slug}/exhibitor-bookings": "exhibitor-request",
        "PUT /api/v1/registrations/{token}/forums/{forum_id}": "forum-signup",
        "POST /staff/reset": "password-reset",
        "POST /api/v1/staff/password-reset": "password-reset",
        "POST /api/v1/staff/invitations/accept": "links",
        "POST /staff/account/password": "password-change",
    }
    assert {key: limits[key] for key in forms} == {key: [n] for key, n in forms.items()}


async def test_links_share_one_limit_of_120_a_minute(client, organiser) -> None:
    """Guessing tokens: 120 tries a minute over all link routes together, then 429 (a page
    for pages, problem details for the API); other limits are counted apart."""
    await make_conference(client, organiser)
    paths = [
        f"/r/{UNKNOWN}",
        f"/x/{UNKNOWN}",
        f"/api/v1/registrations/{UNKNOWN}",
        f"/api/v1/exhibitor-bookings/{UNKNOWN}",
        f"/r/{UNKNOWN}/ticket.png",
    ]
    statuses = [(await client.get(paths[i % len(paths)])).status_code for i in range(120)]
    assert statuses == [404] * 120
    page = await client.get(f"/r/{UNKNOWN}")
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/html") and TOO_MANY_DE in page.text
    api = await client.get(f"/api/v1/registrations/{UNKNOWN}")
    assert api.status_code == 429
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["detail"]
    confirm = await client.post("/api/v1/registrations/confirm", json={"token": UNKNOWN})
    assert confirm.status_code == 429
    # Registering is limited on its own and still open.
    assert (await register(client)).status_code == 202


async def test_registration_form_is_limited(client, organiser, pool) -> None:
    await make_conference(client, organiser)
    token = await csrf_token(client, f"/conferences/{SLUG}/register")
    statuses = []
    for _ in range(31):
        response = await client.post(
            f"/conferences/{SLUG}/register", data={"name": "X", "_csrf_token": token}
        )
        statuses.append(response.status_code)
    assert statuses[:30] == [400] * 30 and statuses[30] == 429  # 400: the form with messages
    assert TOO_MANY_DE in response.text
    assert await pool.fetchval("SELECT count(*) FROM registrations") == 0


async def test_exhibitor_requests_are_limited(client, organiser, pool) -> None:
    await make_conference(client, organiser)
    api = [
        (
            await client.post(
                f"/api/v1/conferences/{SLUG}/exhibitor-bookings",
                json=booking_payload(email=f"stand{i}@example.org"),
            )
        ).status_code
        for i in range(31)
    ]
    assert api[:30] == [202] * 30 and api[30] == 429
    assert await pool.fetchval("SELECT count(*) FROM exhibitor_bookings") == 30
    token = await csrf_token(client, f"/conferences/{SLUG}/exhibit")
    form = []
    for _ in range(31):
        response = await client.post(
            f"/conferences/{SLUG}/exhibit", data={"organisation": "X", "_csrf_token": token}
        )
        form.append(response.status_code)
    assert form[:30] == [400] * 30 and form[30] == 429  # counted apart from the API
    assert TOO_MANY_DE in response.text


async def test_forum_sign_ups_are_limited(client, organiser) -> None:
    await make_conference(client, organiser)
    path = f"/api/v1/registrations/{UNKNOWN}/forums/1"
    statuses = [(await client.put(path)).status_code for _ in range(121)]
    assert statuses[:120] == [404] * 120 and statuses[120] == 429


async def test_answers_carry_the_count_in_ratelimit_headers(client, organiser) -> None:
    """As Litestar's own middleware wrote them: the limit, what is left, seconds to the reset."""
    await make_conference(client, organiser)
    first = await register(client)
    assert first.status_code == 202
    assert first.headers["ratelimit-policy"] == "30; w=60"
    assert first.headers["ratelimit-limit"] == "30"
    assert first.headers["ratelimit-remaining"] == "29"
    assert 0 < int(first.headers["ratelimit-reset"]) <= 60
    for _ in range(29):
        await register(client)
    refused = await register(client)
    assert refused.status_code == 429
    assert refused.headers["ratelimit-remaining"] == "0"
    assert 0 < int(refused.headers["ratelimit-reset"]) <= 60


async def test_counts_of_ended_windows_are_swept(client, pool, monkeypatch) -> None:
    await pool.execute(
        "INSERT INTO rate_limit (key, window_ends_at, hits) "
        "VALUES ('links:192.0.2.9', now() - interval '1 second', 7)"
    )
    monkeypatch.setattr(ratelimit, "_next_sweep", 0.0)  # this process's sweep is due
    assert (await client.get(f"/r/{UNKNOWN}")).status_code == 404
    keys = [r["key"] for r in await pool.fetch("SELECT key FROM rate_limit")]
    assert keys == ["links:testclient"]
