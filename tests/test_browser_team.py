"""End-to-end in headless Chromium against `tagung serve`: an admin invites a person on the
team page, the invitation mail goes through the real outbox worker to a real SMTP server, the
person opens its link, sets a password and logs in. Screenshots of the team page at phone and
desktop size go to /tmp/shots/team-*.png."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from service import team
from service.settings import Settings
from tests.live_server import BROWSER_TIMEOUT_MS, SECRET_KEY
from tests.smtp_server import smtp_server
from tests.test_accessibility import AXE, Audit
from tests.test_browser import create_conference
from tests.test_registration_mail import deliver, text_of
from tests.test_team_api import NEW_PASSWORD, link_token

__all__ = ["smtp_server"]  # a fixture, imported for pytest

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir()) / "shots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


async def log_in_german(page: Page, email: str, password: str) -> None:
    await page.goto("/staff/login?lang=de")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).not_to_have_url(re.compile(r"/staff/login"))


async def shoot(page: Page, name: str) -> None:
    await asyncio.to_thread(SHOTS.mkdir, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"team-{name}.png"), full_page=True)


async def test_invite_mail_link_password_login(
    page: Page, browser: Browser, live_server: str, make_staff, pool, tmp_path, smtp_server
):
    admin = await make_staff("admin")
    await create_conference(live_server, admin)
    await log_in_german(page, admin.email, admin.password)
    await page.get_by_role("link", name="Team").first.click()
    await expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()

    await page.get_by_label("E-Mail-Adresse").fill("helga.hausmann@example.org")
    await page.locator("#f-name").fill("Helga Hausmann")
    await page.get_by_label("Einlassdienst").check()
    await page.get_by_label("Nur diese Tagungen").check()
    await page.get_by_label("Fachtag Ehrenamt 2027").check()
    await page.get_by_role("button", name="Einladung senden").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "Die Einladung an helga.hausmann@example.org ist unterwegs."
    )
    row = page.get_by_role("row").filter(has_text="Helga Hausmann")
    await expect(row).to_contain_text("eingeladen")
    await expect(row).to_contain_text("Fachtag Ehrenamt 2027")
    await shoot(page, "list-phone")
    await page.set_viewport_size(DESKTOP)
    await shoot(page, "list-desktop")

    # The mail, rendered as the server would: its renderers with the live server's settings.
    team.wire(
        Settings(
            database_url=None,
            smtp_url=smtp_server.url,
            base_url=live_server,
            secret_key=SECRET_KEY,
            data_dir=tmp_path,
        )
    )
    [received] = await deliver(pool, smtp_server)
    assert received.rcpt_tos == ["helga.hausmann@example.org"]
    [link] = re.findall(
        re.escape(live_server) + r"/staff/invite/[A-Z0-9]{26}", text_of(received.message)
    )

    context = await browser.new_context(base_url=live_server, locale="de-DE", viewport=PHONE)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    invited = await context.new_page()
    try:
        await invited.goto(link)
        await expect(
            invited.get_by_role("heading", name="Legen Sie Ihr Passwort fest")
        ).to_be_visible()
        # A common password first: refused, with the message at the field.
        await invited.locator("#f-password").fill("passwort1234")
        await invited.get_by_label("Passwort wiederholen").fill("passwort1234")
        await invited.get_by_role("button", name="Passwort speichern").click()
        await expect(invited.locator("#f-password-error")).to_contain_text(
            "am häufigsten verwendeten"
        )
        await expect(invited.locator("#error-summary")).to_be_focused()
        await shoot(invited, "invitation-phone")
        await invited.locator("#f-password").fill(NEW_PASSWORD)
        await invited.get_by_label("Passwort wiederholen").fill(NEW_PASSWORD)
        await invited.get_by_role("button", name="Passwort speichern").click()
        await expect(invited.get_by_role("heading", name="Passwort gespeichert")).to_be_visible()
        await invited.get_by_role("link", name="Zur Anmeldung").click()
        await log_in_german(invited, "helga.hausmann@example.org", NEW_PASSWORD)
        await expect(
            invited.get_by_text("Angemeldet als helga.hausmann@example.org")
        ).to_be_visible()
        await invited.get_by_role("link", name="Ihr Konto").first.click()
        await expect(invited.get_by_role("heading", name="Ihr Konto")).to_be_visible()
        await shoot(invited, "account-phone")
    finally:
        await context.close()

    # The admin sees the account active now, and opens it.
    await page.goto("/staff/team")
    row = page.get_by_role("row").filter(has_text="Helga Hausmann")
    await expect(row).to_contain_text("aktiv")
    await row.get_by_role("link").click()
    await expect(page.locator("#member-status")).to_have_text("aktiv")
    await shoot(page, "edit-desktop")
    await page.set_viewport_size(PHONE)
    await page.goto("/staff/reset")
    await shoot(page, "forgot-phone")


async def test_axe_finds_nothing_on_the_team_and_account_pages(
    browser: Browser, live_server: str, make_staff, pool
):
    """axe-core (WCAG 2.1 AA) on every page of staff accounts, also with field messages, in
    German at 320 px and light, in English at desktop size and dark, as for the public pages."""
    admin = await make_staff("admin")
    await create_conference(live_server, admin)
    invited_id = await pool.fetchval(
        "INSERT INTO staff (email, name, role) VALUES ('neu@example.org', 'Nora Neu', 'scanner') "
        "RETURNING id"
    )
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
            page = audit.page
            await page.goto(f"/staff/reset?lang={language}")
            await audit.check("forgot password")
            await audit.submit(400)
            await audit.check("forgot password, empty")
            await page.fill("#f-email", "niemand@example.org")
            await audit.submit(200)
            await audit.check("forgot password, sent")
            async with httpx.AsyncClient(base_url=live_server) as api:
                await api.post(f"/api/v1/staff/{invited_id}/invitation", headers=admin.headers)
            token = await link_token(pool, SECRET_KEY, "neu@example.org", "invitation")
            await audit.visit(f"/staff/invite/{token}", "set password")
            await audit.submit(400)
            await audit.check("set password, empty")
            await audit.visit("/staff/invite/" + "A" * 26, "unknown link", status=404)

            await page.goto("/staff/login")
            await page.fill("#f-email", admin.email)
            await page.fill("#f-password", admin.password)
            await page.locator("main form button[type=submit]").click()
            await expect(page).not_to_have_url(re.compile(r"/staff/login"))
            await audit.visit("/staff/team", "team")
            await audit.submit(400)
            await audit.check("team, invitation with errors")
            await audit.visit(f"/staff/team/{invited_id}", "team member")
            await audit.visit("/staff/account", "account")
            await page.locator("main form button[type=submit]").first.click()
            await expect(page.locator("#error-summary")).to_be_visible()
            await audit.check("account, password change with errors")
        finally:
            await context.close()
        problems += audit.problems
    assert not problems, "axe-core found violations:\n" + "\n".join(problems)
