"""The entrance for organisers: a live dashboard, name badges, and CSV exports.

Numbers come from PostgreSQL on every request (`entrance_queries`), so every app process
shows the same. Live updates: every recorded scan NOTIFYs `tagung_checkin` with its conference
id, in whichever process it was made; each dashboard's event stream subscribes to that in its
process's live hub (service/live.py: one listening connection per process, streams capped
per process and per account). A stream whose listening connection drops ends, and the
browser's EventSource connects again; so does every stream after STREAM_SECONDS, which checks
the login again.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from math import ceil
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Controller, MediaType, Request, get
from litestar.datastructures import State
from litestar.exceptions import ClientException, NotFoundException
from litestar.response import ServerSentEvent, ServerSentEventMessage, Stream, Template

from registration import options
from registration.entrance import checkin, queries
from registration.schemas import Needs
from registration.staff_api import (
    CATEGORIES,
    MAX_ID,
    NOT_CACHED,
    ORGANISER,
    STAFF_SECURITY,
    Slug,
    conference_or_404,
)
from registration.views import forum_attendance, ticket_secret
from service import i18n
from service.auth import CurrentStaff
from service.db import DB, UNAVAILABLE_ERRORS, share_connection
from service.i18n import gettext as _
from service.live import LiveHub, Subscription, keep_until_done, release_stream
from service.qr import qr_svg
from service.spreadsheet import MEDIA_TYPE, csv_download

INTERVAL = timedelta(minutes=15)
MAX_INTERVALS = 96  # the chart shows at most the last 24 hours with arrivals
RECENT_SCANS = 20
KEEPALIVE_SECONDS = 20.0  # a comment line now and then keeps proxies from closing the stream
STREAM_SECONDS = 600.0
RETRY_MILLISECONDS = 3000
LAYOUTS = ("a6", "a4")
BADGES_PER_SHEET = {"a6": 1, "a4": 4}
MAX_SELECTED = 1000


# ── shapes (JSON) ───────────────────────────────────────────────────────────


class Counts(msgspec.Struct):
    expected: int  # confirmed
    entered: int  # arrived at least once (an entry that was undone does not count)
    inside: int  # entered and not left


class Totals(msgspec.Struct):
    attendees: Counts  # everyone but exhibitor staff
    exhibitor_staff: Counts


class CategoryCounts(msgspec.Struct):
    category: str
    label: str
    expected: int
    entered: int
    inside: int


class GateCounts(msgspec.Struct):
    gate: str  # "" when the device gave none
    admitted: int
    refused: int
    exits: int
    inside: int  # inside now, having entered here


class Interval(msgspec.Struct):
    start: datetime
    end: datetime
    arrivals: int  # people whose first admission falls in [start, end)


class ForumCounts(msgspec.Struct):
    id: int
    title: str
    language: str  # of the title
    room: str
    starts_at: datetime
    present: int  # seen at the forum's door
    signed_up: int  # holding a seat


class OfflineConflict(msgspec.Struct):
    scan_id: int
    registration_id: int | None
    name: str | None
    organisation: str
    gate: str  # the door that admitted the ticket while offline
    scanned_at: datetime
    first_gate: str | None  # the entry the server had already recorded
    first_at: datetime | None


class RecentScan(msgspec.Struct):
    id: int
    scanned_at: datetime
    gate: str
    type: str
    status: str
    reason: str | None
    decision: str  # in words, in the request's language
    offline: bool
    registration_id: int | None
    name: str | None


class EntranceStats(msgspec.Struct):
    conference: str
    timezone: str
    generated_at: datetime
    totals: Totals
    by_category: list[CategoryCounts]
    by_gate: list[GateCounts]
    arrivals: list[Interval]
    forums: list[ForumCounts]
    offline_conflicts: list[OfflineConflict]
    recent_scans: list[RecentScan]


# ── the numbers ─────────────────────────────────────────────────────────────


def decision_text(scan_type: str, status: str, reason: str | None) -> str:
    if status == "ok":
        return {
            "exit": _("Left"),
            "undo": _("Entry taken back"),
        }.get(scan_type, _("Admitted"))
    return {
        "invalid": _("Invalid code"),
        "already_checked_in": _("Already checked in"),
        "cancelled": _("Registration cancelled"),
        "not_confirmed": _("Registration not confirmed"),
        "other_conference": _("Ticket for another conference"),
        "not_inside": _("Was not inside"),
    }.get(reason or "", _("Refused"))


def _sum(rows: list[CategoryCounts]) -> Counts:
    return Counts(
        expected=sum(r.expected for r in rows),
        entered=sum(r.entered for r in rows),
        inside=sum(r.inside for r in rows),
    )


def _intervals(rows: list[asyncpg.Record], zone: ZoneInfo) -> list[Interval]:
    """Every quarter hour from the first arrival to the last (empty ones too), at most the
    last MAX_INTERVALS of them."""
    if not rows:
        return []
    counts = {r["start"]: r["n"] for r in rows}
    last = rows[-1]["start"]
    start = max(rows[0]["start"], last - INTERVAL * (MAX_INTERVALS - 1))
    intervals = []
    while start <= last:
        intervals.append(
            Interval(
                start=start.astimezone(zone),
                end=(start + INTERVAL).astimezone(zone),
                arrivals=counts.get(start, 0),
            )
        )
        start += INTERVAL
    return intervals


def _gate_order(gate: GateCounts) -> tuple[bool, str]:
    return (gate.gate == "", gate.gate.lower())  # named doors first, "no door" last


async def entrance_stats(db: asyncpg.Connection, conference: asyncpg.Record) -> EntranceStats:
    cid = conference["id"]
    zone = ZoneInfo(conference["timezone"])
    counted: dict[str, Counter[str]] = defaultdict(Counter)
    inside_at: Counter[str] = Counter()
    for row in await queries.by_category_and_gate(db, cid):
        counted[row["category"]].update(
            expected=row["expected"], entered=row["entered"], inside=row["inside"]
        )
        if row["inside_gate"] is not None:
            inside_at[row["inside_gate"]] += row["inside"]
    by_category = [
        CategoryCounts(
            category=category,
            label=options.category_name(category),
            expected=counted[category]["expected"],
            entered=counted[category]["entered"],
            inside=counted[category]["inside"],
        )
        for category in CATEGORIES
    ]
    gates = {
        r["gate"]: GateCounts(
            gate=r["gate"],
            admitted=r["admitted"],
            refused=r["refused"],
            exits=r["exits"],
            inside=inside_at.get(r["gate"], 0),
        )
        for r in await queries.scans_by_gate(db, cid)
    }
    english = i18n.current_language.get() == "en"
    return EntranceStats(
        conference=conference["slug"],
        timezone=conference["timezone"],
        generated_at=datetime.now(zone),
        totals=Totals(
            attendees=_sum([c for c in by_category if c.category != "exhibitor_staff"]),
            exhibitor_staff=_sum([c for c in by_category if c.category == "exhibitor_staff"]),
        ),
        by_category=by_category,
        by_gate=sorted(gates.values(), key=_gate_order),
        arrivals=_intervals(await queries.arrivals(db, cid), zone),
        forums=[
            ForumCounts(
                id=f["id"],
                title=f["title_en"] if english and f["title_en"] else f["title"],
                language="en" if english and f["title_en"] else "de",
                room=f["room"],
                starts_at=f["starts_at"].astimezone(zone),
                present=f["present"],
                signed_up=f["signed_up"],
            )
            for f in await forum_attendance(db, cid)
        ],
        offline_conflicts=[
            OfflineConflict(
                scan_id=c["id"],
                registration_id=c["registration_id"],
                name=c["name"],
                organisation=c["organisation"],
                gate=c["gate"],
                scanned_at=c["scanned_at"].astimezone(zone),
                first_gate=c["first_gate"],
                first_at=c["first_at"].astimezone(zone) if c["first_at"] else None,
            )
            for c in await queries.offline_conflicts(db, cid)
        ],
        recent_scans=[
            RecentScan(
                id=s["id"],
                scanned_at=s["scanned_at"].astimezone(zone),
                gate=s["gate"],
                type=s["type"],
                status=s["status"],
                reason=s["reason"],
                decision=decision_text(s["type"], s["status"], s["reason"]),
                offline=s["offline"],
                registration_id=s["registration_id"] if s["name"] is not None else None,
                name=s["name"],
            )
            for s in await queries.recent_scans(db, cid, RECENT_SCANS)
        ],
    )


# ── the chart ───────────────────────────────────────────────────────────────

SVG_NS = "http://www.w3.org/2000/svg"
CHART_WIDTH, CHART_HEIGHT = 640, 260
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44, 12, 24, 44
BAR_COLOUR = "#0a4f8f"  # --primary; the stylesheet's .chart-bar overrides it (dark scheme)


def _span(interval: Interval, zone: str) -> str:
    return f"{i18n.format_clock(interval.start, zone)}–{i18n.format_clock(interval.end, zone)}"


def chart_description(intervals: list[Interval], zone: str) -> str:
    if not intervals:
        return _("No arrivals yet.")
    peak = max(intervals, key=lambda i: i.arrivals)
    return _(
        "%(total)s arrivals from %(start)s to %(end)s. The busiest quarter of an hour was "
        "%(peak_span)s with %(peak)s arrivals. The table below lists every quarter of an hour.",
        total=sum(i.arrivals for i in intervals),
        start=i18n.format_clock(intervals[0].start, zone),
        end=i18n.format_clock(intervals[-1].end, zone),
        peak_span=_span(peak, zone),
        peak=peak.arrivals,
    )


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> None:
    element = ET.SubElement(parent, "text", x=f"{x:.1f}", y=f"{y:.1f}", fill="currentColor")
    for name, value in attrs.items():
        element.set(name.replace("_", "-"), value)
    element.text = text


def arrivals_svg(intervals: list[Interval], zone: str) -> str:
    """Arrivals per quarter hour as bars: an inline <svg> with <title> and <desc>; being an
    image to assistive technology, it is followed on the page by the same data as a table."""
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {CHART_WIDTH} {CHART_HEIGHT}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": "arrivals-chart-title arrivals-chart-desc",
            "class": "chart",
            "font-size": "13",
        },
    )
    ET.SubElement(svg, "title", id="arrivals-chart-title").text = _("Arrivals per 15 minutes")
    ET.SubElement(svg, "desc", id="arrivals-chart-desc").text = chart_description(intervals, zone)
    plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    baseline = PLOT_TOP + plot_height
    ET.SubElement(
        svg,
        "line",
        x1=str(PLOT_LEFT),
        y1=str(baseline),
        x2=str(CHART_WIDTH - PLOT_RIGHT),
        y2=str(baseline),
        stroke="currentColor",
    )
    if not intervals:
        _text(svg, CHART_WIDTH / 2, baseline / 2 + 8, _("No arrivals yet."), text_anchor="middle")
        return ET.tostring(svg, encoding="unicode")
    peak = max(i.arrivals for i in intervals) or 1
    _text(svg, PLOT_LEFT - 6, PLOT_TOP + 5, str(peak), text_anchor="end")
    _text(svg, PLOT_LEFT - 6, baseline + 4, "0", text_anchor="end")
    slot = plot_width / max(len(intervals), 12)  # a lone bar stays a bar
    gap = min(4.0, slot * 0.2)
    label_every = max(1, ceil(len(intervals) / 8))
    for index, interval in enumerate(intervals):
        x = PLOT_LEFT + index * slot
        height = plot_height * interval.arrivals / peak
        ET.SubElement(
            svg,
            "rect",
            {
                "x": f"{x + gap / 2:.1f}",
                "y": f"{baseline - height:.1f}",
                "width": f"{slot - gap:.1f}",
                "height": f"{height:.1f}",
                "fill": BAR_COLOUR,
                "class": "chart-bar",
            },
        )
        if interval.arrivals and len(intervals) <= 24:
            _text(
                svg,
                x + slot / 2,
                baseline - height - 4,
                str(interval.arrivals),
                text_anchor="middle",
            )
        if index % label_every == 0:
            clock = i18n.format_clock(interval.start, zone)
            _text(svg, x + slot / 2, baseline + 18, clock, text_anchor="middle")
    return ET.tostring(svg, encoding="unicode")


# ── exports ─────────────────────────────────────────────────────────────────


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    # "2027-05-10 09:12:05" in the conference's time zone: a spreadsheet reads date and time.
    # (isoformat cut after the seconds: the same text as strftime, a quarter of its time.)
    return value.astimezone(zone).isoformat(" ", "seconds")[:19] if value else ""


def _yes(value: bool) -> str:
    return "yes" if value else "no"


ATTENDEE_COLUMNS = (
    "id",
    "name",
    "organisation",
    "category",
    "inside",
    "entered_at",
    "entered_gate",
)
CHECKIN_COLUMNS = (
    "scanned_at",
    "gate",
    "type",
    "status",
    "reason",
    "registration_id",
    "name",
    "organisation",
    "offline",
)
NEEDS_COLUMNS = (
    "id",
    "name",
    "organisation",
    "category",
    "accessibility",
    "interpretation",
    "dietary",
    "notes",
    "inside",
)


def attendee_line(r: asyncpg.Record, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        r["id"],
        r["name"],
        r["organisation"],
        r["category"],
        _yes(r["inside"]),
        _when(r["entered_at"], zone),
        r["entered_gate"] or "",
    )


def checkin_line(r: asyncpg.Record, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        _when(r["scanned_at"], zone),
        r["gate"],
        r["type"],
        r["status"],
        r["reason"] or "",
        r["registration_id"] if r["name"] is not None else "",
        r["name"] or "",
        r["organisation"],
        _yes(r["offline"]),
    )


def _needs(stored: Any) -> Needs:
    try:
        return msgspec.convert(stored or {}, Needs)
    except msgspec.ValidationError:  # written by hand into the database: show nothing
        return Needs()


def needs_line(r: asyncpg.Record) -> tuple[Any, ...]:
    needs = _needs(r["needs"])
    return (
        r["id"],
        r["name"],
        r["organisation"],
        r["category"],
        ", ".join(needs.accessibility),
        needs.interpretation or "",
        ", ".join(needs.dietary),
        needs.notes,
        _yes(r["inside"]),
    )


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
    async def stats(self, db: DB, slug: Slug) -> EntranceStats:
        return await entrance_stats(db, await conference_or_404(db, slug))

    @get(
        "/attendees.csv",
        summary="Export confirmed attendees with their entrance state as CSV",
        description="UTF-8 with BOM, ';' separated; formula-like cells get a leading apostrophe.",
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        # Streamed from a cursor: the guard's connection serves the handler and the stream.
        middleware=[share_connection],
    )
    async def attendees_export(self, db: DB, slug: Slug) -> Stream:
        conference = await conference_or_404(db, slug)
        zone = ZoneInfo(conference["timezone"])
        return csv_download(
            f"teilnehmende-{conference['slug']}.csv",
            ATTENDEE_COLUMNS,
            queries.attendees(db, conference["id"]),
            lambda r: attendee_line(r, zone),
        )

    @get(
        "/checkins.csv",
        summary="Export every scan at the entrance as CSV (admitted and refused)",
        description="Times in the conference's time zone. UTF-8 with BOM, ';' separated.",
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        middleware=[share_connection],
    )
    async def checkins_export(self, db: DB, slug: Slug) -> Stream:
        conference = await conference_or_404(db, slug)
        zone = ZoneInfo(conference["timezone"])
        return csv_download(
            f"einlass-{conference['slug']}.csv",
            CHECKIN_COLUMNS,
            queries.all_scans(db, conference["id"]),
            lambda r: checkin_line(r, zone),
        )

    @get(
        "/needs.csv",
        summary="Export the needs of confirmed attendees who consented to their storage",
        description=(
            "Accessibility, interpretation, food and notes, only for registrations with the "
            "special-category consent (GDPR Art. 9) and stated needs. UTF-8 with BOM."
        ),
        response_description="text/csv",
        media_type=MEDIA_TYPE,
        middleware=[share_connection],
    )
    async def needs_export(self, db: DB, slug: Slug) -> Stream:
        conference = await conference_or_404(db, slug)
        return csv_download(
            f"bedarfe-{conference['slug']}.csv",
            NEEDS_COLUMNS,
            queries.needs(db, conference["id"]),
            needs_line,
        )


def _selection(params: Any) -> tuple[str, list[int] | None, str | None]:
    """The badge sheet's query: layout, ids (from ?id= or ?ids=), category."""
    layout = params.get("layout") or "a6"
    if layout not in LAYOUTS:
        raise ClientException(_("The layout is a6 or a4."))
    category = params.get("category") or None
    if category is not None and category not in CATEGORIES:
        raise ClientException(_("There is no such category."))
    raw = ",".join(v for v in (params.get("id"), params.get("ids")) if v)
    if not raw:
        return layout, None, category
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > MAX_SELECTED or not all(p.isdigit() for p in parts):
        raise ClientException(_("Registration numbers are whole numbers separated by commas."))
    ids = [int(p) for p in parts]
    if any(not 0 < i <= MAX_ID for i in ids):
        raise ClientException(_("Registration numbers are whole numbers separated by commas."))
    return layout, ids, category


