"""The entrance's numbers for the dashboard and its JSON: who is expected, who has arrived and
who is inside (by category and by door), arrivals per quarter hour, the forums' doors, offline
conflicts and the last scans.

Numbers come from PostgreSQL on every request (`queries`), so every app process shows the same.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from registration import options
from registration.entrance import queries
from registration.entrance.schemas import (
    CategoryCounts,
    Counts,
    EntranceStats,
    ForumCounts,
    GateCounts,
    Interval,
    OfflineConflict,
    RecentScan,
    Totals,
)
from registration.staff_api import CATEGORIES
from registration.views import forum_attendance
from service import i18n
from service.i18n import gettext as _

INTERVAL = timedelta(minutes=15)
MAX_INTERVALS = 96  # the chart shows at most the last 24 hours with arrivals
RECENT_SCANS = 20


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


def arrival_intervals(rows: list[asyncpg.Record], zone: ZoneInfo) -> list[Interval]:
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
        arrivals=arrival_intervals(await queries.arrivals(db, cid), zone),
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
