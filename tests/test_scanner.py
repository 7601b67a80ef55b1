"""The scanner page's server side: offline data for doors without network, the batch upload of
scans decided offline (nonce dedupe, conflicts), the page and its service worker."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from service import tokens
from tests.conftest import login
from tests.forum_support import make_attendees
from tests.registration_support import SLUG, confirm, key, make_conference, register


async def ticket(client, token: str) -> str:
    return (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]


def offline_hash(code: str) -> str:
    """As the page computes it: SHA-256 of the code upper-cased, without separators."""
    normal = "".join(c for c in code.upper() if c not in " -_.\t\n")
    return hashlib.sha256(normal.encode()).hexdigest()


async def pending_secret(client, pool, settings, email: str) -> str:
    await register(client, email=email, name="Noch Offen")
    async with pool.acquire() as db:
        salt = await db.fetchval("SELECT ticket_salt FROM registrations WHERE email = $1", email)
    return tokens.derive(key(settings), "ticket", salt)


async def test_offline_data_has_valid_tickets_and_refuses_the_rest(
    client, organiser, pool, settings, make_staff
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    people = await make_attendees(pool, settings.secret_key, SLUG, 2)
    inside, outside = [await ticket(client, token) for _id, token in people]
    await client.post(
        "/api/v1/checkin",
        json={"conference": SLUG, "secret": inside, "gate": "B"},
        headers=scanner.headers,
    )
    cancelled = await pending_secret(client, pool, settings, "weg@example.org")
    manage = (await confirm(client, pool, settings, "weg@example.org")).json()["manage_token"]
    await client.delete(f"/api/v1/registrations/{manage}")
    unconfirmed = await pending_secret(client, pool, settings, "offen@example.org")

    response = await client.get(
        f"/api/v1/conferences/{SLUG}/checkin/offline-data", headers=scanner.headers
    )
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    data = response.json()
    assert data["conference"] == SLUG and data["generated_at"]
    tickets = {t["hash"]: t for t in data["tickets"]}
    refused = {r["hash"]: r["reason"] for r in data["refused"]}
    # The page's hash of a code as printed (grouped, lower case) is the server's digest.
    grouped = tokens.grouped(inside).lower()
    assert offline_hash(grouped) == tokens.digest(inside).hex() == offline_hash(inside)
    assert tickets[offline_hash(inside)]["inside"] is True
    assert tickets[offline_hash(inside)]["entered_gate"] == "B"
    assert tickets[offline_hash(outside)]["inside"] is False
    first = tickets[offline_hash(outside)]
    assert first["name"] == "Person 1" and first["category"] == "volunteer"
    assert first["category_label"] and "registration_id" in first
    assert (
        offline_hash(cancelled) not in tickets and refused[offline_hash(cancelled)] == "cancelled"
    )
    assert offline_hash(unconfirmed) not in tickets
    assert refused[offline_hash(unconfirmed)] == "not_confirmed"
    # Hashes only: no secret, no e-mail address leaves the server.
    text = response.text
    for secret in (inside, outside, cancelled, unconfirmed):
        assert secret not in text
    assert "@example.org" not in text


async def test_offline_data_needs_the_scanner_role(client, organiser, make_staff):
    await make_conference(client, organiser)
    url = f"/api/v1/conferences/{SLUG}/checkin/offline-data"
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get(url, headers={"Authorization": "Bearer tg_unknown"})
    ).status_code == 401
    scanner = await make_staff("scanner")
    assert (await client.get(url, headers=scanner.headers)).status_code == 200
    assert (await client.get(url, headers=organiser.headers)).status_code == 200
    unknown = await client.get(
        "/api/v1/conferences/nirgends/checkin/offline-data", headers=scanner.headers
    )
    assert unknown.status_code == 404


async def test_a_disabled_account_is_refused(client, organiser, make_staff, pool):
    """Every role may scan (scanner is the lowest); a disabled account is a stranger."""
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    async with pool.acquire() as db:
        await db.execute("UPDATE staff SET disabled = true WHERE email = $1", scanner.email)
    url = f"/api/v1/conferences/{SLUG}/checkin/offline-data"
    assert (await client.get(url, headers=scanner.headers)).status_code == 401
    batch = await client.post(
        "/api/v1/checkin/batch", json={"conference": SLUG, "scans": []}, headers=scanner.headers
    )
    assert batch.status_code == 401


SCANNED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def offline_scan(secret: str, nonce: str, **extra) -> dict:
    return {
        "secret": secret,
        "nonce": nonce,
        "gate": "A",
        "type": "entry",
        "scanned_at": SCANNED_AT.isoformat(),
        **extra,
    }


async def test_batch_upload_admits_and_reports_conflicts(
    client, organiser, pool, settings, make_staff
):
    await make_conference(client, organiser)
    door_a = await make_staff("scanner")
    door_b = await make_staff("scanner")
    people = await make_attendees(pool, settings.secret_key, SLUG, 2)
    fresh, twice = [await ticket(client, token) for _id, token in people]
    # Door B admitted `twice` online while door A, offline, admitted it as well.
    online = await client.post(
        "/api/v1/checkin",
        json={"conference": SLUG, "secret": twice, "gate": "B"},
        headers=door_b.headers,
    )
    assert online.json()["status"] == "ok"

    response = await client.post(
        "/api/v1/checkin/batch",
        json={
            "conference": SLUG,
            "scans": [offline_scan(fresh, "n-fresh"), offline_scan(twice, "n-twice")],
        },
        headers=door_a.headers,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    first, second = answer["results"]
    assert first["nonce"] == "n-fresh" and first["status"] == "ok" and not first["conflict"]
    assert first["attendee"]["name"] == "Person 0"
    assert second["status"] == "error" and second["reason"] == "already_checked_in"
    assert second["conflict"] is True and second["gate"] == "B"
    [conflict] = answer["conflicts"]
    assert conflict["nonce"] == "n-twice" and conflict["gate"] == "A"
    assert conflict["first_gate"] == "B"
    assert conflict["first_checked_in_at"] == online.json()["checked_in_at"]
    assert conflict["attendee"]["name"] == "Person 1"

    async with pool.acquire() as db:
        rows = await db.fetch(
            "SELECT nonce, offline, status, reason, gate, scanned_at FROM scans "
            "WHERE offline ORDER BY id"
        )
        assert [(r["nonce"], r["status"], r["reason"]) for r in rows] == [
            ("n-fresh", "ok", None),
            ("n-twice", "error", "already_checked_in"),
        ]
        # The time the door scanned, not the time of the upload.
        assert rows[0]["scanned_at"] == SCANNED_AT
        # What a dashboard lists as conflicts.
        conflicts = await db.fetchval(
            "SELECT count(*) FROM scans WHERE offline AND reason = 'already_checked_in'"
        )
        assert conflicts == 1
        assert await db.fetchval("SELECT bool_and(inside) FROM registrations")


async def test_scanned_at_is_kept_unless_in_the_future(
    client, organiser, pool, settings, make_staff
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    people = await make_attendees(pool, settings.secret_key, SLUG, 2)
    past, future = [await ticket(client, token) for _id, token in people]
    # A day before the upload (the door's queue waited for the network overnight); a time
    # long before both the conference and the upload, or outside 2000-2100, is refused
    # (tests/test_input_bounds.py).
    yesterday = SCANNED_AT - timedelta(days=1)
    uploaded = await client.post(
        "/api/v1/checkin/batch",
        json={
            "conference": SLUG,
            "scans": [
                offline_scan(past, "n-past", scanned_at=yesterday.isoformat()),
                offline_scan(future, "n-future", scanned_at="2099-01-01T10:00:00+01:00"),
            ],
        },
        headers=scanner.headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    async with pool.acquire() as db:
        times = dict(
            await db.fetch(
                "SELECT nonce, scanned_at < now() + interval '1 minute' FROM scans ORDER BY id"
            )
        )
        past_at = await db.fetchval("SELECT scanned_at FROM scans WHERE nonce = 'n-past'")
    assert times == {"n-past": True, "n-future": True}
    assert past_at == yesterday


async def test_the_same_nonce_is_recorded_once(client, organiser, pool, settings, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_id, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    secret = await ticket(client, token)
    scan = offline_scan(secret, "n-once")
    within = await client.post(
        "/api/v1/checkin/batch",
        json={"conference": SLUG, "scans": [scan, scan]},
        headers=scanner.headers,
    )
    assert within.status_code == 200
    assert [r["status"] for r in within.json()["results"]] == ["ok", "ok"]
    assert within.json()["conflicts"] == []
    # The upload is retried (its answer was lost): the same answer, nothing new.
    again = await client.post(
        "/api/v1/checkin/batch", json={"conference": SLUG, "scans": [scan]}, headers=scanner.headers
    )
    assert again.json()["results"][0]["status"] == "ok"
    assert (
        again.json()["results"][0]["checked_in_at"] == within.json()["results"][0]["checked_in_at"]
    )
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans") == 1
    # The same nonce from another device is another scan (of a ticket already inside).
    other = await make_staff("scanner")
    elsewhere = await client.post(
        "/api/v1/checkin/batch", json={"conference": SLUG, "scans": [scan]}, headers=other.headers
    )
    assert elsewhere.json()["results"][0]["reason"] == "already_checked_in"


async def test_offline_exit_lets_the_person_enter_again(
    client, organiser, pool, settings, make_staff
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    [(_id, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    secret = await ticket(client, token)
    answer = await client.post(
        "/api/v1/checkin/batch",
        json={
            "conference": SLUG,
            "scans": [
                offline_scan(secret, "n-in"),
                offline_scan(secret, "n-out", type="exit"),
                offline_scan(secret, "n-in-again"),
            ],
        },
        headers=scanner.headers,
    )
    assert [r["status"] for r in answer.json()["results"]] == ["ok", "ok", "ok"]
    assert answer.json()["conflicts"] == []


async def test_malformed_batches(client, organiser, make_staff, pool):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")

    async def send(body) -> int:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = await client.post(
            "/api/v1/checkin/batch",
            content=content,
            headers={**scanner.headers, "content-type": "application/json"},
        )
        return response.status_code

    good = offline_scan("ABCD", "n-1")
    assert await send(b"garbage") == 400
    assert await send({"scans": [good]}) == 400
    assert await send({"conference": SLUG}) == 400
    assert await send({"conference": SLUG, "scans": "many"}) == 400
    assert await send({"conference": SLUG, "scans": [{**good, "nonce": ""}]}) == 400
    without_nonce = {k: v for k, v in good.items() if k != "nonce"}
    assert await send({"conference": SLUG, "scans": [without_nonce]}) == 400
    assert await send({"conference": SLUG, "scans": [{**good, "scanned_at": "yesterday"}]}) == 400
    naive = {**good, "scanned_at": "2026-05-10T09:12:00"}
    assert await send({"conference": SLUG, "scans": [naive]}) == 400
    assert await send({"conference": SLUG, "scans": [{**good, "type": "sideways"}]}) == 400
    assert await send({"conference": SLUG, "scans": [{**good, "extra": 1}]}) == 400
    assert await send({"conference": SLUG, "scans": [good] * 501}) == 400
    assert await send({"conference": "nirgends", "scans": [good]}) == 404
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans") == 0
    assert (
        await client.post("/api/v1/checkin/batch", json={"conference": SLUG, "scans": []})
    ).status_code == 401


async def test_invalid_offline_codes_are_refused_and_recorded(client, organiser, make_staff, pool):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    answer = await client.post(
        "/api/v1/checkin/batch",
        json={"conference": SLUG, "scans": [offline_scan("NICHT-GUELTIG", "n-bad")]},
        headers=scanner.headers,
    )
    assert answer.json()["results"][0]["reason"] == "invalid"
    assert answer.json()["conflicts"] == []
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT offline FROM scans WHERE nonce = 'n-bad'") is True


async def test_rate_limited_scans_come_back_to_retry(client, organiser, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    scans = [offline_scan(f"GUESS{i:021d}", f"n-{i}") for i in range(32)]
    answer = await client.post(
        "/api/v1/checkin/batch", json={"conference": SLUG, "scans": scans}, headers=scanner.headers
    )
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses[:30] == ["error"] * 30 and statuses[30:] == ["retry", "retry"]


async def test_batch_with_a_session_needs_the_csrf_header(client, organiser, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    await login(client, scanner)
    body = {"conference": SLUG, "scans": []}
    assert (await client.post("/api/v1/checkin/batch", json=body)).status_code == 403
    token = client.cookies.get("csrftoken")
    answer = await client.post("/api/v1/checkin/batch", json=body, headers={"x-csrftoken": token})
    assert answer.status_code == 200 and answer.json() == {"results": [], "conflicts": []}


async def test_scanner_page_and_its_service_worker(client, organiser, make_staff):
    await make_conference(client, organiser)
    anonymous = await client.get("/scan", follow_redirects=False)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"].startswith("/staff/login?next=")

    scanner = await make_staff("scanner")
    await login(client, scanner)
    page = await client.get("/scan?lang=en")
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    config = json.loads(page.text.split('id="scan-config">', 1)[1].split("</script>", 1)[0])
    assert [c["slug"] for c in config["conferences"]] == [SLUG]
    assert config["strings"]["ok"] == "Welcome!"
    assert config["urls"]["wasm"].startswith("/static/vendor/barcode-detector/")
    assert 'type="module"' in page.text and "/static/js/scanner.js?v=" in page.text
    assert "cdn" not in page.text.lower() and "jsdelivr" not in page.text
    german = await client.get("/scan?lang=de")
    assert '<html lang="de"' in german.text

    worker = await client.get("/scan/sw.js")
    assert worker.status_code == 200
    assert worker.headers["service-worker-allowed"] == "/scan"
    assert worker.headers["content-type"].startswith("text/javascript")
    manifest = json.loads(worker.text.split("self.MANIFEST = ", 1)[1].split(";\n", 1)[0])
    for url in [*manifest["precache"], *manifest["optional"]]:
        assert (await client.get(url)).status_code == 200, url
    wasm = await client.get(manifest["optional"][-1])
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"
