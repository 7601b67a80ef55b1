"""Several processes on one database, and stopping them (issue 8, points 3 and 4).

- Two web processes (`tagung serve --workers 2 --no-worker`) and two `tagung worker`
  processes under one load: registrations past the capacity confirmed from the links in the
  e-mails the workers deliver, tickets scanned at many doors at once. No place is given twice,
  no one is admitted twice, no mail is sent twice or lost. (One ticket scanned 60 times across
  two processes is in tests/test_checkin.py, the forum rush in tests/test_forum_rush.py, three
  `tagung worker` processes on one outbox in tests/test_outbox.py.)
- SIGTERM to `tagung serve` lets a request in flight finish with its answer.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import time
from collections import Counter

import asyncpg
import httpx
import pytest

from service import tokens
from service.db import create_pool
from service.migrate import migrate
from service.staff import create_staff, issue_token
from tests.conftest import PASSWORD, conference_payload, empty_all_tables
from tests.fault_support import (
    SCALE,
    SECRET_KEY,
    Caller,
    eventually,
    serve,
    start_worker,
    wait_started,
)
from tests.registration_support import SLUG, registration_payload
from tests.smtp_server import SmtpServer

CAPACITY = 20 * SCALE
PEOPLE = 60 * SCALE
DOORS = 5
CONFIRM_LINK = re.compile(r"/confirm/([A-Za-z0-9]{26})")


@pytest.fixture(scope="module")
async def procs_url(create_database) -> str:
    url = await create_database("tagung_faults_procs")
    await migrate(url)
    return url


@pytest.fixture(scope="module")
async def procs_pool(procs_url: str):
    pool = await create_pool(procs_url, size=4)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def empty_tables(procs_pool: asyncpg.Pool) -> None:
    async with procs_pool.acquire() as db:
        await empty_all_tables(db)


async def staff_token(pool: asyncpg.Pool, email: str, role: str) -> dict[str, str]:
    async with pool.acquire() as db:
        await create_staff(db, email, role, PASSWORD)
        return {"Authorization": f"Bearer {await issue_token(db, email, email)}"}


async def test_sigterm_to_serve_lets_a_request_in_flight_finish(procs_pool, procs_url, tmp_path):
    """With the web processes' own mail workers, as `make run` and small sites run it."""
    organiser = await staff_token(procs_pool, "orga@example.org", "organiser")
    key = tokens.key_from_secret(SECRET_KEY)
    holder = await asyncpg.connect(procs_url)
    mailbox = SmtpServer()
    mailbox.start()
    try:
        with serve(procs_url, tmp_path, workers=2, no_worker=False, SMTP_URL=mailbox.url) as app:
            async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
                created = await http.post(
                    "/api/v1/conferences", json=conference_payload(), headers=organiser
                )
                assert created.status_code == 201, created.text
                registered = await http.post(
                    f"/api/v1/conferences/{SLUG}/registrations", json=registration_payload()
                )
                assert registered.status_code == 202, registered.text
                # The link is out before anything stops (on a busy machine the web processes'
                # workers may not have sent it yet, and a stopping worker hands it back).
                await mailbox.wait_for(1, seconds=60)
                salt = await procs_pool.fetchval("SELECT confirm_salt FROM registrations")
                token = tokens.derive(key, "confirm", salt)

                # A slow request: the confirmation waits for the conference row, held here.
                hold = holder.transaction()
                await hold.start()
                await holder.execute("SELECT 1 FROM conferences FOR UPDATE")
                confirming = asyncio.create_task(
                    http.post("/api/v1/registrations/confirm", json={"token": token})
                )

                async def waiting() -> bool:
                    return bool(
                        await procs_pool.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND datname = current_database() "
                            "AND $1 = ANY(pg_blocking_pids(pid))",
                            holder.get_server_pid(),
                        )
                    )

                await eventually(waiting, "the confirmation waiting for the conference row")
                app.signal(signal.SIGTERM)
                stopping = time.monotonic()

                async def stopping_around_it() -> bool:
                    # Granian's main process has taken the signal and is stopping its web
                    # processes; the request is still going. (Not "outbox worker stopped": the
                    # process holding the request may be the only one whose shutdown waits.)
                    return "Shutting down granian" in app.output()

                await eventually(stopping_around_it, "the server stopping around the request")
                assert not confirming.done()
                await hold.rollback()
                answer = await confirming
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == "confirmed"
                assert await asyncio.to_thread(app.wait, 10) == 0, app.output()[-3000:]
                assert time.monotonic() - stopping < 10
                log = app.output()
    finally:
        await holder.close()
        mailbox.stop()
    assert await procs_pool.fetchval("SELECT status FROM registrations") == "confirmed"
    # Both web processes ran their shutdown: the mail workers stopped, no row left leased
    # (the ticket mail the confirmation caused is sent, or waits for the next worker).
    assert log.count("outbox worker stopped") == 2, log[-3000:]
    # Not asserted: that Granian never reports a web process that "refused to gracefully stop"
    # within its 8 s. On a machine running two whole test suites at once it did so once after
    # both mail workers had stopped and the request had been answered (the whole server still
    # stopped within 10 s); what the signal must not lose is asserted above and below.
    rows = await procs_pool.fetch("SELECT status, next_attempt_at <= now() AS due FROM outbox")
    assert len(rows) == 2 and all(r["status"] == "sent" or r["due"] for r in rows), rows
    received = mailbox.message_ids()
    assert 1 <= len(received) == len(set(received)) <= 2


