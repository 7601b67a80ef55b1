"""Three gaps in data protection (issue 12, point 8): an exhibitor naming stand staff learned
whether an address was registered; erasure left the person's earlier, cancelled registrations
of the conference; the data export left out forum door attendance."""

from __future__ import annotations

from typing import Any

from tests.conftest import csrf_token
from tests.exhibitor_support import make_stand, request_and_confirm
from tests.forum_support import make_forum
from tests.registration_support import SLUG, confirm, make_conference, register


async def approved_booking(client, organiser, pool, settings) -> str:  # type: ignore[no-untyped-def]
    """An approved stand for four people; returns the exhibitor's self-service token."""
    stand = await make_stand(client, organiser, max_staff=4)
    booking_id, manage = await request_and_confirm(client, pool, settings)
    approved = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand["id"]},
        headers=organiser.headers,
    )
    assert approved.status_code == 200, approved.text
    return manage


async def attendee(client, pool, settings, email: str, **fields: Any) -> str:  # type: ignore[no-untyped-def]
    assert (await register(client, email=email, **fields)).status_code == 202
    confirmed = await confirm(client, pool, settings, email)
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()["manage_token"]


def shape(value: Any) -> Any:
    """What an answer looks like apart from its values: keys and kinds of values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


# ── naming stand staff reveals nothing about registrations ─────────────────────────────


async def test_naming_a_registered_person_looks_like_naming_anyone(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    manage = await approved_booking(client, organiser, pool, settings)
    aylin = await attendee(client, pool, settings, "aylin@example.org")  # has a ticket
    assert (await register(client, email="pending@example.org")).status_code == 202
    passes = f"/api/v1/exhibitor-bookings/{manage}/passes"

    registered = await client.post(passes, json={"name": "Aylin D.", "email": "aylin@example.org"})
    stranger = await client.post(passes, json={"name": "Bea Roth", "email": "bea@example.org"})
    pending = await client.post(passes, json={"name": "Cem", "email": "pending@example.org"})
    for answer in (registered, stranger, pending):
        assert answer.status_code == 201, answer.text
    assert shape(registered.json()) == shape(stranger.json()) == shape(pending.json())
    assert {len(a.json()["ticket_secret"]) for a in (registered, stranger, pending)} == {26}
    assert registered.json()["name"] == "Aylin D."
    # The stand's list shows each as named, alike.
    booking = (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()
    assert [(p["name"], p["email"]) for p in booking["passes"]] == [
        ("Aylin D.", "aylin@example.org"),
        ("Bea Roth", "bea@example.org"),
        ("Cem", "pending@example.org"),
    ]
    # Naming someone twice for one's own stand is refused alike, whoever it is: that list is
    # the exhibitor's own.
    again = [
        await client.post(passes, json={"name": "X", "email": email})
        for email in ("AYLIN@example.org", "bea@example.org")
    ]
    assert {a.status_code for a in again} == {409}
    assert len({a.json()["detail"] for a in again}) == 1
    assert "registered" not in again[0].json()["detail"]

    # Aylin's own registration is untouched; her pass is a ticket of its own, e-mailed to her.
    own = (await client.get(f"/api/v1/registrations/{aylin}")).json()
    assert (own["status"], own["name"], own["category"]) == (
        "confirmed",
        "Aylin Demir",
        "volunteer",
    )
    async with pool.acquire() as db:
        kinds = [
            r["kind"]
            for r in await db.fetch(
                "SELECT o.kind FROM outbox o JOIN registrations r ON r.id = o.ref_id "
                "WHERE o.recipient = 'aylin@example.org' AND r.category = 'exhibitor_staff'"
            )
        ]
    assert kinds == ["registration.ticket"]
    # Removing the pass withdraws the pass only.
    removed = await client.delete(f"{passes}/{registered.json()['id']}")
    assert removed.status_code == 200
    assert (await client.get(f"/api/v1/registrations/{aylin}")).json()["status"] == "confirmed"


async def test_the_exhibitor_page_answers_alike(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await approved_booking(client, organiser, pool, settings)
    await attendee(client, pool, settings, "aylin@example.org")
    page = f"/x/{manage}"
    answers = []
    for email in ("aylin@example.org", "bea@example.org"):
        token = await csrf_token(client, page)
        answers.append(
            await client.post(
                f"{page}/passes",
                data={
                    "pass_name": "Named",
                    "pass_email": email,
                    "pass_language": "de",
                    "_csrf_token": token,
                },
                follow_redirects=False,
            )
        )
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    listed = (await client.get(f"{page}?lang=en")).text
    assert listed.count('<th scope="row">Named</th>') == 2
    assert "already has a ticket" not in listed


# ── erasure takes the earlier registrations along ──────────────────────────────────────


async def test_erasure_takes_the_earlier_cancelled_registrations(client, organiser, pool, settings):
    await make_conference(client, organiser)
    # Registered, cancelled, registered again, cancelled again, and a third time.
    for name in ("Aylin Früher", "Aylin Z"):
        earlier = await attendee(client, pool, settings, "aylin@example.org", name=name)
        assert (await client.delete(f"/api/v1/registrations/{earlier}")).status_code == 200
    current = await attendee(client, pool, settings, "aylin@example.org", name="Aylin Demir")
    # Someone else's registration stays.
    await attendee(client, pool, settings, "ben@example.org", name="Ben Berg")

    token = await csrf_token(client, f"/r/{current}/delete")
    done = await client.post(f"/r/{current}/delete", data={"_csrf_token": token})
    assert done.status_code == 200, done.text

    async with pool.acquire() as db:
        left = await db.fetch(
            "SELECT name, email, status, category FROM registrations "
            "WHERE anonymised_at IS NULL ORDER BY id"
        )
        anonymous = await db.fetchval(
            "SELECT count(*) FROM registrations WHERE anonymised_at IS NOT NULL"
        )
        mails_about_gone = await db.fetchval(
            "SELECT count(*) FROM outbox o JOIN registrations r ON r.id = o.ref_id "
            "WHERE o.kind LIKE 'registration.%' AND r.anonymised_at IS NOT NULL"
        )
        named_any = await db.fetchval(
            "SELECT count(*) FROM registrations WHERE name LIKE 'Aylin%' OR email LIKE 'aylin%'"
        )
    assert [tuple(r) for r in left] == [("Ben Berg", "ben@example.org", "confirmed", "volunteer")]
    assert anonymous == 3 and named_any == 0
    assert mails_about_gone == 0


# ── the export lists forum door attendance ─────────────────────────────────────────────


async def test_export_lists_the_forums_whose_door_saw_the_person(
    client, organiser, pool, settings, make_staff
):
    await make_conference(client, organiser)
    forum = await make_forum(client, organiser, title="Spracherwerb im Ehrenamt")
    other = await make_forum(
        client,
        organiser,
        title="Wohnen",
        starts_at="2027-05-10T15:30:00+02:00",
        ends_at="2027-05-10T17:00:00+02:00",
    )
    manage = await attendee(client, pool, settings, "aylin@example.org")
    for chosen in (forum, other):
        signed = await client.put(f"/api/v1/registrations/{manage}/forums/{chosen['id']}")
        assert signed.json()["status"] == "confirmed", signed.text
    secret = (await client.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]
    scanner = await make_staff("scanner")
    for _ in range(2):
        seen = await client.post(
            f"/api/v1/forums/{forum['id']}/attendance",
            json={"secret": secret},
            headers=scanner.headers,
        )
        assert seen.json()["status"] == "signed_up", seen.text

    own = (await client.get(f"/api/v1/registrations/{manage}/export")).json()
    [entry] = own["forum_attendance"]
    assert (entry["forum_id"], entry["title"], entry["scans"]) == (
        forum["id"],
        "Spracherwerb im Ehrenamt",
        2,
    )
    assert entry["first_seen_at"] == seen.json()["first_seen_at"]
    async with pool.acquire() as db:
        registration_id = await db.fetchval("SELECT id FROM registrations")
    staff = await client.get(
        f"/api/v1/conferences/{SLUG}/registrations/{registration_id}/export",
        headers=organiser.headers,
    )
    assert staff.json()["forum_attendance"] == own["forum_attendance"]
