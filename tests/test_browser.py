"""End-to-end: the real pages in headless Chromium against `tagung serve`.

Locators go by role and label, so each test also checks that labels and roles are wired.
Where the German wording may still change, the pages are opened with `?lang=en` (which sets the
language cookie) and elements are found by their English label, or by name/id.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import StaffAccount, conference_payload

pytestmark = pytest.mark.browser

SLUG = "fachtag-2027"
TITLE = "Fachtag Ehrenamt 2027"


async def create_conference(base_url: str, account: StaffAccount, **overrides: object) -> dict:
    async with httpx.AsyncClient(base_url=base_url, headers=account.headers) as api:
        response = await api.post("/api/v1/conferences", json=conference_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def add_programme_item(base_url: str, account: StaffAccount, slug: str, **item) -> dict:
    async with httpx.AsyncClient(base_url=base_url, headers=account.headers) as api:
        response = await api.post(f"/api/v1/conferences/{slug}/programme", json=item)
    assert response.status_code == 201, response.text
    return response.json()


async def published_slugs(base_url: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url) as api:
        response = await api.get("/api/v1/conferences")
    assert response.status_code == 200, response.text
    return [c["slug"] for c in response.json()]


async def log_in(page: Page, account: StaffAccount, path: str = "/staff/login?lang=en") -> None:
    """Logs in through the form (in English) and waits until the login page is left."""
    await page.goto(path)
    await page.get_by_label("E-mail address").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).not_to_have_url(re.compile(r"/staff/login"))


def path_of(base_url: str, path: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(base_url + path) + "$")


async def test_start_page_lists_conference_and_switches_to_english(
    page: Page, live_server: str, organiser
):
    await create_conference(live_server, organiser)
    await add_programme_item(
        live_server,
        organiser,
        SLUG,
        title="Eröffnung durch die Ministerin",
        kind="plenary",
        starts_at="2027-05-10T09:30:00+02:00",
        ends_at="2027-05-10T10:15:00+02:00",
        room="Saal 1",
    )

    await page.goto("/")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.get_by_text("Montag, 10. Mai 2027")).to_be_visible()
    await page.get_by_role("link", name=TITLE).click()

    await expect(page).to_have_url(path_of(live_server, f"/conferences/{SLUG}"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    programme = page.locator("ol.programme")
    await expect(
        programme.get_by_role("heading", name="Eröffnung durch die Ministerin")
    ).to_be_visible()
    await expect(programme.get_by_role("listitem")).to_have_count(1)
    await expect(programme).to_contain_text("09:30")
    await expect(programme).to_contain_text("Saal 1")

    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", name="Programme")).to_be_visible()
    await expect(page.get_by_text("Monday, May 10, 2027")).to_be_visible()
    # The other language is now the link, and the choice sticks (cookie) on the next page.
    await expect(page.get_by_role("link", name="Deutsch")).to_be_visible()
    await expect(page.get_by_role("link", name="English")).to_have_count(0)
    await page.goto("/")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Conferences")


async def _focused_id(page: Page) -> str:
    return await page.evaluate("document.activeElement ? document.activeElement.id : ''")


async def _tab_to(page: Page, element_id: str, most: int = 15) -> None:
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await _focused_id(page) == element_id:
            return
    pytest.fail(f"#{element_id} not reached with {most} presses of Tab")


async def test_staff_login_with_the_keyboard_only(page: Page, live_server: str, make_staff):
    account = await make_staff("organiser")
    await page.goto("/staff/login?lang=en")

    await _tab_to(page, "f-email")
    await page.keyboard.type(account.email)
    await page.keyboard.press("Tab")
    assert await _focused_id(page) == "f-password"
    await page.keyboard.type(account.password)
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(path_of(live_server, "/staff"))
    await expect(page.get_by_role("main")).to_contain_text(account.email)


async def submit(page: Page, button_name: str) -> None:
    """Clicks the form's submit button and checks that the answer is an HTML page."""
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name=button_name).click()
    response = await posted.value
    if response.status < 400:  # passed: a redirect
        return
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("text/html"), (
        f"POST {response.url} answered {response.status} with Content-Type {content_type!r}; "
        "a form shown again must be text/html"
    )


async def expect_field_error(page: Page, name: str) -> str:
    """The field is marked invalid, its message is tied to it by aria-describedby (after a
    hidden "Error:" for screen readers), and the error summary (role=alert) links to the
    field with its label and the same message ("Title: …"). Returns the message."""
    field = page.locator(f"#f-{name}")
    await expect(field).to_have_attribute("aria-invalid", "true")
    error_id = f"f-{name}-error"
    described_by = (await field.get_attribute("aria-describedby") or "").split()
    assert error_id in described_by, f"#{error_id} not in aria-describedby={described_by}"
    error = page.locator(f"#{error_id}")
    prefix = (await error.locator(".visually-hidden").text_content() or "").strip()
    assert prefix, f"#{error_id} has no hidden 'Error:' prefix"
    message = (await error.text_content() or "").strip().removeprefix(prefix).strip()
    assert message, f"#{error_id} is empty"
    link = page.get_by_role("alert").locator(f'a[href="#f-{name}"]')
    await expect(link).to_have_count(1)
    label = (await page.locator(f'label[for="f-{name}"]').first.text_content() or "").strip()
    label = label.removesuffix("*").strip()
    await expect(link).to_have_text(f"{label}: {message}" if label else message)
    return message


