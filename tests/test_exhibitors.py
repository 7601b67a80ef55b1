"""The market of opportunities: stands, requests, review, passes, directory."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from exhibitors import logic as exhibitor_logic
from exhibitors import queries as exhibitor_queries
from registration.views import token_key
from service.db import init_connection
from service.errors import Conflict
from tests.conftest import racing_app
from tests.exhibitor_support import SLUG, booking_payload, make_stand, request_and_confirm
from tests.registration_support import make_conference

ENGLISH = {"Accept-Language": "en"}


async def test_stands_and_a_row(client, organiser, make_staff):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    assert stand["code"] == "B1" and stand["booked_by"] is None
    row = await client.post(
        f"/api/v1/conferences/{SLUG}/stands/row",
        json={
            "prefix": "C",
            "first_number": 1,
            "count": 5,
            "width_m": 2,
            "depth_m": 2,
            "x": 0,
            "y": 10,
            "gap_m": 0.5,
        },
        headers=organiser.headers,
    )
    assert row.status_code == 201, row.text
    assert [(s["code"], s["x"]) for s in row.json()] == [
        ("C1", 0),
        ("C2", 2.5),
        ("C3", 5),
        ("C4", 7.5),
        ("C5", 10),
    ]
    duplicate = await client.post(
        f"/api/v1/conferences/{SLUG}/stands",
        json={"code": "B1", "width_m": 2, "depth_m": 2},
        headers=organiser.headers,
    )
    assert duplicate.status_code == 409
    for bad in (
        {"code": "<b>", "width_m": 2, "depth_m": 2},
        {"code": "B9", "width_m": -2, "depth_m": 2},
        {"code": "B9", "width_m": 2, "depth_m": 2, "features": ["pool"]},
    ):
        response = await client.post(
            f"/api/v1/conferences/{SLUG}/stands", json=bad, headers=organiser.headers
        )
        assert response.status_code == 400, bad
    scanner = await make_staff("scanner")
    assert (
        await client.post(
            f"/api/v1/conferences/{SLUG}/stands",
            json={"code": "Z1", "width_m": 2, "depth_m": 2},
            headers=scanner.headers,
        )
    ).status_code == 403
    assert len((await client.get(f"/api/v1/conferences/{SLUG}/stands")).json()) == 6


async def test_request_confirm_approve_and_directory(client, organiser, pool, settings):
    await make_conference(client, organiser)
    small = await make_stand(client, organiser, code="A1", width_m=2, features=["power"])
    blocked = await make_stand(client, organiser, code="A2", blocked=True)
    good = await make_stand(client, organiser, code="A3")
    booking_id, manage = await request_and_confirm(client, pool, settings)

    listed = await client.get(
        f"/api/v1/conferences/{SLUG}/exhibitor-bookings?status=requested",
        headers=organiser.headers,
    )
    assert [b["id"] for b in listed.json()["items"]] == [booking_id]
    fitting = await client.get(
        f"/api/v1/exhibitor-bookings/{booking_id}/fitting-stands", headers=organiser.headers
    )
    assert [s["code"] for s in fitting.json()] == ["A3"]

    for stand, words in ((small, "narrower"), (blocked, "blocked")):
        refused = await client.post(
            f"/api/v1/exhibitor-bookings/{booking_id}/approve",
            json={"stand_id": stand["id"]},
            headers={**organiser.headers, **ENGLISH},
        )
        assert refused.status_code == 409 and words in refused.json()["detail"]
    approved = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": good["id"]},
        headers=organiser.headers,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["stand_id"] == good["id"]

    mine = (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()
    assert mine["stand"] == {"id": good["id"], "code": "A3"} and mine["passes"] == []
    directory = (await client.get(f"/api/v1/conferences/{SLUG}/exhibitors")).json()
    assert [(e["organisation"], e["stand"]["code"]) for e in directory] == [
        ("Caritasverband Hannover e. V.", "A3")
    ]
    assert (await client.get(f"/api/v1/conferences/{SLUG}/exhibitors?topic=Wohnen")).json() == []
    # Approving again makes no sense.
    again = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": good["id"]},
        headers=organiser.headers,
    )
    assert again.status_code == 409


async def test_fifty_approvals_race_for_one_stand(organiser, pool, settings):
    # All requests at once through one pool: they queue for a connection (no 503).
    roomy = replace(settings, db_pool_size=30, rate_limits=False, db_connect_timeout=60)
    async with racing_app(roomy) as client:
        await make_conference(client, organiser)
        stand = await make_stand(client, organiser)
        bookings = [
            (
                await request_and_confirm(
                    client, pool, settings, email=f"v{i}@example.org", organisation=f"Verein {i}"
                )
            )[0]
            for i in range(50)
        ]
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/exhibitor-bookings/{b}/approve",
                    json={"stand_id": stand["id"]},
                    headers={**organiser.headers, **ENGLISH},
                )
                for b in bookings
            )
        )
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 1 and codes.count(409) == 49
    assert all("already assigned" in r.json()["detail"] for r in responses if r.status_code == 409)
    async with pool.acquire() as db:
        assert (
            await db.fetchval(
                "SELECT count(*) FROM exhibitor_bookings WHERE stand_id = $1", stand["id"]
            )
            == 1
        )


async def test_passes_for_stand_staff(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    stand = await make_stand(client, organiser, max_staff=2)
    booking_id, manage = await request_and_confirm(client, pool, settings)
    early = await client.post(
        f"/api/v1/exhibitor-bookings/{manage}/passes",
        json={"name": "Ali Kaya", "email": "ali@example.org"},
    )
    assert early.status_code == 409  # not approved yet
    await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    first = await client.post(
        f"/api/v1/exhibitor-bookings/{manage}/passes",
        json={"name": "Ali Kaya", "email": "ali@example.org"},
    )
    assert first.status_code == 201, first.text
    assert len(first.json()["ticket_secret"]) == 26
    await client.post(
        f"/api/v1/exhibitor-bookings/{manage}/passes",
        json={"name": "Bea Roth", "email": "bea@example.org"},
    )
    third = await client.post(
        f"/api/v1/exhibitor-bookings/{manage}/passes",
        json={"name": "Cem Aydin", "email": "cem@example.org"},
    )
    assert third.status_code == 409  # the stand allows two
    # Passes take no seat from the attendees.
    assert (await client.get(f"/api/v1/conferences/{SLUG}")).json()["seats_left"] == 1
    async with pool.acquire() as db:
        assert (
            await db.fetchval(
                "SELECT count(*) FROM registrations WHERE category = 'exhibitor_staff' "
                "AND status = 'confirmed'"
            )
            == 2
        )
    removed = await client.delete(
        f"/api/v1/exhibitor-bookings/{manage}/passes/{first.json()['id']}"
    )
    assert removed.status_code == 200 and [p["name"] for p in removed.json()["passes"]] == [
        "Bea Roth"
    ]
    assert (await client.get(f"/api/v1/conferences/{SLUG}")).json()["seats_left"] == 1


async def test_concurrent_passes_hold_the_stand_limit_and_one_per_address(
    client, organiser, pool, settings
):
    """One pass per address and stand, and at most max_staff passes, are kept under the
    booking's row lock (no unique index: a person may also hold an attendee ticket). Twenty
    additions of one address and twenty of different addresses race, each on a connection of
    its own, for a stand of three."""
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, max_staff=3)
    booking_id, _manage = await request_and_confirm(client, pool, settings)
    await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    key = token_key(settings)
    racers = await asyncpg.create_pool(
        settings.database_url, min_size=20, max_size=20, init=init_connection
    )

    async def add(email: str) -> str:
        async with racers.acquire() as db:
            booking = await exhibitor_queries.booking(db, booking_id)
            try:
                await exhibitor_logic.add_pass(db, key, booking, "Ali Kaya", email, "de")
            except Conflict:
                return "refused"
            return "added"

    try:
        same = await asyncio.gather(*(add("ali@example.org") for _ in range(20)))
        others = await asyncio.gather(*(add(f"p{i}@example.org") for i in range(20)))
    finally:
        await racers.close()
    assert same.count("added") == 1 and same.count("refused") == 19
    assert others.count("added") == 2 and others.count("refused") == 18
    emails = [
        r["email"]
        for r in await pool.fetch(
            "SELECT email FROM registrations WHERE category = 'exhibitor_staff' "
            "AND status = 'confirmed'"
        )
    ]
    assert len(emails) == 3 and emails.count("ali@example.org") == 1


async def test_workflow_refuses_what_makes_no_sense(client, organiser, pool, settings):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    booking_id, manage = await request_and_confirm(client, pool, settings)
    rejected = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/reject",
        json={"reason": "Thema passt nicht"},
        headers=organiser.headers,
    )
    assert rejected.status_code == 200 and rejected.json()["reason"] == "Thema passt nicht"
    approve = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    assert approve.status_code == 409
    assert (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()["status"] == (
        "rejected"
    )
    block_free = await client.patch(
        f"/api/v1/stands/{stand['id']}", json={"blocked": True}, headers=organiser.headers
    )
    assert block_free.status_code == 200 and block_free.json()["blocked"] is True


async def test_waitlist_release_and_reassign(client, organiser, pool, settings):
    await make_conference(client, organiser)
    first_stand = await make_stand(client, organiser, code="D1")
    second_stand = await make_stand(client, organiser, code="D2")
    booking_id, manage = await request_and_confirm(client, pool, settings)
    waiting = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/waitlist", headers=organiser.headers
    )
    assert waiting.status_code == 200 and waiting.json()["status"] == "waitlisted"
    assert (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()[
        "waitlist_position"
    ] == 1
    await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": first_stand["id"]},
        headers=organiser.headers,
    )
    moved = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/reassign",
        json={"stand_id": second_stand["id"]},
        headers=organiser.headers,
    )
    assert moved.status_code == 200 and moved.json()["stand_id"] == second_stand["id"]
    blocked_in_use = await client.patch(
        f"/api/v1/stands/{second_stand['id']}", json={"blocked": True}, headers=organiser.headers
    )
    assert blocked_in_use.status_code == 409
    released = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/release", headers=organiser.headers
    )
    assert released.status_code == 200 and released.json()["status"] == "requested"
    stands = (await client.get(f"/api/v1/conferences/{SLUG}/stands")).json()
    assert all(s["booked_by"] is None for s in stands)


async def test_bad_requests_store_nothing(client, organiser, pool):
    await make_conference(client, organiser)
    for change in (
        {"website": "javascript:alert(1)"},
        {"description": "x" * 3000},
        {"wished_width_m": -1},
        {"kind": "company"},
        {"email": "nope"},
        {"topics": ["<script>"]},
        {"staff_count": -1},
    ):
        response = await client.post(
            f"/api/v1/conferences/{SLUG}/exhibitor-bookings", json=booking_payload(**change)
        )
        assert response.status_code == 400, change
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM exhibitor_bookings") == 0
    same = [
        await client.post(f"/api/v1/conferences/{SLUG}/exhibitor-bookings", json=booking_payload())
        for _ in range(2)
    ]
    assert [r.status_code for r in same] == [202, 202] and same[0].json() == same[1].json()
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM exhibitor_bookings") == 1


async def test_passes_exist_only_while_there_is_a_stand(client, organiser, pool, settings):
    await make_conference(client, organiser)
    big = await make_stand(client, organiser, code="E1", max_staff=3)
    small = await make_stand(client, organiser, code="E2", max_staff=2)
    booking_id, manage = await request_and_confirm(client, pool, settings, staff_count=1)
    await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": big["id"]},
        headers=organiser.headers,
    )
    for name in ("Ana", "Ben", "Cleo"):
        added = await client.post(
            f"/api/v1/exhibitor-bookings/{manage}/passes",
            json={"name": name, "email": f"{name.lower()}@example.org"},
        )
        assert added.status_code == 201
    too_small = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/reassign",
        json={"stand_id": small["id"]},
        headers=organiser.headers,
    )
    assert too_small.status_code == 409
    released = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/release", headers=organiser.headers
    )
    assert released.status_code == 200
    assert (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()["passes"] == []
    async with pool.acquire() as db:
        assert (
            await db.fetchval(
                "SELECT count(*) FROM registrations WHERE category = 'exhibitor_staff' "
                "AND status = 'confirmed'"
            )
            == 0
        )
