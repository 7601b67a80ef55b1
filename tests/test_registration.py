"""Registration through the API: double opt-in, the waiting list, cancellation, the window."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.conftest import racing_app
from tests.registration_support import (
    SLUG,
    confirm,
    make_conference,
    register,
    registration_payload,
    token_for,
)


async def outbox_kinds(pool, email: str) -> list[str]:
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT kind FROM outbox WHERE recipient = $1 ORDER BY id", email)
    return [r["kind"] for r in rows]


async def test_register_confirm_and_see_ticket(client, organiser, pool, settings):
    await make_conference(client, organiser)
    response = await register(client)
    assert response.status_code == 202
    assert response.json() == {"status": "pending_confirmation"}
    assert await outbox_kinds(pool, "aylin@example.org") == ["registration.confirm"]

    confirmed = await confirm(client, pool, settings, "aylin@example.org")
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "confirmed"
    manage = body["manage_token"]

    again = await confirm(client, pool, settings, "aylin@example.org")
    assert again.json() == body  # a used link gives the same answer

    mine = (await client.get(f"/api/v1/registrations/{manage}")).json()
    assert mine["status"] == "confirmed" and mine["waitlist_position"] is None
    assert mine["name"] == "Aylin Demir" and mine["category"] == "volunteer"
    ticket = mine["ticket"]
    assert len(ticket["secret"]) == 26 and not set(ticket["secret"]) & set("01OIL")
    assert ticket["qr_svg_url"].endswith(f"/r/{manage}/ticket.svg")
    assert mine["forums"] == []
    assert await outbox_kinds(pool, "aylin@example.org") == [
        "registration.confirm",
        "registration.ticket",
    ]
    conference = (await client.get(f"/api/v1/conferences/{SLUG}")).json()
    assert conference["seats_left"] == 119


async def test_same_answer_for_new_and_known_addresses(client, organiser, pool, settings):
    await make_conference(client, organiser)
    first = await register(client)
    second = await register(client, name="Jemand Anderes")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM registrations") == 1
        assert await db.fetchval("SELECT name FROM registrations") == "Aylin Demir"
    # Pending: the confirmation link again. Confirmed: the self-service link.
    await confirm(client, pool, settings, "aylin@example.org")
    third = await register(client, email="AYLIN@example.org")
    assert third.json() == first.json()
    assert await outbox_kinds(pool, "aylin@example.org") == [
        "registration.confirm",
        "registration.confirm",
        "registration.ticket",
        "registration.manage_link",
    ]


async def test_wrong_and_expired_links_reveal_nothing(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(client)
    forged = await client.post(
        "/api/v1/registrations/confirm", json={"token": "ABCDEFGHJKMNPQRSTUVWXYZ234"}
    )
    garbage = await client.post("/api/v1/registrations/confirm", json={"token": "<script>"})
    assert forged.status_code == garbage.status_code == 404
    assert forged.json()["detail"] == garbage.json()["detail"]

    token = await token_for(pool, settings, "aylin@example.org")
    async with pool.acquire() as db:
        await db.execute("UPDATE registrations SET confirm_expires_at = now() - interval '1 s'")
    expired = await client.post("/api/v1/registrations/confirm", json={"token": token})
    assert expired.status_code == 404 and expired.json()["detail"] == forged.json()["detail"]
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT status FROM registrations") == "pending_confirmation"
    # Registering again sends a new link, which works; the expired one stays dead.
    await register(client)
    fresh = await token_for(pool, settings, "aylin@example.org")
    assert fresh != token
    assert (
        await client.post("/api/v1/registrations/confirm", json={"token": token})
    ).status_code == 404
    assert (
        await client.post("/api/v1/registrations/confirm", json={"token": fresh})
    ).status_code == 200


async def test_waiting_list_and_promotion_on_cancel(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=2)
    manage = {}
    for name in ("anna", "ben", "cem", "dana"):
        await register(client, email=f"{name}@example.org", name=name.title())
        manage[name] = (await confirm(client, pool, settings, f"{name}@example.org")).json()
    assert [manage[n]["status"] for n in manage] == [
        "confirmed",
        "confirmed",
        "waitlisted",
        "waitlisted",
    ]
    cem = (await client.get(f"/api/v1/registrations/{manage['cem']['manage_token']}")).json()
    dana = (await client.get(f"/api/v1/registrations/{manage['dana']['manage_token']}")).json()
    assert (cem["waitlist_position"], dana["waitlist_position"]) == (1, 2)
    assert cem["ticket"] is None

    cancelled = await client.delete(f"/api/v1/registrations/{manage['anna']['manage_token']}")
    assert cancelled.status_code == 200 and cancelled.json() == {"status": "cancelled"}
    again = await client.delete(f"/api/v1/registrations/{manage['anna']['manage_token']}")
    assert again.json() == {"status": "cancelled"}

    cem = (await client.get(f"/api/v1/registrations/{manage['cem']['manage_token']}")).json()
    dana = (await client.get(f"/api/v1/registrations/{manage['dana']['manage_token']}")).json()
    assert cem["status"] == "confirmed" and cem["ticket"] is not None
    assert dana["waitlist_position"] == 1
    assert "registration.promoted" in await outbox_kinds(pool, "cem@example.org")
    anna = (await client.get(f"/api/v1/registrations/{manage['anna']['manage_token']}")).json()
    assert anna["status"] == "cancelled" and anna["ticket"] is None
    assert (await client.get(f"/api/v1/conferences/{SLUG}")).json()["seats_left"] == 0

    # A cancelled address may register anew.
    assert (await register(client, email="anna@example.org")).status_code == 202
    async with pool.acquire() as db:
        assert (
            await db.fetchval("SELECT count(*) FROM registrations WHERE email = 'anna@example.org'")
            == 2
        )


async def test_growing_capacity_promotes_in_order(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    for name in ("anna", "ben", "cem", "dana"):
        await register(client, email=f"{name}@example.org", name=name.title())
        await confirm(client, pool, settings, f"{name}@example.org")
    grown = await client.patch(
        f"/api/v1/conferences/{SLUG}", json={"capacity": 3}, headers=organiser.headers
    )
    assert grown.status_code == 200 and grown.json()["seats_left"] == 0
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT email, status FROM registrations ORDER BY id")
    assert [r["status"] for r in rows] == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    shrink = await client.patch(
        f"/api/v1/conferences/{SLUG}", json={"capacity": 2}, headers=organiser.headers
    )
    assert shrink.status_code == 400


async def test_two_hundred_confirmations_race_for_fifty_places(organiser, pool, settings):
    # All requests at once through one pool: they queue for a connection (no 503).
    unlimited = replace(settings, db_pool_size=40, rate_limits=False, db_connect_timeout=60)
    async with racing_app(unlimited) as client:
        await make_conference(client, organiser, capacity=50)
        emails = [f"person{i}@example.org" for i in range(200)]
        for email in emails:
            assert (await register(client, email=email)).status_code == 202
        confirm_tokens = [await token_for(pool, settings, e) for e in emails]

        async def confirm_one(token: str) -> str:
            response = await client.post("/api/v1/registrations/confirm", json={"token": token})
            assert response.status_code == 200, response.text
            return response.json()["status"]

        statuses = await asyncio.gather(*(confirm_one(t) for t in confirm_tokens))
    assert statuses.count("confirmed") == 50 and statuses.count("waitlisted") == 150
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT seats_taken FROM conferences") == 50
        assert (
            await db.fetchval("SELECT count(*) FROM registrations WHERE status = 'confirmed'") == 50
        )
        positions = await db.fetch(
            "SELECT waitlist_position FROM registrations WHERE status = 'waitlisted' "
            "ORDER BY waitlist_position"
        )
    # Distinct places, in the order the confirmations were decided.
    assert len({p["waitlist_position"] for p in positions}) == 150


async def test_registration_window(client, organiser):
    await make_conference(
        client,
        organiser,
        registration_opens_at="2027-04-01T00:00:00+02:00",
        registration_closes_at="2027-05-01T00:00:00+02:00",
    )
    early = await register(client)
    assert early.status_code == 409
    await make_conference(
        client,
        organiser,
        slug="vorbei",
        starts_at="2026-01-10T09:00:00+01:00",
        ends_at="2026-01-10T17:00:00+01:00",
        registration_opens_at="2025-12-01T00:00:00+01:00",
    )
    late = await register(client, slug="vorbei")
    assert late.status_code == 409
    assert late.json()["detail"] != early.json()["detail"]
    assert (await register(client, slug="gibt-es-nicht")).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "kein-at-zeichen"}, "email"),
        ({"name": ""}, "name"),
        ({"category": "exhibitor_staff"}, "category"),
        ({"category": "boss"}, "category"),
        ({"language": "fr"}, "language"),
        ({"consents": {"privacy": False}}, "consents.privacy"),
        ({"needs": {"accessibility": ["wheelchair"]}}, "consents.special_category"),
        (
            {
                "needs": {"dietary": ["raw"]},
                "consents": {"privacy": True, "special_category": True},
            },
            "needs.dietary",
        ),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(client, organiser, pool, change, field):
    await make_conference(client, organiser)
    response = await register(client, **change)
    assert response.status_code == 400, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert any(name.startswith(field) for name in fields), fields
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM registrations") == 0
        assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_needs_and_consents_are_stored_with_versions(client, organiser, pool):
    await make_conference(client, organiser)
    response = await register(
        client,
        needs={"accessibility": ["sign_language"], "interpretation": "Arabisch"},
        consents={"privacy": True, "special_category": True, "photos": False},
    )
    assert response.status_code == 202
    async with pool.acquire() as db:
        needs = await db.fetchval("SELECT needs FROM registrations")
        consents = await db.fetch("SELECT kind, text_version FROM consents ORDER BY kind")
    assert needs["accessibility"] == ["sign_language"] and needs["interpretation"] == "Arabisch"
    assert [c["kind"] for c in consents] == ["privacy", "special_category"]
    assert all(c["text_version"] for c in consents)


async def test_a_huge_body_is_refused(client, organiser, pool):
    await make_conference(client, organiser)
    huge = registration_payload(organisation="x" * (10 * 1024 * 1024))
    response = await client.post(f"/api/v1/conferences/{SLUG}/registrations", json=huge)
    assert response.status_code in (400, 413)
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM registrations") == 0


async def test_self_service_changes_language(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(client)
    manage = (await confirm(client, pool, settings, "aylin@example.org")).json()["manage_token"]
    changed = await client.patch(f"/api/v1/registrations/{manage}", json={"language": "en"})
    assert changed.status_code == 200 and changed.json()["language"] == "en"
    bad = await client.patch(f"/api/v1/registrations/{manage}", json={"language": "xx"})
    assert bad.status_code == 400
    unknown = await client.get("/api/v1/registrations/ABCDEFGHJKMNPQRSTUVWXYZ234")
    assert unknown.status_code == 404


async def test_registration_is_rate_limited_per_client(client, organiser, pool):
    await make_conference(client, organiser)
    statuses = [(await register(client, email=f"p{i}@example.org")).status_code for i in range(31)]
    assert statuses[:30] == [202] * 30 and statuses[30] == 429
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM registrations") == 30
