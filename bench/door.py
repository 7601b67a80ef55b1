"""The door: distinct valid tickets through POST /api/v1/checkin.

Closed loop at 16 and 64 scanners (each device scans its next ticket when the last answer is
on screen) against pgbench simple-update (-N) at the same client count; open loop at a fixed
200 scans/s (latency percentiles); a re-scan pass (every answer already_checked_in); and at
the end, from SQL, every ticket admitted exactly once. Each device has its own API token and
sends a nonce with every scan, as a scanning app does.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import nullcontext

import asyncpg
import msgspec

from bench import profile
from bench.data import Attendee, make_attendees, make_conference, scanner_tokens
from bench.harness import (
    JSON_HEADERS,
    Connection,
    CpuMeter,
    Row,
    Run,
    baseline,
    closed_loop,
    database,
    json_body,
    open_loop,
    progress,
    ratio,
    service,
)

SLUG = "tuer-2027"
CLOSED = (16, 64)
CLOSED_SECONDS = 5.0
OPEN_RATE = 200
OPEN_SECONDS = 10.0
OPEN_CONNECTIONS = 64
WARMUP = 300
RESCAN = 2000
# Enough tickets for every phase at ~2,000 scans/s (more than this machine reaches).
TICKETS_PER_RUN = WARMUP + len(CLOSED) * int(CLOSED_SECONDS * 2000) + OPEN_RATE * int(OPEN_SECONDS)

_decode = msgspec.json.Decoder()


class Scanner:
    """Sends one scan per call; each connection is one door with its own device token."""

    def __init__(self, device_tokens: list[str]) -> None:
        self._tokens = itertools.cycle(device_tokens)
        self._headers: dict[Connection, bytes] = {}
        self.admitted: list[Attendee] = []

    async def __call__(self, connection: Connection, attendee: Attendee) -> str:
        headers = self._headers.get(connection)
        if headers is None:
            token = next(self._tokens)
            headers = self._headers[connection] = (
                JSON_HEADERS + f"Authorization: Bearer {token}\r\n".encode()
            )
        body = json_body(
            {
                "conference": SLUG,
                "secret": attendee.ticket_secret,
                "gate": "Nord",
                "type": "entry",
                "nonce": uuid.uuid4().hex,
            }
        )
        status, content = await connection.request("POST", "/api/v1/checkin", body, headers)
        if status != 200:
            return f"http {status}"
        decision = _decode.decode(content)
        if decision["status"] == "ok":
            self.admitted.append(attendee)
            return "ok"
        return decision["reason"]


def _describe(run: Run, expected: str) -> str:
    others = {k: v for k, v in run.outcomes.items() if k != expected}
    return f"{run.count_of(expected):,} {expected}" + (f", others: {others}" if others else "")


async def _check(url: str, scanned: int, admitted: int) -> list[Row]:
    conn = await asyncpg.connect(url)
    try:
        inside = await conn.fetchval("SELECT count(*) FROM registrations WHERE inside")
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT registration_id FROM scans WHERE type = 'entry' "
            "AND status = 'ok' GROUP BY registration_id HAVING count(*) > 1) AS t"
        )
        ok_scans = await conn.fetchval(
            "SELECT count(*) FROM scans WHERE type = 'entry' AND status = 'ok'"
        )
    finally:
        await conn.close()
    good = inside == admitted == scanned == ok_scans and twice == 0
    return [
        (
            "  check: admitted exactly once",
            f"{'yes' if good else 'NO'} ({scanned:,} distinct tickets scanned, {admitted:,} ok, "
            f"{inside:,} inside, {ok_scans:,} ok entry scans, {twice} admitted twice)",
        )
    ]


async def run(server_url: str, workers_options: tuple[int, ...] = (1, 2)) -> list[Row]:
    rows: list[Row] = []
    async with database(server_url) as url:
        conn = await asyncpg.connect(url)
        try:
            conference_id = await make_conference(conn, SLUG, capacity=0)
            total = TICKETS_PER_RUN * len(workers_options)
            progress(f"door: {total:,} confirmed registrations with tickets, 64 devices")
            attendees = await make_attendees(conn, conference_id, total)
            devices = await scanner_tokens(conn, max(*CLOSED, OPEN_CONNECTIONS))
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        pgbench = {c: await baseline(url, clients=c) for c in CLOSED}
        for c in CLOSED:
            rows.append((f"pgbench -N, {c} clients (baseline)", f"{pgbench[c]:,.0f} tx/s"))
        supply: Iterator[Attendee] = iter(attendees)
        scanned = 0
        scanner = Scanner(devices)
        for workers in workers_options:
            tickets = list(itertools.islice(supply, TICKETS_PER_RUN))
            feed = iter(tickets)
            with service(url, workers=workers) as svc:
                progress(f"door: {workers} worker(s), warm-up ({WARMUP} scans)")
                await closed_loop(
                    svc.host, svc.port, scanner, itertools.islice(feed, WARMUP), clients=64
                )
                for clients in CLOSED:
                    progress(
                        f"door: {workers} worker(s), {clients} scanners, closed loop, "
                        f"{CLOSED_SECONDS:g} s"
                    )
                    meter = await CpuMeter.of(svc, url)
                    meter.start()
                    # --profile: py-spy on one web worker, in the 64-scanner loop of the first run
                    first = clients == CLOSED[-1] and workers == workers_options[0]
                    with (
                        profile.sampling(meter.app_pids[-1], CLOSED_SECONDS)
                        if first
                        else nullcontext()
                    ):
                        closed = await closed_loop(
                            svc.host,
                            svc.port,
                            scanner,
                            feed,
                            clients=clients,
                            seconds=CLOSED_SECONDS,
                        )
                    cpu = meter.stop(closed.count)
                    rows.append(
                        (
                            f"door, {workers}w, {clients} scanners (closed)",
                            f"{closed.rate:,.0f} scans/s = {ratio(closed.rate, pgbench[clients])} "
                            f"pgbench -N; p50/p99 {closed.p(0.5):.1f}/{closed.p(0.99):.1f} ms",
                        )
                    )
                    if closed.count != closed.count_of("ok"):
                        rows.append(("  unexpected answers", _describe(closed, "ok")))
                    rows.append(("  CPU", cpu))
                progress(
                    f"door: {workers} worker(s), open loop, {OPEN_RATE} scans/s for "
                    f"{OPEN_SECONDS:g} s"
                )
                meter = await CpuMeter.of(svc, url)
                meter.start()
                opened = await open_loop(
                    svc.host,
                    svc.port,
                    scanner,
                    feed,
                    rate=OPEN_RATE,
                    seconds=OPEN_SECONDS,
                    connections=OPEN_CONNECTIONS,
                )
                rows.append(
                    (
                        f"door, {workers}w, open loop {OPEN_RATE}/s",
                        f"p50/p95/p99 {opened.p(0.5):.1f}/{opened.p(0.95):.1f}/"
                        f"{opened.p(0.99):.1f} ms, max {opened.p(1.0):.1f} ms "
                        f"({opened.count:,} scans, {opened.count / opened.wall:.0f}/s achieved, "
                        f"send lag ≤ {opened.send_lag * 1000:.1f} ms)",
                    )
                )
                rows.append(("  CPU", meter.stop(opened.count)))
                if opened.count != opened.count_of("ok"):
                    rows.append(("  unexpected answers", _describe(opened, "ok")))
                used = len(tickets) - sum(1 for _ in feed)
                scanned += used
                again = [a for a in scanner.admitted[-RESCAN:]]
                progress(f"door: {workers} worker(s), re-scan of {len(again):,} tickets")
                rescan = await closed_loop(svc.host, svc.port, scanner, again, clients=64)
                good = rescan.count_of("already_checked_in") == len(again)
                rows.append(
                    (
                        f"door, {workers}w, re-scan, 64 scanners",
                        f"{rescan.rate:,.0f} scans/s = {ratio(rescan.rate, pgbench[64])} "
                        f"pgbench -N; {'all' if good else 'NOT all'} already_checked_in "
                        f"({_describe(rescan, 'already_checked_in')})",
                    )
                )
                peaks = svc.peak_rss_mb()
                main = peaks.pop(svc.process.pid, 0.0)
                rows.append(
                    (
                        "  peak RSS",
                        f"web workers {', '.join(f'{mb:.0f}' for mb in sorted(peaks.values()))} MB"
                        f"; granian main process {main:.0f} MB",
                    )
                )
        rows += await _check(url, scanned, len(scanner.admitted))
    return rows
