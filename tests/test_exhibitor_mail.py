"""The exhibitor e-mails end to end: the booking API writes the outbox, the real worker renders
and sends over SMTP to a real server (aiosmtpd), and the tests read what arrived — in the
booking's language, with the confirmation link that the shared /confirm page honours, and the
exhibitor page `/x/{token}` in every mail after the confirmation."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from babel.messages.extract import extract_from_file
from jinja2.ext import babel_extract

from service import tokens
from service.mail import find_part
from tests.conftest import csrf_token
from tests.exhibitor_support import SLUG, booking_payload, make_stand, request_and_confirm
from tests.registration_support import make_conference, register, token_for
from tests.smtp_server import smtp_server
from tests.test_registration_mail import (
    BASE,
    TOKEN,
    assert_simple_html,
    deliver,
    html_of,
    only_to,
    outbox_rows,
    text_of,
    translated,
)

__all__ = ["smtp_server"]  # a fixture, imported for pytest

MAIL_TEMPLATES = Path(__file__).parent.parent / "exhibitors" / "templates" / "mail"
TITLE = "Fachtag Ehrenamt 2027"
CONTACT = "markt@caritas.example"


# -- helpers --------------------------------------------------------------------------------


async def request(client, **overrides):
    response = await client.post(
        f"/api/v1/conferences/{SLUG}/exhibitor-bookings", json=booking_payload(**overrides)
    )
    assert response.status_code == 202, response.text
    return response


async def staff_post(client, organiser, path: str, body: dict | None = None):
    response = await client.post(path, json=body or {}, headers=organiser.headers)
    assert response.status_code == 200, response.text
    return response


def confirm_token_in(message: EmailMessage) -> str:
    match = re.search(rf"{re.escape(BASE)}/confirm/({TOKEN})\b", text_of(message))
    assert match, "no confirmation link in the text"
    assert f'href="{match.group(0)}"' in html_of(message)
    return match.group(1)


def assert_exhibitor_page(message: EmailMessage, manage: str) -> None:
    """The self-service link, in the text and as a link in the HTML."""
    url = f"{BASE}/x/{manage}"
    assert url in text_of(message)
    assert f'href="{url}"' in html_of(message)


def in_both(message: EmailMessage, language: str, msgid: str, **variables: object) -> None:
    """A sentence in the recipient's language, in the text and in the HTML."""
    sentence = translated(language, msgid, **variables)
    assert sentence in text_of(message), sentence
    assert sentence in html_of(message), sentence


# -- the tests ------------------------------------------------------------------------------


