"""A door volunteer's whole path in headless Chromium against `tagung serve`, as the README
tells it: the admin invites her as a scanner for one of two conferences, the invitation mail
goes through the real outbox worker to a real SMTP server, she sets a password from its link,
turns on two-factor login, logs in again with a code from her app, and the scanner offers her
that one conference alone (tests/test_browser_conference_scope.py shows the door refusing the
other's tickets)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from service import team
from service.settings import Settings
from tests.live_server import BROWSER_TIMEOUT_MS, SECRET_KEY
from tests.smtp_server import smtp_server
from tests.test_browser import create_conference
from tests.test_browser_team import DESKTOP, PHONE, log_in_german, shoot
from tests.test_registration_mail import deliver, text_of
from tests.test_team_api import NEW_PASSWORD
from tests.test_two_factor import usable_code

__all__ = ["smtp_server"]  # a fixture, imported for pytest

pytestmark = pytest.mark.browser

VOLUNTEER = "jana.ostermann@example.org"


async def invite(page: Page) -> None:
    await page.get_by_role("link", name="Team").first.click()
    await page.get_by_label("E-Mail-Adresse").fill(VOLUNTEER)
    await page.locator("#f-name").fill("Jana Ostermann")
    await page.get_by_label("Einlassdienst").check()
    await page.get_by_label("Nur diese Tagungen").check()
    await page.get_by_label("Fachtag Ehrenamt 2027").check()
    await page.get_by_role("button", name="Einladung senden").click()
    await expect(page.get_by_role("status")).to_contain_text(VOLUNTEER)


async def set_password_from(page: Page, link: str) -> None:
    await page.goto(link)
    await page.locator("#f-password").fill(NEW_PASSWORD)
    await page.get_by_label("Passwort wiederholen").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Passwort speichern").click()
    await expect(page.get_by_role("heading", name="Passwort gespeichert")).to_be_visible()


async def turn_on_two_factor(page: Page) -> str:
    """From her account page; the secret as she would type it into her app."""
    await page.get_by_role("link", name="Ihr Konto").first.click()
    await page.locator('main a[href="/staff/account/two-factor"]').first.click()
    secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
    await page.get_by_label("Code aus der App").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()
    await expect(page.locator("#recovery-codes li")).to_have_count(10)
    await page.get_by_role("link", name="Ich habe die Codes aufbewahrt – weiter").click()
    return secret


async def test_invited_volunteer_logs_in_with_a_code_and_scans_for_her_conference_only(
    page: Page, browser: Browser, live_server: str, make_staff, pool, tmp_path, smtp_server
):
    admin = await make_staff("admin")
    await create_conference(live_server, admin)
    await create_conference(
        live_server, admin, slug="sommerfest-2027", title="Sommerfest der Vereine 2027"
    )
    await log_in_german(page, admin.email, admin.password)
    await invite(page)
    await page.set_viewport_size(DESKTOP)
    await shoot(page, "path-team-desktop")

    # The invitation mail, rendered with the live server's settings, as its worker does.
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
    [link] = re.findall(
        re.escape(live_server) + r"/staff/invite/[A-Z0-9]{26}", text_of(received.message)
    )

    context = await browser.new_context(base_url=live_server, locale="de-DE", viewport=PHONE)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    phone = await context.new_page()
    try:
        await set_password_from(phone, link)
        await log_in_german(phone, VOLUNTEER, NEW_PASSWORD)
        secret = await turn_on_two_factor(phone)
        await phone.get_by_role("button", name="Abmelden").click()
        await expect(phone).to_have_url(re.compile(r"/staff/login"))

        # Again: the password alone opens nothing; the code from the app does.
        await phone.get_by_label("E-Mail-Adresse").fill(VOLUNTEER)
        await phone.get_by_label("Passwort").fill(NEW_PASSWORD)
        await phone.get_by_role("button", name="Anmelden").click()
        await expect(phone).to_have_url(re.compile(r"/staff/login/code$"))
        await phone.goto("/scan")
        await expect(phone).to_have_url(re.compile(r"/staff/login"))
        await phone.goto("/staff/login/code")
        code = await usable_code(pool, SimpleNamespace(email=VOLUNTEER), secret)
        await phone.get_by_label("Code aus der App").fill(code)
        await phone.get_by_role("button", name="Anmelden", exact=True).click()
        await expect(phone).to_have_url(re.compile(r"/staff$"))

        # The scanner offers her one conference; the other's ticket does not get in.
        await phone.goto("/scan")
        choice = phone.get_by_label("Tagung", exact=True)
        await expect(choice.locator("option")).to_have_text(["Fachtag Ehrenamt 2027"])
        await shoot(phone, "path-scanner-phone")
    finally:
        await context.close()
