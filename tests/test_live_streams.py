"""Live dashboards and the database's connections (issue 12, point 6).

Each open entrance dashboard used to hold a PostgreSQL connection of its own, so about 85 open
dashboards left no connection for anything else. Now a process has one listening connection
for all its streams (service/live.py), and streams are capped per process and per account.

The main test runs `tagung serve` as a PostgreSQL role with a CONNECTION LIMIT (on the test
session's database) and opens 100 dashboard streams against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from service.live import APPLICATION_NAME, MAX_STREAMS, MAX_STREAMS_PER_ACCOUNT, LiveHub
from tests.live_server import running_server
from tests.registration_support import SLUG, make_conference
from tests.test_entrance import attendees, log_in, scan

EVENTS = f"/staff/conferences/{SLUG}/entrance/events"
STATS = f"/api/v1/conferences/{SLUG}/entrance/stats"
CONNECTION_LIMIT = 10  # for the app's role: its pool (8) and one listening connection
POOL_SIZE = 8
ACCOUNTS = 20  # x MAX_STREAMS_PER_ACCOUNT = 100 streams: twice what one process takes
SEQUENTIAL = 45  # of them opened one after another, the other 55 at once


class EventStream:
    """One dashboard's event stream over HTTP; a task of its own reads its events."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.http, self.headers = http, headers
        self.events: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self._exit = contextlib.AsyncExitStack()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> httpx.Response:
        self.response = await self._exit.enter_async_context(
            self.http.stream("GET", EVENTS, headers=self.headers)
        )
        if self.response.status_code == 200:
            self._reader = asyncio.create_task(self._read())
        else:
            await self.response.aread()
        return self.response

    async def _read(self) -> None:
        event = data = ""
        with contextlib.suppress(httpx.HTTPError):
            async for line in self.response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and event:
                    self.events.put_nowait((event, data))
                    event = data = ""
        self.events.put_nowait(None)  # the stream ended

    async def next(self) -> tuple[str, str] | None:
        async with asyncio.timeout(60):  # only bounds a failure
            return await self.events.get()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._exit.aclose()


@contextlib.asynccontextmanager
async def streams() -> AsyncIterator[list[EventStream]]:
    opened: list[EventStream] = []
    try:
        yield opened
    finally:
        await asyncio.gather(*(s.close() for s in opened), return_exceptions=True)


async def open_stream(
    http: httpx.AsyncClient, headers: dict[str, str], opened: list[EventStream]
) -> EventStream:
    stream = EventStream(http, headers)
    opened.append(stream)
    await stream.open()
    return stream


async def conference_id(pool) -> int:
    async with pool.acquire() as db:
        return await db.fetchval("SELECT id FROM conferences WHERE slug = $1", SLUG)


async def listeners(pool, user: str | None = None) -> list[int]:
    """The process ids of this database's listening connections (of `user`, if given)."""
    async with pool.acquire() as db:
        rows = await db.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = $1 AND ($2::text IS NULL OR usename = $2)",
            APPLICATION_NAME,
            user,
        )
    return [r["pid"] for r in rows]


async def until(read, wanted, seconds: float = 60.0) -> None:
    """Until `await read()` gives `wanted` (polling the database, never a fixed sleep)."""
    async with asyncio.timeout(seconds):
        while await read() != wanted:  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.05)


@pytest.fixture
async def limited_role(pool, database_url) -> AsyncIterator[tuple[str, str]]:
    """An ordinary role that may hold CONNECTION_LIMIT connections at once, with the rights
    the app needs on this test session's database; (its name, its database URL)."""
    name = f"tagung_live_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as db:
        await db.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT {CONNECTION_LIMIT}')
        await db.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{name}"'
        )
        await db.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
    parts = urlsplit(database_url)
    # The embedded server is reached through a socket named in the query (?host=…): no host.
    server = f"{parts.hostname}:{parts.port or 5432}" if parts.hostname else ""
    url = urlunsplit(parts._replace(netloc=f"{name}@{server}"))
    try:
        yield name, url
    finally:
        async with pool.acquire() as db:
            await db.execute(f'DROP OWNED BY "{name}"')  # the grants in this database
            await db.execute(f'DROP ROLE "{name}"')


