"""Security headers on every answer, cookie flags, pages without inline script or style, and
no personal data in the logs.

The headers come from service/security.py. The browser test opens the main pages of every
kind of visitor in headless Chromium under the real policy and fails on any console error,
which is where Chromium reports what the policy refused.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from service import tokens
from service.app import create_app
from service.outbox import OutboxWorker
from service.settings import PROJECT_ROOT, Settings, parse_smtp_url
from tests.conftest import StaffAccount, conference_payload, csrf_token, login
from tests.exhibitor_support import booking_payload, request_and_confirm
from tests.forum_support import forum_payload, make_attendees
from tests.live_server import BROWSER_TIMEOUT_MS, SECRET_KEY
from tests.registration_support import (
    SLUG,
    confirm,
    make_conference,
    register,
    token_for,
)
from tests.smtp_server import SmtpServer, smtp_server

__all__ = ["smtp_server"]  # a fixture, imported for pytest

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().partition(" ")[::2] for part in policy.split(";"))


def assert_secured(response: httpx.Response, what: str) -> dict[str, str]:
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, f"{what}: {name}"
    policy = directives(response.headers.get("content-security-policy", ""))
    assert policy.get("frame-ancestors") == "'none'", what
    assert "camera=" in response.headers.get("permissions-policy", ""), what
    return policy


async def test_every_kind_of_answer_carries_the_headers(client, organiser) -> None:
    await make_conference(client, organiser)
    answers = {
        "a page": await client.get(f"/conferences/{SLUG}"),
        "a form": await client.get(f"/conferences/{SLUG}/register"),
        "JSON": await client.get("/api/v1/conferences"),
        "a problem (unknown path)": await client.get("/api/v1/gibt-es-nicht"),
        "a page that does not exist": await client.get("/gibt-es-nicht"),
        "a wrong method": await client.put("/health"),
        "a refused login (401)": await client.get("/api/v1/conferences/x/registrations"),
        "a form without CSRF token": await client.post("/staff/login", data={"email": "x"}),
        "a static file": await client.get("/static/css/site.css"),
        "a redirect": await client.get("/staff", follow_redirects=False),
    }
    for what, response in answers.items():
        policy = assert_secured(response, what)
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", what
        assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'", what
        assert "camera=()" in response.headers["permissions-policy"], what
        assert "strict-transport-security" not in response.headers, what  # http here

    # Only the scanner page may ask for the camera, and compile its WebAssembly decoder.
    scanner = await client.get("/scan", headers=organiser.headers)
    assert scanner.status_code == 200
    policy = assert_secured(scanner, "/scan")
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert "camera=(self)" in scanner.headers["permissions-policy"]

    # The API page: no inline script either (Swagger UI starts from a static file).
    schema = await client.get("/schema")
    policy = assert_secured(schema, "/schema")
    assert policy["script-src"] == "'self'"
    assert re.search(r"<script(?![^>]*\bsrc=)", schema.text) is None
    assert (await client.get("/static/js/swagger-init.js")).status_code == 200
    assert (await client.get("/schema/oauth2-redirect.html")).status_code == 404

    # A handler's own, narrower policy stays: the floor plan SVG opened on its own.
    plan = await client.get(f"/conferences/{SLUG}/floorplan.svg")
    assert plan.headers["content-security-policy"].startswith("default-src 'none'")
    assert plan.headers["x-frame-options"] == "DENY"


async def test_cookies_are_http_only_same_site_and_secure_over_https(
    settings: Settings, make_staff
) -> None:
    staff = await make_staff("organiser")
    for base_url, secure in (("http://testserver.local", False), ("https://tagung.example", True)):
        app = create_app(replace(settings, base_url=base_url))
        scheme = "https" if secure else "http"  # the test client keeps Secure cookies for https
        async with AsyncTestClient(app=app, base_url=f"{scheme}://testserver.local") as client:
            await login(client, staff)
            english = await client.get("/staff?lang=en")
            cookies = english.headers.get_list("set-cookie")
            session_cookies = [c for c in cookies if c.startswith("tagung_session=")]
            assert session_cookies, "no session cookie after login"
            client.cookies.clear()
            page = await client.get("/staff/login")  # a new CSRF cookie
            hsts = page.headers.get("strict-transport-security")
        jar = {c.split("=", 1)[0]: c.lower() for c in cookies}
        assert "lang" in jar
        jar["tagung_session"] = session_cookies[0].lower()
        jar["csrftoken"] = next(
            c for c in page.headers.get_list("set-cookie") if c.startswith("csrftoken=")
        ).lower()
        for name, cookie in jar.items():
            assert "samesite=lax" in cookie, name
            assert ("; secure" in cookie) == secure, f"{name} over {base_url}: {cookie}"
        assert "httponly" in jar["tagung_session"] and "httponly" in jar["lang"]
        # The scanner and the API page read this one to send it back as X-CSRFToken.
        assert "httponly" not in jar["csrftoken"]
        assert (hsts is not None) == secure


TEMPLATE_DIRS = [
    PROJECT_ROOT / "service" / "templates",
    PROJECT_ROOT / "registration" / "templates",
    PROJECT_ROOT / "forums" / "templates",
    PROJECT_ROOT / "exhibitors" / "templates",
]
INLINE = {
    "an inline <script>": re.compile(r"<script(?![^>]*\b(src|type=\"application/json\"))"),
    "a <style> block": re.compile(r"<style[\s>]"),
    "a style attribute": re.compile(r"\sstyle=[\"']"),
    "an event handler attribute": re.compile(r"\son[a-z]+=[\"']"),
    "a javascript: link": re.compile(r"javascript:", re.IGNORECASE),
}


def page_templates() -> list[Path]:
    """Every page template; e-mails (templates/mail) need their inline styles."""
    return sorted(
        path
        for folder in TEMPLATE_DIRS
        for path in folder.rglob("*.html")
        if "mail" not in path.relative_to(folder).parts
    )


def test_page_templates_hold_no_inline_script_or_style() -> None:
    """The policy would refuse them; kept out at the source, so a new one fails here."""
    templates = page_templates()
    assert len(templates) > 30
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {what}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for what, pattern in INLINE.items()
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)


# -- in Chromium: the main pages under the real policy --------------------------------------


async def live_world(live_server: str, pool, organiser: StaffAccount) -> dict[str, str]:
    """A conference with a forum, stands, an approved exhibitor and an attendee."""
    async with httpx.AsyncClient(base_url=live_server, headers=organiser.headers) as api:
        assert (await api.post("/api/v1/conferences", json=conference_payload())).is_success
        forum = (await api.post(f"/api/v1/conferences/{SLUG}/forums", json=forum_payload())).json()
        row = await api.post(
            f"/api/v1/conferences/{SLUG}/stands/row",
            json={"prefix": "A", "first_number": 1, "count": 6, "width_m": 3, "depth_m": 2}
            | {"features": ["power"]},
        )
        stand_id = row.json()[0]["id"]
    [(_rid, attendee)] = await make_attendees(pool, SECRET_KEY, SLUG, 1)
    live = SimpleNamespace(secret_key=SECRET_KEY)  # what the helper needs of the settings
    async with httpx.AsyncClient(base_url=live_server) as public:
        booking_id, exhibitor = await request_and_confirm(public, pool, live, wished_width_m=3)
    async with httpx.AsyncClient(base_url=live_server, headers=organiser.headers) as api:
        approved = await api.post(
            f"/api/v1/exhibitor-bookings/{booking_id}/approve", json={"stand_id": stand_id}
        )
        assert approved.is_success, approved.text
    return {"attendee": attendee, "exhibitor": exhibitor, "forum": str(forum["id"])}


class Console:
    """Console errors and refused content of one tab; Chromium reports CSP violations there."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))
        self.page = page

    def _message(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        source = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and (
            source == self.page.url  # the page itself: a form sent back with errors is a 400
            or source.endswith("/favicon.ico")  # asked for by the browser, not by a page
        ):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"{self.page.url}: {message.text} ({source})")


