"""The registration e-mails end to end: the API writes the outbox, the real worker renders and
sends over SMTP to a real server (aiosmtpd), and the tests read what arrived — links that work,
the QR code that a decoder reads back to the ticket secret, calendar files that parse."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import asyncpg
from babel.messages.extract import extract_from_file
from icalendar import Calendar
from jinja2.ext import babel_extract

from service import i18n, tokens
from service.mail import find_part
from service.outbox import OutboxWorker
from service.settings import parse_smtp_url
from tests.conftest import csrf_token
from tests.registration_support import SLUG, confirm, make_conference, register
from tests.smtp_server import Received, SmtpServer, smtp_server
from tests.test_qr import decode, png_pixels

__all__ = ["smtp_server"]  # a fixture, imported for pytest

BASE = "http://testserver.local"  # BASE_URL of the `settings` fixture
SENDER = "tagung <noreply@testserver.local>"
TOKEN = f"[{tokens.ALPHABET}]{{26}}"
MAIL_TEMPLATES = Path(__file__).parent.parent / "registration" / "templates" / "mail"


# -- driving the worker, reading the mail ---------------------------------------------------


async def deliver(pool: asyncpg.Pool, server: SmtpServer) -> list[Received]:
    """Runs the real outbox worker until nothing is due; returns the mails that arrived."""
    before = len(server.messages)
    worker = OutboxWorker(pool, smtp=parse_smtp_url(f"{server.url}?timeout=5"), sender=SENDER)
    await worker.drain()
    sent = await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'")
    return (await server.wait_for(sent))[before:]


def only_to(received: list[Received], address: str) -> EmailMessage:
    [message] = [r.message for r in received if r.rcpt_tos == [address]]
    return message


def text_of(message: EmailMessage) -> str:
    return find_part(message, "text/plain").get_content().replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    return find_part(message, "text/html").get_content().replace("\r\n", "\n")


def calendar_of(message: EmailMessage) -> tuple[Calendar, str]:
    """The attached .ics and the method on its Content-Type."""
    part = find_part(message, "text/calendar")
    assert part is not None, "no calendar attached"
    assert part.get_content_disposition() == "attachment" and part.get_filename().endswith(".ics")
    return Calendar.from_ical(part.get_payload(decode=True)), part.get_param("method")


def the_event(calendar: Calendar):
    [event] = calendar.walk("VEVENT")
    return event


def decode_qr(data: bytes) -> str:
    """Reads the QR code in a PNG back with zxing-cpp, as a scanner at the door would."""
    found = decode(*png_pixels(data))
    assert found, "no QR code in the image"
    return found.text


def inline_qr(message: EmailMessage) -> str:
    """The secret in the inline QR image that the HTML shows by cid:, with its alt text."""
    image = find_part(message, "image/png")
    assert image is not None, "no inline image"
    assert image.get_content_disposition() == "inline"
    cid = image["Content-ID"].strip("<>")
    img = re.search(rf'<img src="cid:{re.escape(cid)}"[^>]*>', html_of(message))
    assert img, "the HTML does not show the inline image"
    assert re.search(r'alt="[^"]{5,}"', img.group(0)), "the QR image has no alt text"
    return decode_qr(image.get_content())


def translated(language: str, msgid: str, **variables: object) -> str:
    """What the catalogue says for `msgid` in `language` (the msgid itself while untranslated)."""
    reset = i18n.current_language.set(language)
    try:
        return i18n.gettext(msgid, **variables)
    finally:
        i18n.current_language.reset(reset)


async def outbox_rows(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    return [
        (r["kind"], r["status"])
        for r in await pool.fetch("SELECT kind, status FROM outbox ORDER BY id")
    ]


async def confirm_link(message: EmailMessage) -> str:
    match = re.search(rf"{re.escape(BASE)}/confirm/({TOKEN})\b", text_of(message))
    assert match, "no confirmation link in the text"
    assert f'href="{match.group(0)}"' in html_of(message)
    return match.group(1)


async def manage_token(client, pool, settings, email: str) -> str:
    return (await confirm(client, pool, settings, email)).json()["manage_token"]


def assert_simple_html(html: str, language: str) -> None:
    """Accessible and self-contained: lang, no external resources, no <style>/<script>."""
    assert html.startswith("<!doctype html>")
    assert f'<html lang="{language}"' in html
    assert "<script" not in html and "<style" not in html and "<link" not in html
    for source in re.findall(r'src="([^"]*)"', html):
        assert source.startswith("cid:"), f"external resource {source}"
    for img in re.findall(r"<img [^>]*>", html):
        assert 'alt="' in img


# -- the tests ------------------------------------------------------------------------------


async def test_confirmation_link_and_ticket_mail_in_german(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    assert (await register(client)).status_code == 202  # language "de"

    [received] = await deliver(pool, smtp_server)
    mail = received.message
    assert received.rcpt_tos == ["aylin@example.org"]
    assert mail["Content-Language"] == "de"
    assert mail["Subject"] == translated(
        "de", "Please confirm your registration: %(conference)s", conference="Fachtag Ehrenamt 2027"
    )
    assert mail["To"].addresses[0].display_name == "Aylin Demir"
    text = text_of(mail)
    assert "Montag, 10. Mai 2027" in text and "Veranstaltungsort: Rathaus Hannover" in text
    assert "/r/" not in text  # no self-service link before the address is confirmed
    assert_simple_html(html_of(mail), "de")
    token = await confirm_link(mail)

    # The page only shows a button: opening the link (as mail scanners do) confirms nothing.
    page = await client.get(f"/confirm/{token}")
    assert page.status_code == 200 and '<button type="submit"' in page.text
    assert await pool.fetchval("SELECT status FROM registrations") == "pending_confirmation"
    csrf = await csrf_token(client, f"/confirm/{token}")
    confirmed = await client.post(
        f"/confirm/{token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert confirmed.status_code in (302, 303)
    manage = re.fullmatch(rf"/r/({TOKEN})\?confirmed=1", confirmed.headers["location"]).group(1)

    [received] = await deliver(pool, smtp_server)
    ticket = received.message
    assert ticket["Subject"] == translated(
        "de", "Your ticket: %(conference)s", conference="Fachtag Ehrenamt 2027"
    )
    # mixed [ alternative [ plain, related [ html, png ] ], calendar ]
    assert ticket.get_content_type() == "multipart/mixed"
    alternative, attachment = ticket.iter_parts()
    plain, related = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png"]
    assert attachment.get_content_type() == "text/calendar"

    mine = (await client.get(f"/api/v1/registrations/{manage}")).json()
    secret = mine["ticket"]["secret"]
    assert inline_qr(ticket) == secret
    text, html = text_of(ticket), html_of(ticket)
    assert tokens.grouped(secret) in text and tokens.grouped(secret) in html
    assert f"{BASE}/r/{manage}" in text and f'href="{BASE}/r/{manage}"' in html
    assert "Aylin Demir" in text and "Trammplatz 2, 30159 Hannover" in text and "09:00" in text
    assert_simple_html(html, "de")

    calendar, method = calendar_of(ticket)
    assert method == "REQUEST" and calendar["METHOD"] == "REQUEST"
    event = the_event(calendar)
    [timezone] = calendar.walk("VTIMEZONE")
    assert timezone["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-05-10T09:00:00+02:00")
    assert event["SEQUENCE"] == 0 and event["ORGANIZER"]
    assert "Rathaus Hannover" in str(event["LOCATION"])
    # The same UID as the conference's entry in the calendar download of the ticket page.
    download = await client.get(f"/r/{manage}/calendar.ics")
    uids = [str(e["UID"]) for e in Calendar.from_ical(download.content).walk("VEVENT")]
    assert str(event["UID"]) == uids[0]
    registration_id = await pool.fetchval("SELECT id FROM registrations")
    assert str(event["UID"]) == f"registration-{registration_id}@testserver.local"
    assert await outbox_rows(pool) == [
        ("registration.confirm", "sent"),
        ("registration.ticket", "sent"),
    ]


async def test_an_english_registration_gets_english_mails(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    await register(client, language="en", email="sam@example.org", name="Sam Lee")
    [received] = await deliver(pool, smtp_server)
    mail = received.message
    assert mail["Content-Language"] == "en"
    assert mail["Subject"] == "Please confirm your registration: Fachtag Ehrenamt 2027"
    text = text_of(mail)
    assert text.startswith("Please confirm your e-mail address\n")
    assert "Hello Sam Lee," in text and "Monday, May 10, 2027" in text
    assert "The link is valid for 48 hours, until" in text
    assert_simple_html(html_of(mail), "en")

    await confirm(client, pool, settings, "sam@example.org")
    [received] = await deliver(pool, smtp_server)
    ticket = received.message
    assert ticket["Subject"] == "Your ticket: Fachtag Ehrenamt 2027"
    assert "Your registration for Fachtag Ehrenamt 2027 is confirmed." in text_of(ticket)
    assert "Taking part as: Volunteer" in text_of(ticket)
    assert '<html lang="en"' in html_of(ticket)


async def test_markup_and_line_breaks_in_a_name_stay_harmless(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    name = "<b>Eve</b>\r\nBcc: evil@example.org\r\nX-Evil: 1"
    # Through the HTML form: the API refuses line breaks in a name, the form keeps them.
    form = f"/conferences/{SLUG}/register"
    registered = await client.post(
        form,
        data={
            "name": name,
            "email": "eve@example.org",
            "category": "volunteer",
            "language": "de",
            "consent_privacy": "on",
            "_csrf_token": await csrf_token(client, form),
        },
    )
    assert registered.status_code == 200, registered.text
    received = await deliver(pool, smtp_server)  # the confirmation mail
    await confirm(client, pool, settings, "eve@example.org")
    received += await deliver(pool, smtp_server)  # the ticket mail
    assert [kind for kind, _status in await outbox_rows(pool)] == [
        "registration.confirm",
        "registration.ticket",
    ]
    assert len(received) == 2
    for item in received:
        assert item.rcpt_tos == ["eve@example.org"]
        headers = item.raw.split(b"\r\n\r\n", 1)[0]
        assert b"\nBcc:" not in headers and b"\nX-Evil:" not in headers
        assert item.message["Bcc"] is None and item.message["X-Evil"] is None
        assert item.message["To"].addresses[0].display_name == (
            "<b>Eve</b> Bcc: evil@example.org X-Evil: 1"
        )
        html = html_of(item.message)
        assert "<b>" not in html
        assert "&lt;b&gt;Eve&lt;/b&gt; Bcc: evil@example.org X-Evil: 1" in html
        assert "<b>Eve</b> Bcc: evil@example.org X-Evil: 1" in text_of(item.message)


async def test_registering_again_sends_the_self_service_link(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    await register(client, language="en")
    manage = await manage_token(client, pool, settings, "aylin@example.org")
    await deliver(pool, smtp_server)
    await register(client, language="en", name="Someone Else")
    [received] = await deliver(pool, smtp_server)
    mail = received.message
    assert mail["Subject"] == "Your registration: Fachtag Ehrenamt 2027"
    text = text_of(mail)
    assert "no second registration was made" in text and "Aylin Demir" in text
    assert f"{BASE}/r/{manage}" in text and "/confirm/" not in text
    assert find_part(mail, "image/png") is None and find_part(mail, "text/calendar") is None
    assert await pool.fetchval("SELECT count(*) FROM registrations") == 1


async def test_waiting_list_promotion_and_cancellation_mails(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser, capacity=1)
    await register(client, email="anna@example.org", name="Anna", language="en")
    await register(client, email="ben@example.org", name="Ben", language="en")
    anna = await manage_token(client, pool, settings, "anna@example.org")
    ben = await manage_token(client, pool, settings, "ben@example.org")
    received = await deliver(pool, smtp_server)
    anna_ticket = only_to(received, "anna@example.org")
    waiting = only_to(received, "ben@example.org")
    assert len(received) == 2  # the confirmation mails were skipped: confirmed meanwhile

    assert waiting["Subject"] == "Waiting list: Fachtag Ehrenamt 2027"
    assert "Your place on the waiting list: 1" in text_of(waiting)
    assert f"{BASE}/r/{ben}" in text_of(waiting)
    assert find_part(waiting, "image/png") is None and find_part(waiting, "text/calendar") is None
    first_invite = the_event(calendar_of(anna_ticket)[0])

    assert (await client.delete(f"/api/v1/registrations/{anna}")).status_code == 200
    received = await deliver(pool, smtp_server)
    assert len(received) == 2

    promoted = only_to(received, "ben@example.org")
    assert promoted["Subject"] == "A place is free for you: Fachtag Ehrenamt 2027"
    assert "a place has become free at Fachtag Ehrenamt 2027" in text_of(promoted)
    secret = (await client.get(f"/api/v1/registrations/{ben}")).json()["ticket"]["secret"]
    assert inline_qr(promoted) == secret
    assert tokens.grouped(secret) in text_of(promoted)
    assert calendar_of(promoted)[1] == "REQUEST"

    cancelled = only_to(received, "anna@example.org")
    assert cancelled["Subject"] == "Registration cancelled: Fachtag Ehrenamt 2027"
    assert "Your ticket is no longer valid." in text_of(cancelled)
    assert f"{BASE}/r/{anna}" in text_of(cancelled)
    assert f"{BASE}/conferences/{SLUG}/register" in text_of(cancelled)
    assert find_part(cancelled, "image/png") is None
    calendar, method = calendar_of(cancelled)
    assert method == "CANCEL" and calendar["METHOD"] == "CANCEL"
    event = the_event(calendar)
    assert event["UID"] == first_invite["UID"]
    assert event["SEQUENCE"] > first_invite["SEQUENCE"]
    assert event["STATUS"] == "CANCELLED"


async def test_a_changed_conference_sends_updated_invites(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser, capacity=1)
    await register(client, email="anna@example.org", name="Anna", language="en")
    await register(client, email="ben@example.org", name="Ben")
    anna = await manage_token(client, pool, settings, "anna@example.org")
    await manage_token(client, pool, settings, "ben@example.org")  # waitlisted
    first_invite = the_event(
        calendar_of(only_to(await deliver(pool, smtp_server), "anna@example.org"))[0]
    )

    changed = await client.patch(
        f"/api/v1/conferences/{SLUG}",
        json={"starts_at": "2027-05-10T10:00:00+02:00", "venue": "Neues Rathaus"},
        headers=organiser.headers,
    )
    assert changed.status_code == 200, changed.text
    [received] = await deliver(pool, smtp_server)  # only the confirmed attendee
    mail = received.message
    assert received.rcpt_tos == ["anna@example.org"]
    assert mail["Subject"] == "Changes to Fachtag Ehrenamt 2027"
    text = text_of(mail)
    assert "Venue: Neues Rathaus" in text
    assert re.search(r"Time: 10:00\sAM to 5:00\sPM", text)  # (Babel: a narrow no-break space)
    assert f"{BASE}/r/{anna}" in text
    calendar, method = calendar_of(mail)
    assert method == "REQUEST"
    event = the_event(calendar)
    assert event["UID"] == first_invite["UID"]
    assert event["SEQUENCE"] > first_invite["SEQUENCE"]
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-05-10T10:00:00+02:00")
    assert "Neues Rathaus" in str(event["LOCATION"])


async def test_a_ticket_for_a_registration_cancelled_meanwhile_is_skipped(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    await register(client)
    manage = await manage_token(client, pool, settings, "aylin@example.org")
    assert (await client.delete(f"/api/v1/registrations/{manage}")).status_code == 200

    [received] = await deliver(pool, smtp_server)
    assert received.message["Subject"] == translated(
        "de", "Registration cancelled: %(conference)s", conference="Fachtag Ehrenamt 2027"
    )
    assert await outbox_rows(pool) == [
        ("registration.confirm", "skipped"),
        ("registration.ticket", "skipped"),
        ("registration.cancelled", "sent"),
    ]


def test_every_text_template_sentence_is_in_an_html_template():
    """The message extraction (babel.cfg) reads the .html templates; the .txt twins say the same
    sentences, so the catalogue that covers the HTML covers the plain text too."""
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}

    def msgids(pattern: str) -> set[str]:
        found = set()
        for path in MAIL_TEMPLATES.glob(pattern):
            for _line, message, _comments, _context in extract_from_file(
                babel_extract, path, keywords=keywords
            ):
                found.add(message)
        return found

    text, html = msgids("*.txt"), msgids("*.html")
    assert text and text <= html, sorted(text - html)
