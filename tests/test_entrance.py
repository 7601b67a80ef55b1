"""The entrance for organisers: numbers after scans, the arrivals chart, the dashboard page,
its live event stream (across processes), name badges, CSV exports, and who may see them."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import re
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import httpx
import pytest
from playwright.async_api import Page, expect

from registration.entrance import checkin
from service.auth import StaffUser
from service.qr import qr_svg
from tests.conftest import login
from tests.forum_support import make_attendees
from tests.registration_support import SLUG, make_conference

BASE = f"/staff/conferences/{SLUG}"
API = f"/api/v1/conferences/{SLUG}/entrance"
SVG = "{http://www.w3.org/2000/svg}"


async def ticket(client, token: str) -> str:
    return (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]


async def attendees(client, pool, settings, count: int) -> list[tuple[int, str]]:
    """(registration id, ticket secret) of `count` confirmed volunteers, 'Person 0' …"""
    made = await make_attendees(pool, settings.secret_key, SLUG, count)
    return [(rid, await ticket(client, token)) for rid, token in made]


async def scan(client, scanner, secret: str, gate: str, kind: str = "entry") -> dict:
    response = await client.post(
        "/api/v1/checkin",
        json={"conference": SLUG, "secret": secret, "gate": gate, "type": kind},
        headers=scanner.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def sql(pool, statement: str, *args) -> None:
    async with pool.acquire() as db:
        await db.execute(statement, *args)


async def test_numbers_after_scans(client, organiser, make_staff, pool, settings):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    people = await attendees(client, pool, settings, 4)
    (p0, s0), (p1, s1), (p2, s2), (p3, _s3) = people
    await sql(pool, "UPDATE registrations SET category = 'speaker' WHERE id = $1", p2)
    await sql(pool, "UPDATE registrations SET category = 'exhibitor_staff' WHERE id = $1", p3)

    assert (await scan(client, scanner, s0, "A"))["status"] == "ok"
    assert (await scan(client, scanner, s1, "A"))["status"] == "ok"
    assert (await scan(client, scanner, s2, "B"))["status"] == "ok"
    assert (await scan(client, scanner, s0, "B"))["reason"] == "already_checked_in"
    assert (await scan(client, scanner, s1, "A", "exit"))["status"] == "ok"
    assert (await scan(client, scanner, "ABCDEFGHJKMNPQRSTUVWXYZ234", "B"))["reason"] == "invalid"
    # A door that was offline admitted p2 again (uploaded later, with the device's time).
    async with pool.acquire() as db:
        staff_id = await db.fetchval("SELECT id FROM staff WHERE email = $1", scanner.email)
        offline = await checkin.scan(
            db,
            StaffUser(staff_id, scanner.email, "scanner", device="offline-door-c"),
            conference_slug=SLUG,
            secret=s2,
            gate="C",
            offline=True,
            scanned_at=datetime(2027, 5, 10, 7, 50, tzinfo=UTC),
        )
    assert offline["reason"] == "already_checked_in"
    # First admissions at 09:03, 09:14 and 09:40 Berlin time (UTC+2 in May).
    for rid, minute in ((p0, 3), (p1, 14), (p2, 40)):
        await sql(
            pool,
            "UPDATE scans SET scanned_at = $2 WHERE registration_id = $1 "
            "AND status = 'ok' AND type = 'entry'",
            rid,
            datetime(2027, 5, 10, 7, minute, tzinfo=UTC),
        )

    response = await client.get(f"{API}/stats", headers=organiser.headers)
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    stats = response.json()
    assert stats["totals"] == {
        "attendees": {"expected": 3, "entered": 3, "inside": 2},
        "exhibitor_staff": {"expected": 1, "entered": 0, "inside": 0},
    }
    by_category = {c["category"]: c for c in stats["by_category"]}
    assert by_category["volunteer"] | {"label": None} == {
        "category": "volunteer",
        "label": None,
        "expected": 2,
        "entered": 2,
        "inside": 1,
    }
    assert (by_category["speaker"]["entered"], by_category["speaker"]["inside"]) == (1, 1)
    assert by_category["exhibitor_staff"]["expected"] == 1
    assert by_category["press"] == {
        "category": "press",
        "label": by_category["press"]["label"],
        "expected": 0,
        "entered": 0,
        "inside": 0,
    }
    assert stats["by_gate"] == [
        {"gate": "A", "admitted": 2, "refused": 0, "exits": 1, "inside": 1},
        {"gate": "B", "admitted": 1, "refused": 2, "exits": 0, "inside": 1},
        {"gate": "C", "admitted": 0, "refused": 1, "exits": 0, "inside": 0},
    ]
    assert [(i["start"][11:16], i["end"][11:16], i["arrivals"]) for i in stats["arrivals"]] == [
        ("09:00", "09:15", 2),
        ("09:15", "09:30", 0),
        ("09:30", "09:45", 1),
    ]
    assert stats["arrivals"][0]["start"].endswith("+02:00")  # the conference's time zone

    [conflict] = stats["offline_conflicts"]
    assert conflict["name"] == "Person 2" and conflict["registration_id"] == p2
    assert (conflict["gate"], conflict["first_gate"]) == ("C", "B")
    assert conflict["scanned_at"].startswith("2027-05-10T09:50")
    assert conflict["first_at"] is not None

    recent = stats["recent_scans"]
    assert len(recent) == 7
    assert (recent[0]["gate"], recent[0]["offline"], recent[0]["name"]) == ("C", True, "Person 2")
    assert recent[1]["reason"] == "invalid" and recent[1]["name"] is None
    assert recent[2]["type"] == "exit" and recent[2]["name"] == "Person 1"
    assert [r["status"] for r in recent[3:]] == ["error", "ok", "ok", "ok"]
    assert all(r["decision"] for r in recent)

    # 25 scans: only the last 20 are listed.
    for _ in range(9):
        await scan(client, scanner, s0, "A", "exit")
        await scan(client, scanner, s0, "A")
    stats = (await client.get(f"{API}/stats", headers=organiser.headers)).json()
    assert len(stats["recent_scans"]) == 20


async def test_forum_attendance(client, organiser, make_staff, pool, settings):
    from tests.forum_support import make_forum

    await make_conference(client, organiser)
    forum = await make_forum(client, organiser)
    people = await attendees(client, pool, settings, 3)
    async with pool.acquire() as db:
        for rid, _secret in people:
            await db.execute(
                "INSERT INTO forum_signups (forum_id, registration_id, status, during) "
                "SELECT id, $2, 'confirmed', tstzrange(starts_at, ends_at) FROM forums "
                "WHERE id = $1",
                forum["id"],
                rid,
            )
        await db.execute(
            "INSERT INTO forum_attendance (forum_id, registration_id) VALUES ($1, $2)",
            forum["id"],
            people[0][0],
        )
    stats = (await client.get(f"{API}/stats", headers=organiser.headers)).json()
    [row] = stats["forums"]
    assert (row["id"], row["present"], row["signed_up"]) == (forum["id"], 1, 3)
    assert row["title"] == "Spracherwerb im Ehrenamt" and row["language"] == "de"


async def test_arrivals_chart_is_svg_with_title_and_desc(
    client, organiser, make_staff, pool, settings
):
    await make_conference(client, organiser)
    empty = await client.get(f"{BASE}/entrance/arrivals.svg", headers=organiser.headers)
    assert empty.status_code == 200 and empty.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(empty.text)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}rect") is None

    scanner = await make_staff("scanner")
    people = await attendees(client, pool, settings, 3)
    for (rid, secret), hour in zip(people, (7, 7, 8), strict=True):
        await scan(client, scanner, secret, "A")
        await sql(
            pool,
            "UPDATE scans SET scanned_at = $1 WHERE registration_id = $2",
            datetime(2027, 5, 10, hour, 5, tzinfo=UTC),
            rid,
        )
    response = await client.get(f"{BASE}/entrance/arrivals.svg", headers=organiser.headers)
    root = ET.fromstring(response.text)  # noqa: S314 - our own output
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "arrivals-chart-title arrivals-chart-desc"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "arrivals-chart-title" and title.text
    assert desc is not None and "3" in desc.text
    stats = (await client.get(f"{API}/stats", headers=organiser.headers)).json()
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == len(stats["arrivals"]) == 5  # 09:00 to 10:15, the empty ones too
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[0] > 0 and heights[-1] > 0
    assert sum(i["arrivals"] for i in stats["arrivals"]) == 3


async def test_dashboard_page_renders_and_escapes(client, organiser, make_staff, pool, settings):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(rid, secret)] = await attendees(client, pool, settings, 1)
    await sql(
        pool,
        "UPDATE registrations SET name = '<script>alert(1)</script>', "
        "organisation = '<b>Verein</b>' WHERE id = $1",
        rid,
    )
    await scan(client, scanner, secret, "Nord")
    await login(client, organiser)
    page = await client.get(f"{BASE}/entrance")
    assert page.status_code == 200, page.text
    assert "no-store" in page.headers["cache-control"]
    html = page.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'aria-live="polite"' in html
    assert 'data-stat="totals.attendees.entered">1<' in html
    assert "<svg" in html and 'id="arrivals-chart-title"' in html and "Nord" in html
    assert f"{API}/attendees.csv" in html and f"{API}/needs.csv" in html
    assert f"{API}/checkins.csv" in html and f"{BASE}/badges" in html
    assert f'data-events-url="{BASE}/entrance/events"' in html
    assert f'href="{BASE}/entrance"' in html  # works without JavaScript: reload
    # The texts for the script are JSON that cannot end the script element.
    texts = html.split('id="entrance-texts">', 1)[1].split("</script>", 1)[0]
    assert json.loads(texts)["timezone"] == "Europe/Berlin"
    english = await client.get(f"{BASE}/entrance", params={"lang": "en"})
    assert english.status_code == 200 and 'lang="en"' in english.text
    conference_page = await client.get(f"/staff/conferences/{SLUG}")
    assert f'href="{BASE}/entrance"' in conference_page.text


async def test_event_stream_announces_scans_from_another_process(
    client, organiser, make_staff, pool, settings, live_server
):
    """The stream is served by `tagung serve` in its own process; the scan is made by the app
    in this process: only PostgreSQL's NOTIFY connects them."""
    await make_conference(client, organiser)
    await make_conference(client, organiser, slug="andere-tagung")
    scanner = await make_staff("scanner")
    [(_rid, secret)] = await attendees(client, pool, settings, 1)
    [(_other, other_token)] = await make_attendees(
        pool, settings.secret_key, "andere-tagung", 1, prefix="other"
    )
    other_secret = await ticket(client, other_token)
    async with pool.acquire() as db:
        conference_id = await db.fetchval("SELECT id FROM conferences WHERE slug = $1", SLUG)

    async with (
        httpx.AsyncClient(base_url=live_server, timeout=30) as http,
        http.stream("GET", f"{BASE}/entrance/events", headers=organiser.headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

        async def read_events() -> None:
            # One reader for the whole stream: cancelling a read in the middle would close it.
            event = data = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and event:
                    events.put_nowait((event, data))
                    event = data = ""
            events.put_nowait(None)  # the stream ended

        reader = asyncio.create_task(read_events())
        try:
            async with asyncio.timeout(30):
                assert await events.get() == ("ready", str(conference_id))  # listening now
            other = await client.post(
                "/api/v1/checkin",
                json={"conference": "andere-tagung", "secret": other_secret},
                headers=scanner.headers,
            )
            assert other.json()["status"] == "ok"
            # Another conference's scan is not announced here (a NOTIFY takes milliseconds).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    raise AssertionError(f"unexpected {await events.get()}")
            await scan(client, scanner, secret, "A")
            async with asyncio.timeout(30):
                assert await events.get() == ("changed", str(conference_id))
            assert events.empty()
            assert await listeners(pool) == 1  # a connection of its own, outside any pool
        finally:
            reader.cancel()
    # The browser went away: the server notices and closes the listening connection.
    async with asyncio.timeout(30):
        while await listeners(pool):  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.05)


async def listeners(pool) -> int:
    async with pool.acquire() as db:
        return await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            "tagung entrance events",
        )


