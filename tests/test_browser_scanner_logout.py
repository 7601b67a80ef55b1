"""The door's offline ticket data (every attendee's name) leaves the phone (issue 12, point 8):
logging out clears it (the scanner page's own logout, and Clear-Site-Data on every logout), a
session that ended elsewhere clears it at the next answer, and data older than a day is
neither used nor kept. Headless Chromium on a phone screen, against `tagung serve`."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Dialog, Page, expect

from service.staff import set_password
from tests.test_browser_scanner import SLUG, open_scanner, result, tickets, type_code

pytestmark = pytest.mark.browser

DAY_MS = 24 * 60 * 60 * 1000


@pytest.fixture
def errors(page: Page) -> list[str]:
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


async def stored(page: Page) -> dict[str, str]:
    # A function, not an expression: the page's Content-Security-Policy refuses eval().
    return await page.evaluate("() => ({ ...localStorage })")


async def site_leftovers(page: Page) -> dict[str, object]:
    return await page.evaluate(
        """async () => ({
            storage: Object.keys(localStorage),
            caches: await caches.keys(),
            workers: (await navigator.serviceWorker.getRegistrations()).length,
        })"""
    )


async def scanner_with_data(page: Page, live_server: str, organiser, pool, make_staff):
    secrets = await tickets(live_server, organiser, pool, 2)
    scanner = await make_staff("scanner")
    await open_scanner(page, scanner, gate="A")
    await page.wait_for_function("() => !!navigator.serviceWorker.controller")
    kept = await stored(page)
    assert "Person 0" in kept[f"tagung-scan:data:{SLUG}"]
    return secrets, scanner


async def test_the_scanner_logout_uploads_first_then_clears_the_phone(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    (first, _second), _scanner = await scanner_with_data(
        page, live_server, organiser, pool, make_staff
    )
    await page.context.set_offline(True)
    await type_code(page, first)
    await expect(page.locator("#scan-queue")).to_have_text("1 scan waiting to upload")

    # Offline, a logout would lose the scan: the page asks, and stays when told no. The
    # question is answered as it opens: a click left waiting while a dialog is open stalls
    # until its timeout when the page is slow (seen under load).
    asked: asyncio.Queue[str] = asyncio.Queue()

    async def say_no(dialog: Dialog) -> None:
        await dialog.dismiss()
        asked.put_nowait(dialog.message)

    page.once("dialog", say_no)
    await page.get_by_role("button", name="Log out").click()
    async with asyncio.timeout(30):
        assert "not been uploaded" in await asked.get()
    await expect(page.locator("#scan-queue")).to_have_text("1 scan waiting to upload")
    assert f"tagung-scan:data:{SLUG}" in await stored(page)

    # Online, the scan goes up first, then the phone forgets everything.
    await page.context.set_offline(False)
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/staff/login"))
    assert await site_leftovers(page) == {"storage": [], "caches": [], "workers": 0}
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans WHERE offline") == 1
    await page.goto("/scan")
    await expect(page).to_have_url(re.compile(r"/staff/login"))
    assert errors == []


async def test_logging_out_in_the_staff_area_clears_the_scanner_data(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    """No scanner script runs here: the logout's Clear-Site-Data header does it."""
    await scanner_with_data(page, live_server, organiser, pool, make_staff)
    await page.goto("/staff")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/staff/login"))
    assert await site_leftovers(page) == {"storage": [], "caches": [], "workers": 0}
    assert errors == []


async def test_a_session_ended_elsewhere_clears_the_names_but_keeps_the_scans(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    (first, second), scanner = await scanner_with_data(
        page, live_server, organiser, pool, make_staff
    )
    await page.context.set_offline(True)
    await type_code(page, first)
    await expect(page.locator("#scan-queue")).to_have_text("1 scan waiting to upload")
    # Meanwhile the account gets a new password, which ends its sessions.
    async with pool.acquire() as db:
        await set_password(db, scanner.email, "ein-ganz-neues-passwort")
    await page.context.set_offline(False)
    await expect(page.locator("#scan-auth")).to_contain_text("You are logged out")
    kept = await stored(page)
    assert set(kept) == {"tagung-scan:settings", "tagung-scan:queue"}
    assert "Person" not in "".join(kept.values())
    await expect(page.locator("#scan-age")).to_have_text("No ticket data yet")
    # A ticket now is not decided from names the phone no longer has.
    await type_code(page, second)
    await expect(result(page)).to_have_attribute("data-reason", "logged_out")
    await expect(page.locator("#scan-queue")).to_have_text("1 scan waiting to upload")
    assert errors == []


async def test_ticket_data_older_than_a_day_is_not_used(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    (first, _second), _scanner = await scanner_with_data(
        page, live_server, organiser, pool, make_staff
    )
    await page.context.set_offline(True)
    # The phone was put away yesterday after fetching the data (aged instead of waiting).
    await page.evaluate(
        """([key, age]) => {
            const data = JSON.parse(localStorage.getItem(key));
            data.fetched_at -= age;
            localStorage.setItem(key, JSON.stringify(data));
        }""",
        [f"tagung-scan:data:{SLUG}", DAY_MS + 60_000],
    )
    await type_code(page, first)
    await expect(result(page)).to_have_attribute("data-reason", "no_data")
    await expect(page.locator("#scan-age")).to_have_text("No ticket data yet")
    assert not [key for key in await stored(page) if key.startswith("tagung-scan:data:")]
    assert errors == []
