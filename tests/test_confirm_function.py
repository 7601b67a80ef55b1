"""The confirmation as one statement (registration_confirm, migration 0011): the same rows and
answers as the Python it replaced, the mail row identical to outbox.enqueue's, one round trip,
and the lock order conference → registration."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from registration import logic
from service import outbox, tokens
from tests.registration_support import (
    confirm,
    key,
    make_conference,
    register,
    token_for,
)

# Every outbox column a writer decides (id and the now() defaults aside).
OUTBOX_COLUMNS = (
    "kind, ref_id, recipient, language, payload::text AS payload, message_id, status, "
    "attempts, last_error, sent_at, next_attempt_at = created_at AS due_at_once"
)


async def outbox_rows(db: asyncpg.Connection, where: str = "true", *args) -> list[dict]:
    rows = await db.fetch(f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {where} ORDER BY id", *args)
    return [dict(r) for r in rows]


async def registration_row(db: asyncpg.Connection, email: str) -> dict:
    return dict(
        await db.fetchrow(
            "SELECT id, conference_id, status, waitlist_position, confirmed_at IS NOT NULL AS "
            "has_confirmed_at, language FROM registrations WHERE email = $1",
            email,
        )
    )


@pytest.mark.parametrize("capacity, kind", [(1, logic.MAIL_TICKET), (0, logic.MAIL_WAITLISTED)])
async def test_mail_row_is_the_one_enqueue_writes(
    client, organiser, pool, settings, capacity, kind
):
    await make_conference(client, organiser, capacity=capacity)
    await register(client, language="en")
    answer = await confirm(client, pool, settings, "aylin@example.org")
    assert answer.status_code == 200, answer.text
    async with pool.acquire() as db:
        person = await registration_row(db, "aylin@example.org")
        [written] = await outbox_rows(db, "kind <> $1", logic.MAIL_CONFIRM)
        async with db.transaction():
            # What the Python confirmation wrote, through the same helper.
            await logic.mail(
                db,
                kind,
                {"id": person["id"], "email": "aylin@example.org", "language": "en"},
            )
        [*_, enqueued] = await outbox_rows(db)
    assert written == enqueued
    assert written["kind"] == kind and written["payload"] == "{}"
    assert written["ref_id"] == person["id"] and written["language"] == "en"


async def test_a_confirmation_wakes_the_mail_workers_once_it_commits(
    client, organiser, pool, settings, database_url
):
    await make_conference(client, organiser)
    await register(client)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(outbox.CHANNEL, lambda *args: heard.put_nowait(args[2]))
        marked = asyncio.Event()
        await listener.add_listener("tagung_test_marker", lambda *args: marked.set())
        await confirm(client, pool, settings, "aylin@example.org")
        assert await asyncio.wait_for(heard.get(), timeout=30) == outbox.CHANNEL
        # The link used again writes nothing, so it wakes nobody.
        await confirm(client, pool, settings, "aylin@example.org")
        # Notifications arrive in commit order: one sent after the click has arrived, so
        # anything the click sent would have arrived before it.
        await pool.execute("SELECT pg_notify('tagung_test_marker', '')")
        await asyncio.wait_for(marked.wait(), timeout=30)
        assert heard.empty()
    finally:
        await listener.close()


async def test_a_second_click_answers_the_same_and_sends_no_second_mail(
    client, organiser, pool, settings
):
    await make_conference(client, organiser, capacity=1)
    for name in ("anna", "ben"):
        await register(client, email=f"{name}@example.org", name=name.title())
    first = {n: await confirm(client, pool, settings, f"{n}@example.org") for n in ("anna", "ben")}
    async with pool.acquire() as db:
        before = {n: await registration_row(db, f"{n}@example.org") for n in ("anna", "ben")}
        mails = await outbox_rows(db)
    again = {n: await confirm(client, pool, settings, f"{n}@example.org") for n in ("anna", "ben")}
    assert [first[n].json()["status"] for n in ("anna", "ben")] == ["confirmed", "waitlisted"]
    assert {n: r.json() for n, r in again.items()} == {n: r.json() for n, r in first.items()}
    async with pool.acquire() as db:
        after = {n: await registration_row(db, f"{n}@example.org") for n in ("anna", "ben")}
        assert await outbox_rows(db) == mails
        assert await db.fetchval("SELECT seats_taken FROM conferences") == 1
    assert after == before


async def test_a_cancelled_registration_answers_409_and_nothing_changes(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    await register(client)
    manage = (await confirm(client, pool, settings, "aylin@example.org")).json()["manage_token"]
    assert (await client.delete(f"/api/v1/registrations/{manage}")).status_code == 200
    async with pool.acquire() as db:
        mails = await outbox_rows(db)
    again = await confirm(client, pool, settings, "aylin@example.org")
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "Diese Anmeldung wurde storniert. Gern können Sie sich erneut anmelden."
    )
    async with pool.acquire() as db:
        assert await outbox_rows(db) == mails
        assert await db.fetchval("SELECT seats_taken FROM conferences") == 0
        assert await db.fetchval("SELECT status FROM registrations") == "cancelled"


async def test_unknown_and_expired_links_write_nothing(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(client)
    confirm_token = await token_for(pool, settings, "aylin@example.org")
    async with pool.acquire() as db:
        await db.execute("UPDATE registrations SET confirm_expires_at = now() - interval '1 s'")
        mails = await outbox_rows(db)
        answers = [
            dict(
                await db.fetchrow(
                    "SELECT * FROM registration_confirm($1, 'k.ticket', 'k.wait', '{}', 'c')",
                    digest,
                )
            )
            for digest in (tokens.digest(confirm_token), b"\0" * 32)
        ]
        assert answers == [
            {"o_status": "expired", "o_manage_salt": None},
            {"o_status": "invalid", "o_manage_salt": None},
        ]
        assert await outbox_rows(db) == mails
        assert await db.fetchval("SELECT status FROM registrations") == "pending_confirmation"
        assert await db.fetchval("SELECT seats_taken FROM conferences") == 0


class CountingConnection:
    """Forwards to a connection and counts the statements sent through it."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db, self.calls = db, []

    def __getattr__(self, name: str):
        attribute = getattr(self.db, name)
        if name in ("execute", "executemany", "fetch", "fetchrow", "fetchval", "transaction"):

            def counted(*args, **kwargs):
                self.calls.append(name)
                return attribute(*args, **kwargs)

            return counted
        return attribute


