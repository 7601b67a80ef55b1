"""The forum e-mails end to end: the forum API writes the outbox, the real worker renders and
sends over SMTP to a real server (aiosmtpd), and the tests read what arrived — the words, the
links, and calendar files whose UID and SEQUENCE update the entry the person already has."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import asyncpg
from babel.messages.extract import extract_from_file
from icalendar import Calendar
from jinja2.ext import babel_extract

from service.mail import find_part
from tests.forum_support import CONFERENCE_SLUG, make_attendees, make_forum
from tests.registration_support import make_conference
from tests.smtp_server import smtp_server
from tests.test_registration_mail import (
    BASE,
    assert_simple_html,
    calendar_of,
    deliver,
    html_of,
    only_to,
    text_of,
    the_event,
    translated,
)

__all__ = ["smtp_server"]  # a fixture, imported for pytest

FORUM_TEMPLATES = Path(__file__).parent.parent / "forums" / "templates" / "mail"
GERMAN = "Spracherwerb im Ehrenamt"
ENGLISH = "Language acquisition in volunteering"


# -- helpers --------------------------------------------------------------------------------


async def setup(client, organiser, pool, settings, people: int, **forum: object):
    """A conference, one forum and `people` confirmed attendees (German unless changed)."""
    await make_conference(client, organiser)
    made = await make_forum(client, organiser, **forum)
    return made, await make_attendees(pool, settings.secret_key, CONFERENCE_SLUG, people)


async def sign_up(client, token: str, forum_id: int) -> str:
    response = await client.put(f"/api/v1/registrations/{token}/forums/{forum_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]


async def leave(client, token: str, forum_id: int) -> None:
    response = await client.delete(f"/api/v1/registrations/{token}/forums/{forum_id}")
    assert response.status_code == 200, response.text


async def change(client, organiser, forum_id: int, **values: object) -> dict:
    response = await client.patch(
        f"/api/v1/forums/{forum_id}", json=values, headers=organiser.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def set_language(pool: asyncpg.Pool, registration_id: int, language: str) -> None:
    await pool.execute(
        "UPDATE registrations SET language = $2 WHERE id = $1", registration_id, language
    )


async def downloaded_entry(client, token: str, forum_id: int):
    """The forum's entry in the person's calendar download (the ticket page's .ics)."""
    download = await client.get(f"/r/{token}/calendar.ics")
    assert download.status_code == 200
    events = Calendar.from_ical(download.content).walk("VEVENT")
    [event] = [e for e in events if str(e["UID"]).startswith(f"forum-{forum_id}-")]
    return event


def subject(message) -> str:
    """The Subject as a mail program shows it. A long ASCII subject is folded right after
    "Subject:" (CPython's email folding); unfolded, the stdlib parser keeps the space."""
    return str(message["Subject"]).strip()


def forum_uid(forum_id: int, registration_id: int) -> str:
    return f"forum-{forum_id}-registration-{registration_id}@testserver.local"


async def forum_rows(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    return [
        (r["kind"], r["recipient"], r["status"])
        for r in await pool.fetch(
            "SELECT kind, recipient, status FROM outbox WHERE kind LIKE 'forum.%' "
            "ORDER BY kind, recipient"
        )
    ]


# -- the tests ------------------------------------------------------------------------------


async def test_promotion_after_a_leave_brings_the_seat_and_a_calendar_invite(
    client, organiser, pool, settings, smtp_server
):
    forum, people = await setup(client, organiser, pool, settings, 2, capacity=1, title_en=ENGLISH)
    (_holder_id, holder), (waiting_id, waiting) = people
    await set_language(pool, waiting_id, "en")
    assert await sign_up(client, holder, forum["id"]) == "confirmed"
    assert await sign_up(client, waiting, forum["id"]) == "waitlisted"
    assert await deliver(pool, smtp_server) == []  # signing up sends nothing

    await leave(client, holder, forum["id"])
    [received] = await deliver(pool, smtp_server)
    assert received.rcpt_tos == ["person1@example.org"]
    mail = received.message
    assert mail["Content-Language"] == "en"
    assert subject(mail) == f"A seat is free for you in the forum: {ENGLISH}"
    text, html = text_of(mail), html_of(mail)
    assert text.startswith("A seat in the forum is yours\n")
    assert f"a seat has become free in the forum “{ENGLISH}”" in text
    assert f"Forum: {ENGLISH}" in text and "Room: Raum 11" in text
    assert "Date: Monday, May 10, 2027" in text
    assert re.search(r"Time: 1:30\sPM to 3:00\sPM", text)
    assert "Venue: Rathaus Hannover" in text
    assert f"{BASE}/r/{waiting}\n" in text and f"{BASE}/r/{waiting}/forums\n" in text
    assert f'href="{BASE}/r/{waiting}"' in html and f'href="{BASE}/r/{waiting}/forums"' in html
    assert ENGLISH in html and "Raum 11" in html
    assert_simple_html(html, "en")

    calendar, method = calendar_of(mail)
    assert method == "REQUEST" and calendar["METHOD"] == "REQUEST"
    assert find_part(mail, "text/calendar").get_filename() == f"forum-{forum['id']}.ics"
    event = the_event(calendar)
    assert str(event["UID"]) == forum_uid(forum["id"], waiting_id)
    assert str(event["SUMMARY"]) == ENGLISH
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-05-10T13:30:00+02:00")
    assert event.decoded("DTEND") == datetime.fromisoformat("2027-05-10T15:00:00+02:00")
    assert str(event["LOCATION"]).startswith("Raum 11, Rathaus Hannover")
    assert event["STATUS"] == "CONFIRMED" and event["ORGANIZER"]
    # The same entry as in the calendar download: same UID, same SEQUENCE.
    downloaded = await downloaded_entry(client, waiting, forum["id"])
    assert downloaded["UID"] == event["UID"]
    assert downloaded["SEQUENCE"] == event["SEQUENCE"]
    assert await forum_rows(pool) == [("forum.promoted", "person1@example.org", "sent")]


async def test_a_room_change_updates_the_entry_and_tells_those_waiting(
    client, organiser, pool, settings, smtp_server
):
    title = "Ehrenamt & Grenzen <Praxis>"
    forum, people = await setup(client, organiser, pool, settings, 2, capacity=1, title=title)
    (holder_id, holder), (_waiting_id, waiting) = people
    await pool.execute("UPDATE registrations SET name = '<b>Eve</b> & Co' WHERE id = $1", holder_id)
    await sign_up(client, holder, forum["id"])
    await sign_up(client, waiting, forum["id"])
    before = await downloaded_entry(client, holder, forum["id"])

    await change(client, organiser, forum["id"], room="Saal 2")
    received = await deliver(pool, smtp_server)
    assert len(received) == 2
    expected = translated("de", "Changes to the forum: %(forum)s", forum=title)

    changed = only_to(received, "person0@example.org")
    assert changed["Content-Language"] == "de"
    assert subject(changed) == expected
    text, html = text_of(changed), html_of(changed)
    assert f"{translated('de', 'Room')}: Saal 2" in text
    assert f"{translated('de', 'Forum')}: {title}" in text
    assert translated("de", "Hello %(name)s,", name="<b>Eve</b> & Co") in text
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt; &amp; Co" in html
    assert "<Praxis>" not in html and "Ehrenamt &amp; Grenzen &lt;Praxis&gt;" in html
    assert f"{BASE}/r/{holder}/forums" in text
    assert_simple_html(html, "de")
    calendar, method = calendar_of(changed)
    assert method == "REQUEST"
    event = the_event(calendar)
    assert str(event["UID"]) == forum_uid(forum["id"], holder_id) == str(before["UID"])
    assert event["SEQUENCE"] > before["SEQUENCE"]
    assert str(event["LOCATION"]).startswith("Saal 2, ")
    assert str(event["SUMMARY"]) == title  # iCalendar text is escaped, not HTML-escaped

    notice = only_to(received, "person1@example.org")
    assert subject(notice) == expected
    assert find_part(notice, "text/calendar") is None  # waiting: no entry to update
    waiting_text = text_of(notice)
    assert f"{translated('de', 'Room')}: Saal 2" in waiting_text
    assert (
        translated(
            "de",
            "You are still on the waiting list for this forum, at place %(place)s. If a seat "
            "becomes free for you, you will receive an e-mail.",
            place=1,
        )
        in waiting_text
    )
    assert_simple_html(html_of(notice), "de")


async def test_a_cancelled_forum_is_taken_out_of_the_calendar(
    client, organiser, pool, settings, smtp_server
):
    forum, people = await setup(client, organiser, pool, settings, 2, capacity=1, title_en=ENGLISH)
    (holder_id, holder), (_waiting_id, waiting) = people
    await set_language(pool, holder_id, "en")
    await sign_up(client, holder, forum["id"])
    await sign_up(client, waiting, forum["id"])
    before = await downloaded_entry(client, holder, forum["id"])

    assert (await change(client, organiser, forum["id"], cancelled=True))["cancelled"] is True
    # forums.logic does not yet tell in the payload who held a seat (the cancellation sets
    # everyone to 'left'); this is what it should write. Rows that say it already stay.
    await pool.execute(
        "UPDATE outbox SET payload = payload || jsonb_build_object('held_seat', ref_id = $1) "
        "WHERE kind = 'forum.cancelled' AND NOT payload ? 'held_seat'",
        holder_id,
    )
    received = await deliver(pool, smtp_server)
    assert len(received) == 2

    cancelled = only_to(received, "person0@example.org")
    assert subject(cancelled) == f"Forum cancelled: {ENGLISH}"
    text = text_of(cancelled)
    assert f"the forum “{ENGLISH}” at Fachtag Ehrenamt 2027 has been cancelled" in text
    assert "removes the forum from your calendar" in text
    assert f"{BASE}/r/{holder}/forums" in text
    assert_simple_html(html_of(cancelled), "en")
    calendar, method = calendar_of(cancelled)
    assert method == "CANCEL" and calendar["METHOD"] == "CANCEL"
    event = the_event(calendar)
    assert str(event["UID"]) == forum_uid(forum["id"], holder_id) == str(before["UID"])
    assert event["SEQUENCE"] > before["SEQUENCE"]
    assert event["STATUS"] == "CANCELLED"

    notice = only_to(received, "person1@example.org")
    assert subject(notice) == translated("de", "Forum cancelled: %(forum)s", forum=GERMAN)
    assert find_part(notice, "text/calendar") is None  # was waiting: no entry to remove
    assert translated(
        "de",
        "You were on the waiting list for this forum; the waiting list no longer applies.",
    ) in text_of(notice)


async def test_without_knowing_who_held_a_seat_everyone_gets_the_cancellation(
    client, organiser, pool, settings, smtp_server
):
    """A row that does not say whether the person held a seat: a CANCEL for everyone, since an
    entry someone never had does no harm, and a stale one in a calendar would."""
    forum, people = await setup(client, organiser, pool, settings, 1)
    [(registration_id, token)] = people
    await sign_up(client, token, forum["id"])
    await change(client, organiser, forum["id"], cancelled=True)
    await pool.execute("UPDATE outbox SET payload = payload - 'held_seat'")
    [received] = await deliver(pool, smtp_server)
    calendar, method = calendar_of(received.message)
    assert method == "CANCEL"
    assert str(the_event(calendar)["UID"]) == forum_uid(forum["id"], registration_id)


async def test_who_left_meanwhile_gets_nothing(client, organiser, pool, settings, smtp_server):
    forum, people = await setup(client, organiser, pool, settings, 4, capacity=3)
    (_a, stays), (_b, leaves_after), (_c, leaves_before), (_d, promoted_then_gone) = people
    for token in (stays, leaves_after, leaves_before, promoted_then_gone):
        await sign_up(client, token, forum["id"])
    await leave(client, leaves_before, forum["id"])  # person3 moves up: forum.promoted
    await leave(client, promoted_then_gone, forum["id"])  # ... and leaves before it is sent

    await change(client, organiser, forum["id"], room="Saal 2")
    await leave(client, leaves_after, forum["id"])  # after the change, before the mail
    [received] = await deliver(pool, smtp_server)
    assert received.rcpt_tos == ["person0@example.org"]
    assert calendar_of(received.message)[1] == "REQUEST"
    # Who left before the change was not told at all; the others' mails were skipped.
    assert await forum_rows(pool) == [
        ("forum.changed", "person0@example.org", "sent"),
        ("forum.changed", "person1@example.org", "skipped"),
        ("forum.promoted", "person3@example.org", "skipped"),
    ]


async def test_a_change_to_a_forum_cancelled_since_is_skipped(
    client, organiser, pool, settings, smtp_server
):
    forum, people = await setup(client, organiser, pool, settings, 1)
    [(_id, token)] = people
    await sign_up(client, token, forum["id"])
    await change(client, organiser, forum["id"], room="Saal 2")
    await change(client, organiser, forum["id"], cancelled=True)
    [received] = await deliver(pool, smtp_server)
    assert calendar_of(received.message)[1] == "CANCEL"
    assert await forum_rows(pool) == [
        ("forum.cancelled", "person0@example.org", "sent"),
        ("forum.changed", "person0@example.org", "skipped"),
    ]


def test_every_text_template_sentence_is_in_an_html_template():
    """The message extraction (babel.cfg) reads the .html templates; the .txt twins say the same
    sentences, so the catalogue that covers the HTML covers the plain text too."""
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}

    def msgids(pattern: str) -> set[str]:
        found = set()
        for path in FORUM_TEMPLATES.glob(pattern):
            for _line, message, _comments, _context in extract_from_file(
                babel_extract, path, keywords=keywords
            ):
                found.add(message)
        return found

    text, html = msgids("*.txt"), msgids("*.html")
    assert text and text <= html, sorted(text - html)
