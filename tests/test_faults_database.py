"""PostgreSQL goes away under load and comes back (issue 8, point 1).

A PostgreSQL of the test's own (tests/fault_support.OwnPostgres, never the shared server) is
stopped twice while registrations, confirmations and door scans run against a real
`tagung serve --workers 2`: once politely (fast shutdown: queries in flight are cut off), once
as a crash (immediate). Meanwhile every request gets either its answer or 503 with Retry-After
and a readable problem (never a 500 or a stack trace); the clients retry a 503 unchanged (a scan
with its nonce), the app reconnects by itself, and afterwards every answer given is what the
database holds: each accepted registration once, each confirmation as answered, no place more
than the capacity, each ticket admitted once and each scan recorded once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service import tokens
from service.app import create_app
from service.db import create_pool
from service.migrate import migrate
from service.staff import create_staff, issue_token
from tests.conftest import PASSWORD, conference_payload
from tests.fault_support import (
    SCALE,
    SECRET_KEY,
    Caller,
    OwnPostgres,
    check_unavailable,
    eventually,
    new_database,
    serve,
    start_worker,
    until_reachable,
)
from tests.forum_support import make_attendees
from tests.registration_support import SLUG, registration_payload
from tests.smtp_server import SmtpServer

TICKETS = 30 * SCALE  # confirmed before the load; scanned at three doors during it
NEWCOMERS = 45 * SCALE  # register and confirm during the load: a third get the places left
DOORS = 3


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    yield server
    server.close()


@pytest.fixture
async def own_database(own_postgres: OwnPostgres) -> str:
    url = await new_database(own_postgres.url(), "tagung_faults")
    await migrate(url)
    return url


@pytest.fixture
async def own_pool(own_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_database, size=4)  # lazy: it survives the restarts
    yield pool
    await pool.close()


async def test_unreachable_database_answers_503_with_retry_after(settings):
    """In-process and quick: the shapes of the answer, in both languages."""
    unreachable = replace(
        settings, database_url="postgresql://postgres@127.0.0.1:9/none", db_connect_timeout=1.0
    )
    async with AsyncTestClient(app=create_app(unreachable)) as client:
        api = await client.post(
            f"/api/v1/conferences/{SLUG}/registrations",
            json=registration_payload(),
            headers={"Accept-Language": "en"},
        )
        check_unavailable(api, api=True)
        assert "try again" in api.json()["detail"]
        check_unavailable(await client.get("/health"), api=True)
        page = await client.get(f"/conferences/{SLUG}", headers={"Accept-Language": "de"})
        check_unavailable(page, api=False)
        assert "Die Datenbank ist gerade nicht erreichbar" in page.text


async def test_database_restarts_under_load(own_postgres, own_database, own_pool, tmp_path):
    async with own_pool.acquire() as db:
        await create_staff(db, "orga@example.org", "organiser", PASSWORD)
        organiser = await issue_token(db, "orga@example.org")
        doors = []
        for door in range(DOORS):
            await create_staff(db, f"door{door}@example.org", "scanner", PASSWORD)
            doors.append(await issue_token(db, f"door{door}@example.org", f"door {door}"))

    mailbox = SmtpServer()
    mailbox.start()
    mailer = start_worker(own_database, mailbox.url, tmp_path, "worker")
    try:
        with serve(own_database, tmp_path, workers=2, DB_POOL_SIZE="8") as app:
            limits = httpx.Limits(max_connections=40)
            async with httpx.AsyncClient(base_url=app.url, timeout=30, limits=limits) as http:
                created = await http.post(
                    "/api/v1/conferences",
                    json=conference_payload(capacity=TICKETS + NEWCOMERS // 3),
                    headers={"Authorization": f"Bearer {organiser}"},
                )
                assert created.status_code == 201, created.text
                await make_attendees(own_pool, SECRET_KEY, SLUG, TICKETS)
                secrets = await _ticket_secrets(own_pool)
                outcome = await _load_with_restarts(http, own_postgres, own_pool, doors, secrets)
                # Reconnected: the app answers as before.
                assert (await http.get("/health")).status_code == 200
            log = app.output()
        # The mail worker reconnects too, and settles the batch the outage broke off. Only
        # a claim whose answer was lost with the connection leaves rows leased to nobody
        # until the lease ends (5 minutes; here made to pass at once). Then every mail has
        # gone out, a repeat (if any) only with its Message-ID.
        await own_pool.execute(
            "UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'; "
            "NOTIFY tagung_outbox"
        )
        await eventually(
            lambda: own_pool.fetchval("SELECT bool_and(status <> 'pending') FROM outbox"),
            "every mail handled after the outages",
            seconds=60 * SCALE,
        )
        await asyncio.sleep(0.3)
    finally:
        mailer.kill_group()
        mailbox.stop()
    # (A confirmation link whose registration was confirmed before it was sent is skipped.)
    mails = await own_pool.fetch("SELECT status, message_id FROM outbox")
    assert {m["status"] for m in mails} <= {"sent", "skipped"}
    copies = Counter(mailbox.message_ids())
    assert {m["message_id"] for m in mails if m["status"] == "sent"} <= set(copies)
    assert set(copies) <= {m["message_id"] for m in mails}
    assert sum(copies.values()) - len(copies) <= 2  # at most one repeat per outage

    registered, confirmed, admitted, scanned, callers, probes = outcome
    assert probes == 2  # both outages were seen from outside
    assert sum(c.unavailable for c in callers) > 0, "the load never met the outage"
    assert "unhandled error" not in log and "Traceback" not in log, log[-4000:]

    async with own_pool.acquire() as db:
        rows = await db.fetch(
            "SELECT email, status FROM registrations r JOIN conferences c "
            "ON c.id = r.conference_id WHERE c.slug = $1",
            SLUG,
        )
        seats = await db.fetchrow("SELECT capacity, seats_taken FROM conferences")
        positions = await db.fetchval(
            "SELECT count(DISTINCT waitlist_position) = count(*) FROM registrations "
            "WHERE status = 'waitlisted'"
        )
        inside = {r["id"] for r in await db.fetch("SELECT id FROM registrations WHERE inside")}
        scans = await db.fetch("SELECT device, nonce, status, registration_id FROM scans")

    # Every accepted registration is there, once; every confirmation as it was answered.
    per_email = Counter(r["email"] for r in rows)
    assert all(per_email[email] == 1 for email in registered), per_email.most_common(3)
    assert len(registered) == NEWCOMERS
    status_of = {r["email"]: r["status"] for r in rows}
    assert {email: status_of[email] for email in confirmed} == confirmed
    assert len(confirmed) == NEWCOMERS
    holders = sum(1 for r in rows if r["status"] == "confirmed")
    assert holders == seats["seats_taken"] == seats["capacity"]  # full, never more
    assert Counter(confirmed.values()) == {
        "confirmed": NEWCOMERS // 3,
        "waitlisted": NEWCOMERS - NEWCOMERS // 3,
    }
    assert positions

    # Every ticket admitted exactly once, at whichever door came first; each scan that was
    # answered is recorded once (UNIQUE (device, nonce)), and the answers match the records.
    assert len(scanned) == TICKETS * DOORS
    assert sorted(admitted) == sorted(secrets.values())
    assert inside == set(secrets)
    recorded = {(s["device"], s["nonce"]): s["status"] for s in scans}
    assert len(recorded) == len(scans) == TICKETS * DOORS
    assert Counter(recorded.values()) == {"ok": TICKETS, "error": TICKETS * (DOORS - 1)}
    by_nonce = {nonce: status for (_device, nonce), status in recorded.items()}
    assert {nonce: by_nonce[nonce] for nonce in scanned} == scanned


async def _ticket_secrets(pool: asyncpg.Pool) -> dict[int, str]:
    key = tokens.key_from_secret(SECRET_KEY)
    rows = await pool.fetch("SELECT id, ticket_salt FROM registrations")
    return {r["id"]: tokens.derive(key, "ticket", r["ticket_salt"]) for r in rows}


async def _load_with_restarts(http, postgres, pool, doors, secrets):
    total = NEWCOMERS * 2 + TICKETS * DOORS
    done = 0
    # The two outages begin once a fifth, then a little over half of the work is done.
    outages = [(0.2, "fast", 1.0, asyncio.Event()), (0.55, "immediate", 0.5, asyncio.Event())]

    def progress() -> None:
        nonlocal done
        done += 1
        for share, _mode, _down_for, due in outages:
            if done >= total * share:
                due.set()

    registered: set[str] = set()
    confirmed: dict[str, str] = {}
    admitted: list[str] = []  # the secrets of the scans answered "ok"
    scanned: dict[str, str] = {}  # nonce -> the status it was answered with
    callers: list[Caller] = []
    key = tokens.key_from_secret(SECRET_KEY)

    async def newcomers(people: list[int]) -> None:
        caller = Caller(http)
        callers.append(caller)
        for i in people:
            email = f"newcomer{i}@example.org"
            body = registration_payload(email=email, name=f"Neu {i}", language="en")
            answer = await caller.send(
                "POST", f"/api/v1/conferences/{SLUG}/registrations", json=body
            )
            assert answer.status_code == 202, answer.text
            registered.add(email)
            progress()
            salt = await until_reachable(
                lambda email=email: pool.fetchval(
                    "SELECT confirm_salt FROM registrations WHERE email = $1", email
                )
            )
            token = tokens.derive(key, "confirm", salt)
            answer = await caller.send(
                "POST", "/api/v1/registrations/confirm", json={"token": token}
            )
            assert answer.status_code == 200, answer.text
            confirmed[email] = answer.json()["status"]
            progress()
            await asyncio.sleep(0.02)

    async def door(number: int, token: str, order: list[int]) -> None:
        caller = Caller(http)
        callers.append(caller)
        for registration_id in order:
            nonce = f"door{number}-{registration_id}"
            body = {
                "conference": SLUG,
                "secret": secrets[registration_id],
                "gate": f"Tor {number}",
                "nonce": nonce,
            }
            answer = await caller.send(
                "POST", "/api/v1/checkin", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
            decision = answer.json()
            scanned[nonce] = decision["status"]
            if decision["status"] == "ok":
                admitted.append(secrets[registration_id])
            else:
                assert decision["reason"] == "already_checked_in", decision
            progress()
            await asyncio.sleep(0.02)

    probes = 0

    async def restarts() -> None:
        nonlocal probes
        for _share, mode, down_for, due in outages:
            await due.wait()
            await asyncio.to_thread(postgres.stop, mode)
            # From outside, during the outage: the API, /health and a page for people.
            check_unavailable(await http.get(f"/api/v1/conferences/{SLUG}"), api=True)
            check_unavailable(await http.get("/health"), api=True)
            page = await http.get(f"/conferences/{SLUG}", headers={"Accept-Language": "de"})
            check_unavailable(page, api=False)
            assert "Die Datenbank ist gerade nicht erreichbar" in page.text
            probes += 1
            await asyncio.sleep(down_for)
            await asyncio.to_thread(postgres.start)

    people = list(range(NEWCOMERS))
    rng = random.Random(8)
    tasks = [newcomers(people[n::6]) for n in range(6)]
    for number, token in enumerate(doors):
        order = list(secrets)
        rng.shuffle(order)
        tasks += [door(number, token, order[half::2]) for half in (0, 1)]
    tasks.append(restarts())
    await asyncio.wait_for(asyncio.gather(*tasks), 300 * SCALE)  # only bounds a failure
    return registered, confirmed, admitted, scanned, callers, probes