async def test_a_hundred_dashboards_leave_connections_for_everything_else(
    client, organiser, make_staff, pool, settings, limited_role, tmp_path
):
    role, url = limited_role
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_rid, secret)] = await attendees(client, pool, settings, 1)
    cid = str(await conference_id(pool))
    accounts = [await make_staff("organiser") for _ in range(ACCOUNTS)]

    env = {"DB_POOL_SIZE": str(POOL_SIZE), "TAGUNG_RATE_LIMITS": "off"}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    with running_server(url, tmp_path, env=env) as server:
        async with (
            httpx.AsyncClient(base_url=server, timeout=30, limits=limits) as http,
            streams() as opened,
        ):
            # 100 dashboards, five per account: most opened one after another, as screens
            # and tabs are during a day (the app's pool stays small meanwhile), the last
            # ones at once. A process takes 50 and answers the others 429 with Retry-After.
            tries = [
                account.headers for account in accounts for _ in range(MAX_STREAMS_PER_ACCOUNT)
            ]
            first_events: Counter[tuple[str, str] | None] = Counter()
            for headers in tries[:SEQUENTIAL]:
                stream = await open_stream(http, headers, opened)
                if stream.response.status_code == 200:
                    first_events[await stream.next()] += 1
            rush = [open_stream(http, headers, opened) for headers in tries[SEQUENTIAL:]]
            for stream in await asyncio.gather(*rush):
                if stream.response.status_code == 200:
                    first_events[await stream.next()] += 1
            # Everything else still gets a connection: 30 requests at once, each needing one.
            others = await asyncio.gather(
                *(
                    http.get(path, headers=organiser.headers)
                    for path in (STATS, "/health", f"/conferences/{SLUG}")
                    for _ in range(10)
                )
            )
            assert [r.status_code for r in others] == [200] * 30, {
                r.status_code: r.text[:200] for r in others if r.status_code != 200
            }

            statuses = Counter(s.response.status_code for s in opened)
            assert statuses == {200: MAX_STREAMS, 429: ACCOUNTS * 5 - MAX_STREAMS}, statuses
            assert first_events == {("ready", cid): MAX_STREAMS}, first_events
            live = [s for s in opened if s.response.status_code == 200]
            for refused in (s.response for s in opened if s.response.status_code == 429):
                assert refused.headers["retry-after"] == "60"
                assert "zu viele Einlass-Übersichten" in refused.text
            # One listening connection for all of them.
            assert len(await listeners(pool, role)) == 1

            # A scan reaches every open stream.
            await scan(client, scanner, secret, "Nord")
            for stream in live:
                assert await stream.next() == ("changed", cid)

        # The dashboards are closed: so is the listening connection.
        await until(lambda: listeners(pool, role), [])


async def account_locks(pool) -> int:
    async with pool.acquire() as db:
        return await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )


