"""Data protection: the privacy notice (Art. 13) built from the settings and linked wherever
data are collected; consent and notice versions stored; one person's data as a download
(self-service and staff); erasure by the person (attendees and exhibitors), which frees their
places first and drops the mails not yet sent to them.

Wording is checked in English (`?lang=en`, kept by the language cookie).
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Page, expect

from registration.logic import CONSENT_TEXT_VERSIONS
from service.app import create_app
from service.settings import PrivacyContacts
from tests.conftest import csrf_token, login
from tests.exhibitor_support import make_stand, request_and_confirm
from tests.forum_support import make_forum
from tests.registration_support import SLUG, confirm, make_conference, register
from tests.test_browser_registration import confirmed_through_the_api, create_conference

CONTACTS = PrivacyContacts(
    controller="Niedersächsisches Ministerium für Integration",
    controller_address="Hannah-Arendt-Platz 9, 30159 Hannover",
    contact_email="tagung@mi.example",
    contact_phone="0511 120-0",
    dpo="Datenschutzbeauftragter des Ministeriums",
    dpo_email="datenschutz@mi.example",
    dpo_address="Postfach 1, 30001 Hannover",
    authority="Die Landesbeauftragte für den Datenschutz Niedersachsen",
    authority_address="Prinzenstraße 5, 30159 Hannover",
    authority_url="https://lfd.example",
    processors="Rechenzentrum Nord GmbH, Hannover",
    public_task_law="§ 3 NDSG",
)


async def manage_token(client, pool, settings, email: str = "aylin@example.org", **fields) -> str:
    response = await register(client, email=email, **fields)
    assert response.status_code == 202, response.text
    confirmed = await confirm(client, pool, settings, email)
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()["manage_token"]


# ── the privacy notice ──────────────────────────────────────────────────────────────────


async def test_privacy_notice_is_built_from_the_settings(settings, organiser):
    app = create_app(replace(settings, privacy=CONTACTS, retention_days=120))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await make_conference(client, organiser, organiser_email="orga@mi.example")
        general = await client.get("/privacy?lang=en")
        assert general.status_code == 200
        page = await client.get(f"/conferences/{SLUG}/privacy")
        german = await client.get(f"/conferences/{SLUG}/privacy?lang=de")
    for text in (general.text, page.text, german.text):
        for fact in (
            "Niedersächsisches Ministerium für Integration",
            "Hannah-Arendt-Platz 9, 30159 Hannover",
            "mailto:tagung@mi.example",
            "0511 120-0",
            "Datenschutzbeauftragter des Ministeriums",
            "mailto:datenschutz@mi.example",
            "Postfach 1, 30001 Hannover",
            "Prinzenstraße 5, 30159 Hannover",
            'href="https://lfd.example"',
            "Rechenzentrum Nord GmbH, Hannover",
            "§ 3 NDSG",
            CONSENT_TEXT_VERSIONS["privacy"],
        ):
            assert fact in text, fact
    text = page.text
    assert "Fachtag Ehrenamt 2027" in text and "mailto:orga@mi.example" in text
    for part in (
        "Art. 6(1)(e) GDPR",  # a public body: its public task
        "Art. 9(2)(a) GDPR",  # needs only with explicit consent
        "Art. 77 GDPR",  # complaint to the supervisory authority
        "Art. 21 GDPR",  # objection, with Art. 6(1)(e)
        "120 days after the end of the conference",
        "deleted on the day after the conference",
    ):
        assert part in text, part
    assert '<html lang="de"' in german.text and "Datenschutzhinweise" in german.text
    assert "120 Tage nach dem Ende der Tagung" in german.text


async def test_without_a_public_task_the_notice_names_the_contract(settings, organiser):
    contacts = replace(CONTACTS, public_task_law="", processors="")
    app = create_app(replace(settings, privacy=contacts))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        text = (await client.get("/privacy?lang=en")).text
    assert "Art. 6(1)(b) GDPR" in text and "Art. 6(1)(e)" not in text
    assert "Art. 21 GDPR" not in text and "processors (Art. 28 GDPR)" not in text


def test_privacy_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PRIVACY_CONTROLLER", "Stadt Hannover, Fachbereich Integration")
    monkeypatch.setenv("PRIVACY_PUBLIC_TASK_LAW", "")
    monkeypatch.setenv("RETENTION_DAYS", "30")
    from service.settings import Settings

    settings = Settings.from_env()
    assert settings.privacy.controller == "Stadt Hannover, Fachbereich Integration"
    assert settings.privacy.public_task_law == ""
    assert settings.retention_days == 30
    monkeypatch.setenv("RETENTION_DAYS", "ninety")
    with pytest.raises(ValueError, match="RETENTION_DAYS"):
        Settings.from_env()
    monkeypatch.setenv("RETENTION_DAYS", "90")
    monkeypatch.setenv("PRIVACY_CONTACT_EMAIL", "no address")
    with pytest.raises(ValueError, match="PRIVACY_CONTACT_EMAIL"):
        Settings.from_env()


async def test_every_form_that_collects_data_links_the_notice(client, organiser):
    await make_conference(client, organiser)
    notice = f'href="/conferences/{SLUG}/privacy"'
    for path in (f"/conferences/{SLUG}/register", f"/conferences/{SLUG}/exhibit"):
        page = await client.get(path)
        assert page.status_code == 200
        assert notice in page.text, path
        assert 'href="/privacy"' in page.text, f"footer of {path}"
    assert 'href="/privacy"' in (await client.get(f"/conferences/{SLUG}")).text


async def test_consent_and_notice_versions_are_stored(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(
        client,
        needs={"dietary": ["vegan"]},
        consents={"privacy": True, "special_category": True, "photos": False},
    )
    await request_and_confirm(client, pool, settings)
    async with pool.acquire() as db:
        consents = dict(
            await db.fetch(
                "SELECT kind, text_version FROM consents c "
                "JOIN registrations r ON r.id = c.registration_id WHERE r.email = $1",
                "aylin@example.org",
            )
        )
        booking_version = await db.fetchval("SELECT privacy_notice_version FROM exhibitor_bookings")
    assert consents == {
        "privacy": CONSENT_TEXT_VERSIONS["privacy"],
        "special_category": CONSENT_TEXT_VERSIONS["special_category"],
    }
    assert booking_version == CONSENT_TEXT_VERSIONS["privacy"]


# ── one person's data ───────────────────────────────────────────────────────────────────


async def test_export_contains_what_is_stored(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await manage_token(
        client,
        pool,
        settings,
        needs={"dietary": ["vegan"]},
        consents={"privacy": True, "special_category": True, "photos": True},
    )
    async with pool.acquire() as db:
        await db.execute(
            "UPDATE registrations SET inside = true, entered_at = now(), entered_gate = 'Nord'"
        )
    response = await client.get(f"/api/v1/registrations/{manage}/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert "no-store" in response.headers["cache-control"]
    data = response.json()
    assert data["registration"]["email"] == "aylin@example.org"
    assert data["registration"]["needs"]["dietary"] == ["vegan"]
    assert data["registration"]["entered_gate"] == "Nord"
    assert {c["kind"]: c["text_version"] for c in data["consents"]} == CONSENT_TEXT_VERSIONS
    assert [m["kind"] for m in data["emails"]] == ["registration.confirm", "registration.ticket"]
    assert data["conference"]["slug"] == SLUG
    assert (
        await client.get("/api/v1/registrations/ABCDEFGHJKMNPQRSTUVWXYZ234/export")
    ).status_code == 404
    page = await client.get(f"/r/{manage}?lang=en")
    assert f'href="/api/v1/registrations/{manage}/export"' in page.text
    assert f"/r/{manage}/delete" in page.text


# ── erasure by the person ───────────────────────────────────────────────────────────────


async def test_erasure_frees_the_places_then_deletes_and_drops_the_mails(
    client, organiser, pool, settings
):
    await make_conference(client, organiser, capacity=2)
    forum = await make_forum(client, organiser, capacity=1)
    aylin = await manage_token(client, pool, settings, "aylin@example.org")
    carla = await manage_token(client, pool, settings, "carla@example.org")
    ben = await manage_token(client, pool, settings, "ben@example.org")  # waits for a place
    assert (await client.put(f"/api/v1/registrations/{aylin}/forums/{forum['id']}")).json()[
        "status"
    ] == "confirmed"
    waiting = await client.put(f"/api/v1/registrations/{carla}/forums/{forum['id']}")
    assert waiting.json() == {"status": "waitlisted", "position": 1}

    page = await client.get(f"/r/{aylin}/delete?lang=en")
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    assert "cannot be undone" in page.text
    async with pool.acquire() as db:  # the confirmation page changes nothing
        assert (
            await db.fetchval("SELECT count(*) FROM registrations WHERE anonymised_at IS NOT NULL")
            == 0
        )
    token = await csrf_token(client, f"/r/{aylin}/delete?lang=en")
    done = await client.post(f"/r/{aylin}/delete", data={"_csrf_token": token})
    assert done.status_code == 200, done.text
    assert "Your data have been deleted" in done.text

    async with pool.acquire() as db:
        row = await db.fetchrow(
            "SELECT * FROM registrations WHERE id = (SELECT min(id) FROM registrations)"
        )
        assert row["status"] == "cancelled" and row["anonymised_at"] is not None
        assert (row["name"], row["organisation"], row["needs"]) == ("–", "", {})
        assert row["email"] == f"anonymised-{row['id']}@invalid"
        assert (
            await db.fetchval("SELECT count(*) FROM consents WHERE registration_id = $1", row["id"])
            == 0
        )
        # Every mail to her goes, the unsent cancellation among them; the others' stay.
        assert (
            await db.fetchval("SELECT count(*) FROM outbox WHERE recipient = 'aylin@example.org'")
            == 0
        )
        kinds = dict(
            await db.fetch("SELECT recipient, kind FROM outbox WHERE kind LIKE '%promoted'")
        )
    assert kinds == {
        "ben@example.org": "registration.promoted",
        "carla@example.org": "forum.promoted",
    }
    assert (await client.get(f"/api/v1/registrations/{ben}")).json()["status"] == "confirmed"
    forums = (await client.get(f"/api/v1/registrations/{carla}")).json()["forums"]
    assert [(f["id"], f["status"]) for f in forums] == [(forum["id"], "confirmed")]
    # The link is dead: nothing to see, nothing to download, nothing to erase again.
    assert (await client.get(f"/r/{aylin}")).status_code == 404
    assert (await client.get(f"/api/v1/registrations/{aylin}/export")).status_code == 404
    assert (await client.post(f"/api/v1/registrations/{aylin}/erase")).status_code == 404


async def test_erasure_through_the_api(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await manage_token(client, pool, settings)
    erased = await client.post(f"/api/v1/registrations/{manage}/erase")
    assert erased.status_code == 200 and erased.json() == {"status": "erased"}
    again = await client.post(f"/api/v1/registrations/{manage}/erase")
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")
    async with pool.acquire() as db:
        assert (
            await db.fetchval("SELECT count(*) FROM registrations WHERE email LIKE 'aylin%'") == 0
        )
        assert await db.fetchval("SELECT seats_taken FROM conferences") == 0
    # The address may register again, as a new person.
    assert (await register(client)).status_code == 202


async def test_erasure_after_the_conference_hands_nothing_on(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    aylin = await manage_token(client, pool, settings, "aylin@example.org")
    await manage_token(client, pool, settings, "ben@example.org")  # waiting
    async with pool.acquire() as db:
        await db.execute(
            "UPDATE conferences SET starts_at = now() - interval '2 days', "
            "ends_at = now() - interval '1 day', registration_opens_at = now() - interval '9 days',"
            "registration_closes_at = now() - interval '2 days'"
        )
    page = await client.get(f"/r/{aylin}/delete?lang=en")
    assert "Your registration is cancelled" not in page.text
    assert (await client.post(f"/api/v1/registrations/{aylin}/erase")).status_code == 200
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT name, status FROM registrations ORDER BY id")
        promoted = await db.fetchval("SELECT count(*) FROM outbox WHERE kind LIKE '%promoted'")
    # She came and still counts; nobody is promoted into a conference that is over.
    assert [tuple(r) for r in rows] == [("–", "confirmed"), ("Aylin Demir", "waitlisted")]
    assert promoted == 0


async def test_exhibitor_downloads_and_erases_its_data(client, organiser, pool, settings):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    booking_id, manage = await request_and_confirm(client, pool, settings, staff_count=1)
    approved = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    assert approved.status_code == 200, approved.text
    added = await client.post(
        f"/api/v1/exhibitor-bookings/{manage}/passes",
        json={"name": "Jonas Weber", "email": "jonas@caritas.example", "language": "de"},
    )
    assert added.status_code == 201, added.text

    page = await client.get(f"/x/{manage}?lang=en")
    assert f'href="/x/{manage}/data.json"' in page.text and f"/x/{manage}/delete" in page.text
    download = await client.get(f"/x/{manage}/data.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    data = download.json()
    assert data == (await client.get(f"/api/v1/exhibitor-bookings/{manage}/export")).json() | {
        "exported_at": data["exported_at"]
    }
    assert data["booking"]["contact_name"] == "Petra Schulz"
    assert data["booking"]["stand"] == "B1"
    assert data["booking"]["privacy_notice_version"] == CONSENT_TEXT_VERSIONS["privacy"]
    assert [p["name"] for p in data["passes"]] == ["Jonas Weber"]
    assert "exhibitor.approved" in [m["kind"] for m in data["emails"]]

    confirm_page = await client.get(f"/x/{manage}/delete?lang=en")
    assert "Caritasverband Hannover e. V." in confirm_page.text
    token = await csrf_token(client, f"/x/{manage}/delete?lang=en")
    done = await client.post(f"/x/{manage}/delete", data={"_csrf_token": token})
    assert done.status_code == 200 and "Your data have been deleted" in done.text

    async with pool.acquire() as db:
        booking = await db.fetchrow("SELECT * FROM exhibitor_bookings WHERE id = $1", booking_id)
        person = await db.fetchrow("SELECT * FROM registrations WHERE category = 'exhibitor_staff'")
        mails = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE recipient IN "
            "('markt@caritas.example', 'jonas@caritas.example')"
        )
    assert booking["status"] == "cancelled" and booking["stand_id"] is None
    assert booking["anonymised_at"] is not None
    assert (booking["contact_name"], booking["phone"], booking["website"]) == ("–", "", "")
    assert booking["organisation"] == "Caritasverband Hannover e. V."  # kept for the counts
    assert person["status"] == "cancelled" and person["name"] == "–"
    assert mails == 0
    assert (await client.get(f"/x/{manage}")).status_code == 404
    # The stand is free for the next organisation.
    stands = (await client.get(f"/api/v1/conferences/{SLUG}/stands")).json()
    assert stands[0]["booked_by"] is None


async def test_exhibitor_erasure_through_the_api(client, organiser, pool, settings):
    await make_conference(client, organiser)
    _booking_id, manage = await request_and_confirm(client, pool, settings)
    erased = await client.post(f"/api/v1/exhibitor-bookings/{manage}/erase")
    assert erased.status_code == 200 and erased.json() == {"status": "erased"}
    assert (await client.post(f"/api/v1/exhibitor-bookings/{manage}/erase")).status_code == 404
    assert (await client.get(f"/api/v1/exhibitor-bookings/{manage}/export")).status_code == 404


# ── in the browser ──────────────────────────────────────────────────────────────────────


@pytest.mark.browser
async def test_delete_my_data_in_two_steps(page: Page, live_server: str, make_staff, pool):
    await create_conference(live_server, await make_staff("organiser"))
    manage = await confirmed_through_the_api(live_server, pool)
    await page.goto(f"/r/{manage}?lang=en")
    data = page.get_by_role("region", name="Your data")
    await expect(data.get_by_role("link", name="privacy notice")).to_have_attribute(
        "href", f"/conferences/{SLUG}/privacy"
    )
    async with page.expect_download() as download_info:
        await data.get_by_role("link", name="Download my data (JSON)").click()
    download = await download_info.value
    assert download.suggested_filename == "tagung-data.json"

    await data.get_by_role("link", name="Delete my data").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Delete my data")
    await page.get_by_role("button", name="Yes, delete my data").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your data have been deleted")
    await expect(page.get_by_role("status")).to_contain_text("no longer works")
    async with pool.acquire() as db:
        row = await db.fetchrow("SELECT name, status, anonymised_at FROM registrations")
    assert row["name"] == "–" and row["status"] == "cancelled" and row["anonymised_at"]
    await page.goto("/privacy?lang=en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice")
    assert re.search(r"90 days after the end", await page.content())


# ── staff, on request ───────────────────────────────────────────────────────────────────


async def test_staff_export_and_erasure_through_the_api(
    client, organiser, make_staff, pool, settings
):
    await make_conference(client, organiser)
    await make_conference(client, organiser, slug="andere-tagung")
    manage = await manage_token(client, pool, settings, consents={"privacy": True, "photos": True})
    async with pool.acquire() as db:
        registration_id = await db.fetchval("SELECT id FROM registrations")
    url = f"/api/v1/conferences/{SLUG}/registrations/{registration_id}/export"
    export = await client.get(url, headers=organiser.headers)
    assert export.status_code == 200, export.text
    assert "attachment" in export.headers["content-disposition"]
    assert "no-store" in export.headers["cache-control"]
    own = (await client.get(f"/api/v1/registrations/{manage}/export")).json()
    assert export.json() == own | {"exported_at": export.json()["exported_at"]}

    scanner = await make_staff("scanner")
    assert (await client.get(url, headers=scanner.headers)).status_code == 403
    assert (await client.get(url)).status_code == 401
    elsewhere = f"/api/v1/conferences/andere-tagung/registrations/{registration_id}/export"
    assert (await client.get(elsewhere, headers=organiser.headers)).status_code == 404

    erase = f"/api/v1/conferences/{SLUG}/registrations/{registration_id}/erase"
    assert (await client.post(erase, headers=scanner.headers)).status_code == 403
    erased = await client.post(erase, headers=organiser.headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "cancelled" and erased.json()["name"] == "–"
    again = await client.post(erase, headers=organiser.headers)
    assert again.status_code == 200 and again.json() == erased.json()
    assert (await client.get(f"/api/v1/registrations/{manage}")).status_code == 404


async def test_staff_page_of_one_person_with_download_and_erasure(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    await manage_token(
        client,
        pool,
        settings,
        needs={"dietary": ["vegan"]},
        consents={"privacy": True, "special_category": True},
    )
    async with pool.acquire() as db:
        registration_id = await db.fetchval("SELECT id FROM registrations")
    await login(client, organiser)
    here = f"/staff/conferences/{SLUG}/registrations"
    listing = await client.get(f"{here}?lang=en")
    assert f'href="{here}/{registration_id}"' in listing.text

    detail = await client.get(f"{here}/{registration_id}")
    assert detail.status_code == 200
    assert "no-store" in detail.headers["cache-control"]
    text = detail.text
    assert "aylin@example.org" in text and "Aylin Demir" in text
    assert f"text version {CONSENT_TEXT_VERSIONS['special_category']}" in text
    assert "Vegan" in text or "vegan" in text
    assert f'href="/api/v1/conferences/{SLUG}/registrations/{registration_id}/export"' in text
    download = await client.get(
        f"/api/v1/conferences/{SLUG}/registrations/{registration_id}/export"
    )
    assert download.status_code == 200  # the staff session is enough, as for the CSV
    assert download.json()["registration"]["email"] == "aylin@example.org"
    assert (await client.get(f"{here}/999999")).status_code == 404

    confirm_page = await client.get(f"{here}/{registration_id}/erase")
    assert "Do you really want to delete the personal data of Aylin Demir?" in confirm_page.text
    token = await csrf_token(client, f"{here}/{registration_id}/erase")
    done = await client.post(
        f"{here}/{registration_id}/erase", data={"_csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert f"The personal data of registration no. {registration_id} are deleted" in shown.text
    async with pool.acquire() as db:
        row = await db.fetchrow("SELECT name, needs, anonymised_at FROM registrations")
    assert row["name"] == "–" and row["needs"] == {} and row["anonymised_at"] is not None
    after = await client.get(f"{here}/{registration_id}")
    assert "The personal data of this registration were deleted" in after.text
    assert f"{here}/{registration_id}/erase" not in after.text
    again = await client.get(f"{here}/{registration_id}/erase")
    assert "already deleted" in again.text and "Yes, delete" not in again.text
