"""End-to-end: a door device paired from the QR code, in headless Chromium against `tagung
serve`. The organiser adds a door on a laptop-sized screen; the phone (a second browser
context at phone size) reads the pairing link from the QR code on that screen, opens it, pairs
with the button, scans a ticket as the door, and shows that it was removed once the organiser
removes the door. All in German, as a volunteer would see it.

Screenshots for a person to look at go to /tmp/shots/devices-*.png, never into the
repository."""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from service import tokens
from tests.forum_support import make_attendees
from tests.live_server import BROWSER_TIMEOUT_MS, SECRET_KEY
from tests.registration_support import SLUG
from tests.test_accessibility import AXE, Audit
from tests.test_browser import create_conference, log_in

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir()) / "shots"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}

# Reads the QR codes in a PNG with the scanner's own vendored decoder (zxing, WebAssembly),
# run in a page whose policy allows it. A function, not an expression: Playwright evaluates
# an expression with eval(), which the page's Content-Security-Policy refuses.
DECODE = """
async ([png, decoder, wasm]) => {
  const zxing = await import(decoder);
  const wasmUrl = new URL(wasm, location.href).href;
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasmUrl : prefix + path) },
    fireImmediately: true,
  });
  const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
  const detector = new zxing.BarcodeDetector({ formats: ["qr_code"] });
  const codes = await detector.detect(new Blob([bytes], { type: "image/png" }));
  return codes.map((c) => c.rawValue);
}
"""


async def context_page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(base_url=base_url, locale="de-DE", viewport=viewport)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    return await context.new_page()


