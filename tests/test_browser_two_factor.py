"""Two-factor login in Chromium against `tagung serve`: log in, find the set-up page from one's
own account page, read the secret off the page as a person types it into an app, confirm
with the app's code, keep the recovery codes, log out, and log in again with the password
and then a code. Screenshots of the set-up page and the code step at phone and desktop size
go to /tmp/shots/totp-*.png; axe-core finds nothing on either."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.live_server import BROWSER_TIMEOUT_MS
from tests.test_accessibility import AXE, RUN_AXE, WCAG_TAGS
from tests.test_two_factor import usable_code

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir()) / "shots"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}


async def shoot(page: Page, name: str) -> None:
    """The page at phone and at desktop size (back to the phone afterwards)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=str(SHOTS / f"totp-{name}-phone.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(SHOTS / f"totp-{name}-desktop.png"), full_page=True)
    await page.set_viewport_size(PHONE)


async def assert_accessible(page: Page) -> None:
    found = await page.evaluate(RUN_AXE, WCAG_TAGS)
    assert not found, [(v["id"], [n["target"] for n in v["nodes"]]) for v in found]
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px wider than the phone's screen"


async def log_in(page: Page, email: str, password: str) -> None:
    await page.goto("/staff/login")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).not_to_have_url(re.compile(r"/staff/login$"))


async def test_turn_on_two_factor_login_and_log_in_with_a_code(
    browser: Browser, live_server: str, pool, make_staff
):
    account = await make_staff("organiser")
    context = await browser.new_context(base_url=live_server, locale="de-DE", viewport=PHONE)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    await context.add_init_script(path=str(AXE))
    page = await context.new_page()
    try:
        await log_in(page, account.email, account.password)
        await expect(page).to_have_url(re.compile(r"/staff$"))

        # From one's own account page to the set-up page.
        await page.goto("/staff/account")
        await page.locator('main a[href="/staff/account/two-factor"]').first.click()
        await expect(
            page.get_by_role("heading", name="Zwei-Faktor-Anmeldung", level=1)
        ).to_be_visible()
        await expect(
            page.get_by_role("img", name="QR-Code für Ihre Authentifizierungs-App")
        ).to_be_visible()
        # What a person would type into the app by hand.
        secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        await assert_accessible(page)
        await shoot(page, "enrol")

        # A wrong code first: the field says so, nothing is turned on.
        await page.get_by_label("Code aus der App").fill("123")
        await page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()
        await expect(page.locator("#f-code-error")).to_contain_text("nicht richtig")
        await assert_accessible(page)
        await shoot(page, "enrol-error")

        await page.get_by_label("Code aus der App").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()
        codes = page.locator("#recovery-codes li")
        await expect(codes).to_have_count(10)
        await assert_accessible(page)
        await shoot(page, "recovery-codes")
        await page.get_by_role("link", name="Ich habe die Codes aufbewahrt – weiter").click()
        await expect(page).to_have_url(re.compile(r"/staff$"))

        await page.get_by_role("button", name="Abmelden").click()
        await expect(page).to_have_url(re.compile(r"/staff/login"))

        # Again: the password, then the code step.
        await log_in(page, account.email, account.password)
        await expect(page).to_have_url(re.compile(r"/staff/login/code$"))
        await expect(page.get_by_role("heading", name="Zwei-Faktor-Anmeldung")).to_be_visible()
        await assert_accessible(page)
        await shoot(page, "code-step")
        await page.get_by_label("Code aus der App").fill("000000")
        await page.get_by_role("button", name="Anmelden", exact=True).click()
        await expect(page.locator("#login-error")).to_contain_text("nicht richtig")
        await shoot(page, "code-step-error")

        await page.get_by_label("Code aus der App").fill(await usable_code(pool, account, secret))
        await page.get_by_role("button", name="Anmelden", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/staff$"))
        await expect(page.get_by_role("heading", name="Bereich für Mitarbeitende")).to_be_visible()

        # The set-up page now says it is on, and offers new recovery codes and turning it off.
        await page.goto("/staff/account/two-factor")
        await expect(
            page.get_by_text("Die Zwei-Faktor-Anmeldung ist eingeschaltet.")
        ).to_be_visible()
        await expect(page.locator("#totp-secret")).to_have_count(0)
        await assert_accessible(page)
        await shoot(page, "status")
    finally:
        await context.close()


async def test_an_admin_requires_it_and_the_next_login_sets_it_up_first(
    browser: Browser, live_server: str, make_staff
):
    admin = await make_staff("admin")
    context = await browser.new_context(base_url=live_server, locale="de-DE", viewport=PHONE)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    await context.add_init_script(path=str(AXE))
    page = await context.new_page()
    try:
        await log_in(page, admin.email, admin.password)
        await page.goto("/staff/settings")
        required = page.get_by_label(
            "Zwei-Faktor-Anmeldung für Administration und Veranstaltungsteam vorschreiben"
        )
        await required.check()
        await page.get_by_role("button", name="Speichern").click()
        await expect(page.get_by_text("Die Einstellungen wurden gespeichert.")).to_be_visible()
        await expect(required).to_be_checked()
        await assert_accessible(page)
        await shoot(page, "settings")

        await page.get_by_role("button", name="Abmelden").click()
        await log_in(page, admin.email, admin.password)
        await expect(page).to_have_url(re.compile(r"/staff/account/two-factor$"))
        await expect(
            page.get_by_text("ist die Zwei-Faktor-Anmeldung vorgeschrieben")
        ).to_be_visible()
        # Any other staff page leads back here.
        await page.goto("/staff/settings")
        await expect(page).to_have_url(re.compile(r"/staff/account/two-factor$"))
        await assert_accessible(page)
        await shoot(page, "required")
    finally:
        await context.close()