async def test_badges(client, organiser, pool, settings):
    await make_conference(client, organiser)
    people = await attendees(client, pool, settings, 3)
    await sql(
        pool,
        "UPDATE registrations SET organisation = 'Caritas Hannover', category = 'speaker' "
        "WHERE id = $1",
        people[1][0],
    )
    await sql(
        pool,
        "UPDATE registrations SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
        people[2][0],
    )
    await login(client, organiser)

    everyone = await client.get(f"{BASE}/badges", params={"lang": "en"})
    assert everyone.status_code == 200, everyone.text
    html = everyone.text
    assert html.count('class="badge-qr"') == 2  # the cancelled one has no valid ticket
    assert "Person 0" in html and "Person 1" in html and "Person 2" not in html
    assert "Caritas Hannover" in html
    for _rid, secret in people[:2]:
        assert qr_svg(secret) in html  # the ticket's own code
    assert "category-speaker" in html and "category-volunteer" in html
    assert ">Speaker<" in html  # the category in words, not colour alone
    assert "/static/css/badges-a6.css" in html and "badges-a4.css" not in html  # A6

    four = await client.get(f"{BASE}/badges", params={"layout": "a4"})
    assert "/static/css/badges-a4.css" in four.text
    assert four.text.count('class="badge-qr"') == 2

    one = await client.get(f"{BASE}/badges", params={"id": people[0][0]})
    assert one.text.count('class="badge-qr"') == 1 and "Person 0" in one.text

    some = await client.get(f"{BASE}/badges", params={"ids": f"{people[0][0]},{people[1][0]}"})
    assert some.text.count('class="badge-qr"') == 2

    speakers = await client.get(f"{BASE}/badges", params={"category": "speaker"})
    assert speakers.text.count('class="badge-qr"') == 1 and "Person 1" in speakers.text

    assert (await client.get(f"{BASE}/badges", params={"layout": "a3"})).status_code == 400
    assert (await client.get(f"{BASE}/badges", params={"ids": "1,x"})).status_code == 400
    assert (await client.get(f"{BASE}/badges", params={"category": "vip"})).status_code == 400
    missing = await client.get(f"{BASE}/badges", params={"id": people[2][0]})
    assert missing.status_code == 404


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert ";" in text.splitlines()[0]
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


