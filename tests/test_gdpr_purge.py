"""`tagung gdpr purge`: the needs go the day after a conference, everything personal once the
retention period has passed; the reports still count, a second run changes nothing, and
`--dry-run` changes nothing at all. Run as the command a timer runs, against the test database.

Three conferences: one that ended yesterday, one that ended 91 days ago, one in the future;
in each two confirmed attendees (one with needs and all consents, admitted at the door) and one
exhibitor booking.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service import tokens
from tests.exhibitor_support import booking_payload
from tests.registration_support import registration_payload, token_for

NOW = datetime.now(UTC)
CONFERENCES = {
    "gestern": NOW - timedelta(days=1),
    "vorbei": NOW - timedelta(days=91),
    "kuenftig": NOW + timedelta(days=30),
}
NEEDS = {"accessibility": ["wheelchair"], "dietary": ["vegan"]}
ALL_CONSENTS = {"privacy": True, "special_category": True, "photos": True}


def purge(database_url: str, data_dir: Path, *args: str, **env: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env={
            "DATABASE_URL": database_url,
            "TAGUNG_DATA_DIR": str(data_dir),
            "PATH": "/usr/bin:/bin",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


async def make_conference(client, organiser, slug: str, ends_at: datetime) -> None:
    response = await client.post(
        "/api/v1/conferences",
        headers=organiser.headers,
        json={
            "slug": slug,
            "title": f"Fachtag {slug}",
            "venue": "Rathaus Hannover",
            "address": "Trammplatz 2, 30159 Hannover",
            "starts_at": (ends_at - timedelta(hours=8)).isoformat(),
            "ends_at": ends_at.isoformat(),
            "capacity": 50,
            "registration_opens_at": (NOW - timedelta(days=200)).isoformat(),
            "registration_closes_at": (ends_at - timedelta(hours=8)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text


async def fill(client, organiser, pool, settings, slug: str) -> None:
    """Two confirmed attendees (the first with needs, admitted) and one exhibitor booking."""
    key = tokens.key_from_secret(settings.secret_key)
    for n, extra in ((1, {"needs": NEEDS, "consents": ALL_CONSENTS}), (2, {})):
        email = f"p{n}-{slug}@example.org"
        payload = registration_payload(email=email, name=f"Person {n} {slug}", **extra)
        response = await client.post(f"/api/v1/conferences/{slug}/registrations", json=payload)
        assert response.status_code == 202, response.text
        confirm = await token_for(pool, settings, email)
        confirmed = await client.post("/api/v1/registrations/confirm", json={"token": confirm})
        assert confirmed.json()["status"] == "confirmed", confirmed.text
    ticket = await token_for(pool, settings, f"p1-{slug}@example.org", "ticket")
    scan = await client.post(
        "/api/v1/checkin",
        json={"conference": slug, "secret": ticket, "gate": "Nord"},
        headers=organiser.headers,
    )
    assert scan.json()["status"] == "ok", scan.text
    booking = booking_payload(email=f"markt-{slug}@caritas.example")
    response = await client.post(f"/api/v1/conferences/{slug}/exhibitor-bookings", json=booking)
    assert response.status_code == 202, response.text
    async with pool.acquire() as db:
        salt = await db.fetchval(
            "SELECT confirm_salt FROM exhibitor_bookings WHERE email = $1", booking["email"]
        )
    confirm = tokens.derive(key, "exhibitor-confirm", salt)
    confirmed = await client.post("/api/v1/exhibitor-bookings/confirm", json={"token": confirm})
    assert confirmed.status_code == 200, confirmed.text


async def reports(client, organiser, slug: str) -> dict:
    """What the reports count: registrations by status and category, arrivals at the door."""
    summary = await client.get(
        f"/api/v1/conferences/{slug}/registrations/summary", headers=organiser.headers
    )
    entrance = await client.get(
        f"/api/v1/conferences/{slug}/entrance/stats", headers=organiser.headers
    )
    stands = await client.get(
        f"/api/v1/conferences/{slug}/exhibitor-bookings", headers=organiser.headers
    )
    s, e = summary.json(), entrance.json()
    return {
        "by_status": s["by_status"],
        "by_category": s["by_category"],
        "seats_left": s["seats_left"],
        "entrance": [e["totals"], e["by_category"], e["by_gate"], e["arrivals"]],
        "bookings": [(b["organisation"], b["status"]) for b in stands.json()["items"]],
    }


async def snapshot(pool) -> str:
    """Every row that holds or held personal data, as text."""
    async with pool.acquire() as db:
        parts = [
            await db.fetchval(f"SELECT coalesce(json_agg(t ORDER BY t), '[]')::text FROM {table} t")
            for table in ("registrations", "exhibitor_bookings", "consents", "outbox", "scans")
        ]
    return "\n".join(parts)


async def people(pool, slug: str) -> list:
    async with pool.acquire() as db:
        return await db.fetch(
            "SELECT r.*, "
            "(SELECT count(*) FROM consents c WHERE c.registration_id = r.id) AS consents, "
            "(SELECT count(*) FROM outbox o "
            " WHERE o.ref_id = r.id AND o.kind LIKE 'registration.%') AS mails "
            "FROM registrations r JOIN conferences c ON c.id = r.conference_id "
            "WHERE c.slug = $1 ORDER BY r.id",
            slug,
        )


async def test_purge_removes_needs_after_the_conference_and_people_after_retention(
    client, organiser, pool, settings, database_url, tmp_path
):
    for slug, ends_at in CONFERENCES.items():
        await make_conference(client, organiser, slug, ends_at)
        # People registered and confirmed while registration was open (a confirmation after
        # the end takes no place): the conference lies ahead for that, then gets its dates.
        async with pool.acquire() as db:
            dates = await db.fetchrow(
                "SELECT starts_at, ends_at, registration_closes_at FROM conferences "
                "WHERE slug = $1",
                slug,
            )
            await db.execute(
                "UPDATE conferences SET starts_at = now() + interval '1 day', "
                "ends_at = now() + interval '2 days', "
                "registration_closes_at = now() + interval '1 day' WHERE slug = $1",
                slug,
            )
        await fill(client, organiser, pool, settings, slug)
        async with pool.acquire() as db:
            await db.execute(
                "UPDATE conferences SET starts_at = $2, ends_at = $3, "
                "registration_closes_at = $4 WHERE slug = $1",
                slug,
                *dates,
            )
    before = {slug: await reports(client, organiser, slug) for slug in CONFERENCES}
    unchanged = await snapshot(pool)

    dry = await asyncio.to_thread(purge, database_url, tmp_path, "gdpr", "purge", "--dry-run")
    # The last line: the audit log's names (the staff actions of this test's set-up).
    assert dry.pop().startswith("Would remove the names from ")
    assert dry == [
        "Dry run: nothing was changed.",
        "Would remove the needs (accessibility, interpretation, food) of 2 registration(s) "
        "of 2 conference(s) that ended before today.",
        "Would make 2 registration(s) anonymous (1 conference(s) that ended 90 or more days ago).",
        "Would make 1 exhibitor contact(s) anonymous "
        "(1 conference(s) that ended 90 or more days ago).",
    ]
    assert await snapshot(pool) == unchanged

    # RETENTION_DAYS=100: the conference of 91 days ago keeps its people, but not the needs.
    first = await asyncio.to_thread(
        purge, database_url, tmp_path, "gdpr", "purge", RETENTION_DAYS="100"
    )
    assert first[0].startswith("Removed the needs (accessibility, interpretation, food) of 2 ")
    assert first[1:3] == [
        "Made 0 registration(s) anonymous (0 conference(s) that ended 100 or more days ago).",
        "Made 0 exhibitor contact(s) anonymous (0 conference(s) that ended 100 or more days ago).",
    ]
    assert first[3].startswith("Removed the names from 0 audit log entries (0 conference(s)")
    for slug in ("gestern", "vorbei"):
        needy, _other = await people(pool, slug)
        assert needy["needs"] == {} and needy["name"] == f"Person 1 {slug}"
        assert needy["consents"] == 3 and needy["anonymised_at"] is None
    assert (await people(pool, "kuenftig"))[0]["needs"]["dietary"] == ["vegan"]

    second = await asyncio.to_thread(purge, database_url, tmp_path, "gdpr", "purge")
    assert second.pop().startswith("Removed the names from ")
    assert second == [
        "Removed the needs (accessibility, interpretation, food) of 0 registration(s) "
        "of 0 conference(s) that ended before today.",
        "Made 2 registration(s) anonymous (1 conference(s) that ended 90 or more days ago).",
        "Made 1 exhibitor contact(s) anonymous (1 conference(s) that ended 90 or more days ago).",
    ]

    # Ended 91 days ago: nobody can be named any more.
    for person in await people(pool, "vorbei"):
        assert person["anonymised_at"] is not None
        assert (person["name"], person["organisation"], person["needs"]) == ("–", "", {})
        assert person["email"] == f"anonymised-{person['id']}@invalid"
        assert person["consents"] == 0 and person["mails"] == 0
        assert person["status"] == "confirmed"  # still counted
    async with pool.acquire() as db:
        assert not await db.fetch("SELECT * FROM outbox WHERE recipient LIKE '%vorbei%'")
        scans = await db.fetch(
            "SELECT s.response FROM scans s JOIN conferences c ON c.id = s.conference_id "
            "WHERE c.slug = 'vorbei'"
        )
        assert [s["response"]["attendee"] for s in scans] == [None]
        booking = await db.fetchrow(
            "SELECT b.* FROM exhibitor_bookings b JOIN conferences c ON c.id = b.conference_id "
            "WHERE c.slug = 'vorbei'"
        )
        assert (booking["contact_name"], booking["phone"], booking["description"]) == ("–", "", "")
        assert booking["email"] == f"anonymised-{booking['id']}@invalid"
        assert booking["organisation"] == "Caritasverband Hannover e. V."
        others = await db.fetch(
            "SELECT b.contact_name FROM exhibitor_bookings b JOIN conferences c "
            "ON c.id = b.conference_id WHERE c.slug <> 'vorbei'"
        )
        assert [b["contact_name"] for b in others] == ["Petra Schulz", "Petra Schulz"]
    # Ended yesterday: only the needs went. In the future: nothing.
    for slug in ("gestern", "kuenftig"):
        for person in await people(pool, slug):
            assert person["anonymised_at"] is None and person["name"].startswith("Person")
            assert person["mails"] == 2  # confirmation and ticket
    assert [p["consents"] for p in await people(pool, "kuenftig")] == [3, 1]

    # The reports count as before.
    for slug in CONFERENCES:
        assert await reports(client, organiser, slug) == before[slug], slug

    # Again (through the old name): nothing more changes.
    purged = await snapshot(pool)
    again = await asyncio.to_thread(purge, database_url, tmp_path, "anonymise")
    assert [line.split(" of ")[0].split(" (")[0] for line in again] == [
        "Removed the needs",
        "Made 0 registration(s) anonymous",
        "Made 0 exhibitor contact(s) anonymous",
        "Removed the names from 0 audit log entries",
    ]
    assert " of 0 registration(s)" in again[0]
    assert await snapshot(pool) == purged
