"""The entrance dashboard for organisers: its page and JSON numbers, the arrivals chart, and
the event stream that tells an open dashboard when to fetch them again.

Live updates: every recorded scan NOTIFYs `tagung_checkin` with its conference id, in
whichever process it was made; each dashboard's event stream subscribes to that in its
process's live hub (service/live.py: one listening connection per process, streams capped
per process and per account). A stream whose listening connection drops ends, and the
browser's EventSource connects again; so does every stream after STREAM_SECONDS, which checks
the login again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Controller, MediaType, Request, get
from litestar.datastructures import State
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template

from registration import options
from registration.entrance import checkin, queries
from registration.entrance.chart import arrivals_svg
from registration.entrance.schemas import EntranceStats
from registration.entrance.stats import arrival_intervals, entrance_stats
from registration.staff_api import (
    CATEGORIES,
    NOT_CACHED,
    ORGANISER,
    STAFF_SECURITY,
    Slug,
)
from service.auth import CurrentStaff
from service.conferences.lookups import STAFF, ConferenceRow, staff_conference
from service.db import DB, UNAVAILABLE_ERRORS
from service.live import LiveHub, Subscription, keep_until_done, release_stream

KEEPALIVE_SECONDS = 20.0  # a comment line now and then keeps proxies from closing the stream
STREAM_SECONDS = 600.0
RETRY_MILLISECONDS = 3000


# ── live updates ────────────────────────────────────────────────────────────


async def scan_events(hub: LiveHub, subscription: Subscription) -> AsyncIterator[Any]:
    """`ready` once listening, then `changed` whenever scans of this conference were recorded
    (a burst of scans becomes one event), and a comment line every KEEPALIVE_SECONDS."""
    try:
        yield ServerSentEventMessage(
            event="ready", data=subscription.payload, retry=RETRY_MILLISECONDS
        )
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        while (left := ends - loop.time()) > 0:
            happened = await subscription.wait(min(KEEPALIVE_SECONDS, left))
            if happened == "lost":
                return
            if happened == "idle":
                yield ServerSentEventMessage(comment="keep-alive", data=None)
            else:
                yield ServerSentEventMessage(event="changed", data=subscription.payload)
    finally:
        # Synchronous, so it also runs when the stream is cancelled (the browser went away).
        hub.leave(subscription)


async def unavailable_events() -> AsyncIterator[Any]:
    # Nothing to listen with now: the browser tries again after the retry time.
    yield ServerSentEventMessage(event="unavailable", data="", retry=RETRY_MILLISECONDS)


# ── handlers ────────────────────────────────────────────────────────────────


class EntranceAPI(Controller):
    path = "/api/v1/conferences/{slug:str}/entrance"
    tags = ["entrance (staff)"]
    guards = ORGANISER
    security = STAFF_SECURITY
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get(
        "/stats",
        summary="Entrance numbers: arrived and inside vs expected, by category and door",
        description=(
            "`totals`: attendees and exhibitor staff apart; `expected` is confirmed, `entered` "
            "arrived at least once, `inside` arrived and not left. `arrivals`: people per "
            "15 minutes by their first admission (at most the last 24 hours). `forums`: "
            "people seen at each forum's door and people holding a seat. "
            "`offline_conflicts`: tickets admitted at a door while it was offline although "
            "already inside. `recent_scans`: the last 20 scans recorded. Times are in the "
            "conference's time zone. The dashboard's event stream says when these change."
        ),
    )
    async def stats(self, db: DB, conference: ConferenceRow) -> EntranceStats:
        return await entrance_stats(db, conference)


class EntrancePages(Controller):
    path = "/staff/conferences/{slug:str}"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get("/entrance")
    async def dashboard(self, db: DB, slug: Slug, conference: ConferenceRow) -> Template:
        stats = await entrance_stats(db, conference)
        base = f"/staff/conferences/{slug}"
        api = f"/api/v1/conferences/{slug}/entrance"
        return Template(
            "registration/entrance_dashboard.html",
            context={
                "conference": conference,
                "stats": stats,
                "chart": arrivals_svg(stats.arrivals, conference["timezone"]),
                "urls": {
                    "here": f"{base}/entrance",
                    "stats": f"{api}/stats",
                    "events": f"{base}/entrance/events",
                    "chart": f"{base}/entrance/arrivals.svg",
                    "badges": f"{base}/badges",
                    "attendees_csv": f"{api}/attendees.csv",
                    "checkins_csv": f"{api}/checkins.csv",
                    "needs_csv": f"{api}/needs.csv",
                },
                "categories": [(c, options.category_name(c)) for c in CATEGORIES],
            },
            media_type=MediaType.HTML,
        )

    @get("/entrance/arrivals.svg", media_type="image/svg+xml")
    async def chart(self, db: DB, conference: ConferenceRow) -> str:
        rows = await queries.arrivals(db, conference["id"])
        zone = conference["timezone"]
        return arrivals_svg(arrival_intervals(rows, ZoneInfo(zone)), zone)

    @get("/entrance/events", middleware=[release_stream])
    async def events(
        self, request: Request, state: State, staff: CurrentStaff, slug: Slug
    ) -> ServerSentEvent:
        # No request-long pooled connection: the stream may stay open for minutes (so not
        # the `conference` dependency, which takes the request's connection).
        async with state.pool.acquire(timeout=state.settings.db_connect_timeout) as db:
            conference = await staff_conference(db, slug, staff)
        hub: LiveHub = state.live
        try:
            # Beyond the caps: 429 with Retry-After; the page keeps its numbers without updates.
            subscription = await hub.subscribe(
                checkin.CHECKIN_CHANNEL, str(conference["id"]), staff.id
            )
        except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError):
            return ServerSentEvent(unavailable_events())
        keep_until_done(request.scope, hub, subscription)
        return ServerSentEvent(scan_events(hub, subscription))
