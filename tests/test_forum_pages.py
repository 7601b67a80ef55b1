"""Forum pages (HTML): the attendee's page behind the self-service link, the public list, and
the staff pages (create, edit, cancel, participants, move, CSV). Texts are checked in English
(Accept-Language), so the German catalogue can change without breaking these tests."""

from __future__ import annotations

import re

from tests.conftest import csrf_token, login
from tests.forum_support import CONFERENCE_SLUG, make_attendees, make_forum
from tests.registration_support import make_conference

EN = {"Accept-Language": "en"}
FORM = {
    "title": "Spracherwerb im Ehrenamt",
    "title_en": "Language learning in volunteering",
    "description": "Erfahrungen aus der Praxis.",
    "description_en": "",
    "room": "Raum 11",
    "starts_at": "2027-05-10T13:30",
    "ends_at": "2027-05-10T15:00",
    "capacity": "25",
    "language": "de",
    "interpretation": "Arabisch",
    "accessibility": "stufenlos",
    "moderators": "Dr. Meyer",
}


async def setup(client, organiser, pool, settings, people: int = 1, **forum):
    await make_conference(client, organiser)
    made = await make_forum(client, organiser, **forum)
    attendees = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, people)
    return made, attendees


async def my_forums(client, token: str) -> dict[str, tuple[str, int | None]]:
    view = (await client.get(f"/api/v1/registrations/{token}")).json()
    return {f["title"]: (f["status"], f["position"]) for f in view["forums"]}


async def post_form(client, page: str, action: str, **data):
    token = await csrf_token(client, page)
    return await client.post(
        action, data={**data, "_csrf_token": token}, headers=EN, follow_redirects=False
    )


def card(page: str, forum_id: int) -> str:
    """The HTML of one forum's card on the attendee or public page."""
    match = re.search(rf'<li class="card" id="forum-{forum_id}">(.*?)</li>', page, re.S)
    assert match, f"no card for forum {forum_id}"
    return match.group(1)


# ── attendee page ───────────────────────────────────────────────────────────


