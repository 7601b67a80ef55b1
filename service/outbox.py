"""The transactional e-mail outbox and the worker that delivers it over SMTP (aiosmtplib).

A domain writes a row with `enqueue` inside the transaction of the change that causes the mail,
and registers a renderer for the row's kind at wiring time. Rows hold no message text: mails
carry ticket secrets and personal links that must not be readable from a copy of the database,
so the worker renders each one at send time and keeps it only in memory.

Any number of workers (one in each web process, or `tagung worker`) share the table: a claim
leases a batch with FOR UPDATE SKIP LOCKED, so no row is handed to two workers, and the rows of a
worker that died come back when the lease runs out. Failures of one message (a renderer error, a
refused recipient) are retried with exponential back-off and end as 'failed' after
`max_attempts`; an unreachable SMTP server is no fault of the messages, so their attempts are
given back and they wait, as long as the outage lasts, without ever being dropped.

A relay that hangs on, answers 421 to or drops the connection for one recipient looks like an
outage too, so the message in hand at an outage goes behind the rest of the queue, and once it
has coincided with `blame_after` outages that came just after the server had accepted other
mail, each further one counts as a failed attempt of that message. Rows are handled in the
order they fell due, so one bad address cannot keep the others waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib
import asyncpg

from service.db import UNAVAILABLE_ERRORS, create_pool
from service.mail import compose, parse_mailbox
from service.settings import Settings, SmtpConfig

log = logging.getLogger("tagung.outbox")

CHANNEL = "tagung_outbox"
TEST_KIND = "outbox.test"
STOP_GRACE = 5.0  # seconds a stopping worker gets to finish the message in hand


@dataclass(frozen=True)
class OutboxMessage:
    """One claimed row, as a renderer sees it."""

    id: int
    kind: str
    ref_id: int | None
    recipient: str
    language: str
    payload: dict[str, Any]
    message_id: str
    attempts: int
    outage_strikes: int = 0  # outages that came while this row was being sent (see _in_hand)


# Returns the message to send, or None when it is no longer relevant (the row becomes
# 'skipped'). It gets a pooled connection; it must not leave a transaction open on it.
Renderer = Callable[[asyncpg.Connection, OutboxMessage], Awaitable[EmailMessage | None]]
_renderers: dict[str, Renderer] = {}


def register_renderer(kind: str, renderer: Renderer) -> None:
    """Called by a domain's `wire` (service/wiring.py), never at import. A second registration
    of a kind replaces the first, because create_app (which wires) runs more than once in one
    process, e.g. in tests."""
    _renderers[kind] = renderer


async def enqueue(
    db: asyncpg.Connection,
    kind: str,
    *,
    recipient: str,
    language: str,
    ref_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Writes a mail to send; returns the outbox id. Only inside the caller's transaction,
    so that the mail exists exactly when the change that causes it commits."""
    if not db.is_in_transaction():
        raise RuntimeError("enqueue() belongs inside the transaction of the change it reports")
    # One round trip: the row, and the NOTIFY that wakes a worker. The notification is
    # delivered at commit and dropped on rollback; PostgreSQL folds repeats into one.
    return await db.fetchval(
        # ::text::jsonb works whether or not the connection has a jsonb codec.
        "WITH mail AS (INSERT INTO outbox (kind, ref_id, recipient, language, payload) "
        "VALUES ($1, $2, $3, $4, $5::text::jsonb) RETURNING id) "
        "SELECT id FROM mail, pg_notify($6, '')",
        kind,
        ref_id,
        recipient,
        language,
        json.dumps(payload or {}),
        CHANNEL,
    )


async def forget(db: asyncpg.Connection, kind_prefix: str, ref_ids: list[int]) -> int:
    """Deletes the mails about these rows (they name their recipients); for data protection,
    once the people they were sent to have been made anonymous."""
    status = await db.execute(
        "DELETE FROM outbox WHERE kind LIKE $1 || '%' AND ref_id = ANY($2::bigint[])",
        kind_prefix,
        ref_ids,
    )
    return int(status.split()[-1])


