"""A scanner limited to one conference, in headless Chromium on a phone and a desktop screen: the
door's set-up offers only that conference, and a ticket of another conference is refused at
the door. Screenshots go to /tmp/shots/scope-*.png."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.forum_support import make_attendees
from tests.live_server import SECRET_KEY
from tests.registration_support import SLUG
from tests.test_browser import create_conference, log_in
from tests.test_conference_scope import OTHER, limit

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir()) / "shots"


def shot(name: str) -> str:
    """Where a screenshot for a person to look at goes (never into the repository)."""
    SHOTS.mkdir(exist_ok=True)
    return str(SHOTS / f"scope-{name}.png")


async def test_a_limited_scanner_sets_up_a_door_of_their_conference_only(
    page: Page, live_server: str, make_staff, pool
):
    admin = await make_staff("admin")
    await create_conference(live_server, admin)
    await create_conference(live_server, admin, slug=OTHER, title="Andere Tagung 2027")
    [(_id, token)] = await make_attendees(pool, SECRET_KEY, OTHER, 1, prefix="fremd")
    async with httpx.AsyncClient(base_url=live_server) as api:
        foreign = (await api.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]
    scanner = await make_staff("scanner")
    await limit(pool, scanner, SLUG)

    await log_in(page, scanner, "/staff/login?lang=en&next=/scan")
    await expect(page.locator("#scanner")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_role("heading", name="Set up this door")).to_be_visible()
    choice = page.get_by_label("Conference", exact=True)
    await expect(choice.locator("option")).to_have_text(["Fachtag Ehrenamt 2027"])
    await page.screenshot(path=shot("scanner-setup-phone"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=shot("scanner-setup-desktop"), full_page=True)

    await page.get_by_label("Door", exact=True).fill("A")
    await page.get_by_role("button", name="Start scanning").click()
    await expect(page.locator("#scan-age")).to_have_text("Ticket data up to date")
    field = page.get_by_label("Ticket code (scan or type)")
    await field.fill(foreign)
    await field.press("Enter")
    await expect(page.locator("#scan-result")).to_contain_text(
        "This ticket is for another conference"
    )
    await page.screenshot(path=shot("scanner-refused-desktop"), full_page=True)
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM registrations WHERE inside") == 0
