"""Mail: the outbox worker delivering ticket mails (QR code inline, calendar invite attached)
to a local SMTP server.

registration.ticket rows for confirmed registrations are drained by one OutboxWorker, as
`tagung worker` runs it (a pool of 2, batches of 50, one SMTP connection per batch), with the
real renderer: the registration and conference read again, Jinja text and HTML, the QR code as
PNG, the .ics invite, MIME. The SMTP server is aiosmtpd's Controller in a process of its own
(in this process it would compete with the worker for the GIL), counting what it accepts.

Baseline: the same SMTP server fed one prebuilt ticket mail N times with aiosmtplib over one
connection. Mail throughput is bounded by the work per message (rendering, SMTP round trips,
one UPDATE per sent row), not by how fast PostgreSQL commits, so the ratio to SMTP alone says
what the outbox and the rendering add. pgbench -N at 1 client is shown for reference.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from email.message import EmailMessage
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import aiosmtplib
import asyncpg

from bench.data import make_attendees, make_conference
from bench.harness import SECRET_KEY, Row, baseline, database, free_port, progress, ratio
from service import outbox
from service.db import create_pool
from service.outbox import OutboxMessage, OutboxWorker
from service.settings import Settings

MAILS = 300


class _Counter:
    def __init__(self, count: Synchronized, size: Synchronized) -> None:
        self.count, self.size = count, size

    async def handle_DATA(self, server, session, envelope):
        with self.count.get_lock():
            self.count.value += 1
            self.size.value += len(envelope.original_content or envelope.content)
        return "250 OK: queued"


def _smtp_server(port: int, count: Synchronized, size: Synchronized, stop) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Counter(count, size), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


async def _render_one(pool: asyncpg.Pool, registration_id: int, recipient: str) -> EmailMessage:
    renderer = outbox._renderers["registration.ticket"]
    async with pool.acquire() as db:
        message = OutboxMessage(
            0, "registration.ticket", registration_id, recipient, "de", {}, "<x@bench>", 1
        )
        email = await renderer(db, message)
    assert email is not None
    email["From"] = "tagung <noreply@tagung.example>"
    return email


async def run(server_url: str) -> list[Row]:
    import registration  # its wire registers the renderers of registration.*

    context = multiprocessing.get_context("spawn")
    count, size, stop = context.Value("i", 0), context.Value("q", 0), context.Event()
    port = free_port()
    server = context.Process(target=_smtp_server, args=(port, count, size, stop), daemon=True)
    server.start()
    try:
        async with database(server_url) as url:
            settings = Settings(
                database_url=url,
                smtp_url=f"smtp://127.0.0.1:{port}",
                base_url="https://tagung.example",
                secret_key=SECRET_KEY,
                data_dir=Path(tempfile.gettempdir()),
                mail_from="tagung <noreply@tagung.example>",
            )
            registration.wire(settings)
            conn = await asyncpg.connect(url)
            try:
                conference_id = await make_conference(conn, "post-2027", capacity=0)
                people = await make_attendees(conn, conference_id, MAILS + 1)
                sample, people = people[0], people[1:]
                await conn.executemany(
                    "INSERT INTO outbox (kind, ref_id, recipient, language) "
                    "VALUES ('registration.ticket', $1, $2, 'de')",
                    [(p.id, p.email) for p in people],
                )
            finally:
                await conn.close()
            reference = await baseline(url, clients=1, seconds=3)
            pool = await create_pool(url, size=2)
            try:
                await _wait_for_server(port)
                email = await _render_one(pool, sample.id, sample.email)
                progress(f"mail: SMTP alone, the same ticket mail {MAILS} times")
                smtp_rate = await _smtp_only(port, email, MAILS)
                count.value = size.value = 0

                worker = OutboxWorker.from_settings(pool, settings, database_url=None)
                rendering = _time_renderer("registration.ticket")
                progress(f"mail: outbox worker, {MAILS} ticket mails")
                started = time.perf_counter()
                await worker.drain()
                wall = time.perf_counter() - started
                async with pool.acquire() as db:
                    sent = await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'")
            finally:
                await pool.close()
        rate = sent / wall
        received = count.value
        return [
            ("pgbench -N, 1 client (reference)", f"{reference:,.0f} tx/s"),
            ("SMTP alone, 1 connection (baseline)", f"{smtp_rate:,.0f} mails/s"),
            (
                "outbox → SMTP, ticket mails",
                f"{rate:,.0f} mails/s = {ratio(rate, smtp_rate)} SMTP alone "
                f"({sent} sent in {wall:.2f} s; {received} received, "
                f"{size.value / max(received, 1) / 1024:.0f} KB each)",
            ),
            (
                "  of which rendering",
                f"{rendering.total / max(rendering.calls, 1) * 1000:.2f} ms/mail "
                f"({rendering.total / wall:.0%} of the time)",
            ),
            (
                "  check: every mail sent once",
                "yes" if sent == received == MAILS else f"NO ({sent} sent, {received} received)",
            ),
        ]
    finally:
        stop.set()
        server.join(timeout=10)


async def _wait_for_server(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError("the SMTP server did not start")


async def _smtp_only(port: int, email: EmailMessage, count: int) -> float:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for _ in range(count):
        await smtp.send_message(email, sender="noreply@tagung.example", recipients=["a@b.example"])
    wall = time.perf_counter() - started
    await smtp.quit()
    return count / wall


class _Timed:
    calls = 0
    total = 0.0


def _time_renderer(kind: str) -> _Timed:
    """Wraps the kind's renderer to add up the time it takes (reads, templates, QR, ics)."""
    timed = _Timed()
    inner = outbox._renderers[kind]

    async def render(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage | None:
        started = time.perf_counter()
        try:
            return await inner(db, message)
        finally:
            timed.calls += 1
            timed.total += time.perf_counter() - started

    outbox.register_renderer(kind, render)
    return timed