async def test_csv_exports(client, organiser, make_staff, pool, settings):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    people = await attendees(client, pool, settings, 3)
    evil, careful, private = (rid for rid, _secret in people)
    await sql(
        pool,
        """UPDATE registrations SET name = '=HYPERLINK("http://evil.example","klick")',
           organisation = 'Über Grenzen e. V.' WHERE id = $1""",
        evil,
    )
    needs = {"accessibility": ["wheelchair"], "dietary": ["vegan"], "notes": "-2+3"}
    for rid in (careful, private):
        await sql(
            pool,
            "UPDATE registrations SET needs = $2::text::jsonb WHERE id = $1",
            rid,
            json.dumps(needs),
        )
    await sql(
        pool,
        "INSERT INTO consents (registration_id, kind, text_version) VALUES "
        "($1, 'privacy', 'v1'), ($1, 'special_category', 'v1'), ($2, 'privacy', 'v1')",
        careful,
        private,
    )
    await scan(client, scanner, people[0][1], "Süd")
    await scan(client, scanner, "ABCDEFGHJKMNPQRSTUVWXYZ234", "Süd")
    await sql(pool, "UPDATE scans SET scanned_at = $1", datetime(2027, 5, 10, 7, 12, 5, tzinfo=UTC))

    rows = read_csv(await client.get(f"{API}/attendees.csv", headers=organiser.headers))
    assert list(rows[0]) == [
        "id",
        "name",
        "organisation",
        "category",
        "inside",
        "entered_at",
        "entered_gate",
    ]
    by_id = {int(r["id"]): r for r in rows}
    assert len(rows) == 3
    assert by_id[evil]["name"] == '\'=HYPERLINK("http://evil.example","klick")'
    assert by_id[evil]["organisation"] == "Über Grenzen e. V."
    assert (by_id[evil]["inside"], by_id[evil]["entered_gate"]) == ("yes", "Süd")
    assert by_id[careful]["inside"] == "no" and by_id[careful]["entered_at"] == ""

    scans = read_csv(await client.get(f"{API}/checkins.csv", headers=organiser.headers))
    assert [(s["scanned_at"], s["gate"], s["status"], s["reason"]) for s in scans] == [
        ("2027-05-10 09:12:05", "Süd", "ok", ""),  # Europe/Berlin
        ("2027-05-10 09:12:05", "Süd", "error", "invalid"),
    ]
    assert scans[0]["name"].startswith("'=HYPERLINK") and scans[0]["offline"] == "no"
    assert scans[0]["type"] == "entry" and scans[1]["name"] == ""

    needs_rows = read_csv(await client.get(f"{API}/needs.csv", headers=organiser.headers))
    assert [int(r["id"]) for r in needs_rows] == [careful]  # without consent: not exported
    [row] = needs_rows
    assert (row["accessibility"], row["dietary"]) == ("wheelchair", "vegan")
    assert row["notes"] == "'-2+3"


