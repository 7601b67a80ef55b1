"""One bad recipient must not stop all mail (issue 12, point 1), against a real PostgreSQL and a
real SMTP server (aiosmtpd) that hangs on, drops the connection for or answers 421 to one
recipient only.

Such a relay looks like an outage, and an outage is no message's fault: every row is given
back untried. The message in hand goes behind the rest instead of first in line again, and
once it has coincided with outages that came just after the server had dealt with other mail,
it uses up its attempts and ends 'failed'. A server that fails for everyone (tests at the end,
and tests/test_outbox.py, tests/test_faults_mail.py) still uses up nothing.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.db import create_pool
from service.migrate import migrate
from service.outbox import TEST_KIND, OutboxWorker, enqueue
from service.settings import parse_smtp_url
from tests.fault_support import eventually
from tests.smtp_server import DATA_421, DROP, HANG, REFUSE_421, SmtpServer, smtp_server

__all__ = ["smtp_server"]  # a fixture, imported for pytest

SENDER = "tagung <noreply@tagung.test>"
BAD = "slow-check@example.org"
MAX_ATTEMPTS = 2


@pytest.fixture(scope="module")
async def blame_url(create_database) -> str:
    # A database of its own: no other test's rows, no other process's worker.
    url = await create_database("tagung_outbox_blame")
    await migrate(url)
    return url


@pytest.fixture(scope="module")
async def blame_pool(blame_url: str):
    pool = await create_pool(blame_url, size=4)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def empty_outbox(blame_pool: asyncpg.Pool) -> None:
    await blame_pool.execute("TRUNCATE outbox RESTART IDENTITY")


def make_worker(pool: asyncpg.Pool, url: str, server: SmtpServer) -> OutboxWorker:
    """A 1 s SMTP timeout and back-off in tens of milliseconds instead of minutes."""
    return OutboxWorker(
        pool,
        smtp=parse_smtp_url(f"{server.url}?timeout=1"),
        sender=SENDER,
        database_url=url,
        poll_interval=0.1,
        backoff_base=0.05,
        backoff_cap=0.2,
        outage_cap=0.2,
        max_attempts=MAX_ATTEMPTS,
    )


async def add(pool: asyncpg.Pool, *recipients: str) -> list[int]:
    async with pool.acquire() as db, db.transaction():
        return [
            await enqueue(db, TEST_KIND, recipient=recipient, language="de")
            for recipient in recipients
        ]


async def row(pool: asyncpg.Pool, outbox_id: int) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT status, attempts, outage_strikes, last_error, next_attempt_at "
        "FROM outbox WHERE id = $1",
        outbox_id,
    )


def delivered_to(server: SmtpServer) -> list[str]:
    return [address for received in server.messages for address in received.rcpt_tos]


@pytest.mark.parametrize("trouble", [HANG, DROP, REFUSE_421, DATA_421])
async def test_one_bad_recipient_does_not_stop_the_others(
    blame_pool, blame_url, smtp_server, trouble
):
    smtp_server.trouble[BAD] = trouble
    [bad] = await add(blame_pool, BAD)  # first in line
    others = [f"person{i}@example.org" for i in range(5)]
    await add(blame_pool, *others)
    worker = make_worker(blame_pool, blame_url, smtp_server)
    running = asyncio.create_task(worker.run())
    try:
        # Every other mail goes out, though the bad one came first and is tried again.
        await smtp_server.wait_for(len(others), seconds=60)
        assert sorted(delivered_to(smtp_server)) == others

        # As mail keeps coming, the bad one uses up its attempts and is given up.
        for number in range(20):
            if (await row(blame_pool, bad))["status"] == "failed":
                break
            before = smtp_server.recipients_seen.count(BAD)
            await add(blame_pool, f"later{number}@example.org")
            await smtp_server.wait_for(len(others) + number + 1, seconds=60)

            async def tried_again(before: int = before) -> bool:
                if smtp_server.recipients_seen.count(BAD) > before:
                    return True
                return (await row(blame_pool, bad))["status"] == "failed"

            await eventually(tried_again, "the bad recipient tried again")
        await eventually(
            lambda: blame_pool.fetchval("SELECT status = 'failed' FROM outbox WHERE id = $1", bad),
            "the bad mail given up",
        )
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
    gone = await row(blame_pool, bad)
    assert (gone["status"], gone["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert gone["last_error"].startswith("SMTP unavailable")
    assert BAD not in delivered_to(smtp_server)
    statuses = await blame_pool.fetch("SELECT status FROM outbox WHERE id <> $1", bad)
    assert {r["status"] for r in statuses} == {"sent"}
    ids = smtp_server.message_ids()
    assert len(ids) == len(set(ids)) == len(statuses)  # each once


async def test_the_row_in_hand_at_an_outage_goes_behind_the_rest(
    blame_pool, blame_url, smtp_server
):
    smtp_server.trouble[BAD] = DATA_421
    [bad, *rest] = await add(blame_pool, BAD, "a@example.org", "b@example.org")
    worker = make_worker(blame_pool, blame_url, smtp_server)
    assert await worker.process_batch() == 3
    assert smtp_server.recipients_seen == [BAD]  # the outage broke the batch off
    rows = {r["id"]: r for r in await blame_pool.fetch("SELECT * FROM outbox")}
    # Nothing used up: a fresh worker has no sign yet that the server works for others …
    assert {(r["status"], r["attempts"]) for r in rows.values()} == {("pending", 0)}
    assert rows[bad]["outage_strikes"] == 0
    # … but the bad row is due after the others, so it cannot hold them up again.
    assert rows[bad]["next_attempt_at"] > max(rows[i]["next_attempt_at"] for i in rest)


async def test_a_batch_is_sent_in_the_order_its_rows_fell_due(blame_pool, blame_url, smtp_server):
    ids = await add(blame_pool, "first@example.org", "second@example.org", "third@example.org")
    # The last row fell due first (e.g. put back at an outage before the others were written).
    await blame_pool.execute(
        "UPDATE outbox SET next_attempt_at = now() - make_interval(secs => id) WHERE id = ANY($1)",
        ids,
    )
    worker = make_worker(blame_pool, blame_url, smtp_server)
    assert await worker.process_batch() == 3
    assert delivered_to(smtp_server) == [
        "third@example.org",
        "second@example.org",
        "first@example.org",
    ]


async def test_a_server_failing_for_everyone_uses_nothing_up(blame_pool, blame_url, smtp_server):
    """421 to every recipient (as a relay whose recipient check is down for everyone): no
    message is blamed, since the server has dealt with no other mail meanwhile."""
    recipients = [f"person{i}@example.org" for i in range(3)]
    for recipient in recipients:
        smtp_server.trouble[recipient] = REFUSE_421
    ids = await add(blame_pool, *recipients)
    worker = make_worker(blame_pool, blame_url, smtp_server)
    running = asyncio.create_task(worker.run())
    try:

        async def many_tries() -> bool:
            return len(smtp_server.recipients_seen) >= (MAX_ATTEMPTS + 2) * len(recipients)

        await eventually(many_tries, "repeated tries")
    finally:
        worker.stop()  # hands back what it holds: no claim in flight when the rows are read
        await asyncio.wait_for(running, 30)
    rows = await blame_pool.fetch(
        "SELECT status, attempts, outage_strikes FROM outbox WHERE id = ANY($1)", ids
    )
    assert {tuple(r) for r in rows} == {("pending", 0, 0)}

    smtp_server.trouble.clear()  # back for everyone: every mail arrives once
    await blame_pool.execute("UPDATE outbox SET next_attempt_at = now()")  # the pause is over
    assert await make_worker(blame_pool, blame_url, smtp_server).drain() == len(recipients)
    assert sorted(delivered_to(smtp_server)) == recipients
    statuses = await blame_pool.fetch("SELECT status FROM outbox")
    assert {r["status"] for r in statuses} == {"sent"}
