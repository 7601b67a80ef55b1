"""Every staff action writes exactly one audit log entry, in the action's own transaction: an
action that fails writes none, and an entry that cannot be written undoes the action. Through
the API and the pages, for conferences, programme, forums, stands, bookings, the entrance,
registrations and every download."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from tests.conftest import csrf_token, login
from tests.exhibitor_support import make_stand, request_and_confirm
from tests.forum_support import make_attendees, make_forum
from tests.registration_support import SLUG, make_conference

pytestmark = pytest.mark.asyncio


async def entries(pool: asyncpg.Pool, action: str | None = None) -> list[asyncpg.Record]:
    async with pool.acquire() as db:
        return await db.fetch(
            "SELECT a.*, l.actor, l.subject FROM audit_log a "
            "LEFT JOIN audit_labels l ON l.entry_id = a.id "
            "WHERE $1::text IS NULL OR a.action = $1 ORDER BY a.id",
            action,
        )


class Count:
    """How many entries an action wrote (by action name). Logins (staff.login, written by the
    login itself) are left out: these tests log in through the form where they need a page."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.seen = 0

    async def new(self) -> list[asyncpg.Record]:
        rows = await entries(self.pool)
        fresh, self.seen = rows[self.seen :], len(rows)
        return [e for e in fresh if not e["action"].startswith("staff.")]

    async def one(self, action: str) -> asyncpg.Record:
        fresh = await self.new()
        assert [e["action"] for e in fresh] == [action], [dict(e) for e in fresh]
        return fresh[0]

    async def none(self) -> None:
        fresh = await self.new()
        assert fresh == [], [dict(e) for e in fresh]


@pytest.fixture
async def count(pool) -> Count:
    return Count(pool)


async def _staff_id(pool, email: str) -> int:
    async with pool.acquire() as db:
        return await db.fetchval("SELECT id FROM staff WHERE email = $1", email)


async def _conference_id(pool, slug: str = SLUG) -> int:
    async with pool.acquire() as db:
        return await db.fetchval("SELECT id FROM conferences WHERE slug = $1", slug)


@asynccontextmanager
async def refused_entries(pool, action: str) -> Iterator[None]:
    """The database refuses to write entries of `action` while inside."""
    async with pool.acquire() as db:
        await db.execute(
            f"""
            CREATE FUNCTION test_refuse_entry() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.action = '{action}' THEN RAISE EXCEPTION 'entry refused'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_refuse_entry BEFORE INSERT ON audit_log
                FOR EACH ROW EXECUTE FUNCTION test_refuse_entry();
            """
        )
    try:
        yield
    finally:
        async with pool.acquire() as db:
            await db.execute(
                "DROP TRIGGER test_refuse_entry ON audit_log; DROP FUNCTION test_refuse_entry();"
            )


# ── conferences and programme ───────────────────────────────────────────────────────────


async def test_conference_created_and_changed(client, pool, organiser, count) -> None:
    await make_conference(client, organiser)
    created = await count.one("conference.created")
    conference_id = await _conference_id(pool)
    assert created["conference_id"] == conference_id
    assert created["actor_staff_id"] == await _staff_id(pool, organiser.email)
    assert (created["subject_type"], created["subject_id"]) == ("conference", str(conference_id))
    assert created["actor"] == organiser.email

    url = f"/api/v1/conferences/{SLUG}"
    changed = await client.patch(
        url, json={"title": "Neuer Titel", "venue": "Rathaus Hannover"}, headers=organiser.headers
    )
    assert changed.status_code == 200, changed.text
    entry = await count.one("conference.updated")
    assert entry["details"] == {"fields": ["title"]}  # the venue was the same: not changed
    assert "Neuer Titel" not in str(entry["details"])  # names of fields, never values

    same = await client.patch(url, json={"title": "Neuer Titel"}, headers=organiser.headers)
    assert same.status_code == 200
    await count.none()  # nothing changed, nothing recorded
    wrong = await client.patch(url, json={"capacity": -1}, headers=organiser.headers)
    assert wrong.status_code == 400
    await count.none()