_CLAIM = """
UPDATE outbox AS o
   SET attempts = o.attempts + 1,
       next_attempt_at = now() + make_interval(secs => $2),
       -- Random, not the row id: ids restart with a new database, and some mailboxes drop a
       -- message whose Message-ID they have seen before.
       message_id = coalesce(o.message_id,
           '<outbox.' || replace(gen_random_uuid()::text, '-', '') || '@' || $3::text || '>')
  FROM (SELECT id, next_attempt_at AS due_at FROM outbox
         WHERE status = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id
         LIMIT $1
           FOR UPDATE SKIP LOCKED) AS due
 WHERE o.id = due.id
RETURNING o.id, o.kind, o.ref_id, o.recipient, o.language, o.payload::text AS payload,
          o.message_id, o.attempts, o.outage_strikes, due.due_at
"""
# Sent is sent, whoever holds the row now: the server has the message.
_SENT = """
UPDATE outbox SET status = 'sent', sent_at = now(), last_error = NULL
 WHERE id = $1 AND status <> 'sent'
"""
# "attempts = $2 AND status = 'pending'" ties each of the updates below to one claim: a worker
# whose lease ran out cannot change a row that another worker holds by now.
_SKIPPED = """
UPDATE outbox SET status = 'skipped', last_error = NULL
 WHERE id = $1 AND attempts = $2 AND status = 'pending'
"""
_FAILED = """
UPDATE outbox
   SET status = CASE WHEN attempts >= $3 THEN 'failed' ELSE 'pending' END,
       next_attempt_at = now() + make_interval(secs => $4),
       last_error = $5
 WHERE id = $1 AND attempts = $2 AND status = 'pending'
RETURNING status
"""
_GIVE_BACK = """
UPDATE outbox AS o
   SET attempts = o.attempts - 1,
       next_attempt_at = now() + make_interval(secs => $3),
       last_error = coalesce($4, o.last_error)
  FROM unnest($1::bigint[], $2::int[]) AS c(id, attempts)
 WHERE o.id = c.id AND o.attempts = c.attempts AND o.status = 'pending'
"""
# The row in hand at an outage: its strikes, and either its attempt given back ($4 = 1) or
# counted like any failed attempt ($4 = 0, 'failed' after max_attempts).
_IN_HAND = """
UPDATE outbox
   SET outage_strikes = $3,
       attempts = attempts - $4::int,
       status = CASE WHEN $4::int = 0 AND attempts >= $5 THEN 'failed' ELSE 'pending' END,
       next_attempt_at = now() + make_interval(secs => $6),
       last_error = $7
 WHERE id = $1 AND attempts = $2 AND status = 'pending'
RETURNING status
"""


def _server_failure(exc: BaseException) -> bool:
    """True when the SMTP server or the way to it failed, not this one message."""
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return exc.code != 552  # 552: this message is too large; others: our MAIL_FROM
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421:
        return True  # "service not available, closing channel"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code == 421 for refused in exc.recipients)  # 421 to RCPT TO
    return isinstance(exc, (OSError, TimeoutError, aiosmtplib.SMTPServerDisconnected))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


class OutboxWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        smtp: SmtpConfig,
        sender: str | Address,
        database_url: str | None = None,
        batch_size: int = 50,
        lease: float = 300.0,
        poll_interval: float = 5.0,
        max_attempts: int = 8,
        backoff_base: float = 30.0,
        backoff_cap: float = 3600.0,
        outage_cap: float = 300.0,
        blame_after: int = 2,
    ) -> None:
        self.pool = pool
        self.smtp = smtp
        self.sender = sender if isinstance(sender, Address) else parse_mailbox(sender)
        self.database_url = database_url  # for LISTEN; without it the worker only polls
        self.batch_size = batch_size
        self.lease = lease
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.outage_cap = outage_cap
        self.blame_after = blame_after
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._outages = 0  # consecutive SMTP outages; spaces the next try out
        self._resume_at = 0.0  # monotonic time before which an outage keeps us from trying
        # Whether the server's last answer to this worker was about a message (accepted or
        # refused): then a timeout or dropped connection on the next one is likely its fault.
        self._server_answered = False
        # What a batch broken off by a database error left unsettled, settled at the next
        # batch: ids the SMTP server accepted that could not be marked sent, and the claimed
        # rows not yet tried. Without this they would wait out the lease (and the accepted
        # ones be sent twice).
        self._unmarked: list[int] = []
        self._untried: list[OutboxMessage] = []

    @classmethod
    def from_settings(cls, pool: asyncpg.Pool, settings: Settings, **tuning: Any) -> OutboxWorker:
        tuning.setdefault("database_url", settings.database_url)
        return cls(pool, smtp=settings.smtp, sender=settings.mail_from, **tuning)

    def stop(self) -> None:
        """Asks `run` to return after the message in hand (safe from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Delivers until stop(): drains what is due, then waits for a NOTIFY, the poll
        interval, or the end of an SMTP outage."""
        listener: asyncpg.Connection | None = None
        log.info("outbox worker started (SMTP %s:%s)", self.smtp.hostname, self.smtp.port)
        try:
            while not self._stopping.is_set():
                if listener is None or listener.is_closed():
                    listener = await self._listen()
                self._wake.clear()
                try:
                    await self.drain()
                except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                    log.warning("outbox worker: database error (%s); trying again", _describe(exc))
                except Exception:
                    # A bug: keep the loop alive (and the mail waiting), try again later.
                    log.exception("outbox worker: batch failed; trying again shortly")
                await self._sleep()
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.close(), 2)
            if self._unmarked or self._untried:  # e.g. cut off in a hung SMTP exchange
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2), self.pool.acquire() as db:
                        await self._settle_leftovers(db)
            log.info("outbox worker stopped")

    async def drain(self) -> int:
        """Handles batches until nothing is due (or an outage or stop() intervenes);
        returns the number of rows claimed."""
        total = 0
        while not self._stopping.is_set() and time.monotonic() >= self._resume_at:
            claimed = await self.process_batch()
            if not claimed:
                break
            total += claimed
        return total

    async def _listen(self) -> asyncpg.Connection | None:
        # A dedicated connection: asyncpg runs UNLISTEN * when a pooled one is released.
        if not self.database_url:
            return None
        try:
            conn = await asyncpg.connect(self.database_url, timeout=5)
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
        except Exception as exc:
            log.warning("outbox worker: cannot LISTEN (%s); polling only", _describe(exc))
            return None
        return conn

    async def _sleep(self) -> None:
        delay = max(self._resume_at - time.monotonic(), 0) or self.poll_interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    # -- one batch --------------------------------------------------------------------------

    async def process_batch(self) -> int:
        """Claims up to batch_size due rows and handles each; returns how many it claimed."""
        async with self.pool.acquire() as db:
            await self._settle_leftovers(db)
            rows = await db.fetch(_CLAIM, self.batch_size, self.lease, self.sender.domain)
            # In the order they fell due: a row put back behind the others stays there.
            batch = [_message(r) for r in sorted(rows, key=lambda r: (r["due_at"], r["id"]))]
            if batch:
                await self._deliver(db, batch)
            return len(batch)

    async def _deliver(self, db: asyncpg.Connection, batch: list[OutboxMessage]) -> None:
        """Renders and sends a claimed batch over one SMTP connection, settling each row."""
        claimed_at = time.monotonic()
        smtp: aiosmtplib.SMTP | None = None
        index, accepted = 0, False
        try:
            for index, message in enumerate(batch):
                accepted = False
                # Never send on a lease that may have run out (another worker may hold the
                # row by now); a stopping worker hands the rest on at once.
                if self._stopping.is_set() or time.monotonic() - claimed_at > self.lease / 2:
                    await self._give_back(db, batch[index:], delay=0, error=None)
                    return
                email = await self._render(db, message)
                if email is None:
                    continue
                if smtp is not None and not smtp.is_connected:
                    smtp.close()  # closed by the server (e.g. idle) or by a 421: a new one
                    smtp = None
                try:
                    smtp = smtp or await self._connect()
                except Exception as exc:  # refused, TLS, login: never the messages' fault
                    await self._outage(db, batch[index:], exc)
                    return
                try:
                    await smtp.send_message(
                        email, sender=self.sender.addr_spec, recipients=[message.recipient]
                    )
                except Exception as exc:
                    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and _server_failure(exc):
                        # Refused at MAIL FROM, before the recipient was named: not its fault.
                        await self._outage(db, batch[index:], exc)
                        return
                    if _server_failure(exc):
                        await self._outage(db, batch[index + 1 :], exc, in_hand=message)
                        return
                    if isinstance(exc, aiosmtplib.SMTPException):
                        self._server_answered = True  # e.g. 550 for this recipient
                    await self._failed(db, message, exc)
                    continue
                # A crash between the server's acceptance and this UPDATE sends the mail again
                # after the lease; SMTP has no two-phase commit. The repeat carries the same
                # Message-ID, so mail programs can recognise it.
                accepted = True
                self._server_answered = True
                await db.execute(_SENT, message.id)
                self._outages = 0
        except BaseException:
            if smtp is not None:
                smtp.close()  # cancelled or broken: no polite QUIT that could hang
            if accepted:
                self._unmarked.append(batch[index].id)
                index += 1
            self._untried.extend(batch[index:])
            raise
        finally:
            if smtp is not None and smtp.is_connected:
                await _disconnect(smtp)

    async def _settle_leftovers(self, db: asyncpg.Connection) -> None:
        for message_id in self._unmarked:
            await db.execute(_SENT, message_id)
        self._unmarked.clear()
        if self._untried:
            await self._give_back(db, self._untried, delay=0, error=None)
            self._untried.clear()

    async def _render(self, db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage | None:
        """The finished message, or None once the row is settled (skipped, or failed)."""
        try:
            renderer = _renderers.get(message.kind) or _BUILT_IN.get(message.kind)
            if renderer is None:
                raise LookupError(f"no renderer registered for kind {message.kind!r}")
            email = await renderer(db, message)
        except Exception as exc:
            log.exception("outbox %s (%s): renderer failed", message.id, message.kind)
            await self._failed(db, message, exc)
            return None
        if email is None:
            await db.execute(_SKIPPED, message.id, message.attempts)
            return None
        # The worker, not the renderer, owns the envelope-level headers.
        if email["From"] is None:
            email["From"] = self.sender
        del email["Message-ID"]
        email["Message-ID"] = message.message_id
        if email["Date"] is None:
            email["Date"] = format_datetime(datetime.now(UTC))
        return email

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self.smtp
        smtp = aiosmtplib.SMTP(
            hostname=config.hostname,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout,
        )
        try:
            await smtp.connect()  # also logs in when the URL has credentials
        except BaseException:
            smtp.close()
            raise
        return smtp

    async def _failed(self, db: asyncpg.Connection, message: OutboxMessage, exc: Exception) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (message.attempts - 1))
        status = await db.fetchval(
            _FAILED,
            message.id,
            message.attempts,
            self.max_attempts,
            delay * random.uniform(0.8, 1.2),  # jitter: retries of a burst spread out
            _describe(exc),
        )
        log.warning(
            "outbox %s (%s): attempt %s failed (%s)%s",
            message.id,
            message.kind,
            message.attempts,
            type(exc).__name__,
            "; giving up" if status == "failed" else "",
        )

    async def _outage(
        self,
        db: asyncpg.Connection,
        rest: Sequence[OutboxMessage],
        exc: Exception,
        in_hand: OutboxMessage | None = None,
    ) -> None:
        self._outages += 1
        delay = min(self.outage_cap, self.backoff_base * 2 ** (self._outages - 1))
        delay *= random.uniform(0.8, 1.2)
        self._resume_at = time.monotonic() + delay
        log.warning(
            "outbox: SMTP server %s:%s unavailable (%s); %d message(s) wait %.1f s",
            self.smtp.hostname,
            self.smtp.port,
            _describe(exc),
            len(rest) + (in_hand is not None),
            delay,
        )
        error = f"SMTP unavailable: {_describe(exc)}"
        if in_hand is not None:
            await self._in_hand(db, in_hand, delay, error)
        await self._give_back(db, rest, delay=delay, error=error)
        self._server_answered = False

    async def _in_hand(
        self, db: asyncpg.Connection, message: OutboxMessage, delay: float, error: str
    ) -> None:
        """The message being sent when the outage came goes behind the rest (due later than
        `delay`). It earns a strike when the server had just dealt with another message: a
        relay that hangs on or drops one recipient does this every time, a server going down
        once. From `blame_after` strikes on, each such outage counts as a failed attempt."""
        strikes = message.outage_strikes + int(self._server_answered)
        blamed = self._server_answered and strikes >= self.blame_after
        if blamed:
            backoff = min(self.backoff_cap, self.backoff_base * 2 ** (message.attempts - 1))
            delay += backoff * random.uniform(0.8, 1.2)
        else:
            delay *= 2
        status = await db.fetchval(
            _IN_HAND,
            message.id,
            message.attempts,
            strikes,
            int(not blamed),
            self.max_attempts,
            delay,
            error,
        )
        if blamed:
            log.warning(
                "outbox %s (%s): attempt %s failed, outage number %s while it was sent%s",
                message.id,
                message.kind,
                message.attempts,
                strikes,
                "; giving up" if status == "failed" else "",
            )

    async def _give_back(
        self,
        db: asyncpg.Connection,
        rest: Sequence[OutboxMessage],
        *,
        delay: float,
        error: str | None,
    ) -> None:
        """Returns claimed rows untried: the claim does not count as an attempt."""
        await db.execute(_GIVE_BACK, [m.id for m in rest], [m.attempts for m in rest], delay, error)