async def test_attendee_page_lists_forums_grouped_with_seats(client, organiser, pool, settings):
    forum, [(_rid, token)] = await setup(
        client,
        organiser,
        pool,
        settings,
        capacity=12,
        title_en="Language learning",
        moderators="Dr. Meyer",
        interpretation="Arabisch",
    )
    parallel = await make_forum(client, organiser, title="Vernetzung", capacity=0)
    later = await make_forum(
        client,
        organiser,
        title="Abschluss",
        starts_at="2027-05-10T15:30:00+02:00",
        ends_at="2027-05-10T16:30:00+02:00",
    )
    page = await client.get(f"/r/{token}/forums", headers=EN)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["x-robots-tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in page.text
    # Two time slots: 13:30–15:00 holds both parallel forums, then 15:30–16:30.
    headings = re.findall(r'<h2 id="slot-\d+">(.*?)</h2>', page.text, re.S)
    assert len(headings) == 2 and "1:30" in headings[0] and "3:30" in headings[1]
    first = card(page.text, forum["id"])
    assert "Language learning" in first  # the English title on the English page
    assert "12 seats left" in first and "Raum 11" in first and "Dr. Meyer" in first
    assert "Arabisch" in first and "German" in first
    assert f'action="/r/{token}/forums/{forum["id"]}/join"' in first
    assert 'data-status="none"' in first
    full = card(page.text, parallel["id"])
    assert "Fully booked – waiting list" in full and "Join the waiting list" in full
    assert "Abschluss" in card(page.text, later["id"])
    german = await client.get(f"/r/{token}/forums", headers={"Accept-Language": "de"})
    assert "Spracherwerb im Ehrenamt" in card(german.text, forum["id"])
    assert (await client.get("/r/ABCDEFGHJKMNPQRSTUVWXYZ234/forums")).status_code == 404


async def test_sign_up_and_leave_through_the_page(client, organiser, pool, settings):
    forum, [(_rid, token)] = await setup(client, organiser, pool, settings, capacity=1)
    page = f"/r/{token}/forums"
    joined = await post_form(client, page, f"{page}/{forum['id']}/join")
    assert joined.status_code == 303
    assert joined.headers["location"].startswith(f"{page}?done=confirmed&forum={forum['id']}")
    assert await my_forums(client, token) == {"Spracherwerb im Ehrenamt": ("confirmed", None)}
    after = await client.get(joined.headers["location"], headers=EN)
    assert "You have a seat in “Spracherwerb im Ehrenamt”" in after.text
    assert 'data-status="confirmed"' in card(after.text, forum["id"])
    assert re.search(r'data-seats-left="(\d+)"', after.text).group(1) == "0"

    left = await post_form(client, page, f"{page}/{forum['id']}/leave")
    assert left.status_code == 303
    assert await my_forums(client, token) == {}
    after = await client.get(left.headers["location"], headers=EN)
    assert "You have left" in after.text and 'data-status="none"' in after.text
    # Leaving again: refused with the reason, nothing changes.
    again = await post_form(client, page, f"{page}/{forum['id']}/leave")
    assert again.status_code == 409 and "You are not signed up for this forum." in again.text
    # Without the CSRF token: refused.
    forged = await client.post(f"{page}/{forum['id']}/join", follow_redirects=False)
    assert forged.status_code == 403
    assert await my_forums(client, token) == {}


async def test_full_forum_offers_its_waiting_list(client, organiser, pool, settings):
    forum, people = await setup(client, organiser, pool, settings, people=2, capacity=1)
    first, second = (token for _id, token in people)
    await post_form(client, f"/r/{first}/forums", f"/r/{first}/forums/{forum['id']}/join")
    page = await client.get(f"/r/{second}/forums", headers=EN)
    assert "Join the waiting list" in card(page.text, forum["id"])
    joined = await post_form(
        client, f"/r/{second}/forums", f"/r/{second}/forums/{forum['id']}/join"
    )
    assert "done=waitlisted" in joined.headers["location"]
    after = await client.get(joined.headers["location"], headers=EN)
    assert "you are on its waiting list, place 1" in after.text
    assert "Leave the waiting list" in card(after.text, forum["id"])


async def test_a_clash_is_explained_and_changes_nothing(client, organiser, pool, settings):
    held, [(_rid, token)] = await setup(client, organiser, pool, settings, title="Ehrenamt")
    clashing = await make_forum(
        client,
        organiser,
        title="Vernetzung",
        starts_at="2027-05-10T14:00:00+02:00",
        ends_at="2027-05-10T16:00:00+02:00",
    )
    page = f"/r/{token}/forums"
    await post_form(client, page, f"{page}/{held['id']}/join")
    # The page says so before anyone clicks: no button, the other forum named.
    shown = await client.get(page, headers=EN)
    other = card(shown.text, clashing["id"])
    assert "/join" not in other and "At the same time as “Ehrenamt”" in other
    # A click from an older page: 409, the clash named, nothing changed.
    refused = await post_form(client, page, f"{page}/{clashing['id']}/join")
    assert refused.status_code == 409
    assert refused.headers["cache-control"] == "private, no-store"
    assert 'role="alert"' in refused.text and "“Ehrenamt”" in refused.text
    assert "Nothing has been changed." in refused.text
    assert await my_forums(client, token) == {"Ehrenamt": ("confirmed", None)}


async def test_unconfirmed_registrations_see_no_buttons(client, organiser, pool, settings):
    forum, people = await setup(client, organiser, pool, settings, people=3)
    (waiting_id, waiting), (pending_id, pending), (cancelled_id, cancelled) = people
    async with pool.acquire() as db:
        await db.execute(
            "UPDATE registrations SET status = 'waitlisted', waitlist_position = 1 WHERE id = $1",
            waiting_id,
        )
        await db.execute(
            "UPDATE registrations SET status = 'pending_confirmation' WHERE id = $1", pending_id
        )
        await db.execute(
            "UPDATE registrations SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
            cancelled_id,
        )
    for token, why in (
        (waiting, "You are on the waiting list for the conference."),
        (pending, "Please confirm your e-mail address first"),
        (cancelled, "Your registration is cancelled"),
    ):
        page = await client.get(f"/r/{token}/forums", headers=EN)
        assert page.status_code == 200
        assert why in page.text and "Spracherwerb im Ehrenamt" in page.text
        assert "<button" not in page.text.split("<main", 1)[1]
    refused = await post_form(client, "/staff/login", f"/r/{waiting}/forums/{forum['id']}/join")
    assert refused.status_code == 409 and "Only confirmed attendees" in refused.text
    assert await my_forums(client, waiting) == {}


async def test_cancelled_forum_is_shown_as_cancelled(client, organiser, pool, settings):
    forum, [(_rid, token)] = await setup(client, organiser, pool, settings)
    await client.patch(
        f"/api/v1/forums/{forum['id']}", json={"cancelled": True}, headers=organiser.headers
    )
    shown = card((await client.get(f"/r/{token}/forums", headers=EN)).text, forum["id"])
    assert "(cancelled)" in shown and 'data-status="cancelled"' in shown
    assert "<button" not in shown


async def test_public_forum_page(client, organiser, pool, settings):
    forum, _people = await setup(client, organiser, pool, settings, capacity=12)
    page = await client.get(f"/conferences/{CONFERENCE_SLUG}/forums", headers=EN)
    assert page.status_code == 200
    shown = card(page.text, forum["id"])
    assert "Spracherwerb im Ehrenamt" in shown and "12 seats left" in shown
    assert "<form" not in page.text.split("<main", 1)[1]
    assert "personal link from your e-mails" in page.text
    assert (await client.get("/conferences/unbekannt/forums")).status_code == 404


# ── staff pages ─────────────────────────────────────────────────────────────


async def staff_forms(client, organiser):
    await make_conference(client, organiser)
    await login(client, organiser)


async def stored_forums(client) -> list[dict]:
    return (await client.get(f"/api/v1/conferences/{CONFERENCE_SLUG}/forums")).json()


async def test_staff_create_with_errors_then_valid(client, organiser):
    await staff_forms(client, organiser)
    new = f"/staff/conferences/{CONFERENCE_SLUG}/forums/new"
    for bad, field, message in (
        ({"ends_at": "2027-05-10T13:00"}, "ends_at", "The end must be after the start."),
        (
            {"starts_at": "2027-05-11T13:30", "ends_at": "2027-05-11T15:00"},
            "starts_at",
            "The forum must lie inside the conference time.",
        ),
        ({"capacity": "-1"}, "capacity", "Please enter a number from 0 to 100000."),
        ({"title": ""}, "title", "Please fill in this field."),
    ):
        response = await post_form(client, new, new, **{**FORM, **bad})
        assert response.status_code == 400, bad
        error = re.search(rf'<p class="error" id="f-{field}-error">(.*?)</p>', response.text, re.S)
        assert error and message in error.group(1), (bad, response.text)
        assert f'aria-describedby="f-{field}-error' in response.text
        assert 'id="error-summary"' in response.text
    assert await stored_forums(client) == []

    created = await post_form(client, new, new, **FORM)
    assert created.status_code == 303
    listing = await client.get(created.headers["location"], headers=EN)
    assert "has been created" in listing.text and "Spracherwerb im Ehrenamt" in listing.text
    [forum] = await stored_forums(client)
    assert forum["starts_at"] == "2027-05-10T13:30:00+02:00"  # read in Europe/Berlin
    assert (forum["title_en"], forum["capacity"], forum["moderators"]) == (
        "Language learning in volunteering",
        25,
        "Dr. Meyer",
    )
    assert f'href="/staff/forums/{forum["id"]}"' in listing.text
    assert "0 of 25" in listing.text


async def test_staff_edit_capacity_and_refusals(client, organiser, pool, settings):
    await staff_forms(client, organiser)
    forum = await make_forum(client, organiser, capacity=1)
    other = await make_forum(
        client,
        organiser,
        title="Später",
        starts_at="2027-05-10T15:00:00+02:00",
        ends_at="2027-05-10T16:00:00+02:00",
    )
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 2)
    for _rid, token in people:
        await client.put(f"/api/v1/registrations/{token}/forums/{forum['id']}")
    await client.put(f"/api/v1/registrations/{people[0][1]}/forums/{other['id']}")
    edit = f"/staff/forums/{forum['id']}"
    shown = await client.get(edit, headers=EN)
    assert shown.status_code == 200 and 'value="2027-05-10T13:30"' in shown.text

    grown = await post_form(
        client, edit, edit, **{**FORM, "title": forum["title"], "capacity": "2"}
    )
    assert grown.status_code == 303 and grown.headers["location"] == f"{edit}?saved=1"
    after = (await client.get(f"/api/v1/forums/{forum['id']}")).json()
    assert after["capacity"] == 2 and after["seats_left"] == 0  # the one waiting moved up

    shrunk = await post_form(client, edit, edit, **{**FORM, "capacity": "1"})
    assert shrunk.status_code == 400 and 'id="f-capacity-error"' in shrunk.text
    moved_onto_other = await post_form(
        client,
        edit,
        edit,
        **{**FORM, "capacity": "2", "starts_at": "2027-05-10T14:30", "ends_at": "2027-05-10T15:30"},
    )
    assert moved_onto_other.status_code == 409 and 'id="problem"' in moved_onto_other.text
    unchanged = (await client.get(f"/api/v1/forums/{forum['id']}")).json()
    assert (unchanged["capacity"], unchanged["starts_at"]) == (2, "2027-05-10T13:30:00+02:00")
    assert (await client.get("/staff/forums/999999")).status_code == 404