async def tickets(live_server: str, pool, count: int) -> list[str]:
    people = await make_attendees(pool, SECRET_KEY, SLUG, count)
    async with httpx.AsyncClient(base_url=live_server) as api:
        return [
            (await api.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"]
            for _id, token in people
        ]


async def test_a_phone_paired_from_the_qr_code_scans_until_the_door_is_removed(
    browser: Browser, live_server: str, organiser, pool
):
    SHOTS.mkdir(exist_ok=True)
    await create_conference(live_server, organiser)
    first, second = await tickets(live_server, pool, 2)
    errors: list[str] = []

    # The organiser, on a laptop: the conference's doors, a new door, its pairing screen.
    laptop = await context_page(browser, live_server, DESKTOP)
    laptop.on("pageerror", lambda error: errors.append(str(error)))
    await log_in(laptop, organiser)
    await laptop.goto(f"/staff/conferences/{SLUG}?lang=de")
    await laptop.get_by_role("link", name="Eingänge und Geräte").first.click()
    await expect(laptop.get_by_role("heading", name="Eingänge und Geräte")).to_be_visible()
    await expect(laptop.locator("#doors-empty")).to_have_text("Noch keine Eingänge.")
    await laptop.get_by_label("Name des Eingangs").fill("Eingang Nord")
    await laptop.get_by_role(
        "button", name="Eingang hinzufügen und Einrichtungscode zeigen"
    ).click()
    await expect(
        laptop.get_by_role("heading", name="Gerät einrichten: Eingang Nord")
    ).to_be_visible()
    qr = laptop.get_by_role(
        "img", name="QR-Code des Einrichtungslinks für den Eingang Eingang Nord"
    )
    await expect(qr).to_be_visible()
    shown_url = (await laptop.locator("#pairing-url").inner_text()).strip()
    assert shown_url.startswith(f"{live_server}/pair/")
    box = await qr.bounding_box()
    assert box and box["width"] >= 300, box  # big enough to scan from a laptop's screen
    await laptop.screenshot(path=str(SHOTS / "devices-pairing-desktop.png"))
    qr_png = await laptop.locator("#pairing-qr").screenshot()

    # The phone reads the link from the QR code on the laptop's screen.
    phone = await context_page(browser, live_server, PHONE)
    phone.on("pageerror", lambda error: errors.append(str(error)))
    await phone.goto("/scan/device")
    await expect(phone.locator("#scanner")).to_have_attribute("data-ready", "true")
    # Not paired yet: nothing to scan with.
    await expect(phone.locator("#scan-auth")).to_contain_text("nicht als Gerät")
    config = await phone.evaluate(
        "() => JSON.parse(document.getElementById('scan-config').textContent).urls"
    )
    read = await phone.evaluate(
        DECODE, [base64.b64encode(qr_png).decode(), config["decoder"], config["wasm"]]
    )
    assert read == [shown_url]

    await phone.goto(read[0])
    await expect(phone.get_by_text("Eingang: Eingang Nord")).to_be_visible()
    button = phone.get_by_role(
        "button", name="Dieses Gerät als Scanner für Fachtag Ehrenamt 2027 einrichten"
    )
    await expect(button).to_be_visible()
    await phone.screenshot(path=str(SHOTS / "devices-phone-pair.png"))
    await button.click()

    # The scanner in device mode: this conference, this door, no login.
    await expect(phone).to_have_url(re.compile(r"/scan/device$"))
    await expect(phone.locator("#scan-where")).to_contain_text("Fachtag Ehrenamt 2027")
    await expect(phone.locator("#scan-where")).to_contain_text("Eingang Nord")
    await expect(phone.locator("#scan-change")).to_be_hidden()
    await expect(phone.locator("#scan-age")).to_have_text("Ticketdaten aktuell")
    code = phone.get_by_label("Ticket-Code (scannen oder eintippen)")
    await code.fill(first)
    await code.press("Enter")
    result = phone.locator("#scan-result")
    await expect(result).to_have_attribute("data-status", "ok")
    await expect(result).to_contain_text("Willkommen!")
    await expect(phone.get_by_role("button", name="Gerät abmelden")).to_be_visible()
    await phone.screenshot(path=str(SHOTS / "devices-phone-scanner.png"))
    async with pool.acquire() as db:
        scan = await db.fetchrow("SELECT device, staff_id, gate, status FROM scans")
        door_id = await db.fetchval("SELECT id FROM devices")
    assert dict(scan) == {
        "device": f"device:{door_id}",
        "staff_id": None,
        "gate": "Eingang Nord",
        "status": "ok",
    }

    # Back on the laptop: the door has its device; the organiser removes it.
    await laptop.get_by_role("link", name="Fertig: zurück zu den Eingängen").click()
    row = laptop.locator("#doors tr", has_text="Eingang Nord")
    await expect(row).to_contain_text("Gerät eingerichtet am")
    await laptop.screenshot(path=str(SHOTS / "devices-list-desktop.png"))
    await row.get_by_role("link", name="Entfernen").click()
    await expect(
        laptop.get_by_role("heading", name="Eingang entfernen: Eingang Nord")
    ).to_be_visible()
    await laptop.get_by_role("button", name="Ja, diesen Eingang entfernen").click()
    await expect(laptop.locator("#notice")).to_contain_text("Der Eingang wurde entfernt.")
    await expect(laptop.locator("#doors-empty")).to_be_visible()

    # The phone's next scan is refused, and the phone says why.
    await code.fill(second)
    await code.press("Enter")
    await expect(result).to_contain_text("Dieses Gerät wurde vom Veranstaltungsteam entfernt")
    await expect(phone.locator("#scan-auth")).to_contain_text(
        "wurde vom Veranstaltungsteam entfernt"
    )
    await phone.screenshot(path=str(SHOTS / "devices-phone-removed.png"))
    async with pool.acquire() as db:
        inside = await db.fetchval(
            "SELECT inside FROM registrations WHERE ticket_hash = $1", tokens.digest(second)
        )
    assert inside is False
    # Opened again, the page still says so, and keeps no token.
    await phone.reload()
    await expect(phone.locator("#scan-auth")).to_contain_text(
        "wurde vom Veranstaltungsteam entfernt"
    )
    stored = await phone.evaluate("() => localStorage.getItem('tagung-scan:device')")
    assert '"token":null' in stored
    assert errors == []
    await laptop.context.close()
    await phone.context.close()


async def test_the_pages_at_both_sizes(browser: Browser, live_server: str, organiser):
    """The doors page with a door waiting and one paired, and the pairing screen, at phone
    size; a used pairing link on the phone."""
    SHOTS.mkdir(exist_ok=True)
    await create_conference(live_server, organiser)
    async with httpx.AsyncClient(base_url=live_server, headers=organiser.headers) as api:
        waiting = await api.post(
            f"/api/v1/conferences/{SLUG}/devices", json={"name": "Haupteingang"}
        )
        paired = await api.post(f"/api/v1/conferences/{SLUG}/devices", json={"name": "Tür B"})
        code = paired.json()["pairing_url"].rsplit("/", 1)[1]
        assert (await api.post("/api/v1/devices/pair", json={"code": code})).status_code == 200
    assert waiting.status_code == 201
    page = await context_page(browser, live_server, PHONE)
    await log_in(page, organiser)
    await page.goto(f"/staff/conferences/{SLUG}/devices?lang=de")
    await expect(page.locator("#doors tr", has_text="Haupteingang")).to_contain_text("Wartet")
    await page.screenshot(path=str(SHOTS / "devices-list-phone.png"), full_page=True)
    await page.get_by_label("Name des Eingangs").fill("Eingang Süd")
    await page.get_by_role("button", name="Eingang hinzufügen und Einrichtungscode zeigen").click()
    await expect(page.locator("#pairing-qr svg")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "devices-pairing-phone.png"), full_page=True)

    used = await context_page(browser, live_server, PHONE)
    await used.goto(f"/pair/{code}")
    await expect(used.get_by_role("alert")).to_contain_text("bereits verwendet")
    await used.screenshot(path=str(SHOTS / "devices-phone-used-link.png"))
    await page.context.close()
    await used.context.close()