async def test_an_account_has_at_most_five_streams_across_processes(
    client, organiser, make_staff, pool, database_url, tmp_path
):
    """Two `tagung serve` sharing only PostgreSQL: the account's streams count together."""
    await make_conference(client, organiser)
    other = await make_staff("organiser")
    env = {"TAGUNG_RATE_LIMITS": "off"}
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    with (
        running_server(database_url, tmp_path / "one", env=env) as one,
        running_server(database_url, tmp_path / "two", env=env) as two,
    ):
        async with (
            httpx.AsyncClient(base_url=one, timeout=30) as first,
            httpx.AsyncClient(base_url=two, timeout=30) as second,
            streams() as opened,
        ):
            # Four in each process, asked for at once: the account has five places in all.
            tries = [first] * 4 + [second] * 4
            await asyncio.gather(*(open_stream(h, organiser.headers, opened) for h in tries))
            statuses = Counter(s.response.status_code for s in opened)
            assert statuses == {200: MAX_STREAMS_PER_ACCOUNT, 429: 3}, statuses
            assert len(await listeners(pool)) == 2  # one per process
            refused = next(s.response for s in opened if s.response.status_code == 429)
            assert refused.headers["retry-after"] == "60"
            assert "bereits 5 Einlass-Übersichten" in refused.text
            english = await open_stream(
                first, {**organiser.headers, "Accept-Language": "en"}, opened
            )
            assert english.response.status_code == 429
            assert "Your account already has 5 live dashboards open" in english.response.text
            # Another account is not affected.
            assert (await open_stream(first, other.headers, opened)).response.status_code == 200

            # One of the account's dashboards is closed: its place is free again.
            live = [s for s in opened if s.response.status_code == 200]
            await live[0].close()
            await until(lambda: account_locks(pool), (MAX_STREAMS_PER_ACCOUNT - 1) + 1)  # + other's
            again = await open_stream(second, organiser.headers, opened)
            assert again.response.status_code == 200
            assert (await again.next())[0] == "ready"


async def test_streams_end_when_the_listening_connection_is_lost_and_the_hub_reconnects(
    client, organiser, make_staff, pool, settings, live_server
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_rid, secret)] = await attendees(client, pool, settings, 1)
    cid = str(await conference_id(pool))
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http, streams() as opened:
        before = [await open_stream(http, organiser.headers, opened) for _ in range(3)]
        for stream in before:
            assert await stream.next() == ("ready", cid)
        [pid] = await listeners(pool)
        async with pool.acquire() as db:  # what a database restart does to it
            assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
        for stream in before:
            assert await stream.next() is None  # ended: the browser connects again
        after = await open_stream(http, organiser.headers, opened)
        assert await after.next() == ("ready", cid)
        assert (await listeners(pool)) not in ([], [pid])
        await scan(client, scanner, secret, "Nord")
        assert await after.next() == ("changed", cid)


async def test_a_slow_reader_gets_one_update_for_a_burst(database_url):
    """Each stream holds one pending flag, not a queue that grows while it does not read."""
    hub = LiveHub(database_url)
    try:
        slow = await hub.subscribe("tagung_live_test", "7", None)
        marker = await hub.subscribe("tagung_live_test", "end", None)
        other = await hub.subscribe("tagung_live_test", "8", None)
        sender = await asyncpg.connect(database_url)
        try:
            for _ in range(500):
                await sender.execute("SELECT pg_notify('tagung_live_test', '7')")
            await sender.execute("SELECT pg_notify('tagung_live_test', 'end')")
        finally:
            await sender.close()
        async with asyncio.timeout(60):
            assert await marker.wait(60) == "changed"  # notifications arrive in order
        assert await slow.wait(0) == "changed"
        assert await slow.wait(0) == "idle"  # the 499 others were the same update
        assert await other.wait(0) == "idle"
        assert hub.streams == 3
        for subscription in (slow, marker, other):
            hub.leave(subscription)
        assert hub.streams == 0
    finally:
        await hub.close()


async def test_the_dashboard_keeps_its_numbers_when_no_stream_is_left(
    page: Page, live_server, client, organiser, pool, settings
):
    """Beyond the account's cap the page says that it does not update itself; its numbers
    stay, and the link reloads them."""
    await make_conference(client, organiser)
    await attendees(client, pool, settings, 2)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http, streams() as opened:
        for _ in range(MAX_STREAMS_PER_ACCOUNT):
            assert (await open_stream(http, organiser.headers, opened)).response.status_code == 200
        await log_in(page, organiser)
        await page.goto(f"/staff/conferences/{SLUG}/entrance?lang=en")
        await expect(page.locator("#live-status")).to_have_text(
            "Live updates stopped. Please reload the page."
        )
        await expect(page.locator('[data-stat="totals.attendees.expected"]')).to_have_text("2")