async def test_rights(client, organiser, make_staff, pool, settings):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    pages = [
        f"{BASE}/entrance",
        f"{BASE}/entrance/arrivals.svg",
        f"{BASE}/entrance/events",
        f"{BASE}/badges",
    ]
    api = [f"{API}/stats", f"{API}/attendees.csv", f"{API}/checkins.csv", f"{API}/needs.csv"]
    for path in pages:
        anonymous = await client.get(path, follow_redirects=False)
        assert anonymous.status_code in (302, 303), path
        assert anonymous.headers["location"].startswith("/staff/login"), path
    for path in api:
        assert (await client.get(path)).status_code == 401, path
    for path in pages + api:
        assert (await client.get(path, headers=scanner.headers)).status_code == 403, path
    await login(client, scanner)
    assert (await client.get(f"{BASE}/entrance")).status_code == 403
    assert (await client.get(f"{BASE}/badges")).status_code == 403
    missing = await client.get(
        "/staff/conferences/gibt-es-nicht/entrance", headers=organiser.headers
    )
    assert missing.status_code == 404
    assert (
        await client.get(
            "/api/v1/conferences/gibt-es-nicht/entrance/stats", headers=organiser.headers
        )
    ).status_code == 404


async def log_in(page: Page, account) -> None:
    await page.goto("/staff/login?lang=en")
    await page.get_by_label("E-mail address").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).not_to_have_url(re.compile(r"/staff/login"))