async def test_two_web_and_two_mail_processes_under_load(procs_pool, procs_url, tmp_path):
    organiser = await staff_token(procs_pool, "orga@example.org", "organiser")
    doors = [await staff_token(procs_pool, f"door{n}@example.org", "scanner") for n in range(DOORS)]
    mailbox = SmtpServer()
    mailbox.start()
    workers = [start_worker(procs_url, mailbox.url, tmp_path, f"worker-{n}") for n in (1, 2)]
    try:
        with serve(procs_url, tmp_path, workers=2) as app:
            await wait_started(workers)
            limits = httpx.Limits(max_connections=40)
            async with httpx.AsyncClient(base_url=app.url, timeout=60, limits=limits) as http:
                caller = Caller(http)  # a 503 would be retried (and checked); none expected
                created = await caller.send(
                    "POST",
                    "/api/v1/conferences",
                    json=conference_payload(capacity=CAPACITY),
                    headers=organiser,
                )
                assert created.status_code == 201, created.text
                emails = [f"person{n}@example.org" for n in range(PEOPLE)]
                tickets = await _rush(http, caller, mailbox, emails, doors)
            assert "unhandled error" not in app.output()
        # Every mail the load caused goes out once, whichever worker took it.
        await eventually(
            lambda: procs_pool.fetchval("SELECT bool_and(status = 'sent') FROM outbox"),
            "every mail sent",
            seconds=60 * SCALE,
        )
        await asyncio.sleep(0.3)
    finally:
        for worker in workers:
            worker.kill_group()
        mailbox.stop()

    rows = await procs_pool.fetch("SELECT message_id, recipient FROM outbox")
    assert len(rows) == 2 * PEOPLE  # the link, then the ticket or the waiting-list place
    received = mailbox.message_ids()
    assert len(received) == len(set(received)) == len(rows)
    assert set(received) == {r["message_id"] for r in rows}
    assert Counter(r["recipient"] for r in rows) == Counter({e: 2 for e in emails})

    counts = await procs_pool.fetchrow(
        "SELECT (SELECT seats_taken FROM conferences) AS seats,"
        " (SELECT count(*) FROM registrations WHERE status = 'confirmed') AS confirmed,"
        " (SELECT count(*) FROM registrations WHERE status = 'waitlisted') AS waitlisted,"
        " (SELECT count(DISTINCT waitlist_position) FROM registrations) AS positions,"
        " (SELECT count(*) FROM registrations WHERE inside) AS inside,"
        " (SELECT count(*) FROM scans WHERE status = 'ok') AS admitted,"
        " (SELECT count(*) FROM scans) AS scans"
    )
    assert dict(counts) == {
        "seats": CAPACITY,
        "confirmed": CAPACITY,
        "waitlisted": PEOPLE - CAPACITY,
        "positions": PEOPLE - CAPACITY,
        "inside": CAPACITY,
        "admitted": CAPACITY,
        "scans": CAPACITY * DOORS,
    }
    assert len(tickets) == CAPACITY


async def _rush(http, caller, mailbox, emails, doors) -> list[str]:
    """Everyone registers at once; everyone confirms from the link in their e-mail, twice at
    once (two tabs); then every door scans every ticket at the same moment."""
    registered = await asyncio.gather(
        *(
            caller.send(
                "POST",
                f"/api/v1/conferences/{SLUG}/registrations",
                json=registration_payload(email=email, name=email.split("@")[0]),
            )
            for email in emails
        )
    )
    assert all(r.status_code == 202 for r in registered)
    links = {}
    for received in await mailbox.wait_for(len(emails), seconds=60 * SCALE):
        [recipient] = received.rcpt_tos
        body = received.message.get_body(("plain",)).get_content()
        [token] = CONFIRM_LINK.findall(body)
        assert recipient not in links, f"two confirmation mails for {recipient}"
        links[recipient] = token
    assert set(links) == set(emails)

    async def confirm(token: str):
        return await caller.send("POST", "/api/v1/registrations/confirm", json={"token": token})

    tabs = [token for token in links.values() for _tab in (1, 2)]
    random.Random(3).shuffle(tabs)
    answers = await asyncio.gather(*(confirm(token) for token in tabs))
    decided: dict[str, dict] = {}
    for token, answer in zip(tabs, answers, strict=True):
        assert answer.status_code == 200, answer.text
        assert decided.setdefault(token, answer.json()) == answer.json()  # both tabs agree
    statuses = Counter(d["status"] for d in decided.values())
    assert statuses == {"confirmed": CAPACITY, "waitlisted": PEOPLE - CAPACITY}

    holders = [d["manage_token"] for d in decided.values() if d["status"] == "confirmed"]
    tickets = [
        (await caller.send("GET", f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]
        for manage in holders
    ]
    scans = [
        (door, {"conference": SLUG, "secret": secret, "gate": f"Tor {n}", "nonce": secret})
        for n, door in enumerate(doors)
        for secret in tickets
    ]
    random.Random(4).shuffle(scans)
    decisions = await asyncio.gather(
        *(caller.send("POST", "/api/v1/checkin", json=body, headers=door) for door, body in scans)
    )
    admitted = Counter(
        body["secret"]
        for (_door, body), answer in zip(scans, decisions, strict=True)
        if answer.json()["status"] == "ok"
    )
    assert admitted == Counter({secret: 1 for secret in tickets})
    refused = {a.json()["reason"] for a in decisions if a.json()["status"] != "ok"}
    assert refused == {"already_checked_in"}
    return tickets
