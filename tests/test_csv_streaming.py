"""Streamed CSV exports: the same bytes as a file made at once, complete over many cursor
batches, compressed on the way, and the pooled connection held for the whole stream and given
back when it ends — also when the client goes away in the middle of the download."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import gc
import io
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.response import Stream
from litestar.testing import AsyncTestClient

from registration import staff_queries
from service.app import create_app
from service.db import (
    DB,
    EXPORT_BATCH,
    create_pool,
    in_batches,
    provide_db,
    share_connection,
)
from service.spreadsheet import csv_bytes, csv_chunks
from tests.registration_support import SLUG, make_conference

API = f"/api/v1/conferences/{SLUG}"
PEOPLE = 2 * EXPORT_BATCH + 345  # three cursor batches


async def _batches(rows: list[Any], size: int) -> AsyncIterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def _joined(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in stream])


async def test_streamed_pieces_make_the_same_file():
    header = ("id", "name", "note")
    rows = [(i, f"Name {i}; ä", ("=1+1", "@x", "-2", "\tx", "ok", "")[i % 6]) for i in range(25)]
    whole = csv_bytes(header, rows)
    assert whole.startswith(b"\xef\xbb\xbf") and b"'=1+1" in whole and b"'@x" in whole
    for size in (1, 7, 25, 100):
        pieces = [p async for p in csv_chunks(header, _batches(rows, size), tuple)]
        assert b"".join(pieces) == whole
        assert len(pieces) == -(-len(rows) // size)  # one piece a batch, the header in the first
    assert await _joined(csv_chunks(header, _batches([], 10), tuple)) == csv_bytes(header, [])


async def _many_registrations(pool: asyncpg.Pool, count: int) -> None:
    """`count` registrations made in SQL: every 7th waiting, every 5th with a formula-like
    name; the first 2/3 of the confirmed ones admitted at a door."""
    async with pool.acquire() as db:
        conference_id = await db.fetchval("SELECT id FROM conferences WHERE slug = $1", SLUG)
        await db.execute(
            """
            INSERT INTO registrations (
                conference_id, email, name, organisation, category, language, status,
                confirm_salt, confirm_hash, confirm_expires_at, manage_salt, manage_hash,
                ticket_salt, ticket_hash, waitlist_position, confirmed_at)
            SELECT $1, 'p' || g || '@example.org',
                   CASE WHEN g % 5 = 0 THEN '=Person ' ELSE 'Person ' END || lpad(g::text, 5, '0'),
                   'Verein ' || (g % 13), 'volunteer', 'de',
                   CASE WHEN g % 7 = 0 THEN 'waitlisted' ELSE 'confirmed' END,
                   sha256(('cs' || g)::bytea), sha256(('ch' || g)::bytea), now(),
                   sha256(('ms' || g)::bytea), sha256(('mh' || g)::bytea),
                   sha256(('ts' || g)::bytea), sha256(('th' || g)::bytea),
                   CASE WHEN g % 7 = 0 THEN g END,
                   CASE WHEN g % 7 <> 0 THEN now() END
            FROM generate_series(1, $2) g
            """,
            conference_id,
            count,
        )
        await db.execute(
            "UPDATE registrations SET entered_at = now(), entered_gate = 'Nord', inside = true "
            "WHERE conference_id = $1 AND status = 'confirmed' AND id % 3 <> 0",
            conference_id,
        )
        await db.execute(
            "INSERT INTO scans (conference_id, registration_id, device, nonce, gate, type,"
            " status, response, scanned_at)"
            " SELECT $1, id, 'door', 'n' || id, 'Nord', 'entry', 'ok', '{}',"
            "        now() + id * interval '1 second'"
            " FROM registrations WHERE conference_id = $1 AND entered_at IS NOT NULL",
            conference_id,
        )


def _rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf") and content.count(b"\xef\xbb\xbf") == 1
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


async def test_exports_larger_than_a_batch_are_complete(client, organiser, pool):
    await make_conference(client, organiser)
    await _many_registrations(pool, PEOPLE)

    response = await client.get(f"{API}/registrations.csv", headers=organiser.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "no-store" in response.headers["cache-control"]
    assert "content-length" not in response.headers  # streamed, not built first
    assert response.headers["content-encoding"] == "gzip"  # and compressed on the way
    rows = _rows(response.content)
    assert len(rows) == PEOPLE
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == PEOPLE
    assert response.content.count(b"\r\nid;") == 0 and response.content.count(b"id;name") == 1
    by_name = {r["name"] for r in rows}
    assert "'=Person 00005" in by_name and "Person 00004" in by_name
    waiting = [r for r in rows if r["status"] == "waitlisted"]
    assert [int(r["waitlist_position"]) for r in waiting] == list(range(1, len(waiting) + 1))

    # Filtered and searched exports stream too (the search in its own planned transaction).
    search = await client.get(
        f"{API}/registrations.csv", params={"q": "Verein 1"}, headers=organiser.headers
    )
    expected = sum(1 for g in range(1, PEOPLE + 1) if g % 13 in (1, 10, 11, 12))
    assert len(_rows(search.content)) == expected

    attendees = _rows(
        (await client.get(f"{API}/entrance/attendees.csv", headers=organiser.headers)).content
    )
    confirmed = PEOPLE - PEOPLE // 7
    assert len(attendees) == confirmed
    assert [a["name"].lower() for a in attendees] == sorted(a["name"].lower() for a in attendees)

    scans = _rows(
        (await client.get(f"{API}/entrance/checkins.csv", headers=organiser.headers)).content
    )
    assert len(scans) == sum(1 for a in attendees if a["inside"] == "yes") > EXPORT_BATCH
    assert len({s["registration_id"] for s in scans}) == len(scans)

    # Uncompressed when the client does not ask for gzip: the same rows.
    plain = await client.get(
        f"{API}/registrations.csv",
        headers={**organiser.headers, "accept-encoding": "identity"},
    )
    assert "content-encoding" not in plain.headers
    assert _rows(plain.content) == rows


async def test_a_dependency_connection_is_released_before_the_body_unless_shared(settings):
    """Why the export routes have `share_connection`: Litestar tears a `yield` dependency down
    when the handler has made its response, before the body is sent. A stream reading from
    the handler's `db` would read from a connection already back in the pool."""
    seen: dict[str, Any] = {}

    async def body(db: asyncpg.Connection, name: str) -> AsyncIterator[bytes]:
        try:
            seen[name] = await db.fetchval("SELECT 'held'")
        except asyncpg.InterfaceError as exc:
            seen[name] = type(exc).__name__
        yield b"done"

    @get("/own")
    async def own(db: DB) -> Stream:
        return Stream(body(db, "own"))

    @get("/shared", middleware=[share_connection])
    async def shared(db: DB) -> Stream:
        return Stream(body(db, "shared"))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings.database_url, size=2)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Litestar(
        [own, shared],
        lifespan=[lifespan],
        state=State({"settings": settings}),
        dependencies={"db": Provide(provide_db)},
    )
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/own")).text == "done"
        assert (await client.get("/shared")).text == "done"
    assert seen == {"own": "InterfaceError", "shared": "held"}


