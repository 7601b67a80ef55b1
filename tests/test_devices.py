"""Door devices (issue 14, item 4): an organiser adds a door and gets a pairing link; a phone
pairs once with its code within 24 hours and scans for that conference alone, under the door's
name; removing the door ends its token at once. The audit log records each step. Two phones
pairing with one code at once race against a live server of two processes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import csrf_token, login
from tests.forum_support import make_attendees
from tests.registration_support import SLUG, make_conference

OTHER = "andere-tagung"


async def ticket(client, token: str) -> str:
    return (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]


async def add_door(client, organiser, name: str = "Eingang Nord", slug: str = SLUG) -> dict:
    response = await client.post(
        f"/api/v1/conferences/{slug}/devices", json={"name": name}, headers=organiser.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def code_of(door: dict[str, Any]) -> str:
    return door["pairing_url"].rsplit("/", 1)[1]


async def pair(client, code: str, language: str = "en") -> httpx.Response:
    return await client.post(
        "/api/v1/devices/pair", json={"code": code}, headers={"Accept-Language": language}
    )


async def paired_door(client, organiser, name: str = "Eingang Nord", slug: str = SLUG):
    """A door with its phone paired: (the door as added, the device's Bearer headers)."""
    door = await add_door(client, organiser, name, slug)
    answer = await pair(client, code_of(door))
    assert answer.status_code == 200, answer.text
    return door, {"Authorization": f"Bearer {answer.json()['token']}"}


async def audit(pool, action: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT a.conference_id, a.actor_staff_id, a.actor_device_id, a.subject_type, "
        "a.subject_id, l.actor, l.subject FROM audit_log a "
        "LEFT JOIN audit_labels l ON l.entry_id = a.id WHERE a.action = $1 ORDER BY a.id",
        action,
    )
    return [dict(r) for r in rows]


async def test_add_pair_and_scan_under_the_doors_name(client, organiser, pool, settings):
    conference = await make_conference(client, organiser)
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    secret = await ticket(client, token)

    door = await add_door(client, organiser)
    assert door["name"] == "Eingang Nord"
    assert door["pairing_url"].startswith("http://testserver.local/pair/")
    code = code_of(door)
    assert len(code) >= 32
    # Only a digest of the code is stored.
    row = await pool.fetchrow("SELECT * FROM devices WHERE id = $1", door["id"])
    assert code.encode() not in row["pairing_code_hash"] and row["paired_at"] is None

    listed = await client.get(f"/api/v1/conferences/{SLUG}/devices", headers=organiser.headers)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert listed.json()["next"] is None
    assert item["status"] == "waiting" and item["paired_at"] is None
    assert item["last_seen_at"] is None

    answer = await pair(client, code)
    assert answer.status_code == 200, answer.text
    paired = answer.json()
    assert paired["conference"] == SLUG and paired["name"] == "Eingang Nord"
    assert paired["conference_title"] == conference["title"]
    assert paired["token"].startswith("tgd_")
    device = {"Authorization": f"Bearer {paired['token']}"}

    # The door's name is the gate, whatever the body says.
    scan = await client.post(
        "/api/v1/checkin", json={"conference": SLUG, "secret": secret, "gate": "X"}, headers=device
    )
    assert scan.status_code == 200
    assert scan.json()["status"] == "ok" and scan.json()["gate"] == "Eingang Nord"
    again = await client.post(
        "/api/v1/checkin", json={"conference": SLUG, "secret": secret}, headers=device
    )
    assert again.json()["reason"] == "already_checked_in"
    assert again.json()["gate"] == "Eingang Nord"
    recorded = await pool.fetch("SELECT device, staff_id, gate FROM scans ORDER BY id")
    assert [tuple(r) for r in recorded] == [(f"device:{door['id']}", None, "Eingang Nord")] * 2
    assert await pool.fetchval("SELECT entered_gate FROM registrations") == "Eingang Nord"

    # On the entrance dashboard, by door.
    stats = await client.get(
        f"/api/v1/conferences/{SLUG}/entrance/stats", headers=organiser.headers
    )
    assert "Eingang Nord" in [g["gate"] for g in stats.json()["by_gate"]]

    [item] = (
        await client.get(f"/api/v1/conferences/{SLUG}/devices", headers=organiser.headers)
    ).json()["items"]
    assert item["status"] == "paired" and item["paired_at"] and item["last_seen_at"]

    conference_id = await pool.fetchval("SELECT id FROM conferences WHERE slug = $1", SLUG)
    organiser_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", organiser.email)
    [added] = await audit(pool, "device.added")
    assert added == {
        "conference_id": conference_id,
        "actor_staff_id": organiser_id,
        "actor_device_id": None,
        "subject_type": "device",
        "subject_id": str(door["id"]),
        "actor": organiser.email,
        "subject": "Eingang Nord",
    }
    [by_device] = await audit(pool, "device.paired")
    assert by_device["actor_staff_id"] is None and by_device["actor_device_id"] == door["id"]
    assert by_device["actor"] == "Eingang Nord" and by_device["conference_id"] == conference_id


async def test_a_code_pairs_once_and_says_why_not(client, organiser, pool):
    await make_conference(client, organiser)
    door = await add_door(client, organiser)
    assert (await pair(client, code_of(door))).status_code == 200

    used = await pair(client, code_of(door))
    assert used.status_code == 409
    assert "already been used" in used.json()["detail"]
    used_de = await pair(client, code_of(door), "de")
    assert used_de.status_code == 409
    assert "bereits verwendet" in used_de.json()["detail"]

    unknown = await pair(client, "x" * 32)
    assert unknown.status_code == 404 and "unknown" in unknown.json()["detail"]
    assert "unbekannt" in (await pair(client, "x" * 32, "de")).json()["detail"]

    # 24 hours after it was added, an unused code no longer pairs.
    late = await add_door(client, organiser, "Eingang Süd")
    await pool.execute(
        "UPDATE devices SET created_at = now() - interval '25 hours', "
        "pairing_expires_at = now() - interval '1 hour' WHERE id = $1",
        late["id"],
    )
    expired = await pair(client, code_of(late))
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]
    assert "abgelaufen" in (await pair(client, code_of(late), "de")).json()["detail"]
    [item] = [
        d
        for d in (
            await client.get(f"/api/v1/conferences/{SLUG}/devices", headers=organiser.headers)
        ).json()["items"]
        if d["id"] == late["id"]
    ]
    assert item["status"] == "expired"

    # A door removed before its phone paired: its code pairs no more.
    gone = await add_door(client, organiser, "Seiteneingang")
    removed = await client.delete(
        f"/api/v1/conferences/{SLUG}/devices/{gone['id']}", headers=organiser.headers
    )
    assert removed.status_code == 204
    refused = await pair(client, code_of(gone))
    assert refused.status_code == 409 and "removed" in refused.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM devices WHERE paired_at IS NOT NULL") == 1

    bad = await client.post("/api/v1/devices/pair", json={})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "code"


