"""The e-mail outbox when things fail (issue 8, points 2 and 4): the SMTP server away for a
while, a `tagung worker` process killed in the middle of a batch, and one stopped with SIGTERM.

Delivery is at least once: a mail is marked sent only after the SMTP server has accepted it, so
a worker that dies between the server's "250" and that mark sends it again once its lease has
run out. The repeat carries the same Message-ID (fixed per outbox row at its first claim), by
which the recipient's server or mail program can drop it. These tests check both halves: no
mail is lost, and the only repeats are of the message in hand at the moment of the crash, with
the Message-ID of the first copy. (The outage during a batch and the lease of a worker that
died in-process are in tests/test_outbox.py.)
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import asyncpg
import pytest

from service.db import create_pool
from service.migrate import migrate
from service.outbox import STOP_GRACE, TEST_KIND, OutboxWorker, enqueue
from service.settings import parse_smtp_url
from tests.fault_support import (
    SENDER,
    SlowSmtpServer,
    eventually,
    start_worker,
    wait_started,
)
from tests.smtp_server import SmtpServer, smtp_server

__all__ = ["smtp_server"]  # a fixture, imported for pytest

SUBJECT = "tagung: Test-E-Mail"
MARK_SENT = "%UPDATE outbox SET status = ''sent''%"  # the worker's statement, for LIKE
TEXT = "Diese Nachricht prüft den E-Mail-Versand von tagung."


@pytest.fixture(scope="module")
async def mail_url(create_database) -> str:
    # A database of its own: no other test's rows, no other process's worker.
    url = await create_database("tagung_faults_mail")
    await migrate(url)
    return url


@pytest.fixture(scope="module")
async def mail_pool(mail_url: str):
    pool = await create_pool(mail_url, size=4)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def empty_outbox(mail_pool: asyncpg.Pool) -> None:
    await mail_pool.execute("TRUNCATE outbox RESTART IDENTITY")


async def add(pool: asyncpg.Pool, count: int) -> list[int]:
    async with pool.acquire() as db, db.transaction():
        return [
            await enqueue(db, TEST_KIND, recipient=f"person{i}@example.org", language="de")
            for i in range(count)
        ]


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, status, attempts, message_id, next_attempt_at <= now() AS due "
        "FROM outbox ORDER BY id"
    )


async def expire_leases(pool: asyncpg.Pool) -> None:
    """What the passing of the lease (5 minutes) would do, now; and a NOTIFY to wake."""
    await pool.execute(
        "UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'; NOTIFY tagung_outbox"
    )


def complete(server: SmtpServer) -> None:
    """Every message the server holds is whole: headers, and the text to its end."""
    for received in server.messages:
        assert received.message["Subject"] == SUBJECT
        for kind, end in (("plain", TEXT), ("html", f"<p>{TEXT}</p>")):
            assert received.message.get_body((kind,)).get_content().rstrip().endswith(end)


async def test_smtp_down_from_the_start_then_back(mail_pool, mail_url, smtp_server):
    """The server is away before the first try and mail keeps coming meanwhile: nothing is
    used up or dropped, and when it is back each mail arrives once."""
    smtp_server.stop()
    await add(mail_pool, 5)
    worker = OutboxWorker(
        mail_pool,
        smtp=parse_smtp_url(f"{smtp_server.url}?timeout=5"),
        sender=SENDER,
        database_url=mail_url,
        poll_interval=0.1,
        backoff_base=0.05,
        outage_cap=0.3,
    )
    running = asyncio.create_task(worker.run())
    try:

        async def all_waiting() -> bool:
            rows = await mail_pool.fetch("SELECT attempts, last_error FROM outbox")
            return all(
                r["last_error"] and r["last_error"].startswith("SMTP unavailable") for r in rows
            )

        await eventually(all_waiting, "the outage noticed")
        await add(mail_pool, 5)  # new mail during the outage (its NOTIFY wakes the worker)
        await eventually(all_waiting, "the new mail tried against the closed port")
        rows: list[asyncpg.Record] = []

        async def between_tries() -> bool:
            # Read while no claim is in flight: a claimed row counts one attempt (and is
            # leased for minutes) until the failed connection hands it back a moment later.
            nonlocal rows
            rows = await mail_pool.fetch(
                "SELECT status, attempts, next_attempt_at > now() + interval '1 minute' "
                "AS leased FROM outbox ORDER BY id"
            )
            return not any(r["leased"] for r in rows)

        await eventually(between_tries, "the worker between two tries")
        assert [(r["status"], r["attempts"]) for r in rows] == [("pending", 0)] * 10
        await asyncio.to_thread(smtp_server.start)
        await smtp_server.wait_for(10)
        await eventually(
            lambda: mail_pool.fetchval("SELECT bool_and(status = 'sent') FROM outbox"),
            "every row marked sent",
        )
        await asyncio.sleep(0.3)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
    ids = smtp_server.message_ids()
    assert len(ids) == 10 and set(ids) == {r["message_id"] for r in await outbox(mail_pool)}


async def test_a_killed_worker_loses_no_mail_and_repeats_with_the_same_message_id(
    mail_pool, mail_url, tmp_path
):
    server = SlowSmtpServer(delay=0.3)
    server.start()
    ids = await add(mail_pool, 8)
    workers = []
    holder = await asyncpg.connect(mail_url)
    try:
        # 1. The first worker claims all eight (one batch) and sends them one by one.
        workers.append(start_worker(mail_url, server.url, tmp_path, "worker-1"))

        async def all_claimed() -> bool:
            return await mail_pool.fetchval("SELECT bool_and(attempts = 1) FROM outbox")

        await eventually(all_claimed, "the batch claimed")
        first_ids = {r["id"]: r["message_id"] for r in await outbox(mail_pool)}
        # The next worker gets ready meanwhile; it finds nothing due.
        since = await mail_pool.fetchval("SELECT clock_timestamp()")  # before its connections
        workers.append(start_worker(mail_url, server.url, tmp_path, "worker-2"))
        # Hold the third row: the worker cannot mark it sent after the server accepted it,
        # and is killed right there, in the window SMTP gives no way to close.
        hold = holder.transaction()
        await hold.start()
        await holder.execute("SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", ids[2])
        await server.wait_for(3)

        async def marking_blocked() -> bool:
            return bool(
                await mail_pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    f"AND wait_event_type = 'Lock' AND query LIKE '{MARK_SENT}'"
                )
            )

        await eventually(marking_blocked, "the worker marking the third mail sent")
        workers[0].kill_group()  # SIGKILL
        # Its UPDATE was already sent and would still commit once the lock is free; a kill a
        # moment earlier would have kept it from PostgreSQL altogether, which is the case here.
        await mail_pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = current_database() AND query LIKE '{MARK_SENT}' "
            "AND pid <> pg_backend_pid()"
        )
        await hold.rollback()
        rows = await outbox(mail_pool)
        assert [r["status"] for r in rows] == ["sent"] * 2 + ["pending"] * 6
        assert not any(r["due"] for r in rows)  # leased to the dead worker

        # 2. The second worker leaves the dead one's rows alone while the lease lasts …
        await wait_started(workers[1:])

        async def second_worker_looked() -> bool:
            # Its claim has run (and found nothing due): the connection it ran on is idle.
            return await mail_pool.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_start > $1 AND state = 'idle' AND query LIKE '%UPDATE outbox AS o%'",
                since,
            )

        await eventually(second_worker_looked, "the second worker looking for due mail")
        assert len(server.messages) == 3
        # … and takes them once it has run out. Killed too, this time while the server is
        # busy with its third message (after the data, before the answer).
        await expire_leases(mail_pool)
        await eventually(
            lambda: mail_pool.fetchval("SELECT bool_and(attempts = 2) FROM outbox WHERE id > 2"),
            "the rest claimed again",
        )
        workers.append(start_worker(mail_url, server.url, tmp_path, "worker-3"))
        await server.wait_begun(6)
        workers[1].kill_group()

        # 3. The third worker finishes the job.
        await wait_started(workers[2:])
        await expire_leases(mail_pool)
        await eventually(
            lambda: mail_pool.fetchval("SELECT bool_and(status = 'sent') FROM outbox"),
            "every row marked sent",
            seconds=30,
        )
        await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        await holder.close()
        for worker in workers:
            worker.kill_group()
        server.stop()

    rows = await outbox(mail_pool)
    # The Message-ID of each row never changed from its first claim on …
    assert {r["id"]: r["message_id"] for r in rows} == first_ids
    # … every mail arrived, each received copy is a whole message with its row's Message-ID,
    # and the repeats are the third mail (accepted, not marked) and at most the one the second
    # worker had at the server when it was killed.
    copies = Counter(server.message_ids())
    assert set(copies) == set(first_ids.values())
    repeated = {mid: n for mid, n in copies.items() if n > 1}
    assert repeated.get(first_ids[ids[2]]) == 2, copies
    assert len(repeated) <= 2 and max(repeated.values()) == 2, copies
    complete(server)


async def test_sigterm_lets_the_worker_finish_the_mail_in_hand(mail_pool, mail_url, tmp_path):
    server = SlowSmtpServer(delay=0.5)
    server.start()
    await add(mail_pool, 6)
    worker = start_worker(mail_url, server.url, tmp_path, "worker")
    try:
        await server.wait_begun(2)  # the second mail is at the server, its answer pending
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        assert await asyncio.to_thread(worker.wait, 10) == 0, worker.output()
        assert time.monotonic() - started < STOP_GRACE
    finally:
        worker.kill_group()
    assert "outbox worker stopped" in worker.output()
    rows = await outbox(mail_pool)
    # The mail in hand went out whole and is marked; the rest is handed back untried, due now
    # for any other worker (not leased to the one that left).
    assert [r["status"] for r in rows] == ["sent"] * 2 + ["pending"] * 4
    assert all(r["attempts"] == 0 and r["due"] for r in rows[2:])
    assert server.message_ids() == [r["message_id"] for r in rows[:2]]

    # Any other worker takes them at once.
    other = OutboxWorker(
        mail_pool, smtp=parse_smtp_url(server.url), sender=SENDER, database_url=mail_url
    )
    server.delay = 0
    try:
        assert await other.drain() == 4
    finally:
        server.stop()
    ids = server.message_ids()
    assert len(ids) == 6 and len(set(ids)) == 6
    complete(server)


async def test_sigterm_does_not_wait_for_a_hung_smtp_server(mail_pool, mail_url, tmp_path):
    server = SlowSmtpServer(delay=0)
    server.start()
    server.stall_after(1)  # the second mail never gets an answer
    await add(mail_pool, 3)
    worker = start_worker(mail_url, server.url, tmp_path, "worker")
    try:
        await server.wait_begun(2)
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        assert await asyncio.to_thread(worker.wait, 15) == 0, worker.output()
        assert time.monotonic() - started < STOP_GRACE + 3
    finally:
        worker.kill_group()
        server.stop()
    rows = await outbox(mail_pool)
    # The hung mail was never accepted (the connection was cut): it and the rest of the batch
    # are handed back, due at once, not leased to the worker that left.
    assert rows[0]["status"] == "sent" and len(server.messages) == 1
    assert [(r["status"], r["attempts"], r["due"]) for r in rows[1:]] == [("pending", 0, True)] * 2


async def test_a_lost_database_connection_mid_batch_repeats_nothing(mail_pool, mail_url):
    """The connection goes (as at a PostgreSQL restart) while the server is busy with a mail:
    once the database answers again, the worker marks that mail sent instead of sending it a
    second time, and hands the rest of the batch back instead of leaving it leased."""
    server = SlowSmtpServer(delay=0.4)
    server.start()
    await add(mail_pool, 5)
    own = await create_pool(mail_url, size=1)  # one connection, so we know which it is
    backend = await own.fetchval("SELECT pg_backend_pid()")
    worker = OutboxWorker(
        own,
        smtp=parse_smtp_url(server.url),
        sender=SENDER,
        database_url=mail_url,
        poll_interval=0.2,
    )
    running = asyncio.create_task(worker.run())
    try:
        await server.wait_begun(2)
        await mail_pool.execute("SELECT pg_terminate_backend($1)", backend)
        await server.wait_for(5)
        await eventually(
            lambda: mail_pool.fetchval("SELECT bool_and(status = 'sent') FROM outbox"),
            "every row marked sent",
        )
        await asyncio.sleep(0.3)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
        await own.close()
        server.stop()
    ids = server.message_ids()
    assert len(ids) == 5 and set(ids) == {r["message_id"] for r in await outbox(mail_pool)}
    assert [r["attempts"] for r in await outbox(mail_pool)] == [1] * 5
