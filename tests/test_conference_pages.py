"""Public conference pages and the staff forms (HTML), including invalid input."""

from __future__ import annotations

from tests.conftest import conference_payload, csrf_token, login

FORM = {
    "title": "Fachtag Ehrenamt",
    "slug": "fachtag-ehrenamt",
    "description": "Ein Tag für Ehrenamtliche.",
    "venue": "Rathaus Hannover",
    "address": "Trammplatz 2",
    "starts_at": "2027-05-10T09:00",
    "ends_at": "2027-05-10T17:00",
    "capacity": "150",
    "registration_opens_at": "",
    "registration_closes_at": "",
    "languages": ["de", "en"],
    "organiser_name": "Stadt Hannover",
    "organiser_email": "ehrenamt@example.org",
}


async def test_public_list_and_page(client, organiser):
    await client.post("/api/v1/conferences", json=conference_payload(), headers=organiser.headers)
    await client.post(
        "/api/v1/conferences/fachtag-2027/programme",
        json={
            "title": "Eröffnung",
            "kind": "plenary",
            "starts_at": "2027-05-10T09:00:00+02:00",
            "ends_at": "2027-05-10T10:00:00+02:00",
            "room": "Ratssaal",
        },
        headers=organiser.headers,
    )
    home = await client.get("/")
    assert home.status_code == 200
    assert 'href="/conferences/fachtag-2027"' in home.text
    page = await client.get("/conferences/fachtag-2027")
    assert page.status_code == 200
    assert "Eröffnung" in page.text and "Ratssaal" in page.text
    assert "09:00" in page.text  # shown in Europe/Berlin, not UTC
    assert (await client.get("/conferences/unbekannt")).status_code == 404


async def test_staff_creates_conference_through_the_form(client, organiser):
    await login(client, organiser)
    token = await csrf_token(client, "/staff/conferences/new")
    response = await client.post(
        "/staff/conferences/new", data={**FORM, "_csrf_token": token}, follow_redirects=False
    )
    assert response.status_code in (302, 303), response.text
    assert response.headers["location"] == "/staff/conferences/fachtag-ehrenamt"
    body = (await client.get("/api/v1/conferences/fachtag-ehrenamt")).json()
    assert body["starts_at"] == "2027-05-10T09:00:00+02:00"
    assert body["capacity"] == 150 and body["languages"] == ["de", "en"]


async def test_invalid_form_comes_back_with_field_messages(client, organiser):
    await login(client, organiser)
    token = await csrf_token(client, "/staff/conferences/new")
    bad = {**FORM, "title": "", "capacity": "-3", "ends_at": "2027-05-10T08:00", "slug": "A B"}
    response = await client.post("/staff/conferences/new", data={**bad, "_csrf_token": token})
    assert response.status_code == 400
    html = response.text
    for field in ("title", "capacity", "slug"):
        assert f'id="f-{field}-error"' in html, field
        assert f'aria-describedby="f-{field}-error' in html, field
    assert 'role="alert"' in html
    assert 'value="Rathaus Hannover"' in html  # what was typed stays
    assert (await client.get("/api/v1/conferences")).json() == []


async def test_end_before_start_in_form(client, organiser):
    await login(client, organiser)
    token = await csrf_token(client, "/staff/conferences/new")
    response = await client.post(
        "/staff/conferences/new",
        data={**FORM, "ends_at": "2027-05-10T08:00", "_csrf_token": token},
    )
    assert response.status_code == 400
    assert 'id="f-ends_at-error"' in response.text
    assert (await client.get("/api/v1/conferences")).json() == []


async def test_form_without_csrf_token_is_403(client, organiser):
    await login(client, organiser)
    response = await client.post("/staff/conferences/new", data=FORM)
    assert response.status_code == 403
    assert (await client.get("/api/v1/conferences")).json() == []


async def test_taken_slug_in_form(client, organiser):
    await client.post(
        "/api/v1/conferences",
        json=conference_payload(slug="fachtag-ehrenamt"),
        headers=organiser.headers,
    )
    await login(client, organiser)
    token = await csrf_token(client, "/staff/conferences/new")
    response = await client.post("/staff/conferences/new", data={**FORM, "_csrf_token": token})
    assert response.status_code == 400
    assert 'id="f-slug-error"' in response.text


async def test_edit_conference_and_programme_through_forms(client, organiser):
    await client.post("/api/v1/conferences", json=conference_payload(), headers=organiser.headers)
    await login(client, organiser)
    edit = await client.get("/staff/conferences/fachtag-2027")
    assert edit.status_code == 200 and 'value="2027-05-10T09:00"' in edit.text
    token = await csrf_token(client, "/staff/conferences/fachtag-2027")
    saved = await client.post(
        "/staff/conferences/fachtag-2027",
        data={
            **FORM,
            "slug": "fachtag-2027",
            "capacity": "99",
            "published": "on",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code in (302, 303), saved.text
    assert (await client.get("/api/v1/conferences/fachtag-2027")).json()["capacity"] == 99

    item = {
        "title": "Markt",
        "kind": "market",
        "starts_at": "2027-05-10T11:00",
        "ends_at": "2027-05-10T12:00",
        "room": "Foyer",
        "_csrf_token": token,
    }
    created = await client.post(
        "/staff/conferences/fachtag-2027/programme/new", data=item, follow_redirects=False
    )
    assert created.status_code in (302, 303), created.text
    outside = await client.post(
        "/staff/conferences/fachtag-2027/programme/new",
        data={**item, "starts_at": "2027-05-11T11:00", "ends_at": "2027-05-11T12:00"},
    )
    assert outside.status_code == 400 and 'id="f-starts_at-error"' in outside.text
    programme = (await client.get("/api/v1/conferences/fachtag-2027")).json()["programme"]
    assert [(i["title"], i["starts_at"]) for i in programme] == [
        ("Markt", "2027-05-10T11:00:00+02:00")
    ]
    item_id = programme[0]["id"]
    removed = await client.post(
        f"/staff/conferences/fachtag-2027/programme/{item_id}/delete",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code in (302, 303)
    assert (await client.get("/api/v1/conferences/fachtag-2027")).json()["programme"] == []
