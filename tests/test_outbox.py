"""The e-mail outbox against a real PostgreSQL and a real SMTP server (aiosmtpd).

These tests use a database of their own: a `tagung serve` that another module starts (the
browser tests' live server) runs an e-mail worker on the shared test database, and it would
claim the rows these tests count.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import create_pool
from service.mail import compose, find_part
from service.migrate import migrate
from service.outbox import TEST_KIND, OutboxMessage, OutboxWorker, enqueue, register_renderer
from service.settings import PROJECT_ROOT, Settings, parse_smtp_url
from tests.fault_support import eventually
from tests.smtp_server import SmtpServer, smtp_server

__all__ = ["smtp_server"]  # a fixture, imported for pytest

SENDER = "tagung <noreply@tagung.test>"
MESSAGE_ID = re.compile(r"^<outbox\.[0-9a-f]{32}@tagung\.test>$")
QR_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
ICS = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:Fachtag \xc3\x9cbersicht\r\nEND:VCALENDAR\r\n"


@pytest.fixture(scope="module")
async def outbox_url(create_database) -> str:
    url = await create_database("tagung_outbox")
    await migrate(url)
    return url


@pytest.fixture(scope="module")
async def db_pool(outbox_url: str):
    pool = await create_pool(outbox_url, size=10)  # with the app's jsonb codec
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def empty_outbox(db_pool: asyncpg.Pool) -> None:
    await db_pool.execute("TRUNCATE outbox RESTART IDENTITY")


def make_worker(pool, url, server: SmtpServer, **tuning) -> OutboxWorker:
    """Fast retries: back-off in tens of milliseconds instead of minutes."""
    fast = {"poll_interval": 0.1, "backoff_base": 0.05, "backoff_cap": 0.2, "outage_cap": 0.2}
    return OutboxWorker(
        pool,
        smtp=parse_smtp_url(f"{server.url}?timeout=5"),
        sender=SENDER,
        database_url=url,
        **{**fast, **tuning},
    )


async def add(pool: asyncpg.Pool, kind: str, count: int = 1, **fields) -> list[int]:
    fields = {"recipient": "ada@example.org", "language": "de", **fields}
    async with pool.acquire() as db, db.transaction():
        return [await enqueue(db, kind, **fields) for _ in range(count)]


async def rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM outbox ORDER BY id")


# -- renderers the tests register, as a domain would -------------------------------------


async def render_full(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage:
    assert await db.fetchval("SELECT 1") == 1  # a usable connection
    name = message.payload["name"]
    german = message.language == "de"
    subject = ("Ihre Anmeldung, " if german else "Your registration, ") + name
    return compose(
        to_name=name,
        to_email=message.recipient,
        subject=subject,
        text=f"Hallo {name}, Vorgang {message.ref_id}",
        html='<p>Hallo</p><img src="cid:qr@tagung.test" alt="QR">',
        message_id=message.message_id,
        language=message.language,
        inline_images=[("qr@tagung.test", QR_PNG, "png")],
        attachments=[
            ("einladung.ics", ICS, "text/calendar", {"method": "REQUEST", "charset": "utf-8"})
        ],
    )


register_renderer("test.full", render_full)


async def render_plain(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage:
    return compose(
        to_name="",
        to_email=message.recipient,
        subject=f"#{message.id}",
        text="x",
        html="<p>x</p>",
        message_id=message.message_id,
        language=message.language,
    )


register_renderer("test.plain", render_plain)


async def render_nothing(db: asyncpg.Connection, message: OutboxMessage) -> None:
    return None


register_renderer("test.obsolete", render_nothing)


async def render_broken(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage:
    raise RuntimeError("template exploded")


register_renderer("test.broken", render_broken)


# -- the tests ----------------------------------------------------------------------------


async def test_a_rolled_back_change_sends_nothing(db_pool, outbox_url, smtp_server):
    async with db_pool.acquire() as db:
        with pytest.raises(ZeroDivisionError):
            async with db.transaction():
                await enqueue(db, "test.plain", recipient="ada@example.org", language="de")
                1 / 0  # noqa: B018 (the change fails after the mail was written)
        with pytest.raises(RuntimeError, match="transaction"):
            await enqueue(db, "test.plain", recipient="ada@example.org", language="de")
    assert await make_worker(db_pool, outbox_url, smtp_server).drain() == 0
    assert await rows(db_pool) == []
    assert smtp_server.messages == []


async def test_a_committed_mail_arrives_once_with_its_parts(db_pool, outbox_url, smtp_server):
    [german] = await add(db_pool, "test.full", ref_id=41, payload={"name": "Jürgen Öztürk"})
    [english] = await add(
        db_pool, "test.full", recipient="bo@example.org", language="en", payload={"name": "Bo"}
    )
    worker = make_worker(db_pool, outbox_url, smtp_server)
    assert await worker.drain() == 2
    assert await worker.drain() == 0  # nothing is sent twice
    received = await smtp_server.wait_for(2)
    await asyncio.sleep(0.1)
    assert len(smtp_server.messages) == 2

    by_id = {row["id"]: row for row in await rows(db_pool)}
    assert all(
        r["status"] == "sent" and r["sent_at"] and r["attempts"] == 1 for r in by_id.values()
    )
    first, second = received
    assert first.message["Message-ID"] == by_id[german]["message_id"]
    assert MESSAGE_ID.match(first.message["Message-ID"])
    assert second.message["Message-ID"] == by_id[english]["message_id"]
    assert first.mail_from == "noreply@tagung.test" and first.rcpt_tos == ["ada@example.org"]
    assert second.rcpt_tos == ["bo@example.org"]

    message = first.message
    assert message["From"] == SENDER
    assert message["To"].addresses[0].display_name == "Jürgen Öztürk"
    assert message["Subject"] == "Ihre Anmeldung, Jürgen Öztürk"
    assert message["Content-Language"] == "de" and second.message["Content-Language"] == "en"
    assert second.message["Subject"] == "Your registration, Bo"
    assert message["Auto-Submitted"] == "auto-generated" and message["Date"]

    # mixed [ alternative [ plain, related [ html, png ] ], calendar ]
    assert message.get_content_type() == "multipart/mixed"
    alternative, calendar = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.iter_parts()
    assert plain.get_content().rstrip() == "Hallo Jürgen Öztürk, Vorgang 41"
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert 'src="cid:qr@tagung.test"' in html.get_content()
    assert image["Content-ID"] == "<qr@tagung.test>" and image.get_content() == QR_PNG
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST" and calendar.get_param("charset") == "utf-8"
    assert calendar.get_filename() == "einladung.ics"
    assert calendar.get_payload(decode=True) == ICS
    assert find_part(message, "image/png") is not None


async def test_line_breaks_in_a_name_make_no_header(db_pool, outbox_url, smtp_server):
    await add(db_pool, "test.full", payload={"name": "Eve\r\nBcc: x@evil.example\r\nX-Evil: 1"})
    await make_worker(db_pool, outbox_url, smtp_server).drain()
    [received] = await smtp_server.wait_for(1)
    assert received.rcpt_tos == ["ada@example.org"]
    assert received.message["Bcc"] is None and received.message["X-Evil"] is None
    headers = received.raw.split(b"\r\n\r\n", 1)[0]  # (the body may say anything)
    assert b"\nBcc:" not in headers and b"\nX-Evil:" not in headers
    [to] = received.message["To"].addresses
    assert to.addr_spec == "ada@example.org"
    assert to.display_name == "Eve Bcc: x@evil.example X-Evil: 1"


async def test_a_renderer_returning_none_skips_the_mail(db_pool, outbox_url, smtp_server):
    await add(db_pool, "test.obsolete")
    assert await make_worker(db_pool, outbox_url, smtp_server).drain() == 1
    [row] = await rows(db_pool)
    assert row["status"] == "skipped" and row["sent_at"] is None
    await asyncio.sleep(0.1)
    assert smtp_server.messages == []


async def test_a_failing_renderer_is_retried_with_back_off_then_given_up(
    db_pool, outbox_url, smtp_server
):
    [broken] = await add(db_pool, "test.broken")
    await add(db_pool, "test.plain")  # the same batch: unaffected
    worker = make_worker(
        db_pool, outbox_url, smtp_server, backoff_base=60, backoff_cap=3600, max_attempts=3
    )
    waits = []
    for attempt in (1, 2, 3):
        assert await worker.drain() >= 1
        row = await db_pool.fetchrow(
            "SELECT *, extract(epoch FROM next_attempt_at - now()) AS wait FROM outbox "
            "WHERE id = $1",
            broken,
        )
        assert row["attempts"] == attempt
        assert row["last_error"] == "RuntimeError: template exploded"
        assert await worker.drain() == 0  # not due again yet
        waits.append(row["wait"])
        # Let the back-off pass.
        await db_pool.execute("UPDATE outbox SET next_attempt_at = now() WHERE id = $1", broken)
    assert row["status"] == "failed"
    assert 47 < waits[0] < 73 and 95 < waits[1] < 145  # 60 s, then 120 s, ± 20 % jitter
    assert await worker.drain() == 0  # failed is final
    [received] = await smtp_server.wait_for(1)
    assert received.message["Subject"] == "#2"


async def test_a_refused_recipient_fails_alone(db_pool, outbox_url, smtp_server):
    smtp_server.refused_recipients.add("nobody@example.org")
    await add(db_pool, "test.plain")
    [refused] = await add(db_pool, "test.plain", recipient="nobody@example.org")
    await add(db_pool, "test.plain")
    await make_worker(db_pool, outbox_url, smtp_server, max_attempts=1).drain()
    assert len(await smtp_server.wait_for(2)) == 2
    statuses = {row["id"]: row for row in await rows(db_pool)}
    assert [r["status"] for r in statuses.values()] == ["sent", "failed", "sent"]
    assert "550" in statuses[refused]["last_error"]


async def test_an_smtp_outage_loses_and_repeats_nothing(db_pool, outbox_url, smtp_server):
    await add(db_pool, "test.plain", count=30)
    smtp_server.stall_after(10)  # the 11th message hangs: the server dies mid-batch
    worker = make_worker(db_pool, outbox_url, smtp_server)
    running = asyncio.create_task(worker.run())
    try:
        await smtp_server.wait_for(10)

        async def eleventh_at_the_server() -> bool:
            return len(smtp_server.recipients_seen) > 10

        await eventually(eleventh_at_the_server, "the 11th message at the server")
        await asyncio.to_thread(smtp_server.stop)
        waiting: list[asyncpg.Record] = []

        async def all_tried_and_between_tries() -> bool:
            # Every row tried against the closed port meanwhile, and no claim in flight (a
            # claimed row counts one attempt until the failed connection hands it back).
            nonlocal waiting
            waiting = await db_pool.fetch(
                "SELECT *, next_attempt_at > now() + interval '1 minute' AS leased "
                "FROM outbox WHERE status = 'pending'"
            )
            return all(r["last_error"] and not r["leased"] for r in waiting)

        await eventually(all_tried_and_between_tries, "every waiting row tried in the outage")
        assert len(waiting) == 20
        # An outage is not the messages' fault: no attempts used up, so none is ever dropped.
        assert all(r["attempts"] == 0 for r in waiting)
        assert all(r["last_error"].startswith("SMTP unavailable") for r in waiting)

        smtp_server.stall_after(None)
        await asyncio.to_thread(smtp_server.start)
        await smtp_server.wait_for(30)
        await asyncio.sleep(0.3)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
    ids = smtp_server.message_ids()
    assert len(ids) == 30 and len(set(ids)) == 30
    stored = {row["message_id"] for row in await rows(db_pool) if row["status"] == "sent"}
    assert stored == set(ids)


async def test_required_starttls_is_never_skipped(db_pool, outbox_url, smtp_server):
    """The test server offers no STARTTLS: with smtp+starttls:// nothing goes out in clear."""
    await add(db_pool, "test.plain")
    worker = make_worker(db_pool, outbox_url, smtp_server)
    worker.smtp = parse_smtp_url(f"smtp+starttls://127.0.0.1:{smtp_server.port}")
    await worker.drain()
    [row] = await rows(db_pool)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert "STARTTLS" in row["last_error"]
    assert smtp_server.messages == []