async def test_signing_the_device_out_forgets_its_token(
    browser: Browser, live_server: str, organiser
):
    await create_conference(live_server, organiser)
    async with httpx.AsyncClient(base_url=live_server, headers=organiser.headers) as api:
        door = await api.post(f"/api/v1/conferences/{SLUG}/devices", json={"name": "Tür C"})
    phone = await context_page(browser, live_server, PHONE)
    errors: list[str] = []
    phone.on("pageerror", lambda error: errors.append(str(error)))
    await phone.goto(door.json()["pairing_url"].removeprefix(live_server))
    await phone.get_by_role("button", name=re.compile("Dieses Gerät als Scanner")).click()
    await expect(phone.locator("#scan-where")).to_contain_text("Tür C")

    phone.once("dialog", lambda dialog: dialog.accept())
    await phone.get_by_role("button", name="Gerät abmelden").click()
    await expect(phone.locator("#scan-auth")).to_contain_text("nicht als Gerät")
    await expect(phone.locator("#scan-main")).to_be_hidden()
    assert await phone.evaluate("() => Object.keys(localStorage)") == []
    assert errors == []
    await phone.context.close()


async def test_axe_finds_nothing_on_the_door_pages(browser: Browser, live_server: str, organiser):
    """axe-core (WCAG 2.1 AA) on the doors page (also with a field message), the pairing
    screen, the removal question, the phone's pairing page (live and used) and the device
    scanner before pairing: German at 320 px and light, English at desktop size and dark."""
    await create_conference(live_server, organiser)
    problems: list[str] = []
    for language, width, scheme in (("de", 320, "light"), ("en", 1280, "dark")):
        async with httpx.AsyncClient(base_url=live_server, headers=organiser.headers) as api:
            door = await api.post(
                f"/api/v1/conferences/{SLUG}/devices", json={"name": f"Tür {language}"}
            )
            used = await api.post(
                f"/api/v1/conferences/{SLUG}/devices", json={"name": f"Alt {language}"}
            )
            code = used.json()["pairing_url"].rsplit("/", 1)[1]
            assert (await api.post("/api/v1/devices/pair", json={"code": code})).status_code == 200
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
            await audit.visit(
                f"/pair/{door.json()['pairing_url'].rsplit('/', 1)[1]}?lang={language}",
                "pairing page",
            )
            await audit.visit(f"/pair/{code}", "pairing page, link used", status=409)
            await audit.visit("/scan/device", "device scanner, not paired")
            await log_in(audit.page, organiser)
            base = f"/staff/conferences/{SLUG}/devices"
            await audit.visit(f"{base}?lang={language}", "doors and devices")
            await audit.submit(400)
            await audit.check("doors and devices, no name given")
            await audit.page.locator("#f-name").fill(f"Neu {language}")
            await audit.submit(200)
            await audit.check("pairing screen")
            await audit.visit(f"{base}/{door.json()['id']}/remove", "remove a door")
        finally:
            await context.close()
        problems += audit.problems
    assert not problems, "axe-core found violations:\n" + "\n".join(problems)