async def visit(page: Page, path: str) -> None:
    response = await page.goto(path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    assert response.headers["content-security-policy"], path


@pytest.mark.browser
async def test_main_pages_run_under_the_policy_without_a_console_error(
    browser: Browser, live_server: str, pool, make_staff
) -> None:
    organiser = await make_staff("organiser")
    people = await live_world(live_server, pool, organiser)
    attendee, exhibitor, forum = people["attendee"], people["exhibitor"], people["forum"]
    context = await browser.new_context(
        base_url=live_server, locale="de-DE", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = await context.new_page()
    console = Console(page)

    # The watch sees what the policy refuses: a script put into the page.
    await visit(page, "/")
    await page.evaluate(
        "() => document.body.append(Object.assign(document.createElement('script'),"
        " {textContent: 'document.body.dataset.ran = 1'}))"
    )
    assert await page.locator("body[data-ran]").count() == 0
    assert [p for p in console.problems if "Content Security Policy" in p], console.problems
    console.problems.clear()

    # Visitors and attendees.
    for path in (
        "/privacy",
        "/accessibility",
        f"/conferences/{SLUG}",
        f"/conferences/{SLUG}/privacy",
        f"/conferences/{SLUG}/forums",
        f"/conferences/{SLUG}/exhibit",
        f"/r/{attendee}",
        f"/r/{attendee}/forums",
        f"/r/{attendee}/cancel",
        f"/x/{exhibitor}",
    ):
        await visit(page, path)
    # The floor plan gets its width from static/js/floorplan.js (no style attribute).
    await visit(page, f"/conferences/{SLUG}/exhibitors")
    width = await page.locator(".floorplan-scroll").evaluate(
        "el => getComputedStyle(el).getPropertyValue('--plan-width')"
    )
    assert width.strip().endswith("px"), width
    # The print views: their print button works through static/js/print.js.
    await visit(page, f"/r/{attendee}/ticket")
    await page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    await page.locator("[data-print]").click()
    await expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    # A form with mistakes: the error summary takes the focus (static/js/focus.js).
    await visit(page, f"/conferences/{SLUG}/register?lang=en")
    await page.get_by_label("E-mail address").fill("not an address")
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#error-summary")).to_be_focused()

    # Staff.
    await visit(page, "/staff/login?lang=en")
    await page.get_by_label("E-mail address").fill(organiser.email)
    await page.get_by_label("Password").fill(organiser.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).not_to_have_url(re.compile(r"/staff/login"))
    for path in (
        "/staff",
        "/staff/tokens",
        f"/staff/conferences/{SLUG}",
        f"/staff/conferences/{SLUG}/registrations",
        f"/staff/conferences/{SLUG}/forums",
        f"/staff/forums/{forum}/participants",
        f"/staff/forums/{forum}/door",
        f"/staff/conferences/{SLUG}/stands",
        f"/staff/conferences/{SLUG}/exhibitors",
        f"/staff/conferences/{SLUG}/badges",
    ):
        await visit(page, path)
    # The dashboard's live updates run from static/js/entrance.js.
    await visit(page, f"/staff/conferences/{SLUG}/entrance?lang=en")
    await expect(page.locator("#live-status")).to_have_text(
        "Live: the numbers update by themselves."
    )
    # Swagger UI renders the API from its static start script.
    await visit(page, "/schema")
    await expect(page.locator(".opblock").first).to_be_visible()
    await page.locator(".opblock-summary").first.click()
    await page.get_by_role("button", name="Try it out").first.click()
    await expect(page.locator(".opblock-body .execute").first).to_be_visible()
    # The scanner page with its decoder.
    await visit(page, "/scan?lang=en")
    await expect(page.locator("#scanner")).to_have_attribute("data-ready", "true")

    await context.close()
    assert not console.problems, "\n".join(console.problems)


# -- logs --------------------------------------------------------------------------------------


async def test_logs_hold_no_token_address_or_name(
    client, organiser, pool, settings, smtp_server: SmtpServer, caplog
) -> None:
    """Everything the app logs while people register, confirm, use their links, fail to, are
    looked up by staff and get their e-mails (one refused by the mail server): never a token,
    an e-mail address or a name."""
    caplog.set_level(logging.DEBUG)
    await make_conference(client, organiser)
    email, name = "aylin.demir@example.org", "Aylin Demir"
    assert (await register(client, email=email, name=name)).status_code == 202
    confirm_token = await token_for(pool, settings, email)
    confirmed = await confirm(client, pool, settings, email)
    manage = confirmed.json()["manage_token"]
    secret = (await client.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]
    for path in (f"/r/{manage}", f"/r/{manage}/ticket.svg", f"/r/{manage}/feed.ics"):
        assert (await client.get(path)).status_code == 200
    wrong = manage[:-1] + ("A" if manage[-1] != "A" else "B")
    assert (await client.get(f"/r/{wrong}")).status_code == 404
    assert (await client.get(f"/api/v1/registrations/{wrong}")).status_code == 404
    assert (await client.get(f"/confirm/{confirm_token}")).status_code == 200
    form = await csrf_token(client, f"/conferences/{SLUG}/register")
    other_email = "b.kaya@example.org"
    sent = await client.post(
        f"/conferences/{SLUG}/register",
        data={
            "name": "Berna Kaya",
            "email": other_email,
            "category": "volunteer",
            "language": "de",
            "consent_privacy": "yes",
            "_csrf_token": form,
        },
    )
    assert sent.status_code == 200, sent.text
    bounced = "nobody@example.org"
    smtp_server.refused_recipients.add(bounced)
    await register(client, email=bounced, name="Niemand Hier")
    await client.post(
        f"/api/v1/conferences/{SLUG}/exhibitor-bookings",
        json=booking_payload(email="stand@example.org"),
    )
    checkin = await client.post(
        "/api/v1/checkin", json={"conference": SLUG, "secret": secret}, headers=organiser.headers
    )
    assert checkin.json()["status"] == "ok"
    await client.get(
        f"/api/v1/conferences/{SLUG}/registrations", params={"q": email}, headers=organiser.headers
    )
    await client.get(
        f"/api/v1/conferences/{SLUG}/checkin/search", params={"q": name}, headers=organiser.headers
    )
    worker = OutboxWorker(
        pool, smtp=parse_smtp_url(f"{smtp_server.url}?timeout=5"), sender="t <t@example.org>"
    )
    await worker.drain()
    delivered = {address for m in smtp_server.messages for address in m.rcpt_tos}
    assert {email, other_email, "stand@example.org"} <= delivered
    assert bounced not in delivered

    personal = [email, other_email, bounced, "stand@example.org", name, "Berna Kaya"]
    personal += [manage, confirm_token, secret, wrong, tokens.grouped(secret)]
    # The test's own client (httpx) and mail server (aiosmtpd: mail.log) log what they see.
    logged = [
        (record.name, record.getMessage() + (record.exc_text or ""))
        for record in caplog.records
        if not record.name.startswith(("httpx", "mail.log"))
    ]
    assert any(name == "tagung.requests" for name, _text in logged)
    assert any("attempt 1 failed" in text for _name, text in logged)  # the refused address
    leaks = [f"{logger}: {text}" for logger, text in logged for value in personal if value in text]
    assert not leaks, "\n".join(leaks)
