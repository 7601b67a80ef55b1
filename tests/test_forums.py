"""Forums: creation and validation, sign-up and leave, waiting lists, clashes, changes."""

from __future__ import annotations

from service import tokens
from tests.forum_support import CONFERENCE_SLUG, forum_payload, make_attendees, make_forum
from tests.registration_support import confirm, key, make_conference, register


async def setup_conference(client, organiser):
    await make_conference(client, organiser)


async def outbox(pool, kind: str) -> list[str]:
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT recipient FROM outbox WHERE kind = $1 ORDER BY id", kind)
    return [r["recipient"] for r in rows]


async def sign_up(client, token: str, forum_id: int):
    return await client.put(f"/api/v1/registrations/{token}/forums/{forum_id}")


async def test_create_list_and_validate(client, organiser, make_staff):
    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser, moderators="Dr. Meyer", interpretation="DGS")
    assert forum["seats_left"] == 25 and forum["cancelled"] is False
    listed = (await client.get(f"/api/v1/conferences/{CONFERENCE_SLUG}/forums")).json()
    assert [(f["id"], f["seats_left"], f["room"]) for f in listed] == [(forum["id"], 25, "Raum 11")]
    for bad, field in (
        ({"ends_at": "2027-05-10T13:00:00+02:00"}, "ends_at"),
        (
            {"starts_at": "2027-05-11T13:30:00+02:00", "ends_at": "2027-05-11T15:00:00+02:00"},
            "starts_at",
        ),
        ({"capacity": -1}, "capacity"),
        ({"title": ""}, "title"),
    ):
        response = await client.post(
            f"/api/v1/conferences/{CONFERENCE_SLUG}/forums",
            json=forum_payload(**bad),
            headers=organiser.headers,
        )
        assert response.status_code == 400, (bad, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}
    scanner = await make_staff("scanner")
    forbidden = await client.post(
        f"/api/v1/conferences/{CONFERENCE_SLUG}/forums",
        json=forum_payload(),
        headers=scanner.headers,
    )
    assert forbidden.status_code == 403
    assert len((await client.get(f"/api/v1/conferences/{CONFERENCE_SLUG}/forums")).json()) == 1
    assert (await client.get("/api/v1/conferences/nirgends/forums")).status_code == 404
    assert (await client.get("/api/v1/forums/999999")).status_code == 404


async def test_sign_up_leave_and_waiting_list(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser, capacity=2)
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 4)
    answers = [(await sign_up(client, token, forum["id"])).json() for _id, token in people]
    assert answers == [
        {"status": "confirmed", "position": None},
        {"status": "confirmed", "position": None},
        {"status": "waitlisted", "position": 1},
        {"status": "waitlisted", "position": 2},
    ]
    again = await sign_up(client, people[2][1], forum["id"])
    assert again.json() == {"status": "waitlisted", "position": 1}  # twice: the same answer

    left = await client.delete(f"/api/v1/registrations/{people[0][1]}/forums/{forum['id']}")
    assert left.status_code == 200 and left.json() == {"status": "left"}
    not_in = await client.delete(f"/api/v1/registrations/{people[0][1]}/forums/{forum['id']}")
    assert not_in.status_code == 409

    third = (await client.get(f"/api/v1/registrations/{people[2][1]}")).json()
    assert [(f["id"], f["status"], f["position"]) for f in third["forums"]] == [
        (forum["id"], "confirmed", None)
    ]
    fourth = (await client.get(f"/api/v1/registrations/{people[3][1]}")).json()
    assert fourth["forums"][0]["position"] == 1
    assert await outbox(pool, "forum.promoted") == ["person2@example.org"]
    assert (await client.get(f"/api/v1/forums/{forum['id']}")).json()["seats_left"] == 0


async def test_no_two_forums_at_the_same_time(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    morning = await make_forum(client, organiser, title="Ehrenamt und seine Grenzen")
    overlapping = await make_forum(
        client,
        organiser,
        title="Vernetzung",
        starts_at="2027-05-10T14:00:00+02:00",
        ends_at="2027-05-10T16:00:00+02:00",
    )
    afterwards = await make_forum(
        client,
        organiser,
        title="Abschlussrunde",
        starts_at="2027-05-10T15:00:00+02:00",
        ends_at="2027-05-10T16:00:00+02:00",
    )
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 1)
    assert (await sign_up(client, token, morning["id"])).status_code == 200
    clash = await sign_up(client, token, overlapping["id"])
    assert clash.status_code == 409
    assert "Ehrenamt und seine Grenzen" in clash.json()["detail"]
    # Back to back is no clash.
    assert (await sign_up(client, token, afterwards["id"])).json()["status"] == "confirmed"


