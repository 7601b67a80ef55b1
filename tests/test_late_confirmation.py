"""A confirmation link used after registration closed or the conference ended (issue 12,
point 8): it takes no place and no waiting place and sends no mail; the API answers 409 with
problem details, the confirmation page says "Die Anmeldung ist geschlossen" and what to do.
Forum sign-ups after the end are refused the same way. The race tests of the confirmation
itself are in tests/test_confirm_function.py."""

from __future__ import annotations

import pytest

from service import tokens
from tests.conftest import csrf_token
from tests.forum_support import make_forum
from tests.registration_support import SLUG, confirm, make_conference, register, token_for

CLOSED = (
    "UPDATE conferences SET registration_opens_at = now() - interval '2 days', "
    "registration_closes_at = now() - interval '1 day'"
)
# Registration ended with the conference; the window's columns still say open, so this is the
# conference's end alone that refuses.
ENDED = (
    "UPDATE conferences SET starts_at = now() - interval '2 days', "
    "ends_at = now() - interval '1 day', registration_opens_at = now() - interval '9 days', "
    "registration_closes_at = now() + interval '1 day'"
)
FORUM_ENDED = (
    "UPDATE forums SET starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour'"
)
WHEN = {"closed": CLOSED, "ended": ENDED}


async def snapshot(pool) -> dict:
    async with pool.acquire() as db:
        return {
            "registrations": [
                dict(r)
                for r in await db.fetch(
                    "SELECT id, status, waitlist_position, confirmed_at, updated_at "
                    "FROM registrations ORDER BY id"
                )
            ],
            "seats": await db.fetchval("SELECT seats_taken FROM conferences"),
            "outbox": [dict(r) for r in await db.fetch("SELECT id, kind FROM outbox ORDER BY id")],
            "forum_signups": [dict(r) for r in await db.fetch("SELECT * FROM forum_signups")],
            "forum_seats": [r[0] for r in await db.fetch("SELECT seats_taken FROM forums")],
        }


async def pending(client, organiser, pool, settings, **conference) -> str:
    """A registration made while registration was open, not yet confirmed: its link."""
    await make_conference(client, organiser, **conference)
    assert (await register(client)).status_code == 202
    return await token_for(pool, settings, "aylin@example.org")


@pytest.mark.parametrize("when", ["closed", "ended"])
@pytest.mark.parametrize("capacity", [120, 0])  # a place, or the waiting list
async def test_the_api_refuses_a_late_confirmation_with_409(
    client, organiser, pool, settings, when, capacity
):
    link = await pending(client, organiser, pool, settings, capacity=capacity)
    await pool.execute(WHEN[when])
    before = await snapshot(pool)

    answer = await client.post("/api/v1/registrations/confirm", json={"token": link})
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == (
        "Die Anmeldung für diese Tagung ist geschlossen. Dieser Bestätigungslink kann nicht "
        "mehr verwendet werden, und für Sie ist kein Platz reserviert."
    )
    english = await client.post("/api/v1/registrations/confirm?lang=en", json={"token": link})
    assert english.status_code == 409
    assert english.json()["detail"].startswith("Registration for this conference is closed.")
    assert await snapshot(pool) == before
    assert before["registrations"][0]["status"] == "pending_confirmation"
    assert before["seats"] == 0


@pytest.mark.parametrize("when", ["closed", "ended"])
async def test_the_confirmation_page_says_registration_is_closed(
    client, organiser, pool, settings, when
):
    link = await pending(client, organiser, pool, settings, organiser_email="tagung@stadt.example")
    await pool.execute(WHEN[when])
    form = await csrf_token(client, f"/confirm/{link}")  # the button page looks as always
    before = await snapshot(pool)

    page = await client.post(f"/confirm/{link}", data={"_csrf_token": form}, follow_redirects=False)
    assert page.status_code == 409
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Die Anmeldung ist geschlossen</h1>" in page.text
    assert "Ihre Anmeldung wurde nicht abgeschlossen" in page.text
    assert "Fachtag Ehrenamt 2027" in page.text
    if when == "ended":
        assert "Die Tagung ist vorbei. Sie müssen nichts weiter tun." in page.text
        assert "mailto:" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]
    else:
        assert "schreiben Sie bitte an das Veranstaltungsteam" in page.text
        assert 'href="mailto:tagung@stadt.example"' in page.text
    assert f'href="/conferences/{SLUG}"' in page.text
    assert await snapshot(pool) == before

    english = await client.post(
        f"/confirm/{link}?lang=en", data={"_csrf_token": form}, follow_redirects=False
    )
    assert english.status_code == 409
    assert "<h1>Registration is closed</h1>" in english.text
    assert await snapshot(pool) == before


