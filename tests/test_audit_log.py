"""The audit log: append-only in the database, read through the API and pages (filters, pages
newest first, CSV), limited to organisers of the conference and admins, and emptied of names
by the retention purge while the entries stay. The staff actions that write it are tested in
tests/test_audit_actions.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service import audit
from service.auth import StaffUser
from service.cli import _purge
from tests.conftest import login
from tests.registration_support import SLUG, make_conference

pytestmark = pytest.mark.asyncio


async def _staff_id(pool: asyncpg.Pool, email: str) -> int:
    async with pool.acquire() as db:
        return await db.fetchval("SELECT id FROM staff WHERE email = $1", email)


async def _conference_id(pool: asyncpg.Pool, slug: str = SLUG) -> int:
    async with pool.acquire() as db:
        return await db.fetchval("SELECT id FROM conferences WHERE slug = $1", slug)


async def _entries(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as db:
        return await db.fetch(
            "SELECT a.*, l.actor, l.subject FROM audit_log a "
            "LEFT JOIN audit_labels l ON l.entry_id = a.id ORDER BY a.id"
        )


async def _write(pool: asyncpg.Pool, action: str, actor: StaffUser | None, **kwargs) -> int:
    async with pool.acquire() as db:
        return await audit.record(db, action, actor=actor, **kwargs)


# ── append-only ─────────────────────────────────────────────────────────────────────────


async def test_entries_cannot_be_changed_or_deleted_even_by_the_owner(pool, organiser) -> None:
    """The test connects as the database's superuser, who owns the table: the trigger refuses
    UPDATE, DELETE and TRUNCATE all the same, and the entry is as it was."""
    actor = StaffUser(id=1, email=organiser.email, role="organiser")
    entry_id = await _write(pool, "conference.updated", actor, fields=["title"])
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        owner = await db.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'")
        assert owner == await db.fetchval("SELECT current_user")
        for statement in (
            "UPDATE audit_log SET action = 'conference.created'",
            "UPDATE audit_log SET details = '{}' WHERE id = $1",
            "DELETE FROM audit_log WHERE id = $1",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log CASCADE",
        ):
            args = (entry_id,) if "$1" in statement else ()
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await db.execute(statement, *args)
        row = await db.fetchrow("SELECT action, details FROM audit_log WHERE id = $1", entry_id)
    assert row["action"] == "conference.updated"
    assert row["details"] == {"fields": ["title"]}


async def test_an_entry_holds_ids_and_field_names_and_its_names_apart(pool, organiser) -> None:
    actor = StaffUser(id=7, email=organiser.email, role="organiser")
    await _write(
        pool,
        "registration.updated",
        actor,
        conference_id=3,
        subject_type="registration",
        subject_id=12,
        subject_label="Aylin Demir",
        fields=["name", "email", "name"],
    )
    [entry] = await _entries(pool)
    assert (entry["actor_staff_id"], entry["actor_device_id"]) == (7, None)
    assert (entry["subject_type"], entry["subject_id"]) == ("registration", "12")
    assert entry["details"] == {"fields": ["email", "name"]}
    # The names only in audit_labels, which the purge may empty.
    assert (entry["actor"], entry["subject"]) == (organiser.email, "Aylin Demir")


# ── reading: API ────────────────────────────────────────────────────────────────────────


async def _three_entries(client, pool, organiser) -> tuple[int, StaffUser]:
    await make_conference(client, organiser)
    conference_id = await _conference_id(pool)
    actor = StaffUser(
        id=await _staff_id(pool, organiser.email), email=organiser.email, role="organiser"
    )
    # The API's own creation wrote an entry already (conference.created) once recording is
    # wired; these come on top of whatever is there.
    await _write(
        pool,
        "exhibitor_booking.approved",
        actor,
        conference_id=conference_id,
        subject_type="exhibitor_booking",
        subject_id=4,
        subject_label="Caritasverband Hannover e. V.",
        details={"stand": "B1"},
    )
    await _write(
        pool,
        "checkin.manual",
        actor,
        conference_id=conference_id,
        subject_type="registration",
        subject_id=9,
        subject_label="Aylin Demir",
        details={"gate": "Nord"},
    )
    await _write(
        pool,
        "checkin.undone",
        StaffUser(id=None, email="Eingang Nord", role="scanner", device_id=5),  # type: ignore[arg-type]
        conference_id=conference_id,
        subject_type="registration",
        subject_id=9,
        subject_label="Aylin Demir",
    )
    return conference_id, actor


async def test_the_conference_log_newest_first_with_names(client, pool, organiser) -> None:
    await _three_entries(client, pool, organiser)
    response = await client.get(f"/api/v1/conferences/{SLUG}/audit", headers=organiser.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] is None
    actions = [item["action"] for item in body["items"]]
    assert actions[:3] == ["checkin.undone", "checkin.manual", "exhibitor_booking.approved"]
    undone, manual, approved = body["items"][:3]
    assert set(undone) == {"at", "actor", "action", "subject", "details"}
    assert undone["actor"] == "Gerät „Eingang Nord“"
    assert manual["actor"] == organiser.email
    assert manual["subject"] == "Anmeldung „Aylin Demir“"
    assert manual["details"] == {"gate": "Nord"}
    assert approved["subject"] == "Standbuchung „Caritasverband Hannover e. V.“"
    assert approved["details"] == {"stand": "B1"}
    # In the conference's time zone, with its offset.
    assert datetime.fromisoformat(undone["at"]).utcoffset() == timedelta(hours=2) or (
        datetime.fromisoformat(undone["at"]).utcoffset() == timedelta(hours=1)
    )
    english = await client.get(
        f"/api/v1/conferences/{SLUG}/audit",
        headers={**organiser.headers, "Accept-Language": "en"},
    )
    assert english.json()["items"][0]["actor"] == "device “Eingang Nord”"


async def test_filters_by_action_kind_actor_and_period(client, pool, organiser) -> None:
    await _three_entries(client, pool, organiser)
    url = f"/api/v1/conferences/{SLUG}/audit"

    async def actions(**params: str) -> list[str]:
        response = await client.get(url, params=params, headers=organiser.headers)
        assert response.status_code == 200, response.text
        return [item["action"] for item in response.json()["items"]]

    assert await actions(action="checkin.") == ["checkin.undone", "checkin.manual"]
    assert await actions(action="checkin.manual") == ["checkin.manual"]
    assert await actions(action="checkin.man") == []  # exact unless it ends in a dot
    assert await actions(actor="eingang") == ["checkin.undone"]
    mine = await actions(actor=organiser.email.upper())
    assert "checkin.undone" not in mine and "checkin.manual" in mine
    today = datetime.now(UTC).date()
    assert len(await actions(since=str(today - timedelta(days=1)), until=str(today))) >= 3
    assert await actions(until=str(today - timedelta(days=2))) == []
    assert await actions(since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []

    for params, field in (
        ({"action": "Checkin"}, "action"),
        ({"since": "gestern"}, "since"),
        ({"until": "1999-12-31"}, "until"),
        ({"since": "2027-05-10", "until": "2027-05-01"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"after": "-1"}, "after"),
    ):
        response = await client.get(url, params=params, headers=organiser.headers)
        assert response.status_code == 400, (params, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()


async def test_pages_go_back_in_time_without_gaps(client, pool, organiser) -> None:
    conference_id, actor = await _three_entries(client, pool, organiser)
    for n in range(7):
        await _write(pool, "stand.created", actor, conference_id=conference_id, subject_id=n)
    url = f"/api/v1/conferences/{SLUG}/audit"
    everything = (await client.get(url, params={"limit": 500}, headers=organiser.headers)).json()
    seen, after = [], 0
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        page = (await client.get(url, params=params, headers=organiser.headers)).json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == everything["items"]
    assert [i["at"] for i in seen] == sorted((i["at"] for i in seen), reverse=True)


async def test_only_organisers_read_a_conference_log_and_only_admins_all(
    client, pool, make_staff, organiser
) -> None:
    await _three_entries(client, pool, organiser)
    scanner, admin = await make_staff("scanner"), await make_staff("admin")
    url = f"/api/v1/conferences/{SLUG}/audit"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=scanner.headers)).status_code == 403
    assert (await client.get(url, headers=admin.headers)).status_code == 200
    unknown = await client.get("/api/v1/conferences/gibt-es-nicht/audit", headers=admin.headers)
    assert unknown.status_code == 404
    assert (await client.get("/api/v1/audit", headers=organiser.headers)).status_code == 403
    whole = await client.get("/api/v1/audit", headers=admin.headers)
    assert whole.status_code == 200
    item = whole.json()["items"][0]
    assert item["conference"] == SLUG and item["action"] == "checkin.undone"
    assert (await client.get("/api/v1/audit.csv", headers=organiser.headers)).status_code == 403


async def test_an_organiser_of_another_conference_gets_404(client, pool, make_staff) -> None:
    """Per-conference access (the scope's one check in the conference lookup): an organiser
    limited to another conference learns nothing of this one's log."""
    admin = await make_staff("admin")
    await make_conference(client, admin)
    await make_conference(client, admin, slug="andere-2027")
    other = await make_staff("organiser")
    async with pool.acquire() as db:
        await db.execute("UPDATE staff SET all_conferences = false WHERE email = $1", other.email)
        await db.execute(
            "INSERT INTO staff_conferences (staff_id, conference_id) "
            "SELECT s.id, c.id FROM staff s, conferences c "
            "WHERE s.email = $1 AND c.slug = 'andere-2027'",
            other.email,
        )
    own = await client.get("/api/v1/conferences/andere-2027/audit", headers=other.headers)
    assert own.status_code == 200
    for path in (f"/api/v1/conferences/{SLUG}/audit", f"/api/v1/conferences/{SLUG}/audit.csv"):
        response = await client.get(path, headers=other.headers)
        assert response.status_code == 404, (path, response.text)


# ── CSV ─────────────────────────────────────────────────────────────────────────────────


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


async def test_the_csv_is_the_filtered_view_and_is_itself_recorded(client, pool, organiser) -> None:
    await _three_entries(client, pool, organiser)
    response = await client.get(
        f"/api/v1/conferences/{SLUG}/audit.csv",
        params={"action": "checkin.", "lang": "de"},
        headers=organiser.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    header, *lines = _rows(response.content)
    assert header == ["at", "actor", "action", "action_label", "subject", "details"]
    assert [line[2] for line in lines] == ["checkin.undone", "checkin.manual"]
    assert lines[1][3] == "Von Hand eingelassen"
    assert lines[1][4] == "Anmeldung „Aylin Demir“"
    downloads = [e for e in await _entries(pool) if e["action"] == "export.downloaded"]
    assert len(downloads) == 1
    assert downloads[0]["details"] == {"format": "csv", "what": "audit_log"}
    assert downloads[0]["actor"] == organiser.email


# ── pages ───────────────────────────────────────────────────────────────────────────────


async def test_the_page_shows_the_log_in_words_with_its_filters(client, pool, organiser) -> None:
    await _three_entries(client, pool, organiser)
    await login(client, organiser)
    page = await client.get(f"/staff/conferences/{SLUG}/audit?lang=de")
    assert page.status_code == 200, page.text
    for words in ("Protokoll", "Von Hand eingelassen", "Stand zugewiesen", "Gerät „Eingang Nord“"):
        assert words in page.text
    filtered = await client.get(f"/staff/conferences/{SLUG}/audit?action=checkin.&lang=de")
    assert 'data-action="checkin.manual"' in filtered.text
    assert 'data-action="exhibitor_booking.approved"' not in filtered.text
    assert f"/api/v1/conferences/{SLUG}/audit.csv?action=checkin." in filtered.text
    wrong = await client.get(f"/staff/conferences/{SLUG}/audit?since=morgen&lang=de")
    assert wrong.status_code == 400
    assert 'aria-invalid="true"' in wrong.text and 'id="f-since-error"' in wrong.text
    # Admins only for the whole installation's page.
    assert (await client.get("/staff/audit")).status_code == 403


async def test_the_installation_page_for_admins(client, pool, make_staff, organiser) -> None:
    await _three_entries(client, pool, organiser)
    admin = await make_staff("admin")
    await login(client, admin)
    page = await client.get("/staff/audit?lang=de")
    assert page.status_code == 200
    assert f'href="/staff/conferences/{SLUG}/audit"' in page.text


# ── retention ───────────────────────────────────────────────────────────────────────────


async def test_the_purge_removes_the_names_and_keeps_the_entries(client, pool, organiser) -> None:
    ended = datetime.now(UTC) - timedelta(days=100)
    await make_conference(
        client,
        organiser,
        starts_at=(ended - timedelta(hours=8)).isoformat(),
        ends_at=ended.isoformat(),
        registration_opens_at=(ended - timedelta(days=30)).isoformat(),
        registration_closes_at=(ended - timedelta(days=1)).isoformat(),
    )
    await make_conference(client, organiser, slug="kuenftig-2027")
    actor = StaffUser(
        id=await _staff_id(pool, organiser.email), email=organiser.email, role="organiser"
    )
    past, future = await _conference_id(pool), await _conference_id(pool, "kuenftig-2027")
    for conference_id in (past, future):
        await _write(
            pool,
            "checkin.manual",
            actor,
            conference_id=conference_id,
            subject_type="registration",
            subject_id=1,
            subject_label="Aylin Demir",
        )
    # Logins belong to no conference: their names go once they are that old.
    async with pool.acquire() as db:
        for days in (100, 1):
            entry_id = await db.fetchval(
                "INSERT INTO audit_log (at, actor_staff_id, action) "
                "VALUES (now() - make_interval(days => $1), $2, 'staff.login') RETURNING id",
                days,
                actor.id,
            )
            await db.execute(
                "INSERT INTO audit_labels (entry_id, actor) VALUES ($1, $2)",
                entry_id,
                organiser.email,
            )
    before = await _entries(pool)
    async with pool.acquire() as db:
        lines = await _purge(db, 90, dry_run=True)
        assert len(await _entries(pool)) == len(before)
        assert [e["actor"] for e in await _entries(pool)] == [e["actor"] for e in before]
        lines = await _purge(db, 90, dry_run=False)
    assert any("audit log" in line for line in lines), lines
    after = await _entries(pool)
    assert [e["id"] for e in after] == [e["id"] for e in before]  # every entry stays
    old_login = min(e["id"] for e in after if e["action"] == "staff.login")
    for entry in after:
        if entry["conference_id"] == past or entry["id"] == old_login:
            assert entry["actor"] is None and entry["subject"] is None, dict(entry)
        else:
            assert entry["actor"] == organiser.email, dict(entry)
    response = await client.get(
        f"/api/v1/conferences/{SLUG}/audit",
        params={"action": "checkin.manual"},
        headers={**organiser.headers, "Accept-Language": "de"},
    )
    [item] = response.json()["items"]
    assert item["actor"] == f"Konto {actor.id}"
    assert item["subject"] == "Anmeldung Nr. 1"
