"""Times stored before dates were bounded, and the database's own bounds (migration 0019).

Until the input was bounded to the years 2000-2100, asyncpg stored 9999-12-31T23:59:59.999999Z
as `infinity` and 0001-01-01 as `-infinity`, and a time in year 9999 overflows in Berlin time:
one such row made the home page, the staff overviews, attendees' pages and the entrance
dashboard with its exports answer 500 for good. An installation with such rows at migration 18
is upgraded here; afterwards every page opens, and the database refuses such times itself.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import init_connection
from service.migrate import MIGRATIONS_DIR, migrate
from service.settings import Settings
from service.staff import create_staff, issue_token
from tests.conftest import PASSWORD, StaffAccount, login
from tests.forum_support import make_attendees
from tests.registration_support import SLUG

OTHER = "fernab-2027"
BOUNDED_FROM = 19  # the migration that repairs and bounds
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
SECRET_KEY = "test-secret-key-not-for-production"
BASE_URL = "http://testserver.local"


def migrations_before_bounds(directory: Path) -> Path:
    directory.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < BOUNDED_FROM:
            shutil.copy(path, directory)
    return directory


async def database_before_bounds(create_database, directory: Path) -> str:
    """A database at the last migration before the bounds, as installations have it."""
    url = await create_database()
    await migrate(url, migrations_before_bounds(directory))
    return url


async def store_times_from_before(db: asyncpg.Connection) -> None:
    """What the API stored for 9999-12-31T23:59:59.999999Z, 0001-01-01 and year-9999 input."""
    await db.execute(
        f"""
        INSERT INTO conferences (slug, title, venue, starts_at, ends_at, capacity,
                                 registration_opens_at, registration_closes_at)
        VALUES ('{SLUG}', 'Fachtag Ehrenamt 2027', 'Rathaus Hannover',
                '2027-05-10 09:00+02', 'infinity', 120, '-infinity', 'infinity'),
               ('{OTHER}', 'Fernab', 'Rathaus Hannover',
                '-infinity', '2027-06-01 17:00+02', 50, now(), '2027-06-01 09:00+02');
        INSERT INTO programme_items (conference_id, title, kind, starts_at, ends_at)
        SELECT id, 'Ende offen', 'plenary', '2027-05-10 10:00+02', 'infinity'
        FROM conferences WHERE slug = '{SLUG}';
        INSERT INTO forums (conference_id, title, starts_at, ends_at, capacity)
        SELECT c.id, f.title, f.starts_at::timestamptz, f.ends_at::timestamptz, 30
        FROM conferences c,
             (VALUES ('Seit jeher', '-infinity', '2027-05-10 15:00+02'),
                     ('Irgendwann', '9999-12-31 10:00+00', '9999-12-31 11:00+00'),
                     ('Irgendwann danach', '9999-12-31 12:00+00', '9999-12-31 13:00+00'))
                 AS f (title, starts_at, ends_at)
        WHERE c.slug = '{SLUG}'
        """
    )


async def sign_up_and_scan(db: asyncpg.Connection, registration_id: int) -> None:
    """The attendee holds every forum and entered: the door's clock said year 9999; a refused
    scan said `-infinity`; a later one was fine."""
    await db.execute(
        "INSERT INTO forum_signups (forum_id, registration_id, status, during) "
        "SELECT id, $1, 'confirmed', tstzrange(starts_at, ends_at, '[)') FROM forums",
        registration_id,
    )
    await db.execute("UPDATE forums SET seats_taken = 1")
    await db.execute(
        "UPDATE registrations SET inside = true, entered_at = now(), entered_gate = 'A' "
        "WHERE id = $1",
        registration_id,
    )
    await db.execute(
        """
        INSERT INTO scans (conference_id, registration_id, device, nonce, gate, type, status,
                           reason, response, offline, scanned_at)
        SELECT c.id, s.person, 'phone', s.nonce, 'A', 'entry', s.status, s.reason, '{}', true,
               s.at::timestamptz
        FROM conferences c,
             (VALUES ($1::bigint, 'n1', 'ok', NULL, '9999-12-31 23:59:59+00'),
                     (NULL, 'n2', 'error', 'invalid', '-infinity'),
                     ($1, 'n3', 'error', 'already_checked_in', '2027-05-10 09:05+02'))
                 AS s (person, nonce, status, reason, at)
        WHERE c.slug = $2
        """,
        registration_id,
        SLUG,
    )


@pytest.fixture
async def upgraded(create_database, tmp_path):
    """An installation with such rows at migration 18, then migrated: (url, self-service
    token of the attendee, organiser)."""
    url = await database_before_bounds(create_database, tmp_path / "before")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection)
    try:
        async with pool.acquire() as db:
            await store_times_from_before(db)
        [(registration_id, manage)] = await make_attendees(pool, SECRET_KEY, SLUG, 1)
        async with pool.acquire() as db:
            await sign_up_and_scan(db, registration_id)
    finally:
        await pool.close()

    await migrate(url)

    db = await asyncpg.connect(url)
    try:
        email = "organiser@example.org"
        await create_staff(db, email, "organiser", PASSWORD)
        organiser = StaffAccount(email, "organiser", await issue_token(db, email, "test"))
    finally:
        await db.close()
    return url, manage, organiser


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        smtp_url="smtp://127.0.0.1:1",
        base_url=BASE_URL,
        secret_key=SECRET_KEY,
        data_dir=data_dir,
    )


def client_for(url: str, data_dir: Path) -> AsyncTestClient:
    return AsyncTestClient(app=create_app(settings_for(url, data_dir)), base_url=BASE_URL)


def in_range(moment: datetime) -> bool:
    return EARLIEST <= moment < LATEST


async def test_pages_open_again_after_the_repair(upgraded, tmp_path) -> None:
    url, manage, organiser = upgraded
    async with client_for(url, tmp_path) as client:
        public = [
            "/",
            f"/conferences/{SLUG}",
            f"/conferences/{OTHER}",
            f"/conferences/{SLUG}/forums",
            "/api/v1/conferences",
            f"/api/v1/conferences/{SLUG}",
            f"/r/{manage}",
            f"/r/{manage}/ticket",
            f"/r/{manage}/calendar.ics",
        ]
        for path in public:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:300])

        entrance = f"/api/v1/conferences/{SLUG}/entrance"
        for path in (f"{entrance}/stats", f"{entrance}/checkins.csv", f"{entrance}/attendees.csv"):
            response = await client.get(path, headers=organiser.headers)
            assert response.status_code == 200, (path, response.text[:300])
        checkins = await client.get(f"{entrance}/checkins.csv", headers=organiser.headers)
        assert len(checkins.text.splitlines()) == 1 + 3
        assert "2027-05-10 09:05:00" in checkins.text

        await login(client, organiser)
        for path in (
            "/staff",
            f"/staff/conferences/{SLUG}",
            f"/staff/conferences/{OTHER}",
            f"/staff/conferences/{SLUG}/registrations",
            f"/staff/conferences/{SLUG}/forums",
            f"/staff/conferences/{SLUG}/entrance",
        ):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:300])


async def test_the_repaired_times_are_sensible(upgraded) -> None:
    url, _manage, _organiser = upgraded
    db = await asyncpg.connect(url)
    try:
        conferences = {
            r["slug"]: r
            for r in await db.fetch(
                "SELECT slug, starts_at, ends_at, registration_opens_at, registration_closes_at, "
                "created_at FROM conferences"
            )
        }
        items = await db.fetch("SELECT starts_at, ends_at FROM programme_items")
        forums = await db.fetch(
            "SELECT f.title, f.starts_at, f.ends_at, s.during, s.status "
            "FROM forums f JOIN forum_signups s ON s.forum_id = f.id ORDER BY f.id"
        )
        scans = await db.fetch("SELECT nonce, scanned_at, recorded_at FROM scans")
        scans = {r["nonce"]: r for r in scans}
    finally:
        await db.close()

    open_end = conferences[SLUG]
    start = datetime(2027, 5, 10, 7, tzinfo=UTC)
    # An end at infinity: a day after the start; the registration window from the conference's
    # creation to its start.
    assert (open_end["starts_at"], open_end["ends_at"]) == (start, start + timedelta(days=1))
    assert open_end["registration_opens_at"] == open_end["created_at"]
    assert open_end["registration_closes_at"] == start
    # A start at -infinity: a day before the end.
    end = datetime(2027, 6, 1, 15, tzinfo=UTC)
    assert conferences[OTHER]["starts_at"] == end - timedelta(days=1)
    assert conferences[OTHER]["ends_at"] == end

    assert [(i["starts_at"], i["ends_at"]) for i in items] == [
        (start + timedelta(hours=1), start + timedelta(hours=2))
    ]
    # Every forum is in range, its sign-up's span is its time; the two forums that were wholly
    # in year 9999 land on the same last hour: the person keeps both places, the later one
    # with an empty span instead of the migration failing on the exclusion constraint.
    assert [f["status"] for f in forums] == ["confirmed"] * 3
    assert all(in_range(f["starts_at"]) and in_range(f["ends_at"]) for f in forums)
    assert forums[0]["ends_at"] - forums[0]["starts_at"] == timedelta(hours=1)
    assert (forums[0]["during"].lower, forums[0]["during"].upper) == (
        forums[0]["starts_at"],
        forums[0]["ends_at"],
    )
    assert forums[1]["ends_at"] < LATEST and forums[1]["during"].upper == forums[1]["ends_at"]
    assert forums[2]["during"].isempty

    # A door clock in another century: the scan counts from when the server recorded it.
    assert scans["n1"]["scanned_at"] == scans["n1"]["recorded_at"]
    assert scans["n2"]["scanned_at"] == scans["n2"]["recorded_at"]
    assert scans["n3"]["scanned_at"] == datetime(2027, 5, 10, 7, 5, tzinfo=UTC)


# (table, column, value) the database now refuses, whatever code writes it.
REFUSED = [
    ("conferences", "ends_at", "infinity"),
    ("conferences", "starts_at", "-infinity"),
    ("conferences", "registration_closes_at", "9999-12-31 23:59:59+00"),
    ("conferences", "registration_opens_at", "1999-12-31 23:59:59.999999+00"),
    ("programme_items", "ends_at", "infinity"),
    ("programme_items", "starts_at", "0001-01-01 00:00+00"),
    ("forums", "ends_at", "2101-01-01 00:00+00"),
    ("forums", "starts_at", "-infinity"),
    ("scans", "scanned_at", "infinity"),
    ("scans", "scanned_at", "0001-01-01 00:00+00"),
]


async def test_the_database_refuses_times_outside_the_years(upgraded) -> None:
    url, _manage, _organiser = upgraded
    db = await asyncpg.connect(url)
    try:
        for table, column, value in REFUSED:
            with pytest.raises(asyncpg.CheckViolationError, match=f"{table}_{column}_in_range"):
                await db.execute(f"UPDATE {table} SET {column} = '{value}'")
        with pytest.raises(asyncpg.CheckViolationError, match="forum_signups_during_in_range"):
            await db.execute("UPDATE forum_signups SET during = tstzrange(now(), 'infinity')")
        with pytest.raises(asyncpg.CheckViolationError, match="conferences_ends_at_in_range"):
            await db.execute(
                "INSERT INTO conferences (slug, title, venue, starts_at, ends_at, capacity, "
                "registration_closes_at) VALUES ('neu', 'Neu', 'Rathaus', "
                "'2027-05-10 09:00+02', 'infinity', 10, '2027-05-10 09:00+02')"
            )
        # The door's function (migration 0008) takes a time from offline uploads.
        with pytest.raises(asyncpg.CheckViolationError, match="scans_scanned_at_in_range"):
            await db.execute(
                f"SELECT checkin_scan('phone', NULL, '{SLUG}', NULL, '', 'entry', 'n9', true, "
                "'infinity', 30, '{}')"
            )
        # The years' first and last moments are in.
        await db.execute(
            "UPDATE conferences SET starts_at = '2000-01-01 00:00+00', "
            "ends_at = '2100-12-31 23:59:59.999999+00', "
            "registration_opens_at = '2000-01-01 00:00+00', "
            "registration_closes_at = '2100-12-31 23:59:59.999999+00'"
        )
    finally:
        await db.close()


async def test_the_door_still_scans(upgraded, tmp_path) -> None:
    """The check-in functions (migrations 0008, 0010) write now() or a bounded upload time."""
    url, manage, organiser = upgraded
    async with client_for(url, tmp_path) as client:
        secret = (await client.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]
        for kind in ("exit", "entry"):
            answer = await client.post(
                "/api/v1/checkin",
                json={"conference": SLUG, "secret": secret, "type": kind},
                headers=organiser.headers,
            )
            assert answer.json()["status"] == "ok", answer.text
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        upload = await client.post(
            "/api/v1/checkin/batch",
            json={
                "conference": SLUG,
                "scans": [
                    {"secret": secret, "nonce": "late", "scanned_at": an_hour_ago.isoformat()}
                ],
            },
            headers=organiser.headers,
        )
        assert upload.status_code == 200, upload.text
    db = await asyncpg.connect(url)
    try:
        assert await db.fetchval("SELECT count(*) FROM scans") == 6
        assert await db.fetchval("SELECT scanned_at FROM scans WHERE nonce = 'late'") == an_hour_ago
    finally:
        await db.close()


async def test_an_empty_database_is_migrated_with_the_bounds(create_database) -> None:
    url = await create_database()
    await migrate(url)
    db = await asyncpg.connect(url)
    try:
        names = await db.fetch("SELECT conname FROM pg_constraint WHERE contype = 'c'")
    finally:
        await db.close()
    bounded = [f"{table}_{column}" for table, column, _value in REFUSED]
    bounded += ["forum_signups_during"]
    assert {f"{name}_in_range" for name in bounded} <= {n["conname"] for n in names}
