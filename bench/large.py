"""Large conference: 100,000 registrations, staff pages and the staff API against an absolute
budget of 200 ms server time per request (issue 7). No pgbench ratio here: the target is a
bound on server time, not a throughput.

The data is made in SQL with generate_series (seconds, not minutes): a realistic mix of
statuses and categories, needs with the matching consent, 20 forums with sign-ups and
attendance, 30,000 people admitted at the doors with their scans. One organiser logs in
through /staff/login (session cookie, CSRF token of the form) for the HTML pages, and uses an
API token (Bearer) for the JSON API. Each page is requested 10 times (after 2 unmeasured) one
after another over one keep-alive loopback connection with the bench's raw HTTP client, so
the time is the server's time to the last byte plus well under 0.1 ms of client and loopback
(the request log of `service/app.py` is not configured in Granian's worker processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import re
import socket
import statistics
import struct
import time
from pathlib import Path

import asyncpg
import httpx

from bench.data import make_conference
from bench.harness import Connection, Row, _cpu_seconds, database, progress, service
from service.auth import new_api_token
from service.staff import create_staff

PEOPLE = 100_000
FORUMS = 200
SLOTS = 10
STANDS = 500
APPROVED = 460  # exhibitors on a stand
ENTERED = 30_000
REPEATS = 10
BUDGET_MS = 200.0
SLUG = "grosser-fachtag"
ORGANISER = ("orga@tagung.example", "bench-organiser-password")

_DATA = f"""
-- Registrations: 82 % confirmed, 6 % waiting, 7 % cancelled, 5 % not yet confirmed.
INSERT INTO registrations (
    conference_id, email, name, organisation, category, language, needs, status,
    confirm_salt, confirm_hash, confirm_expires_at, manage_salt, manage_hash,
    ticket_salt, ticket_hash, waitlist_position, created_at, confirmed_at, cancelled_at)
SELECT $1,
       'person' || g || '@example.org',
       (ARRAY['Anna','Ben','Clara','David','Emine','Felix','Greta','Hamid','Ida','Jonas',
              'Katrin','Lukas','Maria','Noah','Olga','Paul','Rana','Sven','Tanja','Yusuf'])
           [g % 20 + 1] || ' ' ||
       (ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker',
              'Schulz','Hoffmann','Koch','Richter','Klein','Wolf','Schröder','Neumann',
              'Schwarz','Braun','Zimmermann','Krüger','Hartmann','Lange','Werner','Krause',
              'Lehmann','Köhler','Yılmaz','Kaya','Nowak','Kowalski'])[(g / 20) % 30 + 1]
           || ' ' || g,
       'Verein ' || (g % 997),
       CASE WHEN g % 20 < 11 THEN 'volunteer' WHEN g % 20 < 14 THEN 'association'
            WHEN g % 20 < 17 THEN 'full_time_staff' WHEN g % 20 = 17 THEN 'speaker'
            WHEN g % 20 = 18 THEN 'press' ELSE 'exhibitor_staff' END,
       CASE WHEN g % 4 = 0 THEN 'en' ELSE 'de' END,
       CASE WHEN g % 10 = 3 THEN
           jsonb_build_object(
               'accessibility', CASE WHEN g % 30 = 3 THEN '["wheelchair"]'::jsonb
                                     ELSE '[]'::jsonb END,
               'dietary', (ARRAY['["vegetarian"]','["vegan"]','["halal"]',
                                 '["gluten_free","lactose_free"]'])[g % 4 + 1]::jsonb,
               'interpretation', CASE WHEN g % 50 = 3 THEN 'DGS' ELSE '' END,
               'notes', CASE WHEN g % 70 = 3 THEN 'Bitte Platz nahe am Ausgang' ELSE '' END)
       ELSE '{{}}'::jsonb END,
       st.status,
       sha256(('cs' || g)::bytea), sha256(('ch' || g)::bytea), now() + interval '2 days',
       sha256(('ms' || g)::bytea), sha256(('mh' || g)::bytea),
       sha256(('ts' || g)::bytea), sha256(('th' || g)::bytea),
       CASE WHEN st.status = 'waitlisted' THEN nextval('waitlist_order') END,
       now() - interval '30 days' + g * interval '20 seconds',
       CASE WHEN st.status = 'confirmed' THEN now() - interval '29 days' + g * interval '20 s'
       END,
       CASE WHEN st.status = 'cancelled' THEN now() - interval '1 day' END
