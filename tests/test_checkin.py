"""The entrance API: decisions, exactly once under concurrency, retries, exit and re-entry,
undo, search and manual check-in, bad input."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from tests.conftest import racing_app
from tests.forum_support import make_attendees
from tests.live_server import SECRET_KEY
from tests.registration_support import SLUG, confirm, make_conference, register


async def ticket(client, token: str) -> str:
    return (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]


async def test_decisions(client, organiser, pool, settings, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    secret = await ticket(client, token)

    async def scan(**body):
        return await client.post(
            "/api/v1/checkin", json={"conference": SLUG, **body}, headers=scanner.headers
        )

    ok = (await scan(secret=secret, gate="A")).json()
    assert ok["status"] == "ok" and ok["reason"] is None and ok["gate"] == "A"
    assert ok["attendee"]["name"] == "Person 0" and ok["attendee"]["category"] == "volunteer"
    again = (await scan(secret=secret.lower(), gate="B")).json()
    assert again["status"] == "error" and again["reason"] == "already_checked_in"
    assert again["gate"] == "A" and again["checked_in_at"] == ok["checked_in_at"]
    # After leaving, the person may enter again.
    assert (await scan(secret=secret, type="exit", gate="A")).json()["status"] == "ok"
    assert (await scan(secret=secret, gate="B")).json()["status"] == "ok"

    assert (await scan(secret="ABCDEFGHJKMNPQRSTUVWXYZ234")).json()["reason"] == "invalid"
    assert (await scan(secret="nonsense")).json()["reason"] == "invalid"
    await make_conference(client, organiser, slug="andere-tagung")
    other = await client.post(
        "/api/v1/checkin",
        json={"conference": "andere-tagung", "secret": secret},
        headers=scanner.headers,
    )
    assert other.json()["reason"] == "other_conference"

    await register(client, email="pending@example.org")
    async with pool.acquire() as db:
        salt = await db.fetchval(
            "SELECT ticket_salt FROM registrations WHERE email = 'pending@example.org'"
        )
    from service import tokens
    from tests.registration_support import key

    pending_secret = tokens.derive(key(settings), "ticket", salt)
    assert (await scan(secret=pending_secret)).json()["reason"] == "not_confirmed"
    manage = (await confirm(client, pool, settings, "pending@example.org")).json()["manage_token"]
    await client.delete(f"/api/v1/registrations/{manage}")
    assert (await scan(secret=pending_secret)).json()["reason"] == "cancelled"
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans") == 9


async def test_bad_requests_and_rights(client, organiser, make_staff, pool):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    assert (
        await client.post("/api/v1/checkin", json={"secret": "x"}, headers=scanner.headers)
    ).status_code == 400
    assert (
        await client.post(
            "/api/v1/checkin",
            content=b"garbage",
            headers={**scanner.headers, "content-type": "application/json"},
        )
    ).status_code == 400
    assert (
        await client.post("/api/v1/checkin", json={"conference": SLUG, "secret": "x"})
    ).status_code == 401
    revoked = await make_staff("scanner")
    async with pool.acquire() as db:
        await db.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE staff_id = "
            "(SELECT id FROM staff WHERE email = $1)",
            revoked.email,
        )
    # The scan's own statement checks the token (one round trip): a revoked or unknown token
    # is refused there with 401 and leaves no scan behind.
    for headers in (revoked.headers, {"Authorization": "Bearer tg_unknown"}):
        refused = await client.post(
            "/api/v1/checkin", json={"conference": SLUG, "secret": "x"}, headers=headers
        )
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    assert (
        await client.post(
            "/api/v1/checkin",
            json={"conference": SLUG, "secret": "x"},
            headers={"Authorization": "Basic eDp5"},
        )
    ).status_code == 401
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans") == 0
    huge = await client.post(
        "/api/v1/checkin",
        json={"conference": SLUG, "secret": "x" * 2_000_000},
        headers=scanner.headers,
    )
    assert huge.status_code in (400, 413)


async def test_retry_with_the_same_nonce(client, organiser, pool, settings, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    secret = await ticket(client, token)
    body = {"conference": SLUG, "secret": secret, "gate": "A", "nonce": "n-1"}
    first = await client.post("/api/v1/checkin", json=body, headers=scanner.headers)
    retry = await client.post("/api/v1/checkin", json=body, headers=scanner.headers)
    assert first.json() == retry.json() and first.json()["status"] == "ok"
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans") == 1


async def test_failed_scans_are_rate_limited_per_device(client, organiser, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    codes = [
        (
            await client.post(
                "/api/v1/checkin",
                json={"conference": SLUG, "secret": f"GUESS{i:021d}"},
                headers=scanner.headers,
            )
        ).status_code
        for i in range(31)
    ]
    assert codes[:30] == [200] * 30 and codes[30] == 429


async def test_undo_search_and_manual(client, organiser, pool, settings, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    people = await make_attendees(pool, settings.secret_key, SLUG, 2)
    secret = await ticket(client, people[0][1])
    await client.post(
        "/api/v1/checkin",
        json={"conference": SLUG, "secret": secret, "gate": "A"},
        headers=scanner.headers,
    )
    undone = await client.post(
        "/api/v1/checkin/undo",
        json={"conference": SLUG, "registration_id": people[0][0]},
        headers=scanner.headers,
    )
    assert undone.json() == {"undone": True}
    found = await client.get(
        f"/api/v1/conferences/{SLUG}/checkin/search?q=person 1", headers=scanner.headers
    )
    assert [f["name"] for f in found.json()] == ["Person 1"]
    by_mail = await client.get(
        f"/api/v1/conferences/{SLUG}/checkin/search?q=person0@", headers=scanner.headers
    )
    assert [f["inside"] for f in by_mail.json()] == [False]
    manual = await client.post(
        "/api/v1/checkin/manual",
        json={"conference": SLUG, "registration_id": people[1][0], "gate": "B"},
        headers=scanner.headers,
    )
    assert manual.json()["status"] == "ok"
    twice = await client.post(
        "/api/v1/checkin/manual",
        json={"conference": SLUG, "registration_id": people[1][0]},
        headers=scanner.headers,
    )
    assert twice.json()["reason"] == "already_checked_in"


async def race(send, secret: str) -> list[dict]:
    responses = await asyncio.gather(
        *(send({"conference": SLUG, "secret": secret, "gate": f"door-{i % 3}"}) for i in range(60))
    )
    assert all(r.status_code == 200 for r in responses)
    return [r.json() for r in responses]


async def test_exactly_once_in_one_process(organiser, pool, settings, make_staff):
    # All requests at once through one pool: they queue for a connection (no 503).
    roomy = replace(settings, db_pool_size=30, db_connect_timeout=60)
    async with racing_app(roomy) as client:
        await make_conference(client, organiser)
        scanner = await make_staff("scanner")
        [(_rid, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
        secret = await ticket(client, token)
        answers = await race(
            lambda body: client.post("/api/v1/checkin", json=body, headers=scanner.headers),
            secret,
        )
    assert [a["status"] for a in answers].count("ok") == 1
    assert {a["reason"] for a in answers if a["status"] == "error"} == {"already_checked_in"}
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans WHERE status = 'ok'") == 1
        assert await db.fetchval("SELECT count(*) FROM scans") == 60


async def test_exactly_once_across_two_processes(
    two_process_server,
    organiser,
    pool,
    make_staff,
):
    async with httpx.AsyncClient(
        base_url=two_process_server, timeout=60, limits=httpx.Limits(max_connections=60)
    ) as http:
        await make_conference(http, organiser)
        scanner = await make_staff("scanner")
        [(_rid, token)] = await make_attendees(pool, SECRET_KEY, SLUG, 1)
        secret = await ticket(http, token)
        answers = await race(
            lambda body: http.post("/api/v1/checkin", json=body, headers=scanner.headers),
            secret,
        )
    assert [a["status"] for a in answers].count("ok") == 1
