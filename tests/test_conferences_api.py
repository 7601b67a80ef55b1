"""The public and staff JSON API for conferences and their programme."""

from __future__ import annotations

from tests.conftest import conference_payload


async def test_create_and_read_conference(client, organiser):
    created = await client.post(
        "/api/v1/conferences", json=conference_payload(), headers=organiser.headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["slug"] == "fachtag-2027"
    assert body["capacity"] == 120 and body["seats_left"] == 120
    assert body["starts_at"] == "2027-05-10T09:00:00+02:00"
    # Registration defaults: open from now until the conference starts.
    assert body["registration_open"] is True
    assert body["registration_closes_at"] == "2027-05-10T09:00:00+02:00"

    listed = await client.get("/api/v1/conferences")
    assert [c["slug"] for c in listed.json()] == ["fachtag-2027"]
    one = await client.get("/api/v1/conferences/fachtag-2027")
    assert one.status_code == 200
    assert one.json()["programme"] == []


async def test_unknown_conference_is_404_problem(client):
    response = await client.get("/api/v1/conferences/gibt-es-nicht")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


async def test_writes_need_a_token_and_the_role(client, make_staff):
    no_token = await client.post("/api/v1/conferences", json=conference_payload())
    assert no_token.status_code == 401
    wrong_token = await client.post(
        "/api/v1/conferences",
        json=conference_payload(),
        headers={"Authorization": "Bearer tg_not-a-real-token"},
    )
    assert wrong_token.status_code == 401
    scanner = await make_staff("scanner")
    forbidden = await client.post(
        "/api/v1/conferences", json=conference_payload(), headers=scanner.headers
    )
    assert forbidden.status_code == 403
    assert (await client.get("/api/v1/conferences")).json() == []


async def test_admin_may_do_what_organisers_may(client, make_staff):
    admin = await make_staff("admin")
    response = await client.post(
        "/api/v1/conferences", json=conference_payload(), headers=admin.headers
    )
    assert response.status_code == 201


async def test_invalid_input_names_each_field_and_changes_nothing(client, organiser):
    response = await client.post(
        "/api/v1/conferences",
        json=conference_payload(slug="Nicht Gültig", capacity=-5),
        headers=organiser.headers,
    )
    assert response.status_code == 400
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in problem["errors"]}
    assert "slug" in fields or "capacity" in fields
    assert (await client.get("/api/v1/conferences")).json() == []


