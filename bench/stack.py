"""Where a scan's CPU goes in the web worker, without a server or a network in between.

`python -m bench --only stack`: the same `POST /api/v1/checkin` is sent straight into the ASGI
app in this process, one request after another, and the process's CPU time per request is
read (`time.process_time`). Sequential requests in one process are far less disturbed by the
neighbours than a throughput run, so the layers can be told apart:

- **driver**: the scan's one statement through asyncpg alone (what any Python client pays);
- **bare Litestar**: a Litestar app with only the scan route (same handler, same guard, same
  body type), no middleware: the framework's floor for this request;
- **the app**: `service.app.create_app` as served, where a Bearer scan without a cookie takes
  the door's hot path (service/hot_path.py: no session, language cookie or compression); the
  same app without its request log line; and the same scan with a cookie beside the token,
  which passes every middleware (request log, language, session, CSRF, compression) as the
  scanner page's scans do.

The differences between rows are what each layer costs. The baseline here is the driver row
(a ratio against it says how much the web path adds); nothing is compared with pgbench.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg

from bench.data import make_attendees, make_conference, scanner_tokens
from bench.harness import SECRET_KEY, Row, database, json_body, progress
from service.settings import Settings

SLUG = "stapel-2027"
REQUESTS = 3000
BATCH = 50  # short batches: more chances of one undisturbed by the neighbours
WARMUP = 300

Scope = dict[str, Any]
Step = Callable[[str], Awaitable[None]]


def _scope(token: str, body: bytes, cookie: bytes | None = None) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/checkin",
        "raw_path": b"/api/v1/checkin",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
            *([(b"cookie", cookie)] if cookie else []),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: Callable[..., Awaitable[None]], scope: Scope, body: bytes) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def _body(secret: str) -> bytes:
    return json_body(
        {
            "conference": SLUG,
            "secret": secret,
            "gate": "Nord",
            "type": "entry",
            "nonce": uuid.uuid4().hex,
        }
    )


async def _per_request(steps: dict[str, Step], tickets: Iterator[str]) -> dict[str, float]:
    """CPU µs per call of each step over distinct tickets, after a warm-up: the best of
    several batches (as timeit does), since a neighbour can only ever add to a batch's time.
    The steps take their batches in turn, so a neighbour's load that comes and goes falls on
    every row alike (one row after another, rows differed by ±100 µs on a busy machine)."""
    for step in steps.values():
        for _ in range(WARMUP):
            await step(next(tickets))
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(REQUESTS // BATCH):
        for name, step in steps.items():
            batch = [next(tickets) for _ in range(BATCH)]
            started = time.process_time()
            for secret in batch:
                await step(secret)
            best[name] = min(best[name], (time.process_time() - started) / len(batch))
    return {name: seconds * 1e6 for name, seconds in best.items()}


async def _lifespan(app: Any) -> Callable[[], Awaitable[None]]:
    """Starts the app's lifespan (its pool); returns the function that ends it."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    await queue.put({"type": "lifespan.startup"})

    async def receive() -> dict[str, Any]:
        return await queue.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, receive, send))
    await started.wait()

    async def stop() -> None:
        await queue.put({"type": "lifespan.shutdown"})
        await task

    return stop


async def run(server_url: str) -> list[Row]:
    """Measured on uvloop in a thread of its own, as Granian runs the app (it picks uvloop)."""
    try:
        import uvloop
    except ImportError:
        return await _measure(server_url)
    return await asyncio.to_thread(uvloop.run, _measure(server_url))


async def _measure(server_url: str) -> list[Row]:
    from litestar import Litestar
    from litestar.datastructures import State
    from litestar.di import Provide

    from registration.entrance import checkin
    from registration.entrance.api import ScanAPI
    from service.app import create_app
    from service.auth import token_digest
    from service.db import create_pool, provide_db

    async with database(server_url) as url:
        progress("stack: data")
        setup = await asyncpg.connect(url)
        conference_id = await make_conference(setup, SLUG, capacity=10)
        people = await make_attendees(setup, conference_id, 5 * (WARMUP + REQUESTS))
        (token,) = await scanner_tokens(setup, 1)
        await setup.close()
        tickets = iter([p.ticket_secret for p in people])

        settings = replace(
            Settings.from_env(), database_url=url, secret_key=SECRET_KEY, run_worker=False
        )
        pool = await create_pool(url, size=1)
        digest = token_digest(token)
        request_log = logging.getLogger("tagung.requests")

        async def driver(secret: str) -> None:
            async with pool.acquire() as db:
                await checkin.scan_by_token(
                    db, digest, conference_slug=SLUG, secret=secret, gate="Nord"
                )

        def through(app: Any, cookie: bytes | None = None, log: bool = True) -> Step:
            async def step(secret: str) -> None:
                body = _body(secret)
                request_log.disabled = not log
                try:
                    status = await _call(app, _scope(token, body, cookie), body)
                finally:
                    request_log.disabled = False
                if status != 200:
                    raise RuntimeError(f"scan answered {status}")

            return step

        @asynccontextmanager
        async def bare_pool(app: Litestar) -> AsyncIterator[None]:
            app.state.pool = pool
            yield

        bare = Litestar(
            route_handlers=[ScanAPI],
            state=State({"settings": settings}),
            dependencies={"db": Provide(provide_db)},
            lifespan=[bare_pool],
            logging_config=None,
            openapi_config=None,
        )
        app = create_app(settings)
        stops = [await _lifespan(bare), await _lifespan(app)]
        progress("stack: driver, bare Litestar and the app, in turn")
        try:
            us = await _per_request(
                {
                    "driver": driver,
                    "bare": through(bare),
                    "app": through(app),
                    # German either way: the cookie names what Accept-Language would give.
                    "cookie": through(app, cookie=b"lang=de"),
                    "quiet": through(app, log=False),
                },
                tickets,
            )
        finally:
            for stop in reversed(stops):
                await stop()
            await pool.close()
        driver_us = us["driver"]

    def line(label: str, us: float) -> Row:
        return (label, f"{us:,.0f} µs CPU/request = {us / driver_us:.1f} × driver")

    return [
        line("driver: checkin_scan_by_token (baseline)", driver_us),
        line("bare Litestar, the scan route only", us["bare"]),
        line("the app, request log off", us["quiet"]),
        line("the app as served", us["app"]),
        line("the app, a cookie beside the token", us["cookie"]),
    ]
