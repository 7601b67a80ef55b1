"""End-to-end on a phone-sized screen: an attendee registers with the keyboard alone, fixes
mistakes through the error summary, confirms, sees the ticket, prints it on one A6 page and
cancels in two steps — in headless Chromium against `tagung serve`.

Pages are opened with `?lang=en` (the cookie keeps it) and found by their English labels.
Screenshots for a person to look at go to /tmp (SCREENSHOTS), never into the repository.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from playwright.async_api import Page, expect

from service.tokens import grouped
from tests.conftest import StaffAccount, conference_payload
from tests.live_server import SECRET_KEY
from tests.registration_support import SLUG, registration_payload, token_for

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(tempfile.gettempdir())  # for a person to look at; never committed
FORM = f"/conferences/{SLUG}/register?lang=en"
LIVE_SETTINGS = SimpleNamespace(secret_key=SECRET_KEY)  # what token_for needs of the settings


async def create_conference(base_url: str, account: StaffAccount, **overrides: object) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=account.headers) as api:
        response = await api.post("/api/v1/conferences", json=conference_payload(**overrides))
    assert response.status_code == 201, response.text


async def confirmed_through_the_api(base_url: str, pool, email: str = "aylin@example.org") -> str:  # type: ignore[no-untyped-def]
    """Registers and confirms as the e-mail link would; returns the self-service token."""
    async with httpx.AsyncClient(base_url=base_url) as api:
        registered = await api.post(
            f"/api/v1/conferences/{SLUG}/registrations", json=registration_payload(email=email)
        )
        assert registered.status_code == 202, registered.text
        token = await token_for(pool, LIVE_SETTINGS, email)
        confirmed = await api.post("/api/v1/registrations/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()["manage_token"]


async def focused(page: Page) -> str:
    """The focused element: its id, else tag and text (e.g. "BUTTON:Register")."""
    return await page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el) return "";
            return el.id || `${el.tagName}:${el.textContent.trim().replace(/\\s+/g, " ")}`;
        }"""
    )