async def test_removal_ends_the_token_at_once(client, organiser, pool, settings):
    await make_conference(client, organiser)
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    secret = await ticket(client, token)
    door, device = await paired_door(client, organiser)
    offline = f"/api/v1/conferences/{SLUG}/checkin/offline-data"
    assert (await client.get(offline, headers=device)).status_code == 200

    removed = await client.delete(
        f"/api/v1/conferences/{SLUG}/devices/{door['id']}", headers=organiser.headers
    )
    assert removed.status_code == 204
    scan = await client.post(
        "/api/v1/checkin",
        json={"conference": SLUG, "secret": secret},
        headers={**device, "Accept-Language": "en"},
    )
    assert scan.status_code == 401
    assert "removed" in scan.json()["detail"]
    assert (await client.get(offline, headers=device)).status_code == 401
    assert await pool.fetchval("SELECT count(*) FROM scans") == 0
    assert not await pool.fetchval("SELECT inside FROM registrations")

    [entry] = await audit(pool, "device.removed")
    assert entry["actor"] == organiser.email and entry["subject"] == "Eingang Nord"
    again = await client.delete(
        f"/api/v1/conferences/{SLUG}/devices/{door['id']}", headers=organiser.headers
    )
    assert again.status_code == 404
    listed = await client.get(f"/api/v1/conferences/{SLUG}/devices", headers=organiser.headers)
    assert listed.json()["items"] == []
    # The name is free again for a new door.
    await add_door(client, organiser)