async def test_a_german_request_the_confirmation_page_and_the_requested_mail(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    await request(client)  # booking_payload has no language: German

    [received] = await deliver(pool, smtp_server)
    mail = received.message
    assert received.rcpt_tos == [CONTACT]
    assert mail["Content-Language"] == "de"
    assert mail["Subject"] == translated(
        "de", "Please confirm your stand request: %(conference)s", conference=TITLE
    )
    assert mail["To"].addresses[0].display_name == "Petra Schulz"
    text = text_of(mail)
    assert "Caritasverband Hannover e. V." in text and "Beratung, Ehrenamt" in text
    assert "Montag, 10. Mai 2027" in text
    assert "/x/" not in text  # no self-service link before the address is confirmed
    assert_simple_html(html_of(mail), "de")
    token = confirm_token_in(mail)

    # The shared page only shows a button: opening the link confirms nothing.
    page = await client.get(f"/confirm/{token}")
    assert page.status_code == 200 and '<button type="submit"' in page.text
    assert await pool.fetchval("SELECT status FROM exhibitor_bookings") == "pending_confirmation"
    csrf = await csrf_token(client, f"/confirm/{token}")
    confirmed = await client.post(
        f"/confirm/{token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert confirmed.status_code in (302, 303), confirmed.text
    location = confirmed.headers["location"]
    manage = re.fullmatch(rf"/x/({TOKEN})\?confirmed=1", location).group(1)
    mine = (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()
    assert mine["status"] == "requested"
    assert await pool.fetchval("SELECT count(*) FROM registrations") == 0

    # The button again: the same answer, nothing sent twice.
    again = await client.post(
        f"/confirm/{token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert again.headers["location"] == location

    [received] = await deliver(pool, smtp_server)
    requested = received.message
    assert requested["Subject"] == translated(
        "de", "Your stand request has been received: %(conference)s", conference=TITLE
    )
    assert requested["Content-Language"] == "de"
    in_both(requested, "de", "Welfare association")
    in_both(requested, "de", "%(width)s m wide", width="3")
    in_both(requested, "de", "Power supply")
    assert_exhibitor_page(requested, manage)
    assert_simple_html(html_of(requested), "de")
    assert await outbox_rows(pool) == [
        ("exhibitor.confirm", "sent"),
        ("exhibitor.requested", "sent"),
    ]


async def test_approval_names_the_stand_and_a_change_names_the_new_one(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, code="B12", area="Halle 2", max_staff=4)
    other = await make_stand(client, organiser, code="C3", area="Foyer")
    booking_id, manage = await request_and_confirm(client, pool, settings)
    await deliver(pool, smtp_server)  # the requested mail (the confirmation was skipped)

    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        {"stand_id": stand["id"]},
    )
    [received] = await deliver(pool, smtp_server)
    approved = received.message
    assert received.rcpt_tos == [CONTACT]
    assert approved["Subject"] == translated(
        "de", "Your stand %(stand)s: %(conference)s", stand="B12", conference=TITLE
    )
    in_both(approved, "de", "Your stand: %(stand)s", stand="B12")
    assert "Halle 2" in text_of(approved) and "Halle 2" in html_of(approved)
    # How many people the organisation can name for a pass.
    assert f"{translated('de', 'Passes for stand staff')}: 4" in text_of(approved)
    assert_exhibitor_page(approved, manage)
    assert_simple_html(html_of(approved), "de")

    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/reassign",
        {"stand_id": other["id"]},
    )
    [received] = await deliver(pool, smtp_server)
    changed = received.message
    assert changed["Subject"] == translated(
        "de", "Your stand has changed to %(stand)s: %(conference)s", stand="C3", conference=TITLE
    )
    in_both(changed, "de", "Your new stand: %(stand)s", stand="C3")
    assert "Foyer" in text_of(changed) and "B12" not in text_of(changed)
    assert_exhibitor_page(changed, manage)


async def test_waiting_list_and_rejection_say_the_reason(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    booking_id, manage = await request_and_confirm(client, pool, settings, language="en")
    await deliver(pool, smtp_server)

    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/waitlist",
        {"reason": "All stands with power are booked."},
    )
    [received] = await deliver(pool, smtp_server)
    waiting = received.message
    assert waiting["Subject"] == f"Your stand request is on the waiting list: {TITLE}"
    text = text_of(waiting)
    assert "All stands with power are booked." in text and "waiting list: 1" in text
    assert "All stands with power are booked." in html_of(waiting)
    assert_exhibitor_page(waiting, manage)

    reason = 'Leider passt das Thema nicht: "Vertrieb" <Werbung> & Co.'
    await staff_post(
        client, organiser, f"/api/v1/exhibitor-bookings/{booking_id}/reject", {"reason": reason}
    )
    [received] = await deliver(pool, smtp_server)
    rejected = received.message
    assert rejected["Subject"] == f"Decision on your stand request: {TITLE}"
    assert reason in text_of(rejected)
    html = html_of(rejected)
    assert "<Werbung>" not in html
    assert "&lt;Werbung&gt; &amp; Co." in html
    assert "Unfortunately, we cannot offer your organisation a stand." in text_of(rejected)
    assert_exhibitor_page(rejected, manage)
    assert_simple_html(html, "en")


async def test_an_english_booking_gets_english_mails(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, code="B1", area="Hall 2", depth_m=3)
    await request(client, language="en", wished_depth_m=2.5)
    [received] = await deliver(pool, smtp_server)
    mail = received.message
    assert mail["Content-Language"] == "en"
    assert mail["Subject"] == f"Please confirm your stand request: {TITLE}"
    text = text_of(mail)
    assert text.startswith("Please confirm your e-mail address\n")
    assert "Hello Petra Schulz," in text and "Monday, May 10, 2027" in text
    assert "The link is valid for 48 hours, until" in text
    assert "Kind of organisation: Welfare association" in text
    assert "Wished stand size: 3 m wide × 2.5 m deep" in text
    assert "Wished equipment: Power supply" in text
    assert_simple_html(html_of(mail), "en")

    # Confirmed through the API this time: the link's token works there too.
    confirmed = await client.post(
        "/api/v1/exhibitor-bookings/confirm", json={"token": confirm_token_in(mail)}
    )
    assert confirmed.status_code == 200, confirmed.text
    manage = confirmed.json()["manage_token"]
    [received] = await deliver(pool, smtp_server)
    requested = received.message
    assert requested["Subject"] == f"Your stand request has been received: {TITLE}"
    assert "passed on to the organising team" in text_of(requested)
    assert_exhibitor_page(requested, manage)

    booking_id = (await client.get(f"/api/v1/exhibitor-bookings/{manage}")).json()["id"]
    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        {"stand_id": stand["id"]},
    )
    [received] = await deliver(pool, smtp_server)
    approved = received.message
    assert approved["Subject"] == f"Your stand B1: {TITLE}"
    text = text_of(approved)
    assert "Your stand: B1 (Hall 2)" in text
    assert "You can name up to 3 people to staff your stand" in text
    assert "name the people who will staff your stand" in text
    assert '<html lang="en"' in html_of(approved)
    assert_exhibitor_page(approved, manage)


async def test_markup_in_the_organisation_name_is_escaped(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    organisation = '<b>Eve</b> & "Söhne" <script>alert(1)</script>'
    await request(client, organisation=organisation, contact_name="<i>Eve</i>")
    received = await deliver(pool, smtp_server)
    token = confirm_token_in(received[0].message)
    confirmed = await client.post("/api/v1/exhibitor-bookings/confirm", json={"token": token})
    booking_id = (
        await client.get(f"/api/v1/exhibitor-bookings/{confirmed.json()['manage_token']}")
    ).json()["id"]
    received += await deliver(pool, smtp_server)
    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        {"stand_id": stand["id"]},
    )
    received += await deliver(pool, smtp_server)
    assert [kind for kind, _status in await outbox_rows(pool)] == [
        "exhibitor.confirm",
        "exhibitor.requested",
        "exhibitor.approved",
    ]
    assert len(received) == 3
    for item in received:
        html = html_of(item.message)
        assert "<b>" not in html and "<script" not in html and "<i>" not in html
        assert "&lt;b&gt;Eve&lt;/b&gt; &amp; &#34;Söhne&#34; &lt;script&gt;" in html
        assert "&lt;i&gt;Eve&lt;/i&gt;" in html
        assert organisation in text_of(item.message)


async def test_asking_again_and_withdrawing(client, organiser, pool, settings, smtp_server):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    booking_id, manage = await request_and_confirm(client, pool, settings, language="en")
    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        {"stand_id": stand["id"]},
    )
    named = await client.post(
        f"/api/v1/exhibitor-bookings/{manage}/passes",
        json={"name": "Jonas Weber", "email": "jonas@caritas.example", "language": "en"},
    )
    assert named.status_code == 201, named.text
    # The person named did not register: the pass mail says who named them and where the
    # privacy notice is (GDPR Art. 14), in text and HTML.
    pass_mail = only_to(await deliver(pool, smtp_server), "jonas@caritas.example")
    privacy = f"{settings.base_url}/conferences/{SLUG}/privacy"
    assert "named you as stand staff for" in text_of(pass_mail)
    assert f"How we handle your data: {privacy}" in text_of(pass_mail)
    assert f'href="{privacy}"' in html_of(pass_mail)

    await request(client, language="en", organisation="Someone Else")
    [received] = await deliver(pool, smtp_server)
    again = received.message
    assert again["Subject"] == f"Your stand booking: {TITLE}"
    text = text_of(again)
    assert "no second request was made" in text and "The status of your booking: approved" in text
    assert "Stand: B1" in text and "/confirm/" not in text
    assert_exhibitor_page(again, manage)
    assert await pool.fetchval("SELECT count(*) FROM exhibitor_bookings") == 1

    assert (await client.delete(f"/api/v1/exhibitor-bookings/{manage}")).status_code == 200
    received = await deliver(pool, smtp_server)
    withdrawn = only_to(received, CONTACT)
    assert withdrawn["Subject"] == f"Stand booking withdrawn: {TITLE}"
    assert "The passes for your stand staff are no longer valid" in text_of(withdrawn)
    assert_exhibitor_page(withdrawn, manage)
    # The person named was told by registration (the pass is a ticket).
    assert only_to(received, "jonas@caritas.example") is not None