async def test_a_confirmation_is_one_statement(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(client)
    confirm_token = await token_for(pool, settings, "aylin@example.org")
    async with pool.acquire() as db:
        counting = CountingConnection(db)
        status, manage = await logic.confirm(counting, key(settings), confirm_token)  # type: ignore[arg-type]
        assert counting.calls == ["fetchrow"]
        assert not db.is_in_transaction()
    assert status == "confirmed"
    mine = (await client.get(f"/api/v1/registrations/{manage}")).json()
    assert mine["status"] == "confirmed"


async def _wait_until_blocked(pool: asyncpg.Pool, pid: int) -> None:
    deadline = time.monotonic() + 60  # only bounds a failure, on a machine that may be busy
    async with pool.acquire() as db:
        while time.monotonic() < deadline:
            if await db.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
            ):
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the confirmation never waited for the lock")


async def test_locks_are_taken_conference_first_then_registration(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    await register(client)
    confirm_token = await token_for(pool, settings, "aylin@example.org")
    k = key(settings)
    async with pool.acquire() as other, pool.acquire() as db:
        person = await registration_row(other, "aylin@example.org")
        conference_id = person["conference_id"]
        pid = db.get_server_pid()

        # Someone holds the registration row: the confirmation waits for it while holding
        # the conference row — which it took first.
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT 1 FROM registrations WHERE id = $1 FOR UPDATE", person["id"])
        waiting = asyncio.create_task(logic.confirm(db, k, confirm_token))
        await _wait_until_blocked(pool, pid)
        with pytest.raises(asyncpg.LockNotAvailableError):
            await other.execute(
                "SELECT 1 FROM conferences WHERE id = $1 FOR UPDATE NOWAIT", conference_id
            )
        await tx.rollback()
        assert (await asyncio.wait_for(waiting, timeout=30))[0] == "confirmed"

    await register(client, email="ben@example.org", name="Ben")
    confirm_token = await token_for(pool, settings, "ben@example.org")
    async with pool.acquire() as other, pool.acquire() as db:
        person = await registration_row(other, "ben@example.org")
        pid = db.get_server_pid()
        # Someone holds the conference row (a cancellation, a capacity change): the
        # confirmation waits for it before it touches the registration row.
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT 1 FROM conferences WHERE id = $1 FOR UPDATE", conference_id)
        waiting = asyncio.create_task(logic.confirm(db, k, confirm_token))
        await _wait_until_blocked(pool, pid)
        await other.execute(
            "SELECT 1 FROM registrations WHERE id = $1 FOR UPDATE NOWAIT", person["id"]
        )
        # What the holder commits is what the confirmation decides on: here, no place left.
        await other.execute("UPDATE conferences SET capacity = 1 WHERE id = $1", conference_id)
        await tx.commit()
        assert (await asyncio.wait_for(waiting, timeout=30))[0] == "waitlisted"