async def test_a_crashed_workers_rows_come_back_after_the_lease(db_pool, outbox_url, smtp_server):
    await add(db_pool, "test.plain", count=3)
    smtp_server.stall_after(0)
    # A lease long enough that a busy machine checks within it that the rows stay leased.
    crashing = make_worker(db_pool, outbox_url, smtp_server, lease=5.0)
    batch = asyncio.create_task(crashing.process_batch())

    async def in_hand() -> bool:
        return len(smtp_server.recipients_seen) > 0

    await eventually(in_hand, "the first message at the server")
    batch.cancel()  # dies holding the claim, without handing anything back
    with pytest.raises(asyncio.CancelledError):
        await batch
    smtp_server.stall_after(None)
    other = make_worker(db_pool, outbox_url, smtp_server)
    assert await other.drain() == 0  # leased to the dead worker
    await eventually(
        lambda: db_pool.fetchval("SELECT bool_and(next_attempt_at <= now()) FROM outbox"),
        "the lease run out",
    )
    assert await other.drain() == 3
    ids = [r.message["Message-ID"] for r in await smtp_server.wait_for(3)]
    assert len(set(ids)) == 3
    assert [r["attempts"] for r in await rows(db_pool)] == [2, 2, 2]


async def test_three_workers_side_by_side_send_each_mail_once(db_pool, outbox_url, smtp_server):
    await add(db_pool, "test.plain", count=100)
    workers = [make_worker(db_pool, outbox_url, smtp_server, batch_size=7) for _ in range(3)]
    claimed = await asyncio.gather(*(w.drain() for w in workers))
    assert sum(claimed) == 100 and all(claimed), claimed
    await smtp_server.wait_for(100)
    await asyncio.sleep(0.2)
    ids = smtp_server.message_ids()
    assert len(ids) == 100 and len(set(ids)) == 100
    assert {(r["status"], r["attempts"]) for r in await rows(db_pool)} == {("sent", 1)}


