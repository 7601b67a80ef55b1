"""Accessibility (BITV 2.0 / WCAG 2.1 AA): axe-core finds nothing on the public and
self-service pages, in German and in English, and a registration can be completed with the
keyboard alone.

axe-core comes from npm and is committed under tests/vendor/axe-core (`make vendor`); it is
injected into each page in headless Chromium, never fetched. Each violation is printed with
its rule, impact, element and help, so a failure says what to fix.

The data is the demo conference (`tagung demo`): a programme, six forums, stands, approved
exhibitors with passes and confirmed attendees, so the pages show what real pages show.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from exhibitors import demo as exhibitors_demo
from exhibitors import logic as exhibitor_logic
from forums import demo as forums_demo
from registration import demo as registration_demo
from registration import logic as registration_logic
from service import tokens
from service.db import init_connection
from service.demo import DEMO_SLUG, load_demo
from tests.conftest import conference_payload
from tests.live_server import BROWSER_TIMEOUT_MS, SECRET_KEY
from tests.registration_support import SLUG

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA (what BITV 2.0 asks for through EN 301 549), and axe's
# best practices for the page's structure (landmarks, heading order, one h1).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN_AXE = """async (tags) => {
    const result = await axe.run(document, {
        runOnly: {type: "tag", values: tags},
        resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""
KEY = tokens.key_from_secret(SECRET_KEY)
EMAIL = "aylin@example.org"


async def load_the_demo(pool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The demo conference, as `tagung demo` loads it, and the links its people would get:
    an attendee with a forum seat, a cancelled attendee, an approved exhibitor with a pass
    (and room for more) and an exhibitor on the waiting list."""
    async with pool.acquire() as db:
        await init_connection(db)
        loaded, _password = await load_demo(db)
        assert loaded
        async with db.transaction():
            attendees = await registration_demo.load_demo(db, DEMO_SLUG, KEY)
            await forums_demo.load_demo(db, DEMO_SLUG, attendees)
            await exhibitors_demo.load_demo(db, DEMO_SLUG, KEY)
        seated = await db.fetchrow(
            "SELECT r.id, r.manage_salt, s.forum_id FROM registrations r JOIN forum_signups s "
            "ON s.registration_id = r.id WHERE s.status = 'confirmed' ORDER BY r.id LIMIT 1"
        )
        other = await db.fetchrow(
            "SELECT id, manage_salt FROM registrations WHERE id <> $1 AND category <> "
            "'exhibitor_staff' ORDER BY id DESC LIMIT 1",
            seated["id"],
        )
        await registration_logic.cancel(db, other["id"])
        # Two more who delete their data, one in each language.
        erasing = await db.fetch(
            "SELECT manage_salt FROM registrations WHERE id NOT IN ($1, $2) AND category <> "
            "'exhibitor_staff' ORDER BY id LIMIT 2",
            seated["id"],
            other["id"],
        )
        approved = await db.fetchrow(
            "SELECT b.manage_salt, min(p.registration_id) AS pass_id FROM exhibitor_bookings b "
            "JOIN exhibitor_passes p ON p.booking_id = b.id JOIN stands s ON s.id = b.stand_id "
            "WHERE b.status = 'approved' GROUP BY b.id, s.max_staff "
            "HAVING count(*) < s.max_staff ORDER BY b.id LIMIT 1"
        )
        waiting = await db.fetchval(
            "SELECT manage_salt FROM exhibitor_bookings WHERE status = 'waitlisted'"
        )
    return {
        "attendee": registration_logic.token(KEY, "manage", seated["manage_salt"]),
        "forum_id": seated["forum_id"],
        "cancelled": registration_logic.token(KEY, "manage", other["manage_salt"]),
        "exhibitor": exhibitor_logic.token(KEY, "manage", approved["manage_salt"]),
        "pass_id": approved["pass_id"],
        "waiting": exhibitor_logic.token(KEY, "manage", waiting),
        "erasing": {
            language: registration_logic.token(KEY, "manage", row["manage_salt"])
            for language, row in zip(("de", "en"), erasing, strict=True)
        },
    }


class Audit:
    """Opens pages in one language and collects what axe-core finds on each."""

    def __init__(self, page: Page, language: str, scheme: str) -> None:
        self.page, self.language, self.scheme = page, language, scheme
        self.problems: list[str] = []

    async def check(self, label: str) -> None:
        await expect(self.page.locator("html")).to_have_attribute("lang", self.language)
        found = await self.page.evaluate(RUN_AXE, WCAG_TAGS)
        where = f"{self.language} {label} ({self.page.url})"
        # Reflow (WCAG 1.4.10): at 320 CSS pixels nothing but a plan or a wide table
        # (each in a scroll box of its own) may need sideways scrolling.
        overflow = await self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            self.problems.append(f"{where}: the page is {overflow}px wider than the screen")
        for violation in found:
            for node in violation["nodes"]:
                summary = node["summary"].replace("\n", "\n        ")
                self.problems.append(
                    f"{where}: [{violation['id']}] ({violation['impact']}) {node['target']}\n"
                    f"    {violation['help']}\n        {summary}"
                )

    async def visit(self, path: str, label: str, status: int = 200) -> None:
        response = await self.page.goto(path)
        assert response is not None and response.status == status, (path, response)
        await self.check(label)

    async def submit(self, status: int) -> None:
        """Sends the page's (last) form with its button and checks the answer's status."""
        async with self.page.expect_response(lambda r: r.request.method == "POST") as posted:
            await self.page.locator("main form button[type=submit]").last.click()
        assert (await posted.value).status == status, self.page.url


async def every_page(audit: Audit, demo: dict[str, Any]) -> None:
    """The public and self-service pages, forms also with their errors shown."""
    page, language = audit.page, audit.language
    attendee, exhibitor = demo["attendee"], demo["exhibitor"]
    conference = f"/conferences/{DEMO_SLUG}"

    await audit.visit(f"/?lang={language}", "start page")  # the cookie keeps the language
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(255, 255, 255)") == (audit.scheme == "light"), background
    await audit.visit(conference, "conference page and programme")
    await audit.visit(f"{conference}/privacy", "privacy notice")
    await audit.visit("/privacy", "privacy notice of the site")
    await audit.visit("/accessibility", "accessibility statement")
    await audit.visit(f"{conference}/forums", "forums (public)")
    await audit.visit(f"{conference}/exhibitors", "exhibitor directory and floor plan")
    # The booked stands are links named by stand and exhibitor, nothing else is read out,
    # they are met row by row from the left, and they show the focus.
    plan = page.get_by_role("group", name=re.compile(r"^(Lageplan|Floor plan): "))
    await expect(plan.get_by_role("link")).to_have_count(8)
    await expect(plan.get_by_role("link").first).to_have_accessible_name(
        "Stand A1: Freiwilligenagentur Leinebrücke"
    )
    assert "- text:" not in await plan.aria_snapshot()
    stands = await page.locator(".floorplan a rect").evaluate_all(
        "rects => rects.map(r => [r.getBoundingClientRect().top, r.getBoundingClientRect().left])"
    )
    assert len(stands) == 8 and stands == sorted(stands), stands
    await page.locator(".floorplan-scroll").focus()
    await page.keyboard.press("Tab")
    stand = "getComputedStyle(document.activeElement.querySelector('rect')).fill"
    assert await page.evaluate(stand) == "rgb(255, 221, 0)"  # the stand turns yellow
    await audit.visit(f"{conference}/exhibitors?topic=Begegnung", "directory by topic")

    await audit.visit(f"{conference}/register", "registration form")
    await audit.submit(400)
    await expect(page.locator("#error-summary")).to_be_focused()
    await audit.check("registration form with errors")
    await page.locator("#f-name").fill("Aylin Demir")
    await page.locator("#f-email").fill(f"aylin-{language}@example.org")
    await page.locator("#f-category").check()
    await page.locator("#f-consent_privacy").check()
    await audit.submit(200)
    await expect(page.locator("main [role=status]")).to_contain_text(f"aylin-{language}")
    await audit.check("registration sent: check your inbox")

    await audit.visit(f"{conference}/exhibit", "exhibitor request form")
    await audit.submit(400)
    await expect(page.locator("#error-summary")).to_be_focused()
    await audit.check("exhibitor request form with errors")
    await page.locator("#f-organisation").fill("Nachbarschaftshilfe Linden e. V.")
    await page.locator("#f-kind").check()
    await page.locator("#f-contact_name").fill("Petra Schulz")
    await page.locator("#f-email").fill(f"markt-{language}@linden.example")
    await page.locator("#f-description").fill("Beratung und Begleitung im Stadtteil.")
    await audit.submit(200)
    await expect(page.locator("main [role=status]")).to_contain_text(f"markt-{language}")
    await audit.check("stand request sent: check your inbox")

    await audit.visit(f"/confirm/{'A' * 26}", "confirmation page")
    await audit.submit(404)
    await audit.check("confirmation with an unknown link (404)")
    await audit.visit(f"/r/{attendee}?confirmed=1", "self-service page, just confirmed")
    await audit.visit(f"/r/{attendee}/ticket", "ticket")
    await audit.visit(f"/r/{attendee}/forums", "forum sign-up")
    await audit.visit(
        f"/r/{attendee}/forums?done=confirmed&forum={demo['forum_id']}", "forum seat taken"
    )
    await audit.visit(f"/r/{attendee}/cancel", "cancel registration")
    await audit.visit(f"/r/{demo['cancelled']}?cancelled=1", "cancelled registration")
    await audit.visit(f"/r/{demo['cancelled']}/forums", "forums of a cancelled registration")
    await audit.visit(f"/r/{'B' * 26}", "self-service with an unknown link (404)", 404)
    await audit.visit(f"/r/{demo['erasing'][language]}/delete", "delete my data")
    await audit.submit(200)
    await audit.check("data deleted")

    await audit.visit(f"/x/{exhibitor}", "exhibitor page")
    await audit.submit(400)  # the last form: add a pass, here empty
    await expect(page.locator("#error-summary")).to_be_focused()
    await audit.check("exhibitor page, pass with errors")
    await audit.visit(f"/x/{exhibitor}/passes/{demo['pass_id']}/remove", "remove a pass")
    await audit.visit(f"/x/{exhibitor}/cancel", "withdraw the booking")
    await audit.visit(f"/x/{exhibitor}/delete", "delete the organisation's data")
    await audit.visit(f"/x/{demo['waiting']}", "exhibitor on the waiting list")

    await audit.visit("/conferences/no-such-conference", "not found (404)", 404)
    await audit.visit("/staff/login", "staff login")


async def test_axe_finds_nothing_on_public_and_self_service_pages(
    browser: Browser, live_server: str, pool
):
    demo = await load_the_demo(pool)
    problems: list[str] = []
    # German (longer words) on the narrowest screen WCAG names, in the light colour scheme;
    # English at desktop size in the dark one (contrast is checked in both).
    for language, width, scheme in (("de", 320, "light"), ("en", 1280, "dark")):
        context = await browser.new_context(
            base_url=live_server,
            locale="de-DE",
            viewport={"width": width, "height": 800},
            color_scheme=scheme,
        )
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        await context.add_init_script(path=str(AXE))  # in every page, before its own scripts
        audit = Audit(await context.new_page(), language, scheme)
        try:
            await every_page(audit, demo)
        finally:
            await context.close()
        problems += audit.problems
    assert not problems, "axe-core found violations:\n" + "\n".join(problems)


# ── keyboard only ──────────────────────────────────────────────────────────

FOCUS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return {id: "", visible: false};
    const style = getComputedStyle(el);
    const opaque = (colour) => !/^rgba\\(.*, 0\\)$|^transparent$/.test(colour);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
        && opaque(style.outlineColor);
    const visible = el.matches(":focus-visible")
        && (outline || style.boxShadow !== "none" || style.backgroundColor === "rgb(255, 221, 0)");
    const name = el.id || `${el.tagName}:${(el.getAttribute("href") || el.textContent).trim()}`;
    return {id: name, visible: visible};
}"""


async def focus_after(page: Page, key: str) -> str:
    """Presses Tab or Shift+Tab; the element that then has the focus, which must show it."""
    await page.keyboard.press(key)
    focused = await page.evaluate(FOCUS)
    assert focused["visible"], f"no visible focus on {focused['id'] or 'the page'} after {key}"
    return focused["id"]


async def move_to(page: Page, target: str, key: str = "Tab", most: int = 40) -> None:
    passed = []
    for _ in range(most):
        passed.append(await focus_after(page, key))
        if passed[-1] == target:
            return
    pytest.fail(f"{target} not reached with {key}; the focus went {passed}")


async def test_a_registration_with_the_keyboard_alone(
    browser: Browser, live_server: str, make_staff, pool
):
    """Tab, Shift+Tab, Space and Enter only, typing where the focus is: the skip link, a
    mistake caught by the error summary, its links to the fields, then the inbox page and
    the confirmation. Every stop shows where the focus is. In German, the first language."""
    organiser = await make_staff("organiser")
    async with httpx.AsyncClient(base_url=live_server, headers=organiser.headers) as api:
        created = await api.post("/api/v1/conferences", json=conference_payload())
    assert created.status_code == 201, created.text
    context = await browser.new_context(
        base_url=live_server, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = await context.new_page()
    try:
        await page.goto(f"/conferences/{SLUG}/register")
        await expect(page.locator("html")).to_have_attribute("lang", "de")

        # The first stop is the skip link; it leads past the header into the content.
        assert await focus_after(page, "Tab") == "A:#main"
        await expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_in_viewport()
        await page.keyboard.press("Enter")
        await expect(page.locator("main")).to_be_focused()

        # Name and a category, but no e-mail address and no tick for the privacy notice.
        await move_to(page, "f-name")
        await page.keyboard.type("Aylin Demir")
        await move_to(page, "f-category")  # no option chosen: the group's first stop
        await page.keyboard.press("Space")
        await move_to(page, "BUTTON:Jetzt anmelden")
        async with page.expect_response(lambda r: r.request.method == "POST") as posted:
            await page.keyboard.press("Enter")
        assert (await posted.value).status == 400

        summary = page.get_by_role("alert")
        await expect(summary).to_be_focused()
        await expect(page).to_have_title(re.compile(r"^Fehler: "))
        links = summary.get_by_role("link")
        await expect(links).to_have_text(
            [re.compile(r"^E-Mail-Adresse: "), re.compile(r"^Datenschutzhinweise?: ")]
        )
        # Each link leads to its field, which is marked invalid and described by its error.
        for field in ("email", "consent_privacy"):
            control = page.locator(f"#f-{field}")
            await expect(summary.locator(f'a[href="#f-{field}"]')).to_have_count(1)
            await expect(control).to_have_attribute("aria-invalid", "true")
            error = await page.locator(f"#f-{field}-error").text_content()
            await expect(control).to_have_accessible_description(
                re.compile(re.escape(" ".join(error.split())))
            )
        await expect(page.locator("#f-name")).to_have_value("Aylin Demir")

        # From the summary: Tab to the first link, Enter, and the focus is in the field.
        assert await focus_after(page, "Tab") == "A:#f-email"
        await page.keyboard.press("Enter")
        await expect(page.locator("#f-email")).to_be_focused()
        await page.keyboard.type(EMAIL)
        # Back up with Shift+Tab (past the name) to the second link, and on to the checkbox.
        await move_to(page, "A:#f-consent_privacy", key="Shift+Tab", most=4)
        await page.keyboard.press("Enter")
        await expect(page.locator("#f-consent_privacy")).to_be_focused()
        await page.keyboard.press("Space")
        await expect(page.locator("#f-consent_privacy")).to_be_checked()
        await move_to(page, "BUTTON:Jetzt anmelden")
        await page.keyboard.press("Enter")

        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Bitte prüfen Sie Ihr E-Mail-Postfach"
        )
        async with pool.acquire() as db:
            row = await db.fetchrow("SELECT * FROM registrations WHERE email = $1", EMAIL)
        assert (row["name"], row["category"], row["language"], row["status"]) == (
            "Aylin Demir",
            "volunteer",
            "de",
            "pending_confirmation",
        )

        # The link from the e-mail: the button, reached and pressed with the keyboard.
        token = registration_logic.token(KEY, "confirm", row["confirm_salt"])
        await page.goto(f"/confirm/{token}")
        await move_to(page, "BUTTON:Bestätigen")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(r"/r/[0-9A-Z]{26}\?confirmed=1$"))
        await expect(page.locator("#status")).to_have_attribute("data-status", "confirmed")
    finally:
        await context.close()
