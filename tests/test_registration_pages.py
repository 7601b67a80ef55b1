"""The attendee's pages (HTML): the registration form, the confirmation button, the self-service
page with ticket, calendar, language and cancellation.

The pages are read with a small HTML tree (stdlib html.parser), so that the tests check how
labels, fieldsets, error messages and fields are wired, not just that some text is there.
Wording is checked in English (`?lang=en`, kept by the language cookie) where the German
translation may still change.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import icalendar
import pytest

from service.tokens import grouped
from tests.conftest import csrf_token, login
from tests.registration_support import SLUG, confirm, make_conference, register, token_for
from tests.test_qr import decode, png_pixels

FORM_PATH = f"/conferences/{SLUG}/register"
FORGED = "ABCDEFGHJKMNPQRSTUVWXYZ234"  # the right length and alphabet, but no one's token

# ── a small HTML tree ───────────────────────────────────────────────────────────────────────

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def iter(self):  # type: ignore[no-untyped-def]
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and all(node.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def by_id(self, element_id: str) -> Node:
        found = self.find_all(id=element_id)
        assert len(found) == 1, f"{len(found)} elements with id={element_id!r}"
        return found[0]

    def ancestors(self):  # type: ignore[no-untyped-def]
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    @property
    def text(self) -> str:
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                parts.append(child) if isinstance(child, str) else walk(child)

        walk(self)
        return " ".join("".join(parts).split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def label_of(doc: Node, control: Node) -> str:
    """The accessible label of a form control: <label for>, else the wrapping <label>."""
    control_id = control.get("id")
    if control_id:
        labels = doc.find_all("label", for_=control_id)
        if labels:
            return " ".join(label.text for label in labels)
    wrapping = next((a for a in control.ancestors() if a.tag == "label"), None)
    return wrapping.text if wrapping else ""


def legend_of(control: Node) -> str | None:
    fieldset = next((a for a in control.ancestors() if a.tag == "fieldset"), None)
    if fieldset is None:
        return None
    legend = next((c for c in fieldset.children if isinstance(c, Node) and c.tag == "legend"), None)
    return legend.text if legend else None


def registration_form(doc: Node) -> Node:
    form = doc.find("form", action=FORM_PATH)
    assert form is not None, "no registration form on the page"
    return form


def controls(form: Node) -> list[Node]:
    return [
        n
        for n in form.iter()
        if n.tag in ("input", "select", "textarea") and n.get("type") not in ("hidden", "submit")
    ]


def error_summary_links(doc: Node) -> dict[str, str]:
    """href → link text of the error summary."""
    summary = doc.by_id("error-summary")
    assert summary.get("role") == "alert" and summary.get("tabindex") == "-1"
    return {a.get("href") or "": a.text for a in summary.find_all("a")}


def expect_field_error(doc: Node, name: str, control_id: str | None = None) -> str:
    """The control is aria-invalid, its message (after a hidden "Error:") is tied to it by
    aria-describedby — on the control, or on the fieldset of a group — and the error summary
    links to it naming the field. Returns the message."""
    control = doc.by_id(control_id or f"f-{name}")
    assert control.get("aria-invalid") == "true", f"#{control.get('id')} not aria-invalid"
    error_id = f"f-{name}-error"
    group = next((a for a in control.ancestors() if a.tag == "fieldset"), None)
    described = (control.get("aria-describedby") or "").split()
    if group is not None and group.get("id") == f"f-{name}-group":
        described += (group.get("aria-describedby") or "").split()
    assert error_id in described, f"#{error_id} not in aria-describedby of #{control.get('id')}"
    error = doc.by_id(error_id)
    hidden = error.find("span", class_="visually-hidden")
    assert hidden is not None and hidden.text == "Error:", "no hidden 'Error:' before the message"
    message = error.text.removeprefix(hidden.text).strip()
    assert message
    links = error_summary_links(doc)
    assert f"#{control.get('id')}" in links, f"the summary has no link to #{control.get('id')}"
    assert links[f"#{control.get('id')}"].endswith(f": {message}"), links
    return message


# ── helpers ─────────────────────────────────────────────────────────────────────────────────


def valid_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Aylin Demir",
        "email": "aylin@example.org",
        "organisation": "Flüchtlingshilfe Linden e. V.",
        "category": "volunteer",
        "language": "de",
        "consent_privacy": "yes",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


async def post_form(client, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Opens the form in English (the cookie keeps it) and sends it with its CSRF token."""
    token = await csrf_token(client, f"{FORM_PATH}?lang=en")
    return await client.post(FORM_PATH, data={**data, "_csrf_token": token})