async def focus_is_visible(page: Page) -> bool:
    return await page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement);
            return style.outlineStyle !== "none" || style.boxShadow !== "none";
        }"""
    )


async def tab_to(page: Page, target: str, most: int = 40) -> None:
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await focused(page) == target:
            return
    pytest.fail(f"{target} not reached with {most} presses of Tab")


async def registration_row(pool, email: str):  # type: ignore[no-untyped-def]
    async with pool.acquire() as db:
        return await db.fetchrow("SELECT * FROM registrations WHERE email = $1", email)


async def test_register_with_the_keyboard_alone_then_confirm(
    page: Page, live_server: str, make_staff, pool
):
    await create_conference(live_server, await make_staff("organiser"))
    await page.goto(FORM)

    # Every control is reached with Tab, in order, and shows where the focus is.
    stops: list[str] = []
    for _ in range(60):
        await page.keyboard.press("Tab")
        stop = await focused(page)
        if stop.startswith("INPUT") or stop.startswith("TEXTAREA"):
            pytest.fail(f"a control without an id got focus: {stop}")
        if stop.startswith("f-") or stop.startswith("BUTTON"):
            assert await focus_is_visible(page), f"no visible focus on {stop}"
        stops.append(stop)
        if stop == "BUTTON:Register":
            break
    else:
        pytest.fail(f"the Register button was not reached: {stops}")
    expected = [
        "f-name",
        "f-email",
        "f-organisation",
        "f-category",  # a radio group is one stop: its first option while none is chosen
        "f-language-en",  # … or the chosen one (the page's language)
        "f-accessibility",
        *(f"f-accessibility-{v}" for v in ("step_free", "sign_language", "induction_loop")),
        *(f"f-accessibility-{v}" for v in ("easy_language", "other")),
        "f-interpretation",
        "f-dietary",
        *(f"f-dietary-{v}" for v in ("vegan", "halal", "kosher", "gluten_free")),
        *(f"f-dietary-{v}" for v in ("lactose_free", "other")),
        "f-notes",
        "f-consent_privacy",
        "A:privacy notice (opens in a new tab)",  # the link inside the consent's label
        "f-consent_special_category",
        "f-consent_photos",
        "BUTTON:Register",
    ]
    assert [s for s in stops if s.startswith(("f-", "A:privacy", "BUTTON"))] == expected

    # Now fill it in, keys only.
    await page.goto(FORM)
    await tab_to(page, "f-name")
    await page.keyboard.type("Aylin Demir")
    await page.keyboard.press("Tab")
    await page.keyboard.type("aylin@example.org")
    await tab_to(page, "f-category")
    await page.keyboard.press("ArrowDown")  # arrows choose within the group
    await expect(page.get_by_label("Full-time staff")).to_be_checked()
    await tab_to(page, "f-accessibility-step_free")
    await page.keyboard.press("Space")
    await tab_to(page, "f-dietary-vegan")
    await page.keyboard.press("Space")
    await tab_to(page, "f-consent_privacy")
    await page.keyboard.press("Space")
    await tab_to(page, "f-consent_special_category")
    await page.keyboard.press("Space")
    await tab_to(page, "BUTTON:Register")
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", level=1)).to_have_text("Please check your inbox")
    await expect(page.get_by_role("main")).to_contain_text("aylin@example.org")
    row = await registration_row(pool, "aylin@example.org")
    assert row["status"] == "pending_confirmation"
    assert (row["name"], row["category"], row["language"]) == (
        "Aylin Demir",
        "full_time_staff",
        "en",
    )
    assert row["needs"]["accessibility"] == ["step_free"] and row["needs"]["dietary"] == ["vegan"]

    # The link from the e-mail: a page with a button; the button (keyboard again) confirms.
    token = await token_for(pool, LIVE_SETTINGS, "aylin@example.org")
    await page.goto(f"/confirm/{token}")
    assert (await registration_row(pool, "aylin@example.org"))["status"] == "pending_confirmation"
    await tab_to(page, "BUTTON:Confirm")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/r/[0-9A-Z]{26}\?confirmed=1$"))
    await expect(page.get_by_role("status")).to_contain_text("Your e-mail address is confirmed")
    await expect(page.locator("#status")).to_have_text("confirmed")
    await expect(page.get_by_role("img", name="QR code of your ticket")).to_be_visible()


async def test_errors_take_the_focus_and_lead_to_the_fields(
    page: Page, live_server: str, make_staff, pool
):
    await create_conference(live_server, await make_staff("organiser"))
    await page.goto(FORM)
    await page.get_by_label("E-mail address").fill("not an address")
    await page.get_by_label("Organisation (optional)").fill("Flüchtlingshilfe Linden e. V.")
    await page.get_by_label("Vegan").check()
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Register").click()
    assert (await posted.value).status == 400

    summary = page.get_by_role("alert")
    await expect(summary).to_be_focused()
    await expect(page).to_have_title(re.compile(r"^Error: "))
    await expect(summary.get_by_role("link")).to_have_text(
        [
            "Name: Please fill in this field.",
            "E-mail address: Please enter a valid e-mail address, e.g. name@example.org.",
            re.compile(r"^I take part as: "),
            re.compile(r"^Privacy notice: "),
            re.compile(r"^Consent to store your needs: "),
        ]
    )
    await page.screenshot(path=str(SCREENSHOTS / "tagung-registration-errors.png"), full_page=True)

    # What was typed and ticked is kept; each field says what is wrong, tied to it.
    await expect(page.get_by_label("Organisation (optional)")).to_have_value(
        "Flüchtlingshilfe Linden e. V."
    )
    await expect(page.get_by_label("Vegan")).to_be_checked()
    email = page.get_by_label("E-mail address")
    await expect(email).to_have_value("not an address")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_accessible_description(
        re.compile(r"^Error: Please enter a valid e-mail address")
    )

    # From the summary: Tab to a link, Enter — the focus is in the field, its label in view.
    await page.keyboard.press("Tab")
    await expect(summary.get_by_role("link").first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#f-name")).to_be_focused()
    await expect(page.locator('label[for="f-name"]')).to_be_in_viewport()
    await page.keyboard.type("Aylin Demir")

    await summary.get_by_role("link", name=re.compile("^E-mail address")).click()
    await expect(email).to_be_focused()
    await email.fill("aylin@example.org")
    await summary.get_by_role("link", name=re.compile("^I take part as")).click()
    await expect(page.locator("#f-category")).to_be_focused()
    await page.keyboard.press("Space")
    await summary.get_by_role("link", name=re.compile("^Privacy notice")).click()
    await expect(page.locator("#f-consent_privacy")).to_be_focused()
    await page.keyboard.press("Space")
    await page.get_by_label(re.compile("I agree that my needs")).check()
    await page.get_by_role("button", name="Register").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Please check your inbox")
    row = await registration_row(pool, "aylin@example.org")
    assert row["organisation"] == "Flüchtlingshilfe Linden e. V."
    assert row["needs"]["dietary"] == ["vegan"]


async def test_self_service_page_ticket_and_print_view(
    page: Page, live_server: str, make_staff, pool
):
    await create_conference(live_server, await make_staff("organiser"))
    manage = await confirmed_through_the_api(live_server, pool)
    async with httpx.AsyncClient(base_url=live_server) as api:
        secret = (await api.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]

    await page.goto(f"/r/{manage}?lang=en")
    await expect(page.locator("#status")).to_have_text("confirmed")
    qr = page.get_by_role("img", name="QR code of your ticket")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box is not None and 200 <= box["width"] <= 390 and abs(box["width"] - box["height"]) < 2
    await expect(page.locator("#ticket-code")).to_have_text(grouped(secret))
    await expect(page.get_by_role("link", name="Download ticket image")).to_have_attribute(
        "href", f"{live_server}/r/{manage}/ticket.png"
    )
    await expect(
        page.get_by_role("link", name="Subscribe (updates automatically)")
    ).to_have_attribute("href", re.compile(r"^webcal://.*/feed\.ics$"))
    # Nothing sticks out sideways on a phone.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(
        path=str(SCREENSHOTS / "tagung-registration-self-service.png"), full_page=True
    )

    # The print view: one A6 page.
    await page.get_by_role("link", name="Print ticket").click()
    await expect(page).to_have_url(f"{live_server}/r/{manage}/ticket")
    await expect(page.get_by_role("img", name="QR code of your ticket")).to_be_visible()
    pdf = await page.pdf(format="A6", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 1, f"the ticket prints on {pages} A6 pages"


async def test_change_language_and_cancel_in_two_steps(
    page: Page, live_server: str, make_staff, pool
):
    await create_conference(live_server, await make_staff("organiser"))
    manage = await confirmed_through_the_api(live_server, pool)

    await page.goto(f"/r/{manage}?lang=en")
    await page.get_by_role("combobox", name="Language").select_option("en")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved: we will write to you in English.")
    assert (await registration_row(pool, "aylin@example.org"))["language"] == "en"

    await page.get_by_role("link", name="Cancel registration").click()
    await expect(page).to_have_url(f"{live_server}/r/{manage}/cancel")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cancel registration")
    assert (await registration_row(pool, "aylin@example.org"))["status"] == "confirmed"
    # Changed one's mind: back, nothing happened.
    await page.get_by_role("link", name="Back to your registration").click()
    await expect(page.locator("#status")).to_have_text("confirmed")

    await page.get_by_role("link", name="Cancel registration").click()
    await page.get_by_role("button", name="Yes, cancel my registration").click()
    await expect(page).to_have_url(f"{live_server}/r/{manage}?cancelled=1")
    await expect(page.get_by_role("status")).to_have_text("Your registration is cancelled.")
    await expect(page.locator("#status")).to_have_text("cancelled")
    await expect(page.get_by_role("img", name="QR code of your ticket")).to_have_count(0)
    await expect(page.get_by_role("link", name="Cancel registration")).to_have_count(0)
    assert (await registration_row(pool, "aylin@example.org"))["status"] == "cancelled"
    async with httpx.AsyncClient(base_url=live_server) as api:
        assert (await api.get(f"/r/{manage}/ticket.png")).status_code == 404