async def test_promotion_passes_over_someone_with_a_clash(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    full = await make_forum(client, organiser, title="Beliebt", capacity=1)
    other = await make_forum(
        client,
        organiser,
        title="Parallel",
        starts_at="2027-05-10T14:00:00+02:00",
        ends_at="2027-05-10T16:00:00+02:00",
    )
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 3)
    holder, first, second = (token for _id, token in people)
    await sign_up(client, holder, full["id"])
    assert (await sign_up(client, first, full["id"])).json()["position"] == 1
    assert (await sign_up(client, second, full["id"])).json()["position"] == 2
    # The first in line takes a parallel forum meanwhile.
    assert (await sign_up(client, first, other["id"])).json()["status"] == "confirmed"
    await client.delete(f"/api/v1/registrations/{holder}/forums/{full['id']}")
    first_view = (await client.get(f"/api/v1/registrations/{first}")).json()
    second_view = (await client.get(f"/api/v1/registrations/{second}")).json()
    assert {f["title"]: f["status"] for f in first_view["forums"]} == {
        "Beliebt": "waitlisted",
        "Parallel": "confirmed",
    }
    assert second_view["forums"][0]["status"] == "confirmed"


async def test_only_confirmed_attendees_of_the_conference(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser)
    await register(client, email="wartend@example.org")
    async with pool.acquire() as db:
        pending_salt = await db.fetchval("SELECT manage_salt FROM registrations")
    pending_token = tokens.derive(key(settings), "manage", pending_salt)
    assert (await sign_up(client, pending_token, forum["id"])).status_code == 409

    manage = (await confirm(client, pool, settings, "wartend@example.org")).json()["manage_token"]
    assert (await sign_up(client, manage, forum["id"])).status_code == 200
    # Cancelling the registration gives up the forum seat.
    await client.delete(f"/api/v1/registrations/{manage}")
    assert (await client.get(f"/api/v1/forums/{forum['id']}")).json()["seats_left"] == 25
    assert (await sign_up(client, manage, forum["id"])).status_code == 409

    await make_conference(client, organiser, slug="anderer-fachtag")
    foreign = await make_forum(client, organiser, slug="anderer-fachtag")
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 1)
    assert (await sign_up(client, token, foreign["id"])).status_code == 404
    assert (await sign_up(client, token, 999999)).status_code == 404
    assert (await sign_up(client, "ABCDEFGHJKMNPQRSTUVWXYZ234", forum["id"])).status_code == 404


async def test_capacity_changes(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser, capacity=1)
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 3)
    for _rid, token in people:
        await sign_up(client, token, forum["id"])
    grown = await client.patch(
        f"/api/v1/forums/{forum['id']}", json={"capacity": 2}, headers=organiser.headers
    )
    assert grown.status_code == 200 and grown.json()["seats_left"] == 0
    assert await outbox(pool, "forum.promoted") == ["person1@example.org"]
    shrink = await client.patch(
        f"/api/v1/forums/{forum['id']}", json={"capacity": 1}, headers=organiser.headers
    )
    assert shrink.status_code == 400
    assert "capacity" in {e["field"] for e in shrink.json()["errors"]}


async def test_changes_and_cancellation_reach_everyone(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser, capacity=1)
    other = await make_forum(
        client,
        organiser,
        title="Später",
        starts_at="2027-05-10T15:00:00+02:00",
        ends_at="2027-05-10T16:00:00+02:00",
    )
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 2)
    await sign_up(client, people[0][1], forum["id"])
    await sign_up(client, people[1][1], forum["id"])
    await sign_up(client, people[0][1], other["id"])

    # Moving it onto the other forum's time would clash for the first person: refused.
    clash = await client.patch(
        f"/api/v1/forums/{forum['id']}",
        json={"starts_at": "2027-05-10T14:30:00+02:00", "ends_at": "2027-05-10T15:30:00+02:00"},
        headers=organiser.headers,
    )
    assert clash.status_code == 409
    moved = await client.patch(
        f"/api/v1/forums/{forum['id']}", json={"room": "Saal 2"}, headers=organiser.headers
    )
    assert moved.status_code == 200 and moved.json()["room"] == "Saal 2"
    assert sorted(await outbox(pool, "forum.changed")) == [
        "person0@example.org",
        "person1@example.org",
    ]
    calendar = (await client.get(f"/r/{people[0][1]}/calendar.ics")).text
    assert "Saal 2" in calendar and f"forum-{forum['id']}-registration-" in calendar

    cancelled = await client.patch(
        f"/api/v1/forums/{forum['id']}", json={"cancelled": True}, headers=organiser.headers
    )
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
    assert sorted(await outbox(pool, "forum.cancelled")) == [
        "person0@example.org",
        "person1@example.org",
    ]
    assert (await sign_up(client, people[1][1], forum["id"])).status_code == 409
    view = (await client.get(f"/api/v1/registrations/{people[0][1]}")).json()
    assert {f["title"]: f["status"] for f in view["forums"]} == {"Später": "confirmed"}