class EntrancePages(Controller):
    path = "/staff/conferences/{slug:str}"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED

    @get("/entrance")
    async def dashboard(self, db: DB, slug: Slug) -> Template:
        conference = await conference_or_404(db, slug)
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
    async def chart(self, db: DB, slug: Slug) -> str:
        conference = await conference_or_404(db, slug)
        rows = await queries.arrivals(db, conference["id"])
        zone = conference["timezone"]
        return arrivals_svg(_intervals(rows, ZoneInfo(zone)), zone)

    @get("/entrance/events", middleware=[release_stream])
    async def events(
        self, request: Request, state: State, staff: CurrentStaff, slug: Slug
    ) -> ServerSentEvent:
        # No request-long pooled connection: the stream may stay open for minutes.
        async with state.pool.acquire(timeout=state.settings.db_connect_timeout) as db:
            conference = await conference_or_404(db, slug)
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

    @get("/badges")
    async def badges(self, request: Request, db: DB, state: State, slug: Slug) -> Template:
        conference = await conference_or_404(db, slug)
        layout, ids, category = _selection(request.query_params)
        holders = await queries.badge_holders(db, conference["id"], ids, category)
        if ids is not None and not holders:
            raise NotFoundException(_("There is no confirmed registration with this number."))
        secrets = [ticket_secret(state.settings, r) for r in holders]
        # A few hundred codes take a moment to draw: not on the event loop.
        codes = await asyncio.to_thread(lambda: [qr_svg(s) for s in secrets])
        badges = [
            {
                "id": r["id"],
                "name": r["name"],
                "organisation": r["organisation"],
                "category": r["category"],
                "category_label": options.category_name(r["category"]),
                "qr": code,
            }
            for r, code in zip(holders, codes, strict=True)
        ]
        here = f"/staff/conferences/{slug}/badges"
        kept = {k: v for k, v in request.query_params.items() if k not in ("layout", "lang")}
        return Template(
            "registration/entrance_badges.html",
            context={
                "conference": conference,
                "badges": badges,
                "layout": layout,
                "per_sheet": BADGES_PER_SHEET[layout],
                "layout_urls": {
                    name: f"{here}?{urlencode({**kept, 'layout': name})}" for name in LAYOUTS
                },
                "back_url": f"/staff/conferences/{slug}/entrance",
            },
            media_type=MediaType.HTML,
        )