async def test_a_device_scans_for_its_own_conference_only(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await make_conference(client, organiser, slug=OTHER)
    [(other_id, other_token)] = await make_attendees(pool, settings.secret_key, OTHER, 1)
    other_secret = await ticket(client, other_token)
    _door, device = await paired_door(client, organiser)

    elsewhere = await client.post(
        "/api/v1/checkin", json={"conference": OTHER, "secret": other_secret}, headers=device
    )
    assert elsewhere.status_code == 200
    assert elsewhere.json() == {
        "status": "error",
        "reason": "other_conference",
        "attendee": None,
        "checked_in_at": None,
        "gate": None,
    }
    # Its own conference, another's ticket: the usual answer.
    here = await client.post(
        "/api/v1/checkin", json={"conference": SLUG, "secret": other_secret}, headers=device
    )
    assert here.json()["reason"] == "other_conference"
    assert not await pool.fetchval("SELECT inside FROM registrations WHERE id = $1", other_id)

    # The scanner page's other calls: its conference yes, the other one is not there.
    for path in (
        f"/api/v1/conferences/{OTHER}/checkin/offline-data",
        f"/api/v1/conferences/{OTHER}/checkin/search?q=Person",
    ):
        assert (await client.get(path, headers=device)).status_code == 404, path
    manual = await client.post(
        "/api/v1/checkin/manual",
        json={"conference": OTHER, "registration_id": other_id},
        headers=device,
    )
    assert manual.status_code == 404
    assert not await pool.fetchval("SELECT inside FROM registrations WHERE id = $1", other_id)


async def test_a_device_token_opens_the_scanner_calls_and_nothing_else(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    [(first_id, _t), (_second_id, second_token)] = await make_attendees(
        pool, settings.secret_key, SLUG, 2
    )
    second_secret = await ticket(client, second_token)
    door, device = await paired_door(client, organiser)

    data = await client.get(f"/api/v1/conferences/{SLUG}/checkin/offline-data", headers=device)
    assert data.status_code == 200 and len(data.json()["tickets"]) == 2
    found = await client.get(f"/api/v1/conferences/{SLUG}/checkin/search?q=Person", headers=device)
    assert found.status_code == 200 and len(found.json()) == 2
    manual = await client.post(
        "/api/v1/checkin/manual",
        json={"conference": SLUG, "registration_id": first_id, "gate": "Woanders"},
        headers=device,
    )
    assert manual.json()["status"] == "ok" and manual.json()["gate"] == "Eingang Nord"
    batch = await client.post(
        "/api/v1/checkin/batch",
        json={
            "conference": SLUG,
            "scans": [
                {
                    "secret": second_secret,
                    "gate": "Woanders",
                    "type": "entry",
                    "nonce": "n-1",
                    "scanned_at": "2027-05-10T09:30:00+02:00",
                }
            ],
        },
        headers=device,
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["status"] == "ok"
    gates = await pool.fetch("SELECT DISTINCT gate, device, staff_id FROM scans")
    assert [tuple(r) for r in gates] == [("Eingang Nord", f"device:{door['id']}", None)]

    # Everything else a scanner account may reach, a device may not.
    for method, path in (
        ("GET", f"/api/v1/conferences/{SLUG}/registrations"),
        ("GET", f"/api/v1/conferences/{SLUG}/devices"),
        ("POST", f"/api/v1/conferences/{SLUG}/devices"),
        ("DELETE", f"/api/v1/conferences/{SLUG}/devices/{door['id']}"),
        ("GET", "/staff"),
        ("GET", "/staff/tokens"),
        ("GET", "/scan"),
    ):
        response = await client.request(method, path, headers=device, follow_redirects=False)
        assert response.status_code == 403, (method, path, response.status_code)
    assert await pool.fetchval("SELECT removed_at IS NULL FROM devices") is True


async def test_names_are_checked(client, organiser, make_staff):
    await make_conference(client, organiser)
    path = f"/api/v1/conferences/{SLUG}/devices"
    for body in ({}, {"name": ""}, {"name": "x" * 51}, {"name": "  "}, {"name": "Tür\nA"}):
        response = await client.post(path, json=body, headers=organiser.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errors"][0]["field"] == "name"
    await add_door(client, organiser, "Eingang Nord")
    for language, words in (("en", "already has a door"), ("de", "bereits einen Eingang")):
        taken = await client.post(
            path,
            json={"name": "eingang nord"},
            headers={**organiser.headers, "Accept-Language": language},
        )
        assert taken.status_code == 409
        assert taken.json()["errors"][0]["field"] == "name"
        assert words in taken.json()["detail"]
    # Another conference may have a door of the same name.
    await make_conference(client, organiser, slug=OTHER)
    await add_door(client, organiser, "Eingang Nord", slug=OTHER)

    scanner = await make_staff("scanner")
    refused = await client.post(path, json={"name": "B"}, headers=scanner.headers)
    assert refused.status_code == 403
    assert (await client.post(path, json={"name": "B"})).status_code == 401
    assert (
        await client.get("/api/v1/conferences/gibt-es-nicht/devices", headers=organiser.headers)
    ).status_code == 404


async def test_last_seen_moves_at_most_once_a_minute(client, organiser, pool, settings):
    await make_conference(client, organiser)
    door, device = await paired_door(client, organiser)
    body = {"conference": SLUG, "secret": "nonsense"}
    await pool.execute("UPDATE devices SET last_seen_at = now() - interval '30 seconds'")
    seen = await pool.fetchval("SELECT last_seen_at FROM devices")
    await client.post("/api/v1/checkin", json=body, headers=device)
    await client.get(f"/api/v1/conferences/{SLUG}/checkin/offline-data", headers=device)
    assert await pool.fetchval("SELECT last_seen_at FROM devices") == seen
    await pool.execute("UPDATE devices SET last_seen_at = now() - interval '5 minutes'")
    await client.post("/api/v1/checkin", json=body, headers=device)
    assert await pool.fetchval("SELECT last_seen_at > now() - interval '1 minute' FROM devices")
    await pool.execute("UPDATE devices SET last_seen_at = now() - interval '5 minutes'")
    await client.get(f"/api/v1/conferences/{SLUG}/checkin/offline-data", headers=device)
    assert await pool.fetchval("SELECT last_seen_at > now() - interval '1 minute' FROM devices")
    assert door["id"] == await pool.fetchval("SELECT id FROM devices")


async def test_pairing_is_rate_limited_per_client(client, organiser):
    await make_conference(client, organiser)
    answers = [(await pair(client, f"unknown-{i}")).status_code for i in range(21)]
    assert answers[:20] == [404] * 20 and answers[20] == 429
    assert (await client.get("/pair/whatever")).status_code == 429


async def test_pages_add_show_the_code_and_remove(client, organiser, pool):
    await make_conference(client, organiser)
    client.headers["Accept-Language"] = "en"
    await login(client, organiser)
    page = f"/staff/conferences/{SLUG}/devices"
    listed = await client.get(page)
    assert listed.status_code == 200 and "No doors yet." in listed.text
    token = await csrf_token(client, page)

    empty = await client.post(page, data={"name": " ", "_csrf_token": token})
    assert empty.status_code == 400 and "Please fill in this field." in empty.text
    added = await client.post(page, data={"name": "Eingang Nord", "_csrf_token": token})
    assert added.status_code == 200
    assert added.headers["cache-control"] == "private, no-store"
    assert "<svg" in added.text and "Pair the door Eingang Nord" in added.text
    url = added.text.split('id="pairing-url">', 1)[1].split("<", 1)[0]
    assert url.startswith("http://testserver.local/pair/")
    taken = await client.post(page, data={"name": "EINGANG NORD", "_csrf_token": token})
    assert taken.status_code == 409 and "already has a door" in taken.text

    # The phone's page: a button, and the code still unused after opening it.
    client.cookies.clear()
    phone = await client.get(url.removeprefix("http://testserver.local"))
    assert phone.status_code == 200
    assert "Set up this device as the scanner for Fachtag Ehrenamt 2027" in phone.text
    assert "Door: Eingang Nord" in phone.text
    assert await pool.fetchval("SELECT paired_at FROM devices") is None
    assert (await pair(client, url.rsplit("/", 1)[1])).status_code == 200
    used = await client.get(url.removeprefix("http://testserver.local"))
    assert used.status_code == 409 and "already been used" in used.text
    unknown = await client.get("/pair/gibt-es-nicht")
    assert unknown.status_code == 404 and "unknown" in unknown.text
    scanner = await client.get("/scan/device")
    assert scanner.status_code == 200 and 'id="scan-device-logout"' in scanner.text

    await login(client, organiser)
    listed = await client.get(page)
    assert "Eingang Nord" in listed.text and "Device set up on" in listed.text
    door_id = await pool.fetchval("SELECT id FROM devices")
    confirm = await client.get(f"{page}/{door_id}/remove")
    assert confirm.status_code == 200 and "Yes, remove this door" in confirm.text
    token = await csrf_token(client, f"{page}/{door_id}/remove")
    removed = await client.post(
        f"{page}/{door_id}/remove", data={"_csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code in (302, 303)
    assert removed.headers["location"] == f"{page}?removed=true"
    assert await pool.fetchval("SELECT removed_at IS NOT NULL FROM devices")
    after = await client.get(f"{page}?removed=true")
    assert "The door has been removed." in after.text and "No doors yet." in after.text
    assert (await client.get(f"{page}/{door_id}/remove")).status_code == 404


@pytest.mark.parametrize("phones", [12])
async def test_two_phones_pairing_with_one_code_at_once(
    two_process_server, organiser, pool, phones
):
    """The phones race against two web processes, each request on a connection of its own:
    exactly one gets a token, the others 409, and one pairing is recorded."""
    async with httpx.AsyncClient(
        base_url=two_process_server, timeout=60, limits=httpx.Limits(max_connections=phones)
    ) as http:
        await make_conference(http, organiser)
        door = await add_door(http, organiser)
        code = code_of(door)
        answers = await asyncio.gather(
            *(http.post("/api/v1/devices/pair", json={"code": code}) for _ in range(phones))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [409] * (phones - 1), [a.text for a in answers]
        [winner] = [a.json() for a in answers if a.status_code == 200]
        scan = await http.post(
            "/api/v1/checkin",
            json={"conference": SLUG, "secret": "nonsense"},
            headers={"Authorization": f"Bearer {winner['token']}"},
        )
        assert scan.status_code == 200 and scan.json()["reason"] == "invalid"
    assert len(await audit(pool, "device.paired")) == 1
    assert await pool.fetchval("SELECT count(*) FROM devices WHERE paired_at IS NOT NULL") == 1