async def test_without_an_organiser_address_the_page_says_whom_to_ask(
    client, organiser, pool, settings
):
    link = await pending(client, organiser, pool, settings)
    await pool.execute(CLOSED)
    form = await csrf_token(client, f"/confirm/{link}")
    page = await client.post(f"/confirm/{link}", data={"_csrf_token": form})
    assert page.status_code == 409
    assert "wenden Sie sich bitte an das Veranstaltungsteam" in page.text


async def test_the_statement_itself_answers_closed_and_writes_nothing(
    client, organiser, pool, settings
):
    link = await pending(client, organiser, pool, settings)
    await pool.execute(CLOSED)
    before = await snapshot(pool)
    answer = await pool.fetchrow(
        "SELECT * FROM registration_confirm($1, 'k.ticket', 'k.wait', '{}', 'c')",
        tokens.digest(link),
    )
    assert dict(answer) == {"o_status": "closed", "o_manage_salt": None}
    assert await snapshot(pool) == before


async def test_a_link_used_in_time_answers_as_before_after_the_close(
    client, organiser, pool, settings
):
    """Only taking a place is refused: a confirmation made while open stays, and the link
    used again answers the same as always."""
    await make_conference(client, organiser)
    await register(client)
    first = await confirm(client, pool, settings, "aylin@example.org")
    assert first.status_code == 200
    await pool.execute(CLOSED)
    again = await confirm(client, pool, settings, "aylin@example.org")
    assert again.status_code == 200 and again.json() == first.json()
    assert await pool.fetchval("SELECT seats_taken FROM conferences") == 1


# -- forums -----------------------------------------------------------------------------------


async def confirmed_with_forum(client, organiser, pool, settings) -> tuple[str, int]:
    await make_conference(client, organiser)
    forum = await make_forum(client, organiser)
    await register(client)
    answer = await confirm(client, pool, settings, "aylin@example.org")
    return answer.json()["manage_token"], forum["id"]


@pytest.mark.parametrize("what", ["conference", "forum"])
async def test_forum_sign_ups_after_the_end_take_no_seat(client, organiser, pool, settings, what):
    manage, forum_id = await confirmed_with_forum(client, organiser, pool, settings)
    await pool.execute(ENDED if what == "conference" else FORUM_ENDED)
    before = await snapshot(pool)

    form = await csrf_token(client, f"/r/{manage}/forums")
    page = await client.post(
        f"/r/{manage}/forums/{forum_id}/join",
        data={"_csrf_token": form},
        follow_redirects=False,
    )
    assert page.status_code == 409
    assert "Dieses Forum ist vorbei: Eine Anmeldung ist nicht mehr möglich." in page.text
    api = await client.put(f"/api/v1/registrations/{manage}/forums/{forum_id}")
    assert api.status_code == 409
    assert api.json()["detail"] == "Dieses Forum ist vorbei: Eine Anmeldung ist nicht mehr möglich."
    assert await snapshot(pool) == before
    assert before["forum_signups"] == [] and before["forum_seats"] == [0]


async def test_forum_sign_ups_before_the_end_still_work(client, organiser, pool, settings):
    manage, forum_id = await confirmed_with_forum(client, organiser, pool, settings)
    api = await client.put(f"/api/v1/registrations/{manage}/forums/{forum_id}")
    assert api.status_code == 200 and api.json()["status"] == "confirmed"