async def test_the_app_runs_a_worker_woken_by_notify(settings, db_pool, outbox_url, smtp_server):
    assert settings.run_worker is False  # apps built in tests send nothing by themselves
    app_settings = replace(
        settings,
        database_url=outbox_url,
        smtp_url=smtp_server.url,
        mail_from=SENDER,
        run_worker=True,
    )
    since = await db_pool.fetchval("SELECT clock_timestamp()")  # before the app's connections
    async with AsyncTestClient(app=create_app(app_settings)):

        async def listening_and_idle() -> bool:
            # LISTEN is done and the first look for due mail is over: only NOTIFY (or the
            # poll interval) starts the next one.
            activity = await db_pool.fetch(
                "SELECT query, state FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_start > $1",
                since,
            )
            listens = any(a["query"].startswith("LISTEN") for a in activity)
            looked = any(
                "UPDATE outbox AS o" in a["query"] and a["state"] == "idle" for a in activity
            )
            return listens and looked

        await eventually(listening_and_idle, "the worker listening")
        started = time.monotonic()
        await add(db_pool, TEST_KIND, language="en")
        [received] = await smtp_server.wait_for(1, seconds=4)
        # Well inside the 5 s poll interval: NOTIFY woke it.
        assert time.monotonic() - started < 2
    assert received.message["Subject"] == "tagung: test e-mail"