async def test_wrong_password_shows_the_error_and_stays(page: Page, live_server: str, make_staff):
    account = await make_staff("organiser")
    await page.goto("/staff/login?lang=en")
    await page.get_by_label("E-mail address").fill(account.email)
    await page.get_by_label("Password").fill("not the password at all")
    await submit(page, "Log in")

    await expect(page.get_by_role("alert")).to_have_text(
        "E-mail address or password is not correct."
    )
    await expect(page).to_have_url(re.compile(r"/staff/login"))
    await expect(page.get_by_label("E-mail address")).to_have_value(account.email)
    await expect(page.get_by_label("Password")).to_have_value("")


async def fill_conference_form(page: Page, *, title: str, starts: str, ends: str) -> None:
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Web address").fill(SLUG)
    await page.get_by_label("Venue").fill("Rathaus Hannover")
    await page.get_by_label("Starts").fill(starts)
    await page.get_by_label("Ends").fill(ends)
    await page.get_by_label("Places").fill("120")


async def test_conference_form_shows_errors_keeps_values_then_creates(
    page: Page, live_server: str, make_staff
):
    await log_in(page, await make_staff("organiser"))
    await page.goto("/staff/conferences/new")
    await fill_conference_form(page, title="", starts="2027-05-10T17:00", ends="2027-05-10T09:00")
    await submit(page, "Save")

    await expect(page).to_have_url(path_of(live_server, "/staff/conferences/new"))
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect_field_error(page, "title")
    await expect(page.locator("#f-venue")).not_to_have_attribute("aria-invalid", "true")
    # What was typed is still there.
    await expect(page.get_by_label("Web address")).to_have_value(SLUG)
    await expect(page.get_by_label("Venue")).to_have_value("Rathaus Hannover")
    await expect(page.get_by_label("Starts")).to_have_value("2027-05-10T17:00")
    await expect(page.get_by_label("Ends")).to_have_value("2027-05-10T09:00")
    await expect(page.get_by_label("Places")).to_have_value("120")
    assert SLUG not in await published_slugs(live_server)

    await fill_conference_form(
        page, title=TITLE, starts="2027-05-10T09:00", ends="2027-05-10T17:00"
    )
    await submit(page, "Save")

    await expect(page).to_have_url(path_of(live_server, f"/staff/conferences/{SLUG}"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    assert SLUG in await published_slugs(live_server)


async def test_conference_form_reports_every_problem_at_once(
    page: Page, live_server: str, make_staff
):
    await log_in(page, await make_staff("organiser"))
    await page.goto("/staff/conferences/new")
    await fill_conference_form(page, title="", starts="2027-05-10T17:00", ends="2027-05-10T09:00")
    await submit(page, "Save")

    await expect(page.get_by_role("alert")).to_be_visible()
    await expect_field_error(page, "title")
    await expect_field_error(page, "ends_at")


async def test_staff_adds_a_programme_item_shown_publicly(page: Page, live_server: str, make_staff):
    account = await make_staff("organiser")
    await create_conference(live_server, account)
    await log_in(page, account)
    await page.goto(f"/staff/conferences/{SLUG}")
    await page.get_by_role("link", name="Add programme item").click()
    await expect(page).to_have_url(path_of(live_server, f"/staff/conferences/{SLUG}/programme/new"))

    await page.get_by_label("Title").fill("Markt der Möglichkeiten")
    await page.get_by_label("Kind").select_option("market")
    await page.get_by_label("Starts").fill("2027-05-10T13:00")
    await page.get_by_label("Ends").fill("2027-05-10T15:30")
    await page.get_by_label("Room").fill("Halle 2")
    await submit(page, "Save")

    await expect(page).to_have_url(path_of(live_server, f"/staff/conferences/{SLUG}#programme"))
    await expect(page.get_by_role("link", name="Markt der Möglichkeiten")).to_be_visible()

    await page.goto(f"/conferences/{SLUG}?lang=de")
    item = page.locator("ol.programme").get_by_role("listitem")
    await expect(item).to_have_count(1)
    await expect(item.get_by_role("heading")).to_have_text("Markt der Möglichkeiten")
    await expect(item).to_contain_text("13:00")
    await expect(item).to_contain_text("Halle 2")


async def test_staff_page_without_login_redirects_and_returns_after_login(
    page: Page, live_server: str, make_staff
):
    account = await make_staff("organiser")
    await page.goto("/staff/conferences/new?lang=en")
    await expect(page).to_have_url(
        path_of(live_server, "/staff/login?next=/staff/conferences/new%3Flang%3Den")
    )
    await page.get_by_label("E-mail address").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in").click()

    await expect(page).to_have_url(path_of(live_server, "/staff/conferences/new?lang=en"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("New conference")


async def test_scanner_may_not_open_the_conference_form(page: Page, live_server: str, make_staff):
    await log_in(page, await make_staff("scanner"))
    response = await page.goto("/staff/conferences/new")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    await expect(page.get_by_role("textbox")).to_have_count(0)