async def test_the_conference_form_records_too(client, pool, organiser, count) -> None:
    await make_conference(client, organiser)
    await count.new()
    await login(client, organiser)
    page = await client.get(f"/staff/conferences/{SLUG}")
    token = await csrf_token(client, f"/staff/conferences/{SLUG}")
    form = {
        "_csrf_token": token,
        "slug": SLUG,
        "title": "Fachtag Ehrenamt 2027",
        "venue": "Neues Rathaus",
        "address": "Trammplatz 2, 30159 Hannover",
        "starts_at": "2027-05-10T09:00",
        "ends_at": "2027-05-10T17:00",
        "capacity": "120",
        "languages": ["de", "en"],
        "organiser_name": "",
        "organiser_email": "",
        "published": "on",
    }
    assert page.status_code == 200
    saved = await client.post(f"/staff/conferences/{SLUG}", data=form, follow_redirects=False)
    assert saved.status_code in (302, 303), saved.text
    entry = await count.one("conference.updated")
    assert "venue" in entry["details"]["fields"]


async def test_programme_items(client, pool, organiser, count) -> None:
    await make_conference(client, organiser)
    await count.new()
    base = f"/api/v1/conferences/{SLUG}/programme"
    item = {
        "title": "Begrüßung",
        "kind": "plenary",
        "starts_at": "2027-05-10T09:00:00+02:00",
        "ends_at": "2027-05-10T09:30:00+02:00",
    }
    added = await client.post(base, json=item, headers=organiser.headers)
    assert added.status_code == 201, added.text
    item_id = added.json()["id"]
    assert (await count.one("programme_item.created"))["subject_id"] == str(item_id)
    changed = await client.patch(
        f"{base}/{item_id}", json={"room": "Saal"}, headers=organiser.headers
    )
    assert changed.status_code == 200
    assert (await count.one("programme_item.updated"))["details"] == {"fields": ["room"]}
    outside = await client.patch(
        f"{base}/{item_id}",
        json={"starts_at": "2030-01-01T09:00:00+01:00"},
        headers=organiser.headers,
    )
    assert outside.status_code == 400
    await count.none()
    assert (await client.delete(f"{base}/{item_id}", headers=organiser.headers)).status_code == 204
    await count.one("programme_item.deleted")


# ── forums ──────────────────────────────────────────────────────────────────────────────


