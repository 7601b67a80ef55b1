"""Input at the edges: dates outside the years a conference can have, names that show nothing,
addresses no mail can go to, JSON nested beyond reason and NUL in a path.

Each is refused with a 4xx naming the field (problem details, or the form again with the
message at the field), in the visitor's language, and writes nothing; afterwards every page
that lists the conference still opens. And a request that does fail with a 500 leaves nothing
behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.conftest import conference_payload, csrf_token, login
from tests.exhibitor_support import booking_payload, make_stand, request_and_confirm
from tests.forum_support import forum_payload, make_attendees, make_forum
from tests.registration_support import SLUG, make_conference, register, registration_payload

FAR_FUTURE = "9999-12-31T23:59:59.999999+00:00"  # asyncpg writes it as `infinity`
FAR_PAST = "0001-01-01T00:00:00+00:00"  # and this as `-infinity`
OUT_OF_RANGE = "Please give a date in the years 2000 to 2100."
ENGLISH = {"Accept-Language": "en"}


async def snapshot(pool: asyncpg.Pool) -> dict[str, str | None]:
    """Every table's rows, hashed (the per-client limits' counts and the tokens' last use aside:
    they change with any request)."""
    async with pool.acquire() as db:
        tables = await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN "
            "('schema_migrations', 'kv_store', 'api_tokens') AND tablename NOT LIKE 'rate_limit%'"
        )
        return {
            t["tablename"]: await db.fetchval(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{t['tablename']}\" t"
            )
            for t in tables
        }


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["message"] for e in response.json()["errors"]}


async def pages_still_open(client, organiser) -> None:
    """What broke for everyone when one conference held such a date."""
    for path in ("/", f"/conferences/{SLUG}", "/api/v1/conferences", f"/api/v1/conferences/{SLUG}"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    await login(client, organiser)
    for path in ("/staff", f"/staff/conferences/{SLUG}"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:300])


# ── dates ───────────────────────────────────────────────────────────────────────────────────

# (what, method, path, body, field)
DATES = [
    ("a conference ending in year 9999", "POST", "/api/v1/conferences",
     conference_payload(slug="weit-weg", ends_at=FAR_FUTURE), "ends_at"),
    ("a conference starting in year 1", "POST", "/api/v1/conferences",
     conference_payload(slug="weit-weg", starts_at=FAR_PAST), "starts_at"),
    ("the end moved to year 9999", "PATCH", f"/api/v1/conferences/{SLUG}",
     {"ends_at": FAR_FUTURE}, "ends_at"),
    ("registration closing in year 9999", "PATCH", f"/api/v1/conferences/{SLUG}",
     {"registration_closes_at": FAR_FUTURE}, "registration_closes_at"),
    ("registration opening in year 1", "PATCH", f"/api/v1/conferences/{SLUG}",
     {"registration_opens_at": FAR_PAST}, "registration_opens_at"),
    ("the year 1999", "PATCH", f"/api/v1/conferences/{SLUG}",
     {"starts_at": "1999-12-31T09:00:00+00:00"}, "starts_at"),
    ("the year 2101", "PATCH", f"/api/v1/conferences/{SLUG}",
     {"ends_at": "2101-01-01T09:00:00+00:00"}, "ends_at"),
    ("a programme item in year 9999", "POST", f"/api/v1/conferences/{SLUG}/programme",
     {"title": "Ende", "kind": "plenary", "starts_at": "2027-05-10T09:00:00+02:00",
      "ends_at": FAR_FUTURE}, "ends_at"),
    ("a forum in year 1", "POST", f"/api/v1/conferences/{SLUG}/forums",
     forum_payload(starts_at=FAR_PAST), "starts_at"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [case[1:] for case in DATES],
    ids=[case[0] for case in DATES],
)
async def test_dates_outside_2000_to_2100_are_refused_naming_the_field(
    client, organiser, pool, method, path, body, field
) -> None:
    await make_conference(client, organiser)
    before = await snapshot(pool)
    response = await client.request(
        method, path, json=body, headers={**organiser.headers, **ENGLISH}
    )
    assert errors_of(response) == {field: OUT_OF_RANGE}
    assert await snapshot(pool) == before
    await pages_still_open(client, organiser)


async def test_the_message_is_in_the_callers_language(client, organiser) -> None:
    await make_conference(client, organiser)
    response = await client.patch(
        f"/api/v1/conferences/{SLUG}", json={"ends_at": FAR_FUTURE}, headers=organiser.headers
    )
    message = errors_of(response)["ends_at"]
    assert message != OUT_OF_RANGE and "2000" in message and "2100" in message


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "9999-12-31T23:59", "1999-06-01T09:00"])
async def test_staff_forms_refuse_dates_outside_the_range(client, organiser, pool, moment) -> None:
    await make_conference(client, organiser)
    forum = await make_forum(client, organiser)
    await login(client, organiser)
    before = await snapshot(pool)
    conference_form = {
        "slug": SLUG,
        "title": "Fachtag",
        "venue": "Rathaus",
        "starts_at": "2027-05-10T09:00",
        "ends_at": moment,
        "capacity": "120",
        "languages": ["de"],
    }
    forms = [
        (f"/staff/conferences/{SLUG}", conference_form, "ends_at"),
        ("/staff/conferences/new", {**conference_form, "slug": "neu"}, "ends_at"),
        (
            f"/staff/conferences/{SLUG}/programme/new",
            {"title": "Pause", "kind": "break", "starts_at": moment, "ends_at": "2027-05-10T10:00"},
            "starts_at",
        ),
        (
            f"/staff/forums/{forum['id']}",
            {**forum_payload(), "starts_at": moment, "ends_at": "2027-05-10T15:00",
             "capacity": "20", "language": "de"},
            "starts_at",
        ),
    ]  # fmt: skip
    for page, fields, field in forms:
        token = await csrf_token(client, page)
        response = await client.post(
            page, data={**fields, "_csrf_token": token}, headers=ENGLISH, follow_redirects=False
        )
        assert response.status_code == 400, (page, response.text[:300])
        assert f'id="f-{field}-error"' in response.text, (page, field)
        assert OUT_OF_RANGE in response.text, page
    assert await snapshot(pool) == before
    await pages_still_open(client, organiser)


async def test_a_request_that_fails_with_500_leaves_nothing_behind(client, organiser, pool) -> None:
    """A conference stored before dates were bounded, ending late in year 9999: converting that
    to Berlin time overflows, so the answer to any change of the conference fails. The change
    must not be committed before that answer is made."""
    await make_conference(client, organiser)
    async with stored_before_migration_0019(pool):
        await pool.execute(
            "UPDATE conferences SET ends_at = '9999-12-31 23:30+00', "
            "registration_closes_at = starts_at WHERE slug = $1",
            SLUG,
        )
        before = await snapshot(pool)
        response = await client.patch(
            f"/api/v1/conferences/{SLUG}", json={"title": "Neuer Titel"}, headers=organiser.headers
        )
        assert response.status_code == 500
        assert await snapshot(pool) == before
        assert await pool.fetchval("SELECT title FROM conferences") == "Fachtag Ehrenamt 2027"


@asynccontextmanager
async def stored_before_migration_0019(pool) -> AsyncIterator[None]:
    """A database as it was before migration 0019, whose CHECK now keeps such a date out: the
    constraint is dropped for the test and put back (validated) once the row is mended."""
    constraint = "conferences_ends_at_in_range"
    definition = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", constraint
    )
    await pool.execute(f"ALTER TABLE conferences DROP CONSTRAINT {constraint}")
    try:
        yield
    finally:
        await pool.execute(
            "UPDATE conferences SET ends_at = starts_at + interval '1 day' "
            "WHERE ends_at >= '2101-01-01'"
        )
        await pool.execute(f"ALTER TABLE conferences ADD CONSTRAINT {constraint} {definition}")


async def offline_upload(client, scanner, *scanned_at: str) -> Any:
    return await client.post(
        "/api/v1/checkin/batch",
        json={
            "conference": SLUG,
            "scans": [
                {"secret": "ABCDEFGHJKMNPQRSTUVWXYZ234", "nonce": f"n-{i}", "scanned_at": at}
                for i, at in enumerate(scanned_at)
            ],
        },
        headers={**scanner.headers, **ENGLISH},
    )


async def test_offline_scans_from_a_wrong_clock_are_refused(
    client, organiser, pool, settings, make_staff
) -> None:
    await make_conference(client, organiser)  # 10 May 2027
    await make_attendees(pool, settings.secret_key, SLUG, 1)
    scanner = await make_staff("scanner")
    now = datetime.now(UTC)
    fine = (now - timedelta(hours=1)).isoformat()
    before = await snapshot(pool)

    answer = await offline_upload(client, scanner, fine, FAR_FUTURE, FAR_PAST)
    assert errors_of(answer) == {"scans[1].scanned_at": OUT_OF_RANGE}
    answer = await offline_upload(client, scanner, fine, FAR_PAST)
    assert errors_of(answer) == {"scans[1].scanned_at": OUT_OF_RANGE}
    # In the years allowed, but long before both the conference and the upload.
    long_ago = (now - timedelta(days=3)).isoformat()
    answer = await offline_upload(client, scanner, fine, "2001-01-01T09:00:00+01:00", long_ago)
    errors = errors_of(answer)
    assert set(errors) == {"scans[1].scanned_at", "scans[2].scanned_at"}
    assert "clock" in errors["scans[1].scanned_at"]
    assert await snapshot(pool) == before

    # A rehearsal a day ago, a scan at the conference (a clock ahead: recorded at the upload).
    rehearsal = (now - timedelta(days=1)).isoformat()
    answer = await offline_upload(client, scanner, rehearsal, "2027-05-10T09:00:00+02:00")
    assert answer.status_code == 200, answer.text
    assert await pool.fetchval("SELECT count(*) FROM scans WHERE offline") == 2
    await login(client, organiser)
    entrance = f"/api/v1/conferences/{SLUG}/entrance"
    for path in (
        f"/staff/conferences/{SLUG}/entrance",
        f"{entrance}/stats",
        f"{entrance}/checkins.csv",
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:300])


async def approved_booking(client, pool, settings, organiser) -> str:
    """An exhibitor's self-service token, approved onto a stand (the page then offers passes)."""
    stand = await make_stand(client, organiser)
    booking, token = await request_and_confirm(client, pool, settings)
    approved = await client.post(
        f"/api/v1/exhibitor-bookings/{booking}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    assert approved.status_code == 200, approved.text
    return token


# ── names ───────────────────────────────────────────────────────────────────────────────────

BLANK_NAMES = [" ", "\u00a0", "\u2007\u202f", "\u3000 \u00a0"]
INVISIBLE_NAMES = [
    "\u202e",  # right-to-left override
    "\u200b\u200d",  # zero-width space and joiner
    "\U000e0041\U000e0064\U000e006d",  # tag characters
    "\u2066\u2069",  # isolates
    "\u0301" * 150,  # combining marks without a letter
]
DISGUISED_NAMES = [
    "Eve\u202egnp.exe",  # letters, and an override that turns the rest around
    "Ev\u200be",
    "Eve\U000e0041",
    "Z" + "\u0336\u0301\u0308" * 40 + "algo",  # hundreds of combining marks on one letter
]
GOOD_NAMES = [
    "Zoë Ångström-Nuñez",
    "Nguye\u0302\u0303n Thi\u0323 Minh Khai",  # decomposed Vietnamese: two marks on a letter
    "محمد\u200cرضا",  # Persian: the zero-width non-joiner belongs to the word
    "李明",
    "O'Neil",
]
NAME_MESSAGES = {
    "Please fill in this field.",
    "Please enter a name with at least one letter.",
    "Please enter a name with at least one letter or digit.",
    "Please remove invisible formatting characters (e.g. text direction marks).",
    "Please remove the stacked accent marks.",
}


def name_cases() -> list[Any]:
    bad = BLANK_NAMES + INVISIBLE_NAMES + DISGUISED_NAMES
    return [pytest.param(name, id=repr(name)[:30]) for name in bad]


async def _bad_name_paths(client, pool, settings, organiser) -> list[tuple[str, str, Any, str]]:
    await make_conference(client, organiser)
    _booking, token = await request_and_confirm(client, pool, settings)
    return [
        ("POST", f"/api/v1/conferences/{SLUG}/registrations", "name", "name"),
        ("POST", f"/api/v1/conferences/{SLUG}/registrations", "organisation", "organisation"),
        ("POST", f"/api/v1/conferences/{SLUG}/exhibitor-bookings", "contact_name", "booking"),
        ("POST", f"/api/v1/conferences/{SLUG}/exhibitor-bookings", "organisation", "booking"),
        ("POST", f"/api/v1/exhibitor-bookings/{token}/passes", "name", "pass"),
        ("PATCH", f"/api/v1/conferences/{SLUG}", "organiser_name", "conference"),
    ]


def _body(kind: str, field: str, name: str) -> dict[str, Any]:
    if kind == "booking":
        return booking_payload(email="neu@example.org", **{field: name})
    if kind == "pass":
        return {"name": name, "email": "pass@example.org"}
    if kind == "conference":
        return {field: name}
    return registration_payload(email="neu@example.org", **{field: name})


@pytest.mark.parametrize("name", name_cases())
async def test_the_api_refuses_names_that_show_nothing_or_disguise(
    client, organiser, pool, settings, name
) -> None:
    paths = await _bad_name_paths(client, pool, settings, organiser)
    before = await snapshot(pool)
    for method, path, field, kind in paths:
        if field in ("organisation", "organiser_name") and not name.strip():
            continue  # optional: blank is no organisation
        response = await client.request(
            method, path, json=_body(kind, field, name), headers={**organiser.headers, **ENGLISH}
        )
        errors = errors_of(response)
        assert set(errors) == {field}, (path, errors)
        assert errors[field] in NAME_MESSAGES, errors
    assert await snapshot(pool) == before


async def test_names_of_every_script_are_taken(client, organiser, pool, settings) -> None:
    await make_conference(client, organiser)
    for i, name in enumerate(GOOD_NAMES):
        response = await register(client, name=name, email=f"p{i}@example.org")
        assert response.status_code == 202, (name, response.text)
    await request_and_confirm(client, pool, settings, organisation="1&1")
    stored = await pool.fetch("SELECT name FROM registrations ORDER BY id")
    assert [r["name"] for r in stored] == GOOD_NAMES
    assert await pool.fetchval("SELECT organisation FROM exhibitor_bookings") == "1&1"


FORM_NAMES = ["\u00a0\u2007", "\u200b\u200b", "\u202e", "Eve\u202egnp", "a" + "\u0301" * 100]


@pytest.mark.parametrize("name", [pytest.param(n, id=repr(n)[:30]) for n in FORM_NAMES])
async def test_forms_refuse_names_that_show_nothing_or_disguise(
    client, organiser, pool, settings, name
) -> None:
    await make_conference(client, organiser)
    token = await approved_booking(client, pool, settings, organiser)
    register_page = f"/conferences/{SLUG}/register"
    exhibit_page = f"/conferences/{SLUG}/exhibit"
    registration = {
        "name": "Aylin Demir",
        "email": "form@example.org",
        "category": "volunteer",
        "language": "de",
        "consent_privacy": "on",
    }
    exhibitor = {
        "organisation": "Tafel Linden e. V.",
        "kind": "association",
        "contact_name": "Petra Schulz",
        "email": "tafel@example.org",
        "description": "Lebensmittel retten.",
        "staff_count": "2",
        "language": "de",
        "consent_privacy": "on",
    }
    forms = [
        (register_page, register_page, {**registration, "name": name}, "name"),
        (register_page, register_page, {**registration, "organisation": name}, "organisation"),
        (exhibit_page, exhibit_page, {**exhibitor, "contact_name": name}, "contact_name"),
        (exhibit_page, exhibit_page, {**exhibitor, "organisation": name}, "organisation"),
        (f"/x/{token}", f"/x/{token}/passes",
         {"pass_name": name, "pass_email": "p@example.org", "pass_language": "de"}, "pass_name"),
    ]  # fmt: skip
    before = await snapshot(pool)
    for page, action, fields, field in forms:
        if field == "organisation" and page == register_page and not name.strip():
            continue  # optional there
        token_ = await csrf_token(client, page)
        response = await client.post(
            action, data={**fields, "_csrf_token": token_}, headers=ENGLISH, follow_redirects=False
        )
        assert response.status_code == 400, (action, field, response.text[:300])
        assert f'id="f-{field}-error"' in response.text, (action, field)
        assert any(m in response.text for m in NAME_MESSAGES), (action, field)
    assert await snapshot(pool) == before


# ── e-mail addresses the mail package would not take as one mailbox ─────────────────────────

BAD_ADDRESSES = [
    "victim,other@example.org",
    "a..b@example.org",
    ".a@example.org",
    "a.@example.org",
    "a(comment)@example.org",
    "a;b@example.org",
    "a[b]@example.org",
    "a@b@example.org",
    "a@example..org",
    '"a b"@example.org',
    "müller@example.org",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
async def test_the_api_refuses_addresses_no_mail_can_go_to(
    client, organiser, pool, settings, address
) -> None:
    await make_conference(client, organiser)
    _booking, token = await request_and_confirm(client, pool, settings)
    before = await snapshot(pool)
    calls = [
        ("POST", f"/api/v1/conferences/{SLUG}/registrations", registration_payload(email=address)),
        ("POST", f"/api/v1/conferences/{SLUG}/exhibitor-bookings", booking_payload(email=address)),
        ("POST", f"/api/v1/exhibitor-bookings/{token}/passes", {"name": "Pia", "email": address}),
        ("PATCH", f"/api/v1/conferences/{SLUG}", {"organiser_email": address}),
    ]
    for method, path, body in calls:
        response = await client.request(
            method, path, json=body, headers={**organiser.headers, **ENGLISH}
        )
        errors = errors_of(response)
        field = "organiser_email" if "organiser_email" in body else "email"
        assert errors == {field: "Please enter a valid e-mail address, e.g. name@example.org."}, (
            path,
            errors,
        )
    assert await snapshot(pool) == before


@pytest.mark.parametrize("address", ["victim,other@example.org", "a..b@example.org"])
async def test_forms_refuse_addresses_no_mail_can_go_to(
    client, organiser, pool, settings, address
) -> None:
    await make_conference(client, organiser)
    token = await approved_booking(client, pool, settings, organiser)
    await login(client, organiser)
    forms = [
        (f"/conferences/{SLUG}/register", f"/conferences/{SLUG}/register",
         {"name": "Aylin", "email": address, "category": "volunteer", "language": "de",
          "consent_privacy": "on"}, "email"),
        (f"/conferences/{SLUG}/exhibit", f"/conferences/{SLUG}/exhibit",
         {"organisation": "Tafel", "kind": "association", "contact_name": "Petra",
          "email": address, "description": "Retten.", "staff_count": "2", "language": "de",
          "consent_privacy": "on"}, "email"),
        (f"/x/{token}", f"/x/{token}/passes",
         {"pass_name": "Pia", "pass_email": address, "pass_language": "de"}, "pass_email"),
        (f"/staff/conferences/{SLUG}", f"/staff/conferences/{SLUG}",
         {"slug": SLUG, "title": "Fachtag", "venue": "Rathaus", "starts_at": "2027-05-10T09:00",
          "ends_at": "2027-05-10T17:00", "capacity": "120", "languages": ["de"],
          "organiser_email": address}, "organiser_email"),
    ]  # fmt: skip
    before = await snapshot(pool)
    for page, action, fields, field in forms:
        token_ = await csrf_token(client, page)
        response = await client.post(
            action, data={**fields, "_csrf_token": token_}, headers=ENGLISH, follow_redirects=False
        )
        assert response.status_code == 400, (action, response.text[:300])
        assert f'id="f-{field}-error"' in response.text, (action, field)
        assert "Please enter a valid e-mail address" in response.text, action
    assert await snapshot(pool) == before


# ── bodies and paths ────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000],
    ids=["arrays", "objects"],
)
async def test_deeply_nested_json_is_a_400_naming_the_body(client, organiser, pool, body) -> None:
    await make_conference(client, organiser)
    before = await snapshot(pool)
    response = await client.post(
        f"/api/v1/conferences/{SLUG}/registrations",
        content=body,
        headers={"content-type": "application/json", **ENGLISH},
    )
    assert errors_of(response) == {"body": "The body is nested too deeply."}
    assert await snapshot(pool) == before


@pytest.mark.parametrize(
    "path", ["/static/css/site.css%00.js", "/static/%00", "/static/css/%00site.css"]
)
async def test_nul_in_a_static_path_is_not_found(client, path) -> None:
    response = await client.get(path)
    assert response.status_code == 404, response.text[:300]
