"""The registration rush: 640 people for 50 places, 64 at a time.

Two timed passes through the public API, 64 concurrent clients each: every person registers
(POST /api/v1/conferences/{slug}/registrations: a pending registration, consents and the
confirmation mail in the outbox), then every person confirms with the token from that mail
(POST /api/v1/registrations/confirm: a place or the waiting list, and the ticket or waiting-list
mail in the outbox). Between the passes, untimed, the bench reads the confirmation salts from
the database and derives the tokens the mails would carry. At the end, from SQL: no
overbooking (seats_taken == capacity == confirmed), the waiting list in one strict order, one
mail per step in the outbox.
"""

from __future__ import annotations

import asyncpg
import msgspec

from bench.data import KEY, make_conference
from bench.harness import (
    JSON_HEADERS,
    Connection,
    CpuMeter,
    Row,
    baseline,
    closed_loop,
    database,
    json_body,
    progress,
    ratio,
    service,
)
from service import tokens

CLIENTS = 64
PEOPLE = 640
PLACES = 50

_decode = msgspec.json.Decoder()


def _person(i: int, slug: str) -> dict:
    return {
        "name": f"Teilnehmerin {i}",
        "email": f"rush{i}@{slug}.example.org",
        "organisation": f"Verein {i % 37}",
        "category": "volunteer",
        "language": "de" if i % 3 else "en",
        "consents": {"privacy": True, "photos": i % 2 == 0},
    }


async def _check(url: str, slug: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        c = await conn.fetchrow(
            "SELECT id, capacity, seats_taken FROM conferences WHERE slug = $1", slug
        )
        counts = dict(
            await conn.fetch(
                "SELECT status, count(*) FROM registrations WHERE conference_id = $1 "
                "GROUP BY status",
                c["id"],
            )
        )
        positions = await conn.fetchval(
            "SELECT count(DISTINCT waitlist_position) FROM registrations "
            "WHERE conference_id = $1 AND status = 'waitlisted'",
            c["id"],
        )
        mails = dict(
            await conn.fetch(
                "SELECT o.kind, count(*) FROM outbox o JOIN registrations r ON r.id = o.ref_id "
                "WHERE r.conference_id = $1 GROUP BY o.kind",
                c["id"],
            )
        )
    finally:
        await conn.close()
    confirmed, waiting = counts.get("confirmed", 0), counts.get("waitlisted", 0)
    good = (
        c["seats_taken"] == c["capacity"] == confirmed == PLACES
        and waiting == positions == PEOPLE - PLACES
        and mails.get("registration.confirm") == PEOPLE
        and mails.get("registration.ticket") == PLACES
        and mails.get("registration.waitlisted") == PEOPLE - PLACES
    )
    text = (
        f"{'yes' if good else 'NO'} (capacity {c['capacity']}, seats_taken {c['seats_taken']}, "
        f"{confirmed} confirmed, {waiting} waiting in {positions} distinct places; mails "
        + ", ".join(f"{k.split('.')[1]} {v}" for k, v in sorted(mails.items()))
        + ")"
    )
    return text


async def run(server_url: str, workers_options: tuple[int, ...] = (1, 2)) -> list[Row]:
    rows: list[Row] = []
    async with database(server_url) as url:
        conn = await asyncpg.connect(url)
        try:
            for workers in workers_options:
                await make_conference(conn, f"ansturm-{workers}", capacity=PLACES)
                await make_conference(conn, f"vorlauf-{workers}", capacity=1000)
        finally:
            await conn.close()
        pgbench = await baseline(url, clients=CLIENTS)
        rows.append((f"pgbench -N, {CLIENTS} clients (baseline)", f"{pgbench:,.0f} tx/s"))
        for workers in workers_options:
            slug = f"ansturm-{workers}"
            with service(url, workers=workers) as svc:

                async def register(connection: Connection, i: int, slug: str = slug) -> str:
                    path = f"/api/v1/conferences/{slug}/registrations"
                    status, _ = await connection.request(
                        "POST", path, json_body(_person(i, slug)), JSON_HEADERS
                    )
                    return "accepted" if status == 202 else f"http {status}"

                async def warm_up(connection: Connection, i: int, slug: str = slug) -> str:
                    return await register(connection, i, f"vorlauf-{slug.rsplit('-')[-1]}")

                async def confirm(connection: Connection, token: str) -> str:
                    status, content = await connection.request(
                        "POST",
                        "/api/v1/registrations/confirm",
                        json_body({"token": token}),
                        JSON_HEADERS,
                    )
                    return _decode.decode(content)["status"] if status == 200 else f"http {status}"

                # Not timed: the pool's connections open, the statements are prepared.
                await closed_loop(svc.host, svc.port, warm_up, range(128), clients=CLIENTS)
                progress(f"registration rush: {workers} worker(s), {PEOPLE} register")
                meter = await CpuMeter.of(svc, url)
                meter.start()
                registered = await closed_loop(
                    svc.host, svc.port, register, range(PEOPLE), clients=CLIENTS
                )
                register_cpu = meter.stop(registered.count)
                conn = await asyncpg.connect(url)
                try:
                    salts = await conn.fetch(
                        "SELECT email, confirm_salt FROM registrations r "
                        "JOIN conferences c ON c.id = r.conference_id WHERE c.slug = $1 "
                        "AND r.email LIKE 'rush%' ORDER BY r.id",
                        slug,
                    )
                finally:
                    await conn.close()
                by_email = {r["email"]: r["confirm_salt"] for r in salts}
                confirm_tokens = [
                    tokens.derive(KEY, "confirm", by_email[_person(i, slug)["email"]])
                    for i in range(PEOPLE)
                ]
                progress(f"registration rush: {workers} worker(s), {PEOPLE} confirm")
                meter.start()
                confirmed = await closed_loop(
                    svc.host, svc.port, confirm, confirm_tokens, clients=CLIENTS
                )
                confirm_cpu = meter.stop(confirmed.count)
            both = (registered.count + confirmed.count) / (registered.wall + confirmed.wall)
            rows.append(
                (
                    f"rush, {workers}w: register + confirm",
                    f"{both:,.0f} requests/s = {ratio(both, pgbench)} pgbench -N "
                    f"({PEOPLE} people in {registered.wall + confirmed.wall:.2f} s)",
                )
            )
            rows.append(
                (
                    "  register",
                    f"{registered.rate:,.0f}/s = {ratio(registered.rate, pgbench)}; "
                    f"p50/p99 {registered.p(0.5):.0f}/{registered.p(0.99):.0f} ms; "
                    f"{registered.outcomes}",
                )
            )
            rows.append(("    CPU", register_cpu))
            rows.append(
                (
                    "  confirm",
                    f"{confirmed.rate:,.0f}/s = {ratio(confirmed.rate, pgbench)}; "
                    f"p50/p99 {confirmed.p(0.5):.0f}/{confirmed.p(0.99):.0f} ms; "
                    f"{confirmed.outcomes}",
                )
            )
            rows.append(("    CPU", confirm_cpu))
            rows.append(("  check: no overbooking", await _check(url, slug)))
    return rows
