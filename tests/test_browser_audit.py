"""End-to-end: the audit log pages in headless Chromium against `tagung serve`: a conference's
log filtered by a kind of action and a period, its older entries, the CSV of the filtered view
(itself an entry), and the installation's page for admins; at phone and desktop size.

Screenshots for a person to look at go to /tmp/shots/audit-*.png, never into the repository."""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from service import audit
from service.auth import StaffUser
from tests.live_server import BROWSER_TIMEOUT_MS
from tests.registration_support import SLUG
from tests.test_accessibility import AXE, Audit
from tests.test_browser import create_conference, log_in

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir()) / "shots"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}


async def fill_the_log(pool, organiser) -> None:
    """Sixty admissions by hand, a stand assigned and an entry taken back at a door device."""
    async with pool.acquire() as db:
        conference_id = await db.fetchval("SELECT id FROM conferences WHERE slug = $1", SLUG)
        staff_id = await db.fetchval("SELECT id FROM staff WHERE email = $1", organiser.email)
        actor = StaffUser(id=staff_id, email=organiser.email, role="organiser")
        door = StaffUser(id=None, email="Eingang Nord", role="scanner", device_id=3)  # type: ignore[arg-type]
        await audit.record(
            db,
            "exhibitor_booking.approved",
            actor=actor,
            conference_id=conference_id,
            subject_type="exhibitor_booking",
            subject_id=1,
            subject_label="Caritasverband Hannover e. V.",
            details={"stand": "B1"},
        )
        for n in range(60):
            await audit.record(
                db,
                "checkin.manual",
                actor=actor,
                conference_id=conference_id,
                subject_type="registration",
                subject_id=n + 1,
                subject_label=f"Person {n + 1}",
                details={"gate": "Haupteingang"},
            )
        await audit.record(
            db,
            "checkin.undone",
            actor=door,
            conference_id=conference_id,
            subject_type="registration",
            subject_id=60,
            subject_label="Person 60",
        )


async def test_the_audit_log_in_the_browser(
    page: Page, live_server: str, organiser, make_staff, pool
):
    await asyncio.to_thread(SHOTS.mkdir, exist_ok=True)
    await create_conference(live_server, organiser)
    await fill_the_log(pool, organiser)
    await log_in(page, organiser)

    # From the conference's staff page.
    await page.goto(f"/staff/conferences/{SLUG}?lang=de")
    await page.get_by_role("link", name="Protokoll").click()
    await expect(page.get_by_role("heading", name="Protokoll", level=1)).to_be_visible()
    rows = page.locator("table.audit-log tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_contain_text("Gerät „Eingang Nord“")
    await expect(rows.first).to_contain_text("Einlass zurückgenommen")
    await page.screenshot(path=str(SHOTS / "audit-conference-phone.png"))
    await rows.first.scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "audit-conference-phone-table.png"))

    await page.get_by_role("link", name="Ältere Einträge").click()
    approved = page.locator('tbody tr[data-action="exhibitor_booking.approved"]')
    await expect(approved).to_contain_text("Stand zugewiesen")
    await expect(approved).to_contain_text("Standbuchung „Caritasverband Hannover e. V.“")
    await expect(rows.last).to_contain_text("Tagung angelegt")  # made through the API

    # Only the entrance's entries of today.
    await page.get_by_label("Was").select_option("checkin.")
    today = datetime.now(UTC).date().isoformat()
    await page.get_by_label("Von").fill(today)
    await page.get_by_label("Bis").fill(today)
    await page.get_by_role("button", name="Anzeigen").click()
    await expect(page).to_have_url(re.compile(r"action=checkin\."))
    await expect(rows).to_have_count(50)
    await expect(page.locator('tbody tr[data-action="exhibitor_booking.approved"]')).to_have_count(
        0
    )

    async with page.expect_download() as download:
        await page.get_by_role(
            "link", name="Diese Auswahl als CSV-Datei herunterladen (Excel)"
        ).click()
    saved = await (await download.value).path()
    text = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8-sig")
    lines = text.splitlines()
    assert len(lines) == 1 + 61  # the header, sixty admissions and the one taken back
    assert all(";checkin." in line for line in lines[1:])

    await page.set_viewport_size(DESKTOP)
    await page.reload()
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SHOTS / "audit-conference-desktop.png"), full_page=False)
    # The download is an entry of its own now, first in the whole log.
    await page.goto(f"/staff/conferences/{SLUG}/audit?lang=de")
    await expect(rows.first).to_contain_text("Daten heruntergeladen")
    await expect(rows.first).to_contain_text("Protokoll als CSV")

    # A wrong date: the form again with the message at the field.
    await page.goto(f"/staff/conferences/{SLUG}/audit?since=gestern&lang=de")
    await expect(page.get_by_role("alert")).to_contain_text("Von:")
    await expect(page.get_by_label("Von")).to_have_attribute("aria-invalid", "true")

    # The installation's page, for admins: linked from the staff area.
    admin = await make_staff("admin")
    await page.context.clear_cookies()
    await log_in(page, admin)
    await page.goto("/staff?lang=de")
    await page.get_by_role("link", name="Protokoll").first.click()
    await expect(page).to_have_url(re.compile(r"/staff/audit$"))
    await expect(page.get_by_role("columnheader", name="Tagung")).to_be_visible()
    # Logins and account changes belong to no conference; the rest link their conference's log.
    await expect(rows.get_by_role("link", name=SLUG).first).to_be_visible()
    await page.screenshot(path=str(SHOTS / "audit-installation-desktop.png"), full_page=False)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=str(SHOTS / "audit-installation-phone.png"))


async def test_axe_finds_nothing_on_the_audit_log_pages(
    browser: Browser, live_server: str, organiser, make_staff, pool
):
    """axe-core (WCAG 2.1 AA) on both pages, also with a field message, in German at 320 px
    and light, in English at desktop size and dark; nothing wider than the screen but the
    table in its own scroll box."""
    await create_conference(live_server, organiser)
    await fill_the_log(pool, organiser)
    admin = await make_staff("admin")
    problems: list[str] = []
    for language, width, scheme in (("de", 320, "light"), ("en", 1280, "dark")):
        context = await browser.new_context(
            base_url=live_server,
            locale="de-DE",
            viewport={"width": width, "height": 800},
            color_scheme=scheme,
        )
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        await context.add_init_script(path=str(AXE))
        audit = Audit(await context.new_page(), language, scheme)
        try:
            await log_in(audit.page, admin)
            base = f"/staff/conferences/{SLUG}/audit"
            await audit.visit(f"{base}?lang={language}", "conference's log")
            await audit.visit(
                f"{base}?action=checkin.&since=morgen&lang={language}",
                "conference's log, a wrong date",
                status=400,
            )
            await audit.visit(f"/staff/audit?lang={language}", "installation's log")
        finally:
            await context.close()
        problems += audit.problems
    assert not problems, "axe-core found violations:\n" + "\n".join(problems)