async def test_end_before_start_is_refused(client, organiser):
    response = await client.post(
        "/api/v1/conferences",
        json=conference_payload(ends_at="2027-05-10T08:00:00+02:00"),
        headers=organiser.headers,
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["ends_at"]
    assert (await client.get("/api/v1/conferences")).json() == []


async def test_times_without_offset_are_refused(client, organiser):
    response = await client.post(
        "/api/v1/conferences",
        json=conference_payload(starts_at="2027-05-10T09:00:00"),
        headers=organiser.headers,
    )
    assert response.status_code == 400


async def test_taken_slug_is_a_conflict(client, organiser):
    first = await client.post(
        "/api/v1/conferences", json=conference_payload(), headers=organiser.headers
    )
    assert first.status_code == 201
    again = await client.post(
        "/api/v1/conferences",
        json=conference_payload(title="Anderer Titel"),
        headers=organiser.headers,
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "slug"
    assert (await client.get("/api/v1/conferences/fachtag-2027")).json()["title"] == (
        "Fachtag Ehrenamt 2027"
    )


async def test_patch_changes_only_given_fields(client, organiser):
    await client.post("/api/v1/conferences", json=conference_payload(), headers=organiser.headers)
    response = await client.patch(
        "/api/v1/conferences/fachtag-2027",
        json={"capacity": 200, "title": "Fachtag 2027"},
        headers=organiser.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["capacity"] == 200 and body["title"] == "Fachtag 2027"
    assert body["venue"] == "Rathaus Hannover"


async def test_patch_with_bad_values_changes_nothing(client, organiser):
    await client.post("/api/v1/conferences", json=conference_payload(), headers=organiser.headers)
    response = await client.patch(
        "/api/v1/conferences/fachtag-2027",
        json={"capacity": 300, "ends_at": "2027-05-09T17:00:00+02:00"},
        headers=organiser.headers,
    )
    assert response.status_code == 400
    assert (await client.get("/api/v1/conferences/fachtag-2027")).json()["capacity"] == 120
    unknown = await client.patch(
        "/api/v1/conferences/nicht-da", json={"capacity": 3}, headers=organiser.headers
    )
    assert unknown.status_code == 404


async def test_registration_window_given_explicitly(client, organiser):
    response = await client.post(
        "/api/v1/conferences",
        json=conference_payload(
            registration_opens_at="2027-01-01T00:00:00+01:00",
            registration_closes_at="2027-05-01T00:00:00+02:00",
        ),
        headers=organiser.headers,
    )
    assert response.status_code == 201
    assert response.json()["registration_open"] is False
    closes_before_opens = await client.post(
        "/api/v1/conferences",
        json=conference_payload(
            slug="zweiter-fachtag",
            registration_opens_at="2027-05-01T00:00:00+02:00",
            registration_closes_at="2027-01-01T00:00:00+01:00",
        ),
        headers=organiser.headers,
    )
    assert closes_before_opens.status_code == 400


async def test_programme_items(client, organiser):
    await client.post("/api/v1/conferences", json=conference_payload(), headers=organiser.headers)
    base = "/api/v1/conferences/fachtag-2027/programme"
    created = await client.post(
        base,
        json={
            "title": "Eröffnung",
            "kind": "plenary",
            "starts_at": "2027-05-10T09:00:00+02:00",
            "ends_at": "2027-05-10T10:00:00+02:00",
            "room": "Saal 1",
        },
        headers=organiser.headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]

    outside = await client.post(
        base,
        json={
            "title": "Abendessen",
            "kind": "break",
            "starts_at": "2027-05-10T18:00:00+02:00",
            "ends_at": "2027-05-10T19:00:00+02:00",
        },
        headers=organiser.headers,
    )
    assert outside.status_code == 400
    bad_kind = await client.post(
        base,
        json={
            "title": "Party",
            "kind": "party",
            "starts_at": "2027-05-10T10:00:00+02:00",
            "ends_at": "2027-05-10T11:00:00+02:00",
        },
        headers=organiser.headers,
    )
    assert bad_kind.status_code == 400

    changed = await client.patch(
        f"{base}/{item_id}", json={"room": "Saal 2"}, headers=organiser.headers
    )
    assert changed.status_code == 200 and changed.json()["room"] == "Saal 2"
    programme = (await client.get("/api/v1/conferences/fachtag-2027")).json()["programme"]
    assert [(i["title"], i["room"]) for i in programme] == [("Eröffnung", "Saal 2")]

    # The conference cannot shrink so that the programme falls outside it.
    shrink = await client.patch(
        "/api/v1/conferences/fachtag-2027",
        json={"starts_at": "2027-05-10T09:30:00+02:00"},
        headers=organiser.headers,
    )
    assert shrink.status_code == 400

    deleted = await client.delete(f"{base}/{item_id}", headers=organiser.headers)
    assert deleted.status_code == 204
    missing = await client.delete(f"{base}/{item_id}", headers=organiser.headers)
    assert missing.status_code == 404


async def test_unpublished_conference_is_hidden(client, organiser):
    await client.post("/api/v1/conferences", json=conference_payload(), headers=organiser.headers)
    await client.patch(
        "/api/v1/conferences/fachtag-2027", json={"published": False}, headers=organiser.headers
    )
    assert (await client.get("/api/v1/conferences")).json() == []
    assert (await client.get("/api/v1/conferences/fachtag-2027")).status_code == 404
    assert (await client.get("/conferences/fachtag-2027")).status_code == 404


async def test_validation_messages_name_the_field_in_the_callers_language(client, organiser):
    payload = conference_payload()
    del payload["address"]
    german = await client.post(
        "/api/v1/conferences", json=payload, headers={**organiser.headers, "Accept-Language": "de"}
    )
    assert german.status_code == 400
    assert german.json()["errors"] == [
        {"field": "address", "message": "Bitte füllen Sie dieses Feld aus."}
    ]
    english = await client.post(
        "/api/v1/conferences",
        json=conference_payload(capacity=-1),
        headers={**organiser.headers, "Accept-Language": "en"},
    )
    assert english.json()["errors"] == [{"field": "capacity", "message": "Must be 0 or more."}]