async def stored(pool, table: str = "registrations") -> int:  # type: ignore[no-untyped-def]
    async with pool.acquire() as db:
        return await db.fetchval(f"SELECT count(*) FROM {table}")


async def status_of(pool, email: str) -> str:  # type: ignore[no-untyped-def]
    async with pool.acquire() as db:
        return await db.fetchval(
            "SELECT status FROM registrations WHERE email = $1 ORDER BY id DESC LIMIT 1", email
        )


async def confirmed_registration(client, pool, settings, email: str = "aylin@example.org", **kw):  # type: ignore[no-untyped-def]
    """Registers through the API and confirms; returns the self-service (manage) token."""
    response = await register(client, email=email, **kw)
    assert response.status_code == 202, response.text
    confirmed = await confirm(client, pool, settings, email)
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()["manage_token"]


async def close_registration(pool, *, not_yet_open: bool = False) -> None:  # type: ignore[no-untyped-def]
    async with pool.acquire() as db:
        if not_yet_open:
            await db.execute(
                "UPDATE conferences SET registration_opens_at = now() + interval '1 day'"
            )
        else:
            await db.execute(
                "UPDATE conferences SET registration_opens_at = now() - interval '2 days', "
                "registration_closes_at = now() - interval '1 day'"
            )


# ── the form ────────────────────────────────────────────────────────────────────────────────