@pytest.mark.browser
async def test_dashboard_updates_itself_in_the_browser(
    page: Page, live_server, client, organiser, make_staff, pool, settings
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_rid, secret)] = await attendees(client, pool, settings, 1)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await log_in(page, organiser)

    await page.goto(f"{BASE}/entrance")
    await expect(page.locator("#live-status")).to_have_text(re.compile("^Live"))
    entered = page.locator('[data-stat="totals.attendees.entered"]')
    await expect(entered).to_have_text("0")
    await expect(page.locator("#recent-table")).to_be_hidden()

    await scan(client, scanner, secret, "Nord")  # in this process; the page hears of it
    await expect(entered).to_have_text("1")
    await expect(page.locator('[data-stat="category.volunteer.inside"]')).to_have_text("1")
    await expect(page.locator("#recent-body")).to_contain_text("Person 0")
    await expect(page.locator("#gates-body")).to_contain_text("Nord")
    await expect(page.locator("#arrivals-chart svg rect")).to_have_count(1)
    await expect(page.locator("#arrivals-body tr")).to_have_count(1)
    assert errors == []


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """Each page's size in millimetres."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(round(float(w) * 25.4 / 72), round(float(h) * 25.4 / 72)) for w, h in boxes]


@pytest.mark.browser
async def test_badges_print_on_a6_pages_or_four_to_an_a4_page(
    page: Page, live_server, client, organiser, pool, settings
):
    await make_conference(client, organiser)
    await attendees(client, pool, settings, 5)
    await log_in(page, organiser)
    await page.goto(f"{BASE}/badges")
    assert pdf_pages(await page.pdf(prefer_css_page_size=True)) == [(105, 148)] * 5
    await page.goto(f"{BASE}/badges?layout=a4")
    assert pdf_pages(await page.pdf(prefer_css_page_size=True)) == [(210, 297)] * 2