async def test_forums(client, pool, settings, organiser, count) -> None:
    await make_conference(client, organiser)
    await count.new()
    forum = await make_forum(client, organiser)
    created = await count.one("forum.created")
    assert created["subject_id"] == str(forum["id"])
    assert created["conference_id"] == await _conference_id(pool)
    other = await make_forum(client, organiser, title="Zweites Forum")
    await count.one("forum.created")

    url = f"/api/v1/forums/{forum['id']}"
    changed = await client.patch(url, json={"room": "Raum 12"}, headers=organiser.headers)
    assert changed.status_code == 200, changed.text
    assert (await count.one("forum.updated"))["details"] == {"fields": ["room"]}

    [(person, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    joined = await client.put(f"/api/v1/registrations/{token}/forums/{forum['id']}")
    assert joined.status_code in (200, 201), joined.text
    await count.none()  # the attendee's own step is no staff action
    moved = await client.post(
        f"{url}/move",
        json={"registration_id": person, "to_forum_id": other["id"]},
        headers=organiser.headers,
    )
    assert moved.status_code == 200, moved.text
    entry = await count.one("forum.signup_moved")
    assert (entry["subject_type"], entry["subject_id"]) == ("registration", str(person))
    assert entry["details"] == {"from_forum": forum["id"], "to_forum": other["id"]}
    assert entry["subject"] == "Person 0"

    cancelled = await client.patch(url, json={"cancelled": True}, headers=organiser.headers)
    assert cancelled.status_code == 200, cancelled.text
    await count.one("forum.cancelled")

    await login(client, organiser)
    token = await csrf_token(client, f"/staff/forums/{other['id']}/cancel")
    page = await client.post(
        f"/staff/forums/{other['id']}/cancel", data={"_csrf_token": token}, follow_redirects=False
    )
    assert page.status_code in (302, 303), page.text
    await count.one("forum.cancelled")


# ── stands and bookings ─────────────────────────────────────────────────────────────────


async def test_stands(client, pool, organiser, count) -> None:
    await make_conference(client, organiser)
    await count.new()
    stand = await make_stand(client, organiser)
    entry = await count.one("stand.created")
    assert (entry["subject_id"], entry["subject"]) == (str(stand["id"]), "B1")
    row = await client.post(
        f"/api/v1/conferences/{SLUG}/stands/row",
        json={"prefix": "C", "first_number": 1, "count": 3, "width_m": 2, "depth_m": 2},
        headers=organiser.headers,
    )
    assert row.status_code == 201, row.text
    fresh = await count.new()
    assert [e["action"] for e in fresh] == ["stand.created"] * 3  # one per stand made
    duplicate = await client.post(
        f"/api/v1/conferences/{SLUG}/stands",
        json={"code": "B1", "width_m": 2, "depth_m": 2},
        headers=organiser.headers,
    )
    assert duplicate.status_code == 409
    await count.none()
    changed = await client.patch(
        f"/api/v1/stands/{stand['id']}", json={"width_m": 4, "x": 3}, headers=organiser.headers
    )
    assert changed.status_code == 200, changed.text
    assert (await count.one("stand.updated"))["details"] == {"fields": ["width_m", "x"]}


async def test_bookings_and_a_failed_approval(client, pool, settings, organiser, count) -> None:
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    first, _token = await request_and_confirm(client, pool, settings)
    second, _token2 = await request_and_confirm(client, pool, settings, email="b@example.org")
    await count.new()
    approve = f"/api/v1/exhibitor-bookings/{first}/approve"
    done = await client.post(approve, json={"stand_id": stand["id"]}, headers=organiser.headers)
    assert done.status_code == 200, done.text
    entry = await count.one("exhibitor_booking.approved")
    assert (entry["subject_type"], entry["subject_id"]) == ("exhibitor_booking", str(first))
    assert entry["details"] == {"stand": "B1"}
    assert entry["subject"] == "Caritasverband Hannover e. V."

    taken = await client.post(
        f"/api/v1/exhibitor-bookings/{second}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    assert taken.status_code == 409
    await count.none()  # a failed action writes no entry

    for step, action in (
        ("waitlist", "exhibitor_booking.waitlisted"),
        ("reject", "exhibitor_booking.rejected"),
    ):
        response = await client.post(
            f"/api/v1/exhibitor-bookings/{second}/{step}",
            json={"reason": "Der Platz reicht nicht."},
            headers=organiser.headers,
        )
        assert response.status_code == 200, response.text
        entry = await count.one(action)
        assert "Platz" not in str(entry["details"])  # the reason is no name of a field

    other = await make_stand(client, organiser, code="B2", x=10)
    await count.new()
    moved = await client.post(
        f"/api/v1/exhibitor-bookings/{first}/reassign",
        json={"stand_id": other["id"]},
        headers=organiser.headers,
    )
    assert moved.status_code == 200, moved.text
    assert (await count.one("exhibitor_booking.reassigned"))["details"] == {"stand": "B2"}
    released = await client.post(
        f"/api/v1/exhibitor-bookings/{first}/release", headers=organiser.headers
    )
    assert released.status_code == 200
    await count.one("exhibitor_booking.released")


async def test_an_entry_that_cannot_be_written_undoes_the_action(
    client, pool, settings, organiser, count
) -> None:
    """The entry is written in the action's transaction: if it fails, the stand stays free."""
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    booking, _token = await request_and_confirm(client, pool, settings)
    await count.new()
    async with refused_entries(pool, "exhibitor_booking.approved"):
        response = await client.post(
            f"/api/v1/exhibitor-bookings/{booking}/approve",
            json={"stand_id": stand["id"]},
            headers=organiser.headers,
        )
    assert response.status_code == 500
    await count.none()
    async with pool.acquire() as db:
        row = await db.fetchrow(
            "SELECT status, stand_id FROM exhibitor_bookings WHERE id = $1", booking
        )
        mails = await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'exhibitor.approved'")
    assert (row["status"], row["stand_id"], mails) == ("requested", None, 0)


async def test_the_review_page_records_with_its_staff(client, pool, settings, organiser, count):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    booking, _token = await request_and_confirm(client, pool, settings)
    await count.new()
    await login(client, organiser)
    base = f"/staff/conferences/{SLUG}/exhibitors"
    token = await csrf_token(client, base)
    done = await client.post(
        f"{base}/{booking}/approve",
        data={"_csrf_token": token, "stand_id": str(stand["id"])},
        follow_redirects=False,
    )
    assert done.status_code in (302, 303), done.text
    entry = await count.one("exhibitor_booking.approved")
    assert entry["actor"] == organiser.email


# ── the entrance ────────────────────────────────────────────────────────────────────────


async def test_admission_by_hand_and_taking_it_back(
    client, pool, settings, organiser, make_staff, count
) -> None:
    await make_conference(client, organiser)
    [(person, _token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    scanner = await make_staff("scanner")
    await count.new()
    body = {"conference": SLUG, "registration_id": person, "gate": "Nord"}
    admitted = await client.post("/api/v1/checkin/manual", json=body, headers=scanner.headers)
    assert admitted.json()["status"] == "ok", admitted.text
    entry = await count.one("checkin.manual")
    assert entry["actor_staff_id"] == await _staff_id(pool, scanner.email)
    assert (entry["subject_type"], entry["subject_id"]) == ("registration", str(person))
    assert entry["subject"] == "Person 0" and entry["details"] == {"gate": "Nord"}
    again = await client.post("/api/v1/checkin/manual", json=body, headers=scanner.headers)
    assert again.json()["reason"] == "already_checked_in"
    await count.none()  # refused: recorded in scans, nobody admitted

    undo = {"conference": SLUG, "registration_id": person}
    taken_back = await client.post("/api/v1/checkin/undo", json=undo, headers=scanner.headers)
    assert taken_back.json() == {"undone": True}
    await count.one("checkin.undone")
    nothing = await client.post("/api/v1/checkin/undo", json=undo, headers=scanner.headers)
    assert nothing.json() == {"undone": False}
    await count.none()


# ── registrations ───────────────────────────────────────────────────────────────────────


async def test_staff_cancel_resend_and_erase(client, pool, settings, organiser, count) -> None:
    await make_conference(client, organiser)
    people = await make_attendees(pool, settings.secret_key, SLUG, 3)
    await count.new()
    base = f"/api/v1/conferences/{SLUG}/registrations"
    (first, _t1), (second, _t2), (third, _t3) = people

    resent = await client.post(f"{base}/{first}/resend-ticket", headers=organiser.headers)
    assert resent.status_code == 200
    assert (await count.one("registration.ticket_reissued"))["subject"] == "Person 0"
    cancelled = await client.post(f"{base}/{first}/cancel", headers=organiser.headers)
    assert cancelled.status_code == 200
    await count.one("registration.cancelled")
    await client.post(f"{base}/{first}/cancel", headers=organiser.headers)
    await count.none()  # already cancelled: nothing happened

    erased = await client.post(f"{base}/{second}/erase", headers=organiser.headers)
    assert erased.status_code == 200
    entry = await count.one("registration.erased")
    assert entry["subject"] in (None, "")
    # Erasing takes the name from the earlier entries about the person, and keeps them.
    await client.post(
        "/api/v1/checkin/manual",
        json={"conference": SLUG, "registration_id": third},
        headers=organiser.headers,
    )
    manual = await count.one("checkin.manual")
    assert manual["subject"] == "Person 2"
    await client.post(f"{base}/{third}/erase", headers=organiser.headers)
    await count.one("registration.erased")
    [kept] = await entries(pool, "checkin.manual")
    assert kept["id"] == manual["id"] and kept["subject"] == ""
    assert kept["actor"] == organiser.email  # who acted stays until the retention purge

    await login(client, organiser)
    page = f"/staff/conferences/{SLUG}/registrations"
    token = await csrf_token(client, f"{page}/{first}/erase")
    response = await client.post(
        f"{page}/{first}/erase", data={"_csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    await count.one("registration.erased")


async def test_an_attendee_erasing_themselves_forgets_their_name_too(
    client, pool, settings, organiser, count
) -> None:
    await make_conference(client, organiser)
    [(person, token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    await client.post(
        f"/api/v1/conferences/{SLUG}/registrations/{person}/resend-ticket",
        headers=organiser.headers,
    )
    async with pool.acquire() as db:
        new_token = token
        assert await db.fetchval("SELECT count(*) FROM audit_labels WHERE subject = 'Person 0'")
    erased = await client.post(f"/api/v1/registrations/{new_token}/erase")
    assert erased.status_code == 200, erased.text
    async with pool.acquire() as db:
        assert not await db.fetchval("SELECT count(*) FROM audit_labels WHERE subject = 'Person 0'")
    assert [e["action"] for e in await entries(pool)][-1] == "registration.ticket_reissued"


# ── downloads ───────────────────────────────────────────────────────────────────────────


async def test_every_download_is_recorded(client, pool, settings, organiser, count) -> None:
    await make_conference(client, organiser)
    forum = await make_forum(client, organiser)
    [(person, _token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    await count.new()
    api = f"/api/v1/conferences/{SLUG}"
    for path, what, fmt in (
        (f"{api}/registrations.csv?status=confirmed", "registrations", "csv"),
        (f"{api}/entrance/attendees.csv", "attendees", "csv"),
        (f"{api}/entrance/checkins.csv", "checkins", "csv"),
        (f"{api}/entrance/needs.csv", "needs", "csv"),
        (f"{api}/registrations/{person}/export", "registration_data", "json"),
    ):
        response = await client.get(path, headers=organiser.headers)
        assert response.status_code == 200, (path, response.text)
        entry = await count.one("export.downloaded")
        assert entry["details"] == {"format": fmt, "what": what}, path
        assert entry["conference_id"] == await _conference_id(pool)
    await login(client, organiser)
    for path, what, fmt in (
        (f"/staff/forums/{forum['id']}/participants.csv", "forum_participants", "csv"),
        (f"/staff/conferences/{SLUG}/badges", "badges", "html"),
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        entry = await count.one("export.downloaded")
        assert entry["details"] == {"format": fmt, "what": what}, path
    refused = await client.get(f"/staff/conferences/{SLUG}/badges?layout=a5")
    assert refused.status_code == 400
    await count.none()


async def test_a_door_device_admitting_by_hand_is_named_as_the_door(
    client, pool, settings, organiser, count
) -> None:
    """A paired phone acts as its door: the entry names the device, not a staff account."""
    await make_conference(client, organiser)
    [(person, _token)] = await make_attendees(pool, settings.secret_key, SLUG, 1)
    door = await client.post(
        f"/api/v1/conferences/{SLUG}/devices",
        json={"name": "Eingang Nord"},
        headers=organiser.headers,
    )
    assert door.status_code == 201, door.text
    code = door.json()["pairing_url"].rsplit("/", 1)[1]
    paired = await client.post("/api/v1/devices/pair", json={"code": code})
    assert paired.status_code == 200, paired.text
    device = {"Authorization": f"Bearer {paired.json()['token']}"}
    await count.new()
    admitted = await client.post(
        "/api/v1/checkin/manual",
        json={"conference": SLUG, "registration_id": person},
        headers=device,
    )
    assert admitted.json()["status"] == "ok", admitted.text
    entry = await count.one("checkin.manual")
    assert (entry["actor_staff_id"], entry["actor_device_id"]) == (None, door.json()["id"])
    assert entry["details"] == {"gate": "Eingang Nord"}  # the door's own name as gate
    log = await client.get(
        f"/api/v1/conferences/{SLUG}/audit",
        params={"action": "checkin.manual"},
        headers={**organiser.headers, "Accept-Language": "de"},
    )
    [item] = log.json()["items"]
    assert item["actor"] == "Gerät „Eingang Nord“"
