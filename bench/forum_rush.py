"""The forum rush: 700 confirmed attendees each sign up for 3 forums the moment sign-up opens.

20 forums of 25–60 seats in 4 time slots of 5 parallel forums; each person picks 3 of the 4
slots and one forum in each, the popular forums far more often (their seats go at once and
their waiting lists grow). The 2,100 sign-ups (PUT /api/v1/registrations/{token}/forums/{id})
go out person by person through 64 concurrent clients, so one person's three requests are in
flight together. At the end, from SQL: no forum overbooked, nobody waiting while a seat is
free, each waiting list in one strict order, nobody holding two forums at overlapping times.
"""

from __future__ import annotations

import random

import asyncpg
import msgspec

from bench.data import at, make_attendees, make_conference, make_forum
from bench.harness import (
    Connection,
    CpuMeter,
    Row,
    baseline,
    closed_loop,
    database,
    progress,
    ratio,
    service,
)

CLIENTS = 64
PEOPLE = 700
SLOTS = [at(9, 30), at(11, 0), at(13, 30), at(15, 0)]
PARALLEL = 5
POPULARITY = [8, 4, 2, 1, 1]  # relative weights of the 5 forums of a slot

_decode = msgspec.json.Decoder()


async def _setup(db: asyncpg.Connection, slug: str) -> tuple[list[tuple[str, int]], int]:
    """The forums and people of one run; returns the sign-ups to send, in order."""
    conference_id = await make_conference(db, slug, capacity=PEOPLE)
    forums: list[list[int]] = []
    seats = 0
    for s, starts_at in enumerate(SLOTS):
        slot = []
        for f in range(PARALLEL):
            capacity = 25 + (s * PARALLEL + f) * 7 % 36  # 25 … 60
            seats += capacity
            slot.append(
                await make_forum(
                    db,
                    conference_id,
                    title=f"Forum {s + 1}.{f + 1}",
                    starts_at=starts_at,
                    minutes=75,
                    capacity=capacity,
                    room=f"Raum {11 + f}",
                )
            )
        forums.append(slot)
    people = await make_attendees(db, conference_id, PEOPLE, prefix=f"{slug}-")
    chooser = random.Random(7)
    signups = []
    for i, person in enumerate(people):
        for s, slot in enumerate(forums):
            if s == i % len(SLOTS):
                continue  # 3 of the 4 slots
            forum_id = chooser.choices(slot, weights=POPULARITY)[0]
            signups.append((person.manage_token, forum_id))
    return signups, seats


async def _check(url: str, slug: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        forums = await conn.fetch(
            """
            SELECT f.id, f.capacity, f.seats_taken,
                   count(*) FILTER (WHERE s.status = 'confirmed') AS confirmed,
                   count(*) FILTER (WHERE s.status = 'waitlisted') AS waiting,
                   count(DISTINCT s.waitlist_position) AS positions
            FROM forums f JOIN conferences c ON c.id = f.conference_id
            LEFT JOIN forum_signups s ON s.forum_id = f.id
            WHERE c.slug = $1 GROUP BY f.id
            """,
            slug,
        )
        clashes = await conn.fetchval(
            """
            SELECT count(*) FROM forum_signups a
            JOIN forum_signups b ON a.registration_id = b.registration_id AND a.id < b.id
            JOIN forums f ON f.id = a.forum_id JOIN conferences c ON c.id = f.conference_id
            WHERE c.slug = $1 AND a.status = 'confirmed' AND b.status = 'confirmed'
              AND a.during && b.during
            """,
            slug,
        )
    finally:
        await conn.close()
    overbooked = sum(1 for f in forums if not f["seats_taken"] == f["confirmed"] <= f["capacity"])
    idle_seats = sum(1 for f in forums if f["waiting"] and f["confirmed"] < f["capacity"])
    disorder = sum(1 for f in forums if f["positions"] != f["waiting"])
    held = sum(f["confirmed"] for f in forums)
    waiting = sum(f["waiting"] for f in forums)
    good = overbooked == idle_seats == disorder == clashes == 0
    text = (
        f"{'yes' if good else 'NO'} ({len(forums)} forums: {overbooked} overbooked, "
        f"{idle_seats} with waiting people and free seats, {disorder} waiting lists out of "
        f"order; {clashes} clashes; {held} seats held, {waiting} waiting)"
    )
    return text


async def run(server_url: str, workers_options: tuple[int, ...] = (1, 2)) -> list[Row]:
    rows: list[Row] = []
    async with database(server_url) as url:
        conn = await asyncpg.connect(url)
        try:
            plans = {}
            for workers in workers_options:
                plans[workers] = await _setup(conn, f"foren-{workers}")
                # A warm-up conference: the same requests, not timed, so that pool connections
                # are open and statements prepared before the rush.
                plans[-workers] = await _setup(conn, f"vorlauf-{workers}")
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        pgbench = await baseline(url, clients=CLIENTS)
        rows.append((f"pgbench -N, {CLIENTS} clients (baseline)", f"{pgbench:,.0f} tx/s"))

        async def sign_up(connection: Connection, signup: tuple[str, int]) -> str:
            token, forum_id = signup
            status, content = await connection.request(
                "PUT", f"/api/v1/registrations/{token}/forums/{forum_id}"
            )
            return _decode.decode(content)["status"] if status == 200 else f"http {status}"

        for workers in workers_options:
            signups, seats = plans[workers]
            with service(url, workers=workers) as svc:
                await closed_loop(
                    svc.host, svc.port, sign_up, plans[-workers][0][:300], clients=CLIENTS
                )
                progress(
                    f"forum rush: {workers} worker(s), {len(signups):,} sign-ups "
                    f"for {seats:,} seats"
                )
                meter = await CpuMeter.of(svc, url)
                meter.start()
                rush = await closed_loop(svc.host, svc.port, sign_up, signups, clients=CLIENTS)
                cpu = meter.stop(rush.count)
            rows.append(
                (
                    f"forum rush, {workers}w, {len(signups):,} sign-ups",
                    f"{rush.wall:.2f} s = {rush.rate:,.0f} sign-ups/s = "
                    f"{ratio(rush.rate, pgbench)} pgbench -N; p50/p99 {rush.p(0.5):.0f}/"
                    f"{rush.p(0.99):.0f} ms",
                )
            )
            rows.append(
                ("  answers", ", ".join(f"{k} {v}" for k, v in sorted(rush.outcomes.items())))
            )
            rows.append(("  CPU", cpu))
            rows.append(
                ("  check: no overbooking, no clash", await _check(url, f"foren-{workers}"))
            )
    return rows
