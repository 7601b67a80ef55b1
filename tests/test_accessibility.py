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

from pathlib import Path
from typing import Any

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
from tests.live_server import SECRET_KEY

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
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
    }


class Audit:
    """Opens pages in one language and collects what axe-core finds on each."""

    def __init__(self, page: Page, language: str) -> None:
        self.page, self.language = page, language
        self.problems: list[str] = []

    async def check(self, label: str) -> None:
        await expect(self.page.locator("html")).to_have_attribute("lang", self.language)
        found = await self.page.evaluate(RUN_AXE, WCAG_TAGS)
        where = f"{self.language} {label} ({self.page.url})"
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
    await audit.visit(conference, "conference page and programme")
    await audit.visit(f"{conference}/privacy", "privacy notice")
    await audit.visit(f"{conference}/forums", "forums (public)")
    await audit.visit(f"{conference}/exhibitors", "exhibitor directory and floor plan")
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

    await audit.visit(f"/x/{exhibitor}", "exhibitor page")
    await audit.submit(400)  # the last form: add a pass, here empty
    await expect(page.locator("#error-summary")).to_be_focused()
    await audit.check("exhibitor page, pass with errors")
    await audit.visit(f"/x/{exhibitor}/passes/{demo['pass_id']}/remove", "remove a pass")
    await audit.visit(f"/x/{exhibitor}/cancel", "withdraw the booking")
    await audit.visit(f"/x/{demo['waiting']}", "exhibitor on the waiting list")

    await audit.visit("/conferences/no-such-conference", "not found (404)", 404)
    await audit.visit("/staff/login", "staff login")


async def test_axe_finds_nothing_on_public_and_self_service_pages(
    browser: Browser, live_server: str, pool
):
    demo = await load_the_demo(pool)
    problems: list[str] = []
    for language in ("de", "en"):
        context = await browser.new_context(
            base_url=live_server, locale="de-DE", viewport={"width": 390, "height": 844}
        )
        context.set_default_timeout(5_000)
        await context.add_init_script(path=str(AXE))  # in every page, before its own scripts
        audit = Audit(await context.new_page(), language)
        try:
            await every_page(audit, demo)
        finally:
            await context.close()
        problems += audit.problems
    assert not problems, "axe-core found violations:\n" + "\n".join(problems)