FROM generate_series(1, {PEOPLE}) g,
     LATERAL (SELECT CASE WHEN g % 100 < 82 THEN 'confirmed'
                          WHEN g % 100 < 88 THEN 'waitlisted'
                          WHEN g % 100 < 95 THEN 'cancelled'
                          ELSE 'pending_confirmation' END AS status) st;

-- Consents: privacy for everyone, special categories for those who stated needs.
INSERT INTO consents (registration_id, kind, text_version)
SELECT id, 'privacy', '2026-01' FROM registrations WHERE conference_id = $1;
INSERT INTO consents (registration_id, kind, text_version)
SELECT id, 'special_category', '2026-01' FROM registrations
WHERE conference_id = $1 AND needs <> '{{}}'::jsonb;

UPDATE conferences SET capacity = {PEOPLE},
       seats_taken = (SELECT count(*) FROM registrations
                      WHERE conference_id = $1 AND status = 'confirmed')
WHERE id = $1;

-- The programme of the day.
INSERT INTO programme_items (conference_id, title, kind, starts_at, ends_at, room)
SELECT $1, title, kind, TIMESTAMPTZ '2027-05-10 00:00 Europe/Berlin' + starts,
       TIMESTAMPTZ '2027-05-10 00:00 Europe/Berlin' + ends, room
FROM (VALUES
    ('Eröffnung und Grußworte', 'plenary', interval '9 hours', interval '9 hours 25 min',
     'Saal 1'),
    ('Foren, Runde 1 bis 4', 'forums', interval '9 hours 30 min', interval '12 hours 25 min',
     ''),
    ('Mittagspause', 'break', interval '12 hours 25 min', interval '13 hours', 'Foyer'),
    ('Markt der Möglichkeiten', 'market', interval '12 hours', interval '17 hours', 'Hallen 1–4'),
    ('Foren, Runde 5 bis 10', 'forums', interval '13 hours', interval '16 hours 55 min', ''),
    ('Abschluss', 'plenary', interval '16 hours 30 min', interval '17 hours', 'Saal 1')
) AS p (title, kind, starts, ends, room);