def _message(row: asyncpg.Record) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        recipient=row["recipient"],
        language=row["language"],
        payload=json.loads(row["payload"]),
        message_id=row["message_id"],
        attempts=row["attempts"],
        outage_strikes=row["outage_strikes"],
    )


async def _disconnect(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass  # the server went away first; nothing is lost, every row is settled
    finally:
        smtp.close()


# -- running it ---------------------------------------------------------------------------


@asynccontextmanager
async def background_worker(
    pool: asyncpg.Pool, settings: Settings
) -> AsyncIterator[OutboxWorker | None]:
    """For the web app's lifespan: a worker loop beside the app, unless settings say no."""
    if not settings.run_worker:
        yield None
        return
    worker = OutboxWorker.from_settings(pool, settings)
    task = asyncio.create_task(worker.run(), name="outbox-worker")
    try:
        yield worker
    finally:
        await _stop(worker, task)


async def _stop(worker: OutboxWorker, task: asyncio.Task[None]) -> None:
    worker.stop()
    done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
    if not done:
        # A hung SMTP exchange: its rows come back after the lease.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_standalone(settings: Settings, database_url: str) -> None:
    """`tagung worker`: one worker, until SIGTERM or Ctrl-C. The message in hand is finished
    (the SMTP server's answer awaited, the row marked), the rest of the batch is handed back
    at once for any other worker; an SMTP exchange that hangs longer than STOP_GRACE is cut
    off (the server then never accepted that message; its row comes back after the lease)."""
    pool = await create_pool(database_url, size=2, connect_timeout=settings.db_connect_timeout)
    worker = OutboxWorker.from_settings(pool, settings, database_url=database_url)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(worker.run(), name="outbox-worker")

    def stop() -> None:
        worker.stop()
        loop.call_later(STOP_GRACE, task.cancel)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        try:
            await asyncio.wait_for(pool.close(), STOP_GRACE)
        except TimeoutError:
            pool.terminate()


# -- a built-in kind: a test message, to check the SMTP configuration end to end ----------

_TEST_TEXT = {
    "de": ("tagung: Test-E-Mail", "Diese Nachricht prüft den E-Mail-Versand von tagung."),
    "en": ("tagung: test e-mail", "This message checks that tagung can send e-mail."),
}


async def _render_test(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage:
    subject, text = _TEST_TEXT.get(message.language, _TEST_TEXT["en"])
    return compose(
        to_name="",
        to_email=message.recipient,
        subject=subject,
        text=text + "\n",
        html=f"<!doctype html><p>{text}</p>\n",
        message_id=message.message_id,
        language=message.language,
    )


# The outbox's own kinds need no wiring: the worker knows them (a test message sent before or
# without create_app, e.g. by `tagung worker` or a test's worker, is rendered all the same).
_BUILT_IN: dict[str, Renderer] = {TEST_KIND: _render_test}
