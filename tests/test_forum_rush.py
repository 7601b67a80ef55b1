"""Forum sign-up when it opens and everyone clicks at once: no overbooking, no clash, order
kept — in one process and across two `tagung serve` processes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from tests.conftest import racing_app
from tests.forum_support import CONFERENCE_SLUG, make_attendees, make_forum
from tests.live_server import SECRET_KEY
from tests.registration_support import make_conference


async def check_no_overbooking(pool, forum_id: int, seats: int, attendees: int) -> None:
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT seats_taken FROM forums WHERE id = $1", forum_id) == seats
        rows = await db.fetch(
            "SELECT status, waitlist_position FROM forum_signups WHERE forum_id = $1", forum_id
        )
    assert [r["status"] for r in rows].count("confirmed") == seats
    waiting = sorted(r["waitlist_position"] for r in rows if r["status"] == "waitlisted")
    assert len(waiting) == len(set(waiting)) == attendees - seats


async def check_no_clash(pool, registration_id: int) -> None:
    async with pool.acquire() as db:
        held = await db.fetchval(
            "SELECT count(*) FROM forum_signups WHERE registration_id = $1 "
            "AND status = 'confirmed'",
            registration_id,
        )
    assert held == 1


async def rush(send, forum_id: int, people: list[tuple[int, str]]) -> list[dict]:
    responses = await asyncio.gather(
        *(send("PUT", f"/api/v1/registrations/{token}/forums/{forum_id}") for _, token in people)
    )
    assert all(r.status_code == 200 for r in responses), {r.status_code for r in responses}
    return [r.json() for r in responses]


async def one_person_everywhere(send, forum_ids: list[int], token: str) -> list[int]:
    requests = [
        send("PUT", f"/api/v1/registrations/{token}/forums/{forum_ids[i % len(forum_ids)]}")
        for i in range(50)
    ]
    return [r.status_code for r in await asyncio.gather(*requests)]


async def make_overlapping(client, organiser, count: int) -> list[int]:
    forums = []
    for i in range(count):
        forum = await make_forum(
            client,
            organiser,
            title=f"Parallel {i}",
            starts_at=f"2027-05-10T13:{i:02d}:00+02:00",
            ends_at="2027-05-10T15:00:00+02:00",
        )
        forums.append(forum["id"])
    return forums


async def test_rush_in_one_process(organiser, pool, settings):
    # All requests at once through one pool: they queue for a connection (no 503).
    unlimited = replace(settings, db_pool_size=30, rate_limits=False, db_connect_timeout=60)
    async with racing_app(unlimited) as client:
        await make_conference(client, organiser, capacity=1000)
        forum = await make_forum(client, organiser, capacity=25)
        people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 300)

        async def send(method: str, path: str) -> httpx.Response:
            return await client.request(method, path)

        answers = await rush(send, forum["id"], people)
        assert [a["status"] for a in answers].count("confirmed") == 25
        await check_no_overbooking(pool, forum["id"], 25, 300)

        overlapping = await make_overlapping(client, organiser, 10)
        [(registration_id, token)] = await make_attendees(
            pool, settings.secret_key, CONFERENCE_SLUG, 1, prefix="eilig"
        )
        statuses = await one_person_everywhere(send, overlapping, token)
        assert set(statuses) <= {200, 409} and 409 in statuses
        await check_no_clash(pool, registration_id)


@pytest.mark.usefixtures("two_process_server")
async def test_rush_across_two_processes(two_process_server, organiser, pool):
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=two_process_server, limits=limits, timeout=60) as http:
        await make_conference(http, organiser, capacity=1000)
        forum = await make_forum(http, organiser, capacity=25)
        people = await make_attendees(pool, SECRET_KEY, CONFERENCE_SLUG, 300)

        async def send(method: str, path: str) -> httpx.Response:
            return await http.request(method, path)

        answers = await rush(send, forum["id"], people)
        assert [a["status"] for a in answers].count("confirmed") == 25
        await check_no_overbooking(pool, forum["id"], 25, 300)

        overlapping = await make_overlapping(http, organiser, 10)
        [(registration_id, token)] = await make_attendees(
            pool, SECRET_KEY, CONFERENCE_SLUG, 1, prefix="eilig"
        )
        statuses = await one_person_everywhere(send, overlapping, token)
        assert set(statuses) <= {200, 409} and 409 in statuses
        await check_no_clash(pool, registration_id)