async def test_form_in_german_with_every_field_labelled(client, organiser):
    await make_conference(client, organiser)
    response = await client.get(FORM_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    doc = parse(response.text)
    assert doc.find("html").get("lang") == "de"
    assert doc.find("h1").text == "Anmeldung"
    form = registration_form(doc)
    assert form.get("method") == "post" and form.find("input", name="_csrf_token")

    found = controls(form)
    names = {c.get("name") for c in found}
    assert names == {
        "name",
        "email",
        "organisation",
        "category",
        "language",
        "accessibility",
        "interpretation",
        "dietary",
        "notes",
        "consent_privacy",
        "consent_special_category",
        "consent_photos",
    }
    ids = [c.get("id") for c in found]
    assert all(ids) and len(ids) == len(set(ids)), "every control has its own id"
    for control in found:
        assert label_of(doc, control), f"#{control.get('id')} has no label"
        if control.get("type") in ("radio", "checkbox") and control.get("name") in (
            "category",
            "language",
            "accessibility",
            "dietary",
        ):
            assert legend_of(control), f"#{control.get('id')} is not in a fieldset with a legend"

    # Required: marked (a hidden-from-AT asterisk) and announced (required/aria-required).
    for name in ("name", "email", "consent_privacy"):
        control = doc.by_id(f"f-{name}")
        assert "required" in control.attrs and control.get("aria-required") == "true", name
        assert "*" in label_of(doc, control)
    for radio in form.find_all("input", name="category"):
        assert "required" in radio.attrs
    assert "required" not in doc.by_id("f-organisation").attrs
    assert doc.by_id("f-email").get("type") == "email"
    assert doc.by_id("f-email").get("autocomplete") == "email"
    assert doc.by_id("f-name").get("autocomplete") == "name"

    # The privacy consent's label holds the link to the privacy notice, which exists.
    privacy = doc.find("label", for_="f-consent_privacy")
    link = privacy.find("a")
    assert link is not None and link.get("href") == f"/conferences/{SLUG}/privacy"
    assert (await client.get(link.get("href"))).status_code == 200

    # The language for e-mails defaults to the page's language.
    checked = [
        r.get("value") for r in form.find_all("input", name="language") if "checked" in r.attrs
    ]
    assert checked == ["de"]
    # No errors on a fresh form.
    assert doc.find(id="error-summary") is None
    assert not [c for c in found if c.get("aria-invalid")]


async def test_form_in_english(client, organiser):
    await make_conference(client, organiser)
    doc = parse((await client.get(f"{FORM_PATH}?lang=en")).text)
    assert doc.find("html").get("lang") == "en"
    assert doc.find("h1").text == "Registration"
    assert doc.find("label", for_="f-name").text.startswith("Name")
    assert doc.find("label", for_="f-email").text.startswith("E-mail address")
    assert legend_of(doc.by_id("f-category")).startswith("I take part as")
    checked = [
        r.get("value") for r in doc.find_all("input", name="language") if "checked" in r.attrs
    ]
    assert checked == ["en"]
    # The conference's own (German) title is marked as German on an English page.
    lead = doc.find("p", class_="lead")
    assert lead.find("span", lang="de").text == "Fachtag Ehrenamt 2027"


async def test_valid_form_stores_a_pending_registration(client, organiser, pool):
    await make_conference(client, organiser)
    response = await post_form(
        client,
        valid_form(
            email="Aylin@Example.org",
            accessibility=["wheelchair", "sign_language"],
            dietary="vegan",
            consent_special_category="yes",
            consent_photos="yes",
        ),
    )
    assert response.status_code == 200, response.text
    doc = parse(response.text)
    assert doc.find("h1").text == "Please check your inbox"
    assert "aylin@example.org" in doc.find("main").text
    async with pool.acquire() as db:
        row = await db.fetchrow("SELECT * FROM registrations")
        consents = {r["kind"] for r in await db.fetch("SELECT kind FROM consents ORDER BY kind")}
        mails = await db.fetchval("SELECT count(*) FROM outbox")
    assert row["status"] == "pending_confirmation"
    assert row["email"] == "aylin@example.org" and row["name"] == "Aylin Demir"
    assert row["category"] == "volunteer" and row["language"] == "de"
    assert row["needs"]["accessibility"] == ["wheelchair", "sign_language"]
    assert row["needs"]["dietary"] == ["vegan"]
    assert consents == {"privacy", "special_category", "photos"}
    assert mails == 1


BAD_INPUT = [
    pytest.param({"name": "  "}, "name", None, id="empty name"),
    pytest.param({"email": "not-an-address"}, "email", None, id="bad e-mail"),
    pytest.param({"consent_privacy": None}, "consent_privacy", None, id="no privacy consent"),
    pytest.param(
        {"consent_special_category": None},
        "consent_special_category",
        None,
        id="needs without special-category consent",
    ),
    pytest.param({"category": "vip"}, "category", "f-category", id="unknown category"),
]


@pytest.mark.parametrize(("change", "field", "control_id"), BAD_INPUT)
async def test_invalid_form_comes_back_with_messages_and_values(
    client, organiser, pool, change, field, control_id
):
    await make_conference(client, organiser)
    data = valid_form(
        organisation="Verein <b>Mitte</b>",
        language="en",
        interpretation="Arabisch",
        dietary=["vegan", "halal"],
        notes="Bitte\nam Rand",
        consent_special_category="yes",
        consent_photos="yes",
    )
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    response = await post_form(client, data)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    doc = parse(response.text)
    assert doc.find("title").text.startswith("Error:")
    expect_field_error(doc, field, control_id)
    # Only the broken field is marked.
    invalid = {c.get("name") for c in controls(registration_form(doc)) if c.get("aria-invalid")}
    assert invalid == {field}
    # Focus goes to the summary when the page loads (static/js/focus.js: no inline script).
    assert "data-autofocus" in doc.find(id="error-summary").attrs
    assert '<script src="/static/js/focus.js" defer></script>' in response.text

    # What was typed and ticked is still there.
    if field != "email":
        assert doc.by_id("f-email").get("value") == data["email"]
    assert doc.by_id("f-organisation").get("value") == "Verein <b>Mitte</b>"
    assert doc.by_id("f-interpretation").get("value") == "Arabisch"
    assert doc.by_id("f-notes").text == "Bitte am Rand"
    assert "Bitte\nam Rand" in response.text
    ticked = {
        (c.get("name"), c.get("value"))
        for c in controls(registration_form(doc))
        if "checked" in c.attrs
    }
    expected = {
        ("language", "en"),
        ("dietary", "vegan"),
        ("dietary", "halal"),
        ("consent_photos", "yes"),
    }
    if field != "category":
        expected.add(("category", "volunteer"))
    for consent in ("consent_privacy", "consent_special_category"):
        if field != consent:
            expected.add((consent, "yes"))
    assert ticked == expected
    # Nothing stored, no mail.
    assert await stored(pool) == 0
    assert await stored(pool, "outbox") == 0


async def test_every_problem_at_once_and_the_summary_names_each_field(client, organiser, pool):
    await make_conference(client, organiser)
    response = await post_form(client, {"email": "nope", "language": "en"})
    assert response.status_code == 400
    doc = parse(response.text)
    links = error_summary_links(doc)
    assert list(links) == ["#f-name", "#f-email", "#f-category", "#f-consent_privacy"]
    assert links["#f-name"] == "Name: Please fill in this field."
    assert links["#f-category"].startswith("I take part as: ")
    for href in links:
        doc.by_id(href[1:])  # every link lands on a control
    assert await stored(pool) == 0


async def test_markup_in_the_name_is_stored_as_given_and_shown_escaped(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    name = "<script>alert(1)</script>"
    response = await post_form(client, valid_form(name=name))
    assert response.status_code == 200, response.text
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT name FROM registrations") == name
    # Shown again in the form (an error elsewhere): escaped in the value attribute.
    again = await post_form(client, valid_form(name=name, email="x"))
    assert again.status_code == 400
    assert name not in again.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in again.text

    confirmed = await confirm(client, pool, settings, "aylin@example.org")
    manage = confirmed.json()["manage_token"]
    for path in (f"/r/{manage}", f"/r/{manage}/ticket"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


@pytest.mark.parametrize("not_yet_open", [False, True], ids=["closed", "not yet open"])
async def test_outside_the_window_a_message_instead_of_the_form(
    client, organiser, pool, not_yet_open
):
    await make_conference(client, organiser)
    await close_registration(pool, not_yet_open=not_yet_open)
    message = (
        "Registration for this conference has not opened yet."
        if not_yet_open
        else "Registration for this conference has closed."
    )
    response = await client.get(f"{FORM_PATH}?lang=en")
    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.find("form") is None
    assert message in doc.find("main").text
    # A form sent anyway (an old tab): 409 with the reason, nothing stored.
    token = await csrf_token(client, "/staff/login")
    posted = await client.post(FORM_PATH, data={**valid_form(), "_csrf_token": token})
    assert posted.status_code == 409
    assert posted.headers["content-type"].startswith("text/html")
    assert message in parse(posted.text).find("main").text
    assert parse(posted.text).find("form") is None
    assert await stored(pool) == 0
    # Invalid input outside the window: still the reason, not a list of field errors.
    broken = await client.post(FORM_PATH, data={"name": "", "_csrf_token": token})
    assert broken.status_code == 409 and await stored(pool) == 0


async def test_a_full_conference_shows_the_waiting_list_notice(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    doc = parse((await client.get(f"{FORM_PATH}?lang=en")).text)
    assert doc.find(id="waiting-list-notice") is None
    await confirmed_registration(client, pool, settings)
    doc = parse((await client.get(f"{FORM_PATH}?lang=en")).text)
    notice = doc.by_id("waiting-list-notice")
    assert "waiting list" in notice.text
    registration_form(doc)  # the form is still there: one may join the waiting list


async def test_form_without_csrf_token_is_refused(client, organiser, pool):
    await make_conference(client, organiser)
    await client.get(FORM_PATH)
    response = await client.post(FORM_PATH, data=valid_form())
    assert response.status_code == 403
    assert await stored(pool) == 0


async def test_unknown_conference_is_404(client):
    response = await client.get("/conferences/gibt-es-nicht/register")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


# ── the confirmation link ───────────────────────────────────────────────────────────────────


async def test_opening_the_link_does_not_confirm_the_button_does(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(client)
    token = await token_for(pool, settings, "aylin@example.org")

    page = await client.get(f"/confirm/{token}?lang=en")
    assert page.status_code == 200
    doc = parse(page.text)
    form = doc.find("form", action=f"/confirm/{token}")
    assert form is not None and form.get("method") == "post"
    assert form.find("button").text == "Confirm"
    # A mail scanner opening the link twice confirms nothing.
    await client.get(f"/confirm/{token}")
    assert await status_of(pool, "aylin@example.org") == "pending_confirmation"

    # Without the CSRF token: refused, still pending.
    refused = await client.post(f"/confirm/{token}", follow_redirects=False)
    assert refused.status_code == 403
    assert await status_of(pool, "aylin@example.org") == "pending_confirmation"

    csrf = form.find("input", name="_csrf_token").get("value")
    done = await client.post(
        f"/confirm/{token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code in (302, 303)
    manage = await token_for(pool, settings, "aylin@example.org", "manage")
    assert done.headers["location"] == f"/r/{manage}?confirmed=1"
    assert await status_of(pool, "aylin@example.org") == "confirmed"
    landing = parse((await client.get(done.headers["location"])).text)
    assert "Your e-mail address is confirmed" in landing.find("main").text

    # The button pressed again (a second tab): the same place, nothing new.
    again = await client.post(
        f"/confirm/{token}", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert again.headers["location"] == done.headers["location"]


async def test_forged_expired_and_garbage_links_reveal_nothing(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(client)
    token = await token_for(pool, settings, "aylin@example.org")
    async with pool.acquire() as db:
        await db.execute("UPDATE registrations SET confirm_expires_at = now() - interval '1 s'")
    csrf = await csrf_token(client, f"{FORM_PATH}?lang=en")

    # Opening a well-formed link shows the same button whether or not it is anyone's.
    pages = set()
    for candidate in (FORGED, token):
        opened = await client.get(f"/confirm/{candidate}")
        assert opened.status_code == 200
        main = parse(opened.text).find("main")
        pages.add((main.text, main.find("form").get("action").replace(candidate, "TOKEN")))
    assert len(pages) == 1
    answers = []
    for bad in (FORGED, token, "%3Cscript%3Ealert(1)", "short"):
        pressed = await client.post(f"/confirm/{bad}", data={"_csrf_token": csrf})
        responses = [pressed]
        if bad not in (FORGED, token):  # not even a token: the same answer at once
            responses.append(await client.get(f"/confirm/{bad}"))
        for response in responses:
            assert response.status_code == 404, bad
            assert response.headers["content-type"].startswith("text/html")
            assert "<script>alert" not in response.text
            main = parse(response.text).find("main")
            assert main.find("form") is None
            answers.append(main.text)
    assert len(set(answers)) == 1, "every wrong link gets the very same page"
    assert "not valid" in answers[0]
    for secret in ("aylin", "Aylin", "expired", "pending", FORGED):
        assert secret not in answers[0]
    assert await status_of(pool, "aylin@example.org") == "pending_confirmation"

    # The self-service link likewise.
    for path in (f"/r/{FORGED}", f"/r/{FORGED}/ticket.svg", f"/r/{FORGED}/calendar.ics"):
        assert (await client.get(path)).status_code == 404, path


# ── the self-service page ───────────────────────────────────────────────────────────────────


async def test_self_service_page_of_a_confirmed_registration(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed_registration(client, pool, settings)
    secret = (await client.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]

    response = await client.get(f"/r/{manage}?lang=en")
    assert response.status_code == 200
    assert response.headers["x-robots-tag"] == "noindex"
    assert "no-store" in response.headers["cache-control"]
    doc = parse(response.text)
    assert doc.find("meta", name="robots").get("content") == "noindex"
    status = doc.by_id("status")
    assert status.get("data-status") == "confirmed" and status.text == "confirmed"
    assert doc.find(id="waitlist-position") is None

    # The QR code inline, with an accessible name; the code as text to select or type.
    svg = doc.find("section", class_="ticket").find("svg")
    assert svg is not None and svg.get("role") == "img" and svg.get("aria-label")
    assert svg.find("title").text == svg.get("aria-label")
    code = doc.by_id("ticket-code")
    assert code.tag == "code" and code.text == grouped(secret)

    links = {a.get("href"): a for a in doc.find_all("a")}
    base = f"http://testserver.local/r/{manage}"
    assert f"{base}/ticket" in links  # the print view
    assert links[f"{base}/ticket.png"].get("download") is not None
    assert f"{base}/calendar.ics" in links
    # The subscription has a read-only token of its own (tests/test_calendar_feed_token.py).
    [feed] = [href for href in links if href and href.startswith("webcal://")]
    assert feed.startswith("webcal://testserver.local/r/") and feed.endswith("/feed.ics")
    assert manage not in feed
    assert f"{base}/cancel" in links
    # Language of the e-mails: a labelled select, the registration's language chosen.
    select = doc.by_id("f-language")
    assert label_of(doc, select) == "Language"
    assert [o.get("value") for o in select.find_all("option") if "selected" in o.attrs] == ["de"]


async def test_waitlisted_page_shows_the_place_and_no_ticket(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    await confirmed_registration(client, pool, settings, "anna@example.org")
    ben = await confirmed_registration(client, pool, settings, "ben@example.org")
    cem = await confirmed_registration(client, pool, settings, "cem@example.org")

    doc = parse((await client.get(f"/r/{cem}?lang=en")).text)
    assert doc.by_id("status").text == "on the waiting list"
    assert doc.by_id("waitlist-position").text == "2"
    assert doc.find("svg") is None and doc.find(id="ticket-code") is None
    assert parse((await client.get(f"/r/{ben}")).text).by_id("waitlist-position").text == "1"
    for path in ("ticket.svg", "ticket.png", "ticket"):
        assert (await client.get(f"/r/{cem}/{path}")).status_code == 404, path


async def test_ticket_images_only_for_confirmed_and_never_cached(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed_registration(client, pool, settings)
    secret = (await client.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]

    svg = await client.get(f"/r/{manage}/ticket.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and 'role="img"' in svg.text
    png_response = await client.get(f"/r/{manage}/ticket.png")
    assert png_response.status_code == 200 and png_response.headers["content-type"] == "image/png"
    for response in (svg, png_response):
        cache = response.headers["cache-control"]
        assert "private" in cache and "no-store" in cache
    # The image is the ticket: a real decoder reads the secret back.
    found = decode(*png_pixels(png_response.content))
    assert found is not None and found.text == secret

    # A registration still waiting for confirmation has no ticket.
    await register(client, email="dana@example.org")
    pending = await token_for(pool, settings, "dana@example.org", "manage")
    assert (await client.get(f"/r/{pending}")).status_code == 200
    for path in ("ticket.svg", "ticket.png", "ticket"):
        response = await client.get(f"/r/{pending}/{path}")
        assert response.status_code == 404, path


async def test_ticket_print_view(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed_registration(client, pool, settings)
    response = await client.get(f"/r/{manage}/ticket?lang=en")
    assert response.status_code == 200
    assert response.headers["x-robots-tag"] == "noindex"
    doc = parse(response.text)
    assert doc.find("link", href="/static/css/ticket-a6.css") is not None  # A6 page size
    main = doc.find("main")
    assert main.find("h1", lang="de").text == "Fachtag Ehrenamt 2027"
    assert "Aylin Demir" in main.text and "Volunteer" in main.text
    assert main.find("svg", role="img") is not None
    assert "Rathaus Hannover" in main.text


async def test_calendar_download_and_feed(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed_registration(client, pool, settings)
    for path in ("calendar.ics", "feed.ics"):
        response = await client.get(f"/r/{manage}/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/calendar")
        assert "no-store" in response.headers["cache-control"]
        calendar = icalendar.Calendar.from_ical(response.content)
        assert calendar["METHOD"] == "PUBLISH"
        events = list(calendar.walk("VEVENT"))
        assert events and events[0]["SUMMARY"] == "Fachtag Ehrenamt 2027"
    download = await client.get(f"/r/{manage}/calendar.ics")
    assert download.headers["content-disposition"].startswith("attachment")


async def test_change_the_language_of_the_emails(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed_registration(client, pool, settings)
    csrf = await csrf_token(client, f"/r/{manage}")
    refused = await client.post(f"/r/{manage}/language", data={"language": "en"})
    assert refused.status_code == 403
    changed = await client.post(
        f"/r/{manage}/language",
        data={"language": "en", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert changed.status_code in (302, 303)
    assert changed.headers["location"] == f"/r/{manage}?lang=en&saved=language"
    doc = parse((await client.get(changed.headers["location"])).text)
    assert doc.find("html").get("lang") == "en"
    assert "Saved: we will write to you in English." in doc.find("main").text
    select = doc.by_id("f-language")
    assert [o.get("value") for o in select.find_all("option") if "selected" in o.attrs] == ["en"]
    api = (await client.get(f"/api/v1/registrations/{manage}")).json()
    assert api["language"] == "en"
    # Anything else changes nothing.
    odd = await client.post(
        f"/r/{manage}/language",
        data={"language": "xx", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert odd.headers["location"] == f"/r/{manage}"
    assert (await client.get(f"/api/v1/registrations/{manage}")).json()["language"] == "en"


async def test_cancel_asks_first_then_cancels(client, organiser, pool, settings):
    await make_conference(client, organiser)
    manage = await confirmed_registration(client, pool, settings)

    asked = await client.get(f"/r/{manage}/cancel?lang=en")
    assert asked.status_code == 200
    assert asked.headers["x-robots-tag"] == "noindex"
    doc = parse(asked.text)
    form = doc.find("form", action=f"http://testserver.local/r/{manage}/cancel")
    assert form is not None and form.get("method") == "post"
    assert form.find("button").text == "Yes, cancel my registration"
    assert doc.find("a", href=f"http://testserver.local/r/{manage}") is not None  # the way back
    assert await status_of(pool, "aylin@example.org") == "confirmed"  # asking changes nothing

    refused = await client.post(f"/r/{manage}/cancel")
    assert refused.status_code == 403
    assert await status_of(pool, "aylin@example.org") == "confirmed"

    csrf = form.find("input", name="_csrf_token").get("value")
    done = await client.post(
        f"/r/{manage}/cancel", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code in (302, 303)
    assert done.headers["location"] == f"/r/{manage}?cancelled=1"
    assert await status_of(pool, "aylin@example.org") == "cancelled"

    doc = parse((await client.get(done.headers["location"])).text)
    assert doc.by_id("status").get("data-status") == "cancelled"
    assert doc.by_id("status").text == "cancelled"
    assert "Your registration is cancelled." in doc.find("main").text
    assert doc.find("svg") is None and doc.find(id="ticket-code") is None
    assert doc.find("a", href=f"http://testserver.local/r/{manage}/cancel") is None
    for path in ("ticket.svg", "ticket.png", "ticket"):
        assert (await client.get(f"/r/{manage}/{path}")).status_code == 404, path
    # The confirmation step again: it says so, and offers no button.
    doc = parse((await client.get(f"/r/{manage}/cancel?lang=en")).text)
    assert "Your registration is cancelled." in doc.find("main").text
    assert doc.find("form", action=f"http://testserver.local/r/{manage}/cancel") is None


# ── the shared templates (from the accessibility review) ────────────────────────────────────


async def test_shared_templates_mark_language_current_page_and_scrolling_tables(client, organiser):
    await make_conference(client, organiser)
    await client.post(
        f"/api/v1/conferences/{SLUG}/programme",
        json={
            "title": "Eröffnung",
            "kind": "plenary",
            "starts_at": "2027-05-10T09:00:00+02:00",
            "ends_at": "2027-05-10T10:00:00+02:00",
        },
        headers=organiser.headers,
    )
    # German content on an English page is marked as German.
    page = parse((await client.get(f"/conferences/{SLUG}?lang=en")).text)
    assert page.find("h1").get("lang") == "de"
    assert page.find("ol", class_="programme").find("h3").get("lang") == "de"
    listing = parse((await client.get("/")).text)
    assert listing.find("li", class_="card").find("h2").get("lang") == "de"

    await login(client, organiser)
    dashboard = parse((await client.get("/staff")).text)
    nav = dashboard.find("nav", class_="staff-nav")
    current = [a.get("href") for a in nav.find_all("a") if a.get("aria-current") == "page"]
    assert current == ["/staff"]
    for html in (dashboard, parse((await client.get(f"/staff/conferences/{SLUG}")).text)):
        table = html.find("table")
        wrapper = table.parent
        assert wrapper.get("class") == "table-scroll" and wrapper.get("role") == "region"
        assert wrapper.get("tabindex") == "0"
        assert html.by_id(wrapper.get("aria-labelledby")).tag in ("h1", "h2")
    tokens = parse((await client.get("/staff/tokens")).text)
    current = [
        a.get("href")
        for a in tokens.find("nav", class_="staff-nav").find_all("a")
        if a.get("aria-current")
    ]
    # The API tokens are part of one's own account page since issue 14.
    assert current == ["/staff/account"]
    # An invalid staff form: the summary names each field, the message has a hidden prefix.
    token = await csrf_token(client, "/staff/conferences/new")
    response = await client.post(
        "/staff/conferences/new", data={"_csrf_token": token, "slug": "x", "languages": "de"}
    )
    assert response.status_code == 400
    doc = parse(response.text)
    assert error_summary_links(doc)["#f-title"] == "Title: Please fill in this field."
    assert doc.by_id("f-title-error").find("span", class_="visually-hidden").text == "Error:"