-- Forums: {SLOTS} slots of {FORUMS // SLOTS} parallel forums, 40 minutes each.
INSERT INTO forums (conference_id, title, description, room, starts_at, ends_at, capacity)
SELECT $1, 'Forum ' || (f + 1) || ': ' || (ARRAY['Sprache im Alltag','Arbeit finden',
           'Wohnen','Ehrenamt stärken','Beratung vernetzen','Bildung von Anfang an',
           'Gesundheit','Kinder und Familie'])[f % 8 + 1],
       'Praxisbeispiele aus Kommunen und Verbänden, Austausch in kleinen Gruppen und '
           'Verabredungen für die Zusammenarbeit danach. Mit Dolmetschung nach Bedarf.',
       'Raum ' || (f % {FORUMS // SLOTS} + 1),
       TIMESTAMPTZ '2027-05-10 09:30 Europe/Berlin' + (f / {FORUMS // SLOTS}) * interval '45 min',
       TIMESTAMPTZ '2027-05-10 10:10 Europe/Berlin' + (f / {FORUMS // SLOTS}) * interval '45 min',
       CASE WHEN f % {FORUMS // SLOTS} = 0 THEN 600 WHEN f % 5 = 0 THEN 200 ELSE 400 END
FROM generate_series(0, {FORUMS - 1}) f;

-- Sign-ups: every fourth confirmed person, in three of the {SLOTS} slots; in each slot a
-- quarter of them want the first forum (600 seats, a long waiting list), the others spread
-- over the other forums (every fifth has 200 seats and a short waiting list).
WITH people AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM registrations
    WHERE conference_id = $1 AND status = 'confirmed'
), forum AS (
    SELECT id, row_number() OVER (ORDER BY starts_at, id) - 1 AS k, capacity, starts_at, ends_at
    FROM forums WHERE conference_id = $1
), wanted AS (
    SELECT p.id AS registration_id, f.id AS forum_id, f.capacity,
           tstzrange(f.starts_at, f.ends_at) AS during,
           row_number() OVER (PARTITION BY f.id ORDER BY p.id) AS place
    FROM people p
    JOIN forum f ON (f.k / {FORUMS // SLOTS} + p.n / 4) % {SLOTS} IN (0, 3, 6)
         AND f.k % {FORUMS // SLOTS} = CASE WHEN (p.n / 4) % 4 = 0 THEN 0
                                            ELSE 1 + (p.n / 16) % {FORUMS // SLOTS - 1} END
    WHERE p.n % 4 = 0
)
INSERT INTO forum_signups (forum_id, registration_id, status, waitlist_position, during)
SELECT forum_id, registration_id,
       CASE WHEN place <= capacity THEN 'confirmed' ELSE 'waitlisted' END,
       CASE WHEN place > capacity THEN nextval('forum_waitlist_order') END,
       during
FROM wanted ORDER BY forum_id, place;

UPDATE forums f SET seats_taken = (SELECT count(*) FROM forum_signups s
                                   WHERE s.forum_id = f.id AND s.status = 'confirmed')
WHERE conference_id = $1;

INSERT INTO forum_attendance (forum_id, registration_id)
SELECT forum_id, registration_id FROM forum_signups
WHERE status = 'confirmed' AND registration_id % 3 = 0;

-- The doors: {ENTERED:,} confirmed people admitted, a sixth of them gone out again.
WITH arrived AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM registrations
    WHERE conference_id = $1 AND status = 'confirmed' ORDER BY id LIMIT {ENTERED}
)
UPDATE registrations r
SET entered_at = TIMESTAMPTZ '2027-05-10 08:00 Europe/Berlin' + a.n * interval '300 ms',
    entered_gate = 'Tor ' || (a.n % 4 + 1),
    inside = a.n % 6 <> 0
FROM arrived a WHERE r.id = a.id;

INSERT INTO scans (conference_id, registration_id, device, nonce, gate, type, status,
                   response, scanned_at)
SELECT $1, id, 'door-' || substr(entered_gate, 5), 'e' || id, entered_gate, 'entry', 'ok',
       jsonb_build_object('status', 'ok'), entered_at
FROM registrations WHERE conference_id = $1 AND entered_at IS NOT NULL;
INSERT INTO scans (conference_id, registration_id, device, nonce, gate, type, status,
                   response, scanned_at)
SELECT $1, id, 'door-' || substr(entered_gate, 5), 'x' || id, entered_gate, 'exit', 'ok',
       jsonb_build_object('status', 'ok'), entered_at + interval '3 hours'
FROM registrations WHERE conference_id = $1 AND entered_at IS NOT NULL AND NOT inside;
INSERT INTO scans (conference_id, registration_id, device, nonce, gate, type, status, reason,
                   response, scanned_at)
SELECT $1, id, 'door-' || substr(entered_gate, 5), 'r' || id, entered_gate, 'entry', 'error',
       'already_checked_in', jsonb_build_object('status', 'error'),
       entered_at + interval '1 minute'
FROM registrations WHERE conference_id = $1 AND entered_at IS NOT NULL AND id % 10 = 0;

-- The market: {STANDS} stands in four halls (rows A to T of 25 stands, 3 × 3 m, an aisle
-- between rows), every 50th blocked.
INSERT INTO stands (conference_id, code, area, width_m, depth_m, features, price_cents, x, y,
                    max_staff, blocked)
SELECT $1, chr(65 + s / 25) || (s % 25 + 1), 'Halle ' || (s / 125 + 1), 3, 3,
       (ARRAY['{{power}}','{{power,wall}}','{{}}','{{power,corner}}','{{table}}'])[s % 5 + 1]
           ::text[],
       (15000 + (s % 3) * 5000), (s % 25) * 3.5, (s / 125) * 40 + ((s / 25) % 5) * 6,
       2 + s % 3, s % 50 = 49
FROM generate_series(0, {STANDS - 1}) s;

-- Booking requests: {APPROVED} organisations approved onto a stand each (the other
-- {STANDS - STANDS // 50 - APPROVED} bookable stands stay free), and 40 more (requested, waiting,
-- unconfirmed, rejected); two passes per approved exhibitor.
INSERT INTO exhibitor_bookings (
    conference_id, organisation, kind, contact_name, email, website, description,
    description_en, topics, staff_count, language, status, stand_id, waitlist_position,
    confirm_salt, confirm_hash, confirm_expires_at, manage_salt, manage_hash, created_at,
    confirmed_at, decided_at)
SELECT $1,
       (ARRAY['Migrationsberatung','Jugendmigrationsdienst','Sprachcafé','Integrationslotsen',
              'Flüchtlingshilfe','Kulturverein','Bildungswerk','Nachbarschaftshilfe'])
           [b % 8 + 1] || ' ' || (ARRAY['Hannover','Braunschweig','Göttingen','Oldenburg',
              'Osnabrück','Lüneburg','Celle','Hildesheim'])[(b / 8) % 8 + 1] || ' ' || b,
       (ARRAY['association','welfare_association','agency','municipality','initiative',
              'other'])[b % 6 + 1],
       'Kontakt ' || b, 'markt' || b || '@example.org', 'https://verein' || b || '.example/',
       'Wir beraten und begleiten Menschen, die neu in Niedersachsen sind: Sprache, Arbeit, '
           'Wohnen und Ehrenamt. Am Stand: Materialien in zwölf Sprachen und Gespräche mit '
           'Ehrenamtlichen aus unseren Projekten.',
       CASE WHEN b % 3 = 0 THEN 'We advise and accompany people new to Lower Saxony.' ELSE ''
       END,
       ARRAY[(ARRAY['Sprache','Arbeit','Wohnen','Ehrenamt','Beratung','Bildung','Gesundheit',
                    'Kinder und Familie'])[b % 8 + 1],
             (ARRAY['Sprache','Arbeit','Wohnen','Ehrenamt','Beratung','Bildung','Gesundheit',
                    'Kinder und Familie'])[(b / 8) % 8 + 1]],
       1 + b % 3, 'de', st.status,
       CASE WHEN st.status = 'approved' THEN s.id END,
       CASE WHEN st.status = 'waitlisted' THEN nextval('exhibitor_waitlist_order') END,
       sha256(('bcs' || b)::bytea), sha256(('bch' || b)::bytea), now() + interval '2 days',
       sha256(('bms' || b)::bytea), sha256(('bmh' || b)::bytea),
       now() - interval '60 days' + b * interval '1 hour',
       CASE WHEN st.status <> 'pending_confirmation' THEN now() - interval '59 days'
                + b * interval '1 hour' END,
       CASE WHEN st.status IN ('approved', 'waitlisted', 'rejected') THEN now() - interval '1 day'
       END
FROM generate_series(1, {APPROVED + 40}) b
LEFT JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM stands
           WHERE conference_id = $1 AND NOT blocked) s ON s.n = b AND b <= {APPROVED}
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.id IS NOT NULL THEN 'approved'
                WHEN b % 4 = 0 THEN 'requested' WHEN b % 4 = 1 THEN 'waitlisted'
                WHEN b % 4 = 2 THEN 'pending_confirmation' ELSE 'rejected' END AS status
) st;

WITH staff AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM registrations
    WHERE conference_id = $1 AND category = 'exhibitor_staff' AND status = 'confirmed'
), booked AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM exhibitor_bookings
    WHERE conference_id = $1 AND status = 'approved'
)
INSERT INTO exhibitor_passes (booking_id, registration_id)
SELECT b.id, s.id FROM booked b JOIN staff s ON s.n IN (2 * b.n - 1, 2 * b.n);
ANALYZE;
"""


async def make_data(url: str) -> tuple[int, str, int]:
    """The conference, its data, an organiser; returns (conference id, API token, forum id)."""
    db = await asyncpg.connect(url)
    try:
        conference_id = await make_conference(db, SLUG, capacity=PEOPLE)
        await db.execute("SET synchronous_commit = off")
        started = time.monotonic()
        # Several statements with one parameter: asyncpg's execute without arguments runs
        # a script, so the conference id goes in as text.
        await db.execute(_DATA.replace("$1", str(int(conference_id))))
        progress(f"large: data made in {time.monotonic() - started:.1f} s")
        staff_id = await create_staff(db, ORGANISER[0], "organiser", ORGANISER[1])
        token, digest = await asyncio.to_thread(new_api_token)
        await db.execute(
            "INSERT INTO api_tokens (staff_id, token_hash, label) VALUES ($1, $2, 'bench')",
            staff_id,
            digest,
        )
        forum_id = await db.fetchval(
            "SELECT forum_id FROM forum_signups GROUP BY forum_id ORDER BY count(*) DESC LIMIT 1"
        )
        return conference_id, token, forum_id
    finally:
        await db.close()


def login(base: str) -> str:
    """Logs the organiser in through the form; returns the Cookie header's value."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/staff/login").text
        match = re.search(r'name="_csrf_token"\s+value="([^"]+)"', form)
        if match is None:
            raise RuntimeError("no CSRF token in the login form")
        answer = client.post(
            "/staff/login",
            data={"email": ORGANISER[0], "password": ORGANISER[1], "_csrf_token": match[1]},
        )
        if answer.status_code not in (200, 302, 303) or client.get("/staff/").status_code != 200:
            raise RuntimeError(f"login failed: {answer.status_code}")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def timed(
    connection: Connection, path: str, headers: bytes, repeats: int
) -> tuple[list[float], set[int], int]:
    """(ms of each request, statuses, bytes of the last answer) of `repeats` requests sent one
    after another over one keep-alive connection on loopback."""
    times, statuses, size = [], set(), 0
    for _ in range(repeats):
        started = time.perf_counter()
        status, body = await connection.request("GET", path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(status)
        size = len(body)
    return times, statuses, size


def verdict(times: list[float], statuses: set[int], size: int) -> str:
    median, worst = statistics.median(times), max(times)
    within = "yes" if worst < BUDGET_MS else ("median only" if median < BUDGET_MS else "NO")
    status = ",".join(str(s) for s in sorted(statuses))
    return (
        f"median {median:6.1f} ms, max {worst:6.1f} ms; < {BUDGET_MS:.0f} ms: {within:<3}"
        f"  (http {status}, {size / 1024:,.0f} KB)"
    )


def _status_mb(pid: int, field: str) -> float:
    """A field of /proc/PID/status (VmRSS, VmHWM) in MB; 0 if the process is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak(pid: int) -> bool:
    """Sets the process's peak RSS (VmHWM) back to its current RSS (Linux ≥ 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def export_timed(
    connection: Connection, path: str, headers: bytes, worker: int, repeats: int
) -> tuple[list[float], set[int], int, int, float, float, float]:
    """Like `timed`, and the CSV's rows (lines less the header), the web worker's RSS before
    the first request, its peak during the requests (VmHWM reset before each) and its CPU ms
    per request."""
    times, statuses, size, lines, peak = [], set(), 0, 0, 0.0
    before = _status_mb(worker, "VmRSS")
    cpu = _cpu_seconds(worker)
    for _ in range(repeats):
        reset = _reset_peak(worker)
        started = time.perf_counter()
        status, body = await connection.request("GET", path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(status)
        text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        size, lines = len(body), text.count(b"\r\n") - 1
        peak = max(peak, _status_mb(worker, "VmHWM") if reset else float("nan"))
    cpu = (_cpu_seconds(worker) - cpu) / repeats * 1000
    return times, statuses, size, lines, before, peak, cpu


def export_verdict(
    times: list[float],
    statuses: set[int],
    size: int,
    lines: int,
    before: float,
    peak: float,
    cpu: float,
) -> str:
    median = statistics.median(times)
    per = f"{median / lines * 100_000:,.0f} ms/100,000 rows" if lines > 0 else "no rows"
    status = ",".join(str(s) for s in sorted(statuses))
    return (
        f"median {median:6.0f} ms, max {max(times):6.0f} ms; {lines:,} rows, "
        f"{size / 1e6:.1f} MB, {per}; worker CPU {cpu:,.0f} ms, RSS {before:.0f} MB, peak "
        f"{peak:.0f} MB (+{peak - before:.0f})  (http {status})"
    )


async def aborted_download(url: str, host: str, port: int, path: str, headers: bytes) -> str:
    """Starts an export, reads 256 KB, drops the connection; then how long until no backend
    of the bench database is in a transaction or a query any more (the cursor closed and the
    connection back in the pool)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode() + headers + b"\r\n")
    got = 0
    while got < 256 * 1024:
        piece = await reader.read(65536)
        if not piece:
            break
        got += len(piece)
    db = await asyncpg.connect(url)
    try:
        busy_sql = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
        during = await db.fetchval(busy_sql)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        writer.close()
        dropped = time.perf_counter()
        busy = await db.fetchval(busy_sql)
        for _ in range(2000):  # poll for at most ~10 s
            if not busy:
                break
            await asyncio.sleep(0.005)
            busy = await db.fetchval(busy_sql)
        after = (time.perf_counter() - dropped) * 1000
    finally:
        await db.close()
    return (
        f"read {got / 1024:,.0f} KB, dropped: {during} busy backend(s) before, {busy} after "
        f"{after:,.0f} ms" + ("" if busy else " (cursor closed, connection back in the pool)")
    )


async def run(server_url: str) -> list[Row]:
    async with database(server_url) as url:
        started = time.monotonic()
        _conference_id, token, forum_id = await make_data(url)
        setup = time.monotonic() - started
        db = await asyncpg.connect(url)
        counts = await db.fetchrow(
            "SELECT (SELECT count(*) FROM registrations) AS registrations,"
            " (SELECT count(*) FROM registrations WHERE status = 'confirmed') AS confirmed,"
            " (SELECT count(*) FROM consents WHERE kind = 'special_category') AS needs,"
            " (SELECT count(*) FROM forums) AS forums,"
            " (SELECT count(*) FROM forum_signups) AS signups,"
            " (SELECT count(*) FROM forum_signups WHERE forum_id = $1) AS largest,"
            " (SELECT count(*) FROM scans) AS scans,"
            " (SELECT count(*) FROM registrations WHERE entered_at IS NOT NULL) AS entered,"
            " (SELECT count(*) FROM stands) AS stands,"
            " (SELECT count(*) FROM exhibitor_bookings) AS bookings,"
            " (SELECT count(*) FROM exhibitor_bookings WHERE status = 'approved') AS approved,"
            " (SELECT count(*) FROM exhibitor_passes) AS passes",
            forum_id,
        )
        later = await db.fetchval(
            "SELECT id FROM registrations ORDER BY id OFFSET $1 LIMIT 1", PEOPLE * 3 // 4
        )
        # A page of the participants list deep in the waiting list (keyset: `after=w<place>`).
        waiting_place = await db.fetchval(
            "SELECT waitlist_position FROM forum_signups WHERE forum_id = $1"
            " AND status = 'waitlisted' ORDER BY waitlist_position"
            " OFFSET (SELECT count(*) * 2 / 3 FROM forum_signups"
            "         WHERE forum_id = $1 AND status = 'waitlisted') LIMIT 1",
            forum_id,
        )
        await db.close()
        rows: list[Row] = [
            (
                "data (SQL generate_series)",
                f"{counts['registrations']:,} registrations ({counts['confirmed']:,} confirmed),"
                f" {counts['needs']:,} with needs and consent, {counts['forums']} forums with "
                f"{counts['signups']:,} sign-ups (largest {counts['largest']:,}), "
                f"{counts['entered']:,} admitted, {counts['scans']:,} scans, "
                f"{counts['stands']} stands, {counts['bookings']} exhibitor bookings "
                f"({counts['approved']} on a stand, {counts['passes']} passes); "
                f"made in {setup:.1f} s",
            ),
        ]
        staff = f"/staff/conferences/{SLUG}"
        api = f"/api/v1/conferences/{SLUG}"
        public = f"/conferences/{SLUG}"
        pages = [
            ("staff overview (/staff/)", "/staff/", "cookie"),
            ("registrations list, first page", f"{staff}/registrations/", "cookie"),
            (
                "registrations list, later page (after)",
                f"{staff}/registrations/?after={later}",
                "cookie",
            ),
            (
                "registrations list, search 'Krüger 4'",
                f"{staff}/registrations/?q=Kr%C3%BCger+4",
                "cookie",
            ),
            (
                "registrations list, search e-mail",
                f"{staff}/registrations/?q=person77777%40",
                "cookie",
            ),
            (
                "registrations list, filter waiting + volunteer",
                f"{staff}/registrations/?status=waitlisted&category=volunteer",
                "cookie",
            ),
            ("entrance dashboard", f"{staff}/entrance", "cookie"),
            (f"forum list ({FORUMS} forums)", f"{staff}/forums", "cookie"),
            (
                "forum participants (largest forum)",
                f"/staff/forums/{forum_id}/participants",
                "cookie",
            ),
            (
                "forum participants, later page (after)",
                f"/staff/forums/{forum_id}/participants?after=w{waiting_place}",
                "cookie",
            ),
            (f"stand catalogue ({STANDS} stands)", f"{staff}/stands/", "cookie"),
            (f"exhibitor review ({APPROVED + 40} bookings)", f"{staff}/exhibitors/", "cookie"),
            ("API registrations, first page", f"{api}/registrations", "token"),
            ("API registrations, later page", f"{api}/registrations?after={later}", "token"),
            ("API registrations, search", f"{api}/registrations?q=Kr%C3%BCger+4", "token"),
            (
                "API registrations, filter",
                f"{api}/registrations?status=waitlisted&category=volunteer",
                "token",
            ),
            ("API registrations summary", f"{api}/registrations/summary", "token"),
            ("API entrance stats (JSON)", f"{api}/entrance/stats", "token"),
            ("public: conference page with programme", public, "public"),
            (f"public: forum list ({FORUMS} forums)", f"{public}/forums", "public"),
            (f"public: exhibitor directory ({APPROVED})", f"{public}/exhibitors", "public"),
            ("public: directory, one topic", f"{public}/exhibitors?topic=Wohnen", "public"),
            (f"public: floor plan SVG ({STANDS} stands)", f"{public}/floorplan.svg", "public"),
            ("public API: conference (JSON)", api, "public"),
            (f"public API: forums ({FORUMS}, JSON)", f"{api}/forums", "public"),
        ]
        exports = [
            ("CSV registrations (all)", f"{api}/registrations.csv", "token"),
            ("CSV registrations, gzip", f"{api}/registrations.csv", "token+gzip"),
            ("CSV attendees (confirmed)", f"{api}/entrance/attendees.csv", "token"),
            ("CSV check-ins (scans)", f"{api}/entrance/checkins.csv", "token"),
            ("CSV needs", f"{api}/entrance/needs.csv", "token"),
            ("CSV forum participants", f"/staff/forums/{forum_id}/participants.csv", "cookie"),
        ]
        with service(url, workers=1) as svc:
            cookie = await asyncio.to_thread(login, svc.base)
            bearer = f"Authorization: Bearer {token}\r\n".encode()
            headers = {
                "cookie": f"Cookie: {cookie}\r\n".encode(),
                "token": bearer,
                "token+gzip": bearer + b"Accept-Encoding: gzip\r\n",
                "public": b"",
            }
            # The web worker: the process below `tagung serve` with the most memory.
            workers = [p for p in svc.process_ids() if p != svc.process.pid]
            worker = max(workers, key=lambda p: _status_mb(p, "VmRSS"))
            connection = Connection(svc.host, svc.port)
            try:
                progress(f"large: {len(pages)} pages × {REPEATS}, 1 worker")
                width = max(len(n) for n, _, _ in pages + exports)
                for name, path, auth in pages:
                    await timed(connection, path, headers[auth], 2)  # warm-up
                    cpu = _cpu_seconds(worker)
                    result = await timed(connection, path, headers[auth], REPEATS)
                    cpu = (_cpu_seconds(worker) - cpu) / REPEATS * 1000
                    rows.append(
                        (f"{name:<{width}}", f"{verdict(*result)}; worker CPU {cpu:.0f} ms")
                    )
                progress(f"large: {len(exports)} CSV exports × 3")
                rows.append(
                    (
                        "CSV exports (3 requests each; the web worker's peak RSS, VmHWM reset "
                        "before each)",
                        "",
                    )
                )
                for name, path, auth in exports:
                    result = await export_timed(connection, path, headers[auth], worker, 3)
                    rows.append((f"{name:<{width}}", export_verdict(*result)))
                aborted = await aborted_download(
                    url, svc.host, svc.port, f"{api}/registrations.csv", headers["token"]
                )
                rows.append((f"{'CSV registrations, client gone':<{width}}", aborted))
                result = await export_timed(
                    connection, f"{api}/registrations.csv", headers["token"], worker, 1
                )
                rows.append(
                    (f"{'CSV registrations, after that':<{width}}", export_verdict(*result))
                )
            finally:
                connection.close()
        return rows