# ── a client that goes away in the middle of a download ─────────────────────


class Gone(Exception):
    pass


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    if error is None:
        return False
    if isinstance(error, kind):
        return True
    inner = getattr(error, "exceptions", ())  # an exception group
    return any(_caused_by(e, kind) for e in inner) or _caused_by(
        error.__cause__ or error.__context__, kind
    )


async def _download(
    app: Any, path: str, token: str, probe: asyncpg.Pool, *, then: str
) -> list[dict[str, Any]]:
    """GET `path` straight through ASGI. At the first piece of the body, `then` says what the
    client does: 'stall' (stops reading until it is gone: the stream waits in `send`),
    'leave' (says http.disconnect and keeps reading: the stream is cancelled wherever it is,
    often in a cursor fetch) or 'break' (`send` fails, as on a broken socket). Returns what
    was observed then (`probe`: a pool of the test's own, to look at the app's connection)."""
    gone = asyncio.Event()
    observed: list[dict[str, Any]] = []
    pool: asyncpg.Pool = app.state.pool
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver.local"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"accept-encoding", b"gzip"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "extensions": {},
        "state": {},
    }
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] != "http.response.body" or observed:
            return
        async with probe.acquire() as db:
            states = await db.fetch(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        observed.append(
            {
                "in_use": pool.get_size() - pool.get_idle_size(),
                "states": sorted(r["state"] for r in states),
                "more_body": message.get("more_body"),
            }
        )
        gone.set()
        if then == "stall":
            await asyncio.Event().wait()  # cancelled when the disconnect is heard
        if then == "break":
            raise Gone

    if then == "break":
        with pytest.raises(BaseException) as raised:
            await app(scope, receive, send)
        # Litestar reports it as "Exception caught after response started", from ours.
        assert _caused_by(raised.value, Gone), repr(raised.value)
    else:
        await asyncio.wait_for(app(scope, receive, send), 30)
    return observed


@pytest.mark.parametrize("then", ["stall", "leave", "break"])
async def test_an_aborted_download_gives_the_connection_back(
    settings, organiser, pool, monkeypatch, then
):
    cursors: list[AsyncGenerator[Any, None]] = []

    def recorded(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        cursors.append(in_batches(*args, **kwargs))
        return cursors[-1]

    monkeypatch.setattr(staff_queries, "in_batches", recorded)
    # One connection in the app's pool: a connection kept by the aborted download would make
    # the next request wait for it and fail. The app runs in this test's event loop (not the
    # test client's thread), so its ASGI calls can be made by hand.
    app = create_app(dataclasses.replace(settings, db_pool_size=1, db_connect_timeout=2.0))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client,
    ):
        await make_conference(client, organiser)
        await _many_registrations(pool, PEOPLE)
        path = f"{API}/registrations.csv"

        loop = asyncio.get_running_loop()
        complaints: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: complaints.append(context))
        try:
            observed = await _download(app, path, organiser.token, pool, then=then)
            # Whatever was left to the garbage collector (an async generator not closed when
            # the response ended) is finalised now; it must have nothing left to do.
            for _ in range(3):
                gc.collect()
                await asyncio.sleep(0.05)
        finally:
            loop.set_exception_handler(None)
        assert complaints == []
        # The export's cursor generator was closed when the response ended (its transaction
        # ended on the request's connection), not left to the garbage collector.
        assert len(cursors) == 1 and cursors[0].ag_frame is None

        # While the file was being sent, the request held one connection, in the open
        # transaction of the export's cursor.
        assert observed and observed[0]["more_body"] is True
        assert observed[0]["in_use"] == 1
        assert observed[0]["states"].count("idle in transaction") == 1
        # Afterwards: every connection back in the pool, none left in a transaction.
        app_pool: asyncpg.Pool = app.state.pool
        assert app_pool.get_idle_size() == app_pool.get_size()
        async with pool.acquire() as db:
            left = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%'"
            )
        assert left == 0
        # And the pool serves the next downloads in full.
        for _ in range(3):
            again = await client.get(path, headers=organiser.headers)
            assert again.status_code == 200 and len(_rows(again.content)) == PEOPLE