async def test_staff_move_a_person(client, organiser, pool, settings):
    await setup_conference(client, organiser)
    first = await make_forum(client, organiser, title="Erstes", capacity=1)
    second = await make_forum(
        client,
        organiser,
        title="Zweites",
        starts_at="2027-05-10T14:00:00+02:00",
        ends_at="2027-05-10T15:00:00+02:00",
    )
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 2)
    await sign_up(client, people[0][1], first["id"])
    await sign_up(client, people[1][1], first["id"])
    moved = await client.post(
        f"/api/v1/forums/{first['id']}/move",
        json={"registration_id": people[0][0], "to_forum_id": second["id"]},
        headers=organiser.headers,
    )
    assert moved.status_code == 200 and moved.json() == {"status": "confirmed", "position": None}
    view = (await client.get(f"/api/v1/registrations/{people[1][1]}")).json()
    assert view["forums"][0]["status"] == "confirmed"  # moved up into the freed seat


async def test_forum_door_check(client, organiser, pool, settings, make_staff):
    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser, capacity=1)
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 3)
    await sign_up(client, people[0][1], forum["id"])
    await sign_up(client, people[1][1], forum["id"])
    secrets = [
        (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]
        for _id, token in people
    ]
    scanner = await make_staff("scanner")

    async def scan(secret: str):
        return await client.post(
            f"/api/v1/forums/{forum['id']}/attendance",
            json={"secret": secret},
            headers=scanner.headers,
        )

    first = (await scan(secrets[0])).json()
    assert first["status"] == "signed_up" and first["attendee"]["name"] == "Person 0"
    again = await scan(secrets[0].lower())
    assert again.json()["first_seen_at"] == first["first_seen_at"]
    assert (await scan(secrets[1])).json()["status"] == "waiting"
    assert (await scan(secrets[2])).json()["status"] == "not_signed_up"
    assert (await scan("ABCDEFGHJKMNPQRSTUVWXYZ234")).json()["status"] == "invalid"
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT scans FROM forum_attendance") == 2
    no_token = await client.post(
        f"/api/v1/forums/{forum['id']}/attendance", json={"secret": secrets[0]}
    )
    assert no_token.status_code == 401


async def test_forum_door_page_for_handheld_scanners(client, organiser, pool, settings, make_staff):
    from tests.conftest import csrf_token, login

    await setup_conference(client, organiser)
    forum = await make_forum(client, organiser, title="Vernetzung <b>vor Ort</b>")
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 1)
    await sign_up(client, token, forum["id"])
    secret = (await client.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]
    scanner = await make_staff("scanner")
    await login(client, scanner)
    page = await client.get(f"/staff/forums/{forum['id']}/door")
    assert page.status_code == 200 and "autofocus" in page.text
    assert "&lt;b&gt;vor Ort&lt;/b&gt;" in page.text
    csrf = await csrf_token(client, f"/staff/forums/{forum['id']}/door")
    # A handheld scanner types the code, grouped or not, and presses Enter.
    answer = await client.post(
        f"/staff/forums/{forum['id']}/door",
        data={"secret": "-".join(secret[i : i + 4] for i in range(0, 26, 4)), "_csrf_token": csrf},
    )
    assert answer.status_code == 200 and 'data-status="signed_up"' in answer.text
    assert "Person 0" in answer.text
    wrong = await client.post(
        f"/staff/forums/{forum['id']}/door", data={"secret": "nonsense", "_csrf_token": csrf}
    )
    assert 'data-status="invalid"' in wrong.text