async def test_staff_cancel_with_confirmation(client, organiser, pool, settings):
    await staff_forms(client, organiser)
    forum = await make_forum(client, organiser)
    [(_rid, token)] = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 1)
    await client.put(f"/api/v1/registrations/{token}/forums/{forum['id']}")
    ask = f"/staff/forums/{forum['id']}/cancel"
    question = await client.get(ask, headers=EN)
    assert question.status_code == 200 and "1 person has a seat" in question.text
    assert (await stored_forums(client))[0]["cancelled"] is False  # asking changes nothing
    done = await post_form(client, ask, ask)
    assert done.status_code == 303
    listing = await client.get(done.headers["location"], headers=EN)
    assert "is cancelled" in listing.text and 'data-cancelled="true"' in listing.text
    assert (await stored_forums(client))[0]["cancelled"] is True
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'forum.cancelled'") == 1


async def test_participants_page_move_and_csv(client, organiser, pool, settings):
    await staff_forms(client, organiser)
    forum = await make_forum(client, organiser, capacity=1)
    other = await make_forum(client, organiser, title="Vernetzung")
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 3)
    async with pool.acquire() as db:
        await db.execute(
            "UPDATE registrations SET name = '<script>alert(1)</script>', "
            "organisation = '=HYPERLINK(\"http://x\")' WHERE id = $1",
            people[0][0],
        )
        await db.execute("UPDATE registrations SET name = '=cmd|calc' WHERE id = $1", people[1][0])
    for _rid, token in people:
        await client.put(f"/api/v1/registrations/{token}/forums/{forum['id']}")
    page = f"/staff/forums/{forum['id']}/participants"
    shown = await client.get(page, headers=EN)
    assert shown.status_code == 200
    assert "<script>alert(1)</script>" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    waiting = shown.text.split('id="waiting-heading"', 1)[1]
    assert waiting.index("=cmd|calc") < waiting.index("Person 2")  # the waiting list in order
    assert 'class="no-print"' in shown.text and "Volunteer" in shown.text

    moved = await post_form(
        client,
        page,
        f"/staff/forums/{forum['id']}/move",
        registration_id=str(people[0][0]),
        to=str(other["id"]),
    )
    assert moved.status_code == 303
    assert await my_forums(client, people[0][1]) == {"Vernetzung": ("confirmed", None)}
    assert await my_forums(client, people[1][1]) == {
        "Spracherwerb im Ehrenamt": ("confirmed", None)
    }
    after = await client.get(moved.headers["location"], headers=EN)
    assert "now has a seat in “Vernetzung”" in after.text
    not_here = await post_form(
        client,
        page,
        f"/staff/forums/{forum['id']}/move",
        registration_id=str(people[0][0]),
        to=str(other["id"]),
    )
    assert not_here.status_code == 409

    exported = await client.get(f"/staff/forums/{forum['id']}/participants.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "status;waiting_place;name;organisation;email;category;attended"
    assert lines[1].startswith("confirmed;;'=cmd|calc;")
    assert "private" in exported.headers["cache-control"]


def people_on(page: str) -> list[int]:
    """The registration ids of the rows on a participants page, in order."""
    return [int(i) for i in re.findall(r'<tr id="person-(\d+)">', page)]


def link(page: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return match.group(1).replace("&amp;", "&") if match else None


async def test_participants_page_in_pages_and_the_csv_complete(
    client, organiser, pool, settings, monkeypatch
):
    monkeypatch.setattr("forums.staff_pages.PAGE_SIZE", 3)
    await staff_forms(client, organiser)
    forum = await make_forum(client, organiser, capacity=4)
    other = await make_forum(client, organiser, title="Vernetzung", capacity=10)
    people = await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, 9)
    ids = [rid for rid, _token in people]
    # Sign-up order differs from id order: the list must follow sign-ups, then the waiting list.
    order = ids[4:] + ids[:4]
    for rid in order:
        token = dict(people)[rid]
        await client.put(f"/api/v1/registrations/{token}/forums/{forum['id']}")
    seated, waiting = order[:4], order[4:]
    async with pool.acquire() as db:
        await db.execute(
            "INSERT INTO forum_attendance (forum_id, registration_id) VALUES ($1, $2)",
            forum["id"],
            seated[3],
        )

    page_url = f"/staff/forums/{forum['id']}/participants"
    pages, url = [], page_url
    while url:
        shown = await client.get(url, headers=EN)
        assert shown.status_code == 200
        pages.append(shown.text)
        url = link(shown.text, "next")
        assert len(pages) <= 5
    rows = [people_on(p) for p in pages]
    assert [len(r) for r in rows] == [3, 3, 3]
    assert [i for r in rows for i in r] == seated + waiting  # disjoint, complete, in order
    for number, text in enumerate(pages):
        # Counts over the whole forum on every page, not over the rows shown.
        assert 'id="count-waiting">5<' in text and 'id="count-attended">1<' in text
        assert f"People {3 * number + 1} to {3 * number + 3} of 9" in text
        assert (f'href="{page_url}">First page' in text) == (number > 0)
        assert (link(text, "prev") is not None) == (number > 0)
    # Each part's table has the part's whole count as its caption, or says where it is.
    assert "4 people with a seat</caption>" in pages[0]
    assert "5 people waiting: on the next pages." in pages[0]
    assert "4 people with a seat</caption>" in pages[1]
    assert "5 people waiting</caption>" in pages[1]
    assert "4 people with a seat: on the previous pages." in pages[2]
    assert "<td>5</td>" in pages[2]  # the waiting-list place goes on across pages

    # Back again: "previous" gives the same pages.
    back = await client.get(link(pages[2], "prev"), headers=EN)
    assert people_on(back.text) == rows[1]
    first = await client.get(link(back.text, "prev"), headers=EN)
    assert people_on(first.text) == rows[0] and link(first.text, "prev") is None
    # A place near the start fills the whole first page; nonsense is the first page.
    third = link(pages[0], "next").split("after=")[1]  # the place of page 1's last row
    for query in (f"?before={third}", "?after=x1", "?before=s", "?after=s-1"):
        assert people_on((await client.get(page_url + query, headers=EN)).text) == rows[0]

    exported = await client.get(f"/staff/forums/{forum['id']}/participants.csv")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 9  # the header and everyone, whatever the page size

    # Moving someone from page 2 comes back to page 2.
    second = link(pages[0], "next")
    assert f'name="after" value="{second.split("after=")[1]}"' in pages[1]
    token = await csrf_token(client, second)
    moved = await client.post(
        f"/staff/forums/{forum['id']}/move",
        data={
            "_csrf_token": token,
            "registration_id": str(seated[3]),
            "to": str(other["id"]),
            "after": second.split("after=")[1],
        },
        headers=EN,
        follow_redirects=False,
    )
    assert moved.status_code == 303
    location = moved.headers["location"]
    assert location.startswith(second + "&moved=")
    after_move = await client.get(location, headers=EN)
    assert "now has a seat in “Vernetzung”" in after_move.text
    # The first person waiting moved up into the seat; page 2 goes on after the same place.
    assert people_on(after_move.text) == [waiting[0], waiting[1], waiting[2]]
    assert (
        'id="count-waiting">4<' in after_move.text and 'id="count-attended">0<' in after_move.text
    )
    refused = await client.post(
        f"/staff/forums/{forum['id']}/move",
        data={
            "_csrf_token": token,
            "registration_id": str(seated[3]),
            "to": str(other["id"]),
            "after": second.split("after=")[1],
        },
        headers=EN,
        follow_redirects=False,
    )
    assert refused.status_code == 409 and people_on(refused.text) == people_on(after_move.text)


async def test_staff_pages_need_an_organiser(client, organiser, make_staff, pool, settings):
    await make_conference(client, organiser)
    forum = await make_forum(client, organiser)
    pages = [
        f"/staff/conferences/{CONFERENCE_SLUG}/forums",
        f"/staff/conferences/{CONFERENCE_SLUG}/forums/new",
        f"/staff/forums/{forum['id']}",
        f"/staff/forums/{forum['id']}/cancel",
        f"/staff/forums/{forum['id']}/participants",
        f"/staff/forums/{forum['id']}/participants.csv",
    ]
    for path in pages:
        anonymous = await client.get(path, follow_redirects=False)
        assert anonymous.status_code in (302, 303), path
        assert anonymous.headers["location"].startswith("/staff/login?next=")
    await login(client, await make_staff("scanner"))
    for path in pages:
        assert (await client.get(path)).status_code == 403, path
    token = await csrf_token(client, "/staff/login")
    refused = await client.post(f"/staff/forums/{forum['id']}/cancel", data={"_csrf_token": token})
    assert refused.status_code == 403
    assert (await stored_forums(client))[0]["cancelled"] is False