async def test_a_requested_mail_for_a_request_decided_meanwhile_is_skipped(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser)
    booking_id, _manage = await request_and_confirm(client, pool, settings)
    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        {"stand_id": stand["id"]},
    )
    [received] = await deliver(pool, smtp_server)
    assert "B1" in received.message["Subject"]
    assert await outbox_rows(pool) == [
        ("exhibitor.confirm", "skipped"),
        ("exhibitor.requested", "skipped"),
        ("exhibitor.approved", "sent"),
    ]


async def test_a_token_confirms_only_at_the_endpoint_of_its_kind(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    await request(client)
    [received] = await deliver(pool, smtp_server)
    exhibitor_token = confirm_token_in(received.message)
    assert (await register(client)).status_code == 202
    registration_token = await token_for(pool, settings, "aylin@example.org")

    wrong = await client.post("/api/v1/registrations/confirm", json={"token": exhibitor_token})
    assert wrong.status_code == 404
    wrong = await client.post(
        "/api/v1/exhibitor-bookings/confirm", json={"token": registration_token}
    )
    assert wrong.status_code == 404
    assert await pool.fetchval("SELECT status FROM exhibitor_bookings") == "pending_confirmation"
    assert await pool.fetchval("SELECT status FROM registrations") == "pending_confirmation"

    # The shared page tells them apart: each goes to its own self-service page.
    csrf = await csrf_token(client, f"/confirm/{exhibitor_token}")
    page = await client.post(
        f"/confirm/{registration_token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert re.fullmatch(rf"/r/{TOKEN}\?confirmed=1", page.headers["location"])
    page = await client.post(
        f"/confirm/{exhibitor_token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert re.fullmatch(rf"/x/{TOKEN}\?confirmed=1", page.headers["location"])
    # A well-formed token of nobody's is the invalid-link page.
    nobody = tokens.derive(b"k" * 32, "exhibitor-confirm", b"s" * 16)
    page = await client.post(
        f"/confirm/{nobody}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert page.status_code == 404
    assert find_part(received.message, "image/png") is None


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
    # Every template has its twin.
    names = {p.stem for p in MAIL_TEMPLATES.glob("*.*")}
    for name in names:
        assert (MAIL_TEMPLATES / f"{name}.txt").exists() and (
            MAIL_TEMPLATES / f"{name}.html"
        ).exists(), name


async def test_a_released_stand_is_told(client, organiser, pool, settings, smtp_server):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, code="B12")
    booking_id, manage = await request_and_confirm(client, pool, settings)
    await staff_post(
        client,
        organiser,
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        {"stand_id": stand["id"]},
    )
    await deliver(pool, smtp_server)
    await staff_post(client, organiser, f"/api/v1/exhibitor-bookings/{booking_id}/release")
    [received] = await deliver(pool, smtp_server)
    assert received.message["Subject"] == translated(
        "de", "Your stand has been released: %(conference)s", conference=TITLE
    )
    assert_exhibitor_page(received.message, manage)