def worker_process(url: str, server: SmtpServer, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SMTP_URL": server.url,
        "MAIL_FROM": SENDER,
        "SECRET_KEY": "outbox-test-secret",
        "TAGUNG_DATA_DIR": str(log.parent),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_tagung_worker_processes_deliver_once_and_stop_on_sigterm(
    db_pool, outbox_url, smtp_server, tmp_path
):
    await add(db_pool, TEST_KIND, count=30)
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    processes = [worker_process(outbox_url, smtp_server, log) for log in logs]
    try:
        deadline = time.monotonic() + 60  # only bounds a failure
        while not all("outbox worker started" in log.read_text() for log in logs):
            assert all(p.poll() is None for p in processes), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            await asyncio.sleep(0.1)
        await add(db_pool, TEST_KIND, count=70)  # NOTIFY wakes all three at once
        await smtp_server.wait_for(100, seconds=60)
        await asyncio.sleep(0.3)
        started = time.monotonic()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process, log in zip(processes, logs, strict=True):
            assert await asyncio.to_thread(process.wait, 10) == 0, log.read_text()
        assert time.monotonic() - started < 5
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    ids = smtp_server.message_ids()
    assert len(ids) == 100 and len(set(ids)) == 100
    assert all("outbox worker stopped" in log.read_text() for log in logs)


def test_smtp_url_and_mail_settings(monkeypatch, tmp_path):
    plain = parse_smtp_url("smtp://127.0.0.1:8025")
    assert (plain.hostname, plain.port, plain.use_tls, plain.start_tls) == (
        "127.0.0.1",
        8025,
        False,
        False,
    )
    starttls = parse_smtp_url("smtp+starttls://user%40x.de:p%3Aw%2F@mail.x.de?timeout=7")
    assert (starttls.port, starttls.start_tls, starttls.use_tls) == (587, True, False)
    assert (starttls.username, starttls.password, starttls.timeout) == ("user@x.de", "p:w/", 7)
    assert "p:w/" not in repr(starttls)
    implicit = parse_smtp_url("smtps://u:p@mail.x.de")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    for wrong in ("http://x", "smtp://", "smtp://x?tls=1"):
        with pytest.raises(ValueError, match="SMTP_URL"):
            parse_smtp_url(wrong)

    monkeypatch.setenv("TAGUNG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("BASE_URL", "https://tagung.example.de")
    monkeypatch.delenv("MAIL_FROM", raising=False)
    monkeypatch.delenv("TAGUNG_NO_WORKER", raising=False)
    settings = Settings.from_env()
    assert settings.run_worker is True
    assert settings.mail_from == "tagung <noreply@tagung.example.de>"
    monkeypatch.setenv("TAGUNG_NO_WORKER", "1")
    monkeypatch.setenv("MAIL_FROM", "Integrationskonferenz <tagung@example.org>")
    settings = Settings.from_env()
    assert settings.run_worker is False
    assert settings.mail_from == "Integrationskonferenz <tagung@example.org>"
    monkeypatch.setenv("MAIL_FROM", "nobody")
    with pytest.raises(ValueError, match="MAIL_FROM"):
        Settings.from_env()
