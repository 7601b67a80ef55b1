"""The scanner page in headless Chromium on a phone screen, logged in as a scanner: typed codes,
a handheld scanner (keyboard wedge), the answers ok / already checked in / invalid, the forum
door, a door that loses the network and uploads its scans afterwards, and the camera (absent in
headless Chromium; with Chromium's fake camera showing a ticket QR, read by the vendored
decoder)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import qrcode
from playwright.async_api import Browser, Page, async_playwright, expect

from service import tokens
from service.settings import PROJECT_ROOT
from tests.conftest import StaffAccount
from tests.forum_support import forum_payload, make_attendees
from tests.live_server import (
    BROWSER_TIMEOUT_MS,
    CHROMIUM_ARGS,
    SECRET_KEY,
    START_TIMEOUT,
    _free_port,
    _stop,
    _tagung_command,
)
from tests.registration_support import SLUG
from tests.test_browser import create_conference, log_in

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def errors(page: Page) -> list[str]:
    """Script errors on the page; each test ends with none."""
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


async def attendees(
    live_server: str, organiser: StaffAccount, pool, count: int
) -> list[tuple[str, str]]:
    """A conference with `count` confirmed people: (ticket secret, self-service token)."""
    await create_conference(live_server, organiser)
    people = await make_attendees(pool, SECRET_KEY, SLUG, count)
    async with httpx.AsyncClient(base_url=live_server) as api:
        return [
            ((await api.get(f"/api/v1/registrations/{token}")).json()["ticket"]["secret"], token)
            for _id, token in people
        ]


async def tickets(live_server: str, organiser: StaffAccount, pool, count: int) -> list[str]:
    return [secret for secret, _token in await attendees(live_server, organiser, pool, count)]


async def open_scanner(page: Page, account: StaffAccount, gate: str = "A", forum: str = "") -> None:
    """Logs in (English), sets up the door once and waits for the ticket data."""
    await log_in(page, account, "/staff/login?lang=en&next=/scan")
    await expect(page.locator("#scanner")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_role("heading", name="Set up this door")).to_be_visible()
    await page.get_by_label("Door", exact=True).fill(gate)
    if forum:
        choice = page.get_by_label("What is checked here")
        option = choice.locator("option", has_text=forum)
        await expect(option).to_have_count(1)
        await choice.select_option(await option.get_attribute("value"))
    await page.get_by_role("button", name="Start scanning").click()
    await expect(page.locator("#scan-main")).to_be_visible()
    await expect(page.locator("#scan-age")).to_have_text("Ticket data up to date")


async def type_code(page: Page, code: str) -> None:
    field = page.get_by_label("Ticket code (scan or type)")
    await field.fill(code)
    await field.press("Enter")


def result(page: Page):
    return page.locator("#scan-result")


async def entered_at(pool, secret: str) -> str:
    async with pool.acquire() as db:
        at = await db.fetchval(
            "SELECT entered_at FROM registrations WHERE ticket_hash = $1", tokens.digest(secret)
        )
    return at.astimezone(BERLIN).strftime("%H:%M")


async def test_typed_codes_ok_already_inside_and_invalid(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    [secret] = await tickets(live_server, organiser, pool, 1)
    scanner = await make_staff("scanner")
    await open_scanner(page, scanner, gate="A")
    # The door is remembered: the page opens ready to scan next time.
    await expect(page.locator("#scan-where")).to_contain_text("door A")

    await type_code(page, secret)
    await expect(result(page)).to_have_attribute("data-status", "ok")
    await expect(result(page)).to_have_class(re.compile(r"\bdoor-ok\b"))
    await expect(result(page)).to_contain_text("Welcome!")
    await expect(result(page)).to_contain_text("Person 0 · Volunteer")
    # Ready for the next ticket at once: empty and focused.
    field = page.get_by_label("Ticket code (scan or type)")
    await expect(field).to_be_focused()
    await expect(field).to_have_value("")

    # The same ticket again, as printed (grouped, lower case).
    await type_code(page, tokens.grouped(secret).lower())
    await expect(result(page)).to_have_attribute("data-reason", "already_checked_in")
    await expect(result(page)).to_have_class(re.compile(r"\bdoor-warn\b"))
    time = await entered_at(pool, secret)
    await expect(result(page)).to_contain_text(f"Already checked in at {time}, door A")

    await type_code(page, "HELLO WORLD 123")
    await expect(result(page)).to_have_attribute("data-reason", "invalid")
    await expect(result(page)).to_have_class(re.compile(r"\bdoor-bad\b"))
    await expect(result(page)).to_contain_text("Not a valid ticket")
    await expect(page.locator("#scan-online")).to_have_text("Online")
    assert errors == []


async def test_keyboard_wedge_scans_without_a_click(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    first, second = await tickets(live_server, organiser, pool, 2)
    scanner = await make_staff("scanner")
    await open_scanner(page, scanner, gate="B")
    # A handheld scanner types the code fast and ends with Enter, into the focused field.
    await page.keyboard.type(first, delay=5)
    await page.keyboard.press("Enter")
    await expect(result(page)).to_have_attribute("data-status", "ok")
    await expect(result(page)).to_contain_text("Person 0")
    # Focus lost (a tap somewhere on the page): the typed keys still reach the field.
    await page.locator("#scan-where").click()
    await page.keyboard.type(second, delay=5)
    await page.keyboard.press("Enter")
    await expect(result(page)).to_contain_text("Person 1")
    await expect(result(page)).to_have_attribute("data-status", "ok")
    # Exit, then the same person may enter again.
    await page.get_by_text("Exit", exact=True).click()
    await page.keyboard.type(first, delay=5)
    await page.keyboard.press("Enter")
    await expect(result(page)).to_contain_text("Exit recorded")
    await page.get_by_text("Entry", exact=True).click()
    await page.keyboard.type(first, delay=5)
    await page.keyboard.press("Enter")
    await expect(result(page)).to_contain_text("Welcome!")
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT type, status, gate, offline FROM scans ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("entry", "ok", "B", False),
        ("entry", "ok", "B", False),
        ("exit", "ok", "B", False),
        ("entry", "ok", "B", False),
    ]
    assert errors == []


async def test_offline_door_admits_queues_and_uploads(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    first, second, third = await tickets(live_server, organiser, pool, 3)
    scanner = await make_staff("scanner")
    other_door = await make_staff("scanner")
    await open_scanner(page, scanner, gate="A")
    # The service worker keeps the page for a start without network.
    # A function, not an expression: Playwright evaluates an expression with eval(), which
    # the page's Content-Security-Policy refuses.
    await page.wait_for_function("() => !!navigator.serviceWorker.controller")

    context = page.context
    await context.set_offline(True)
    await type_code(page, first)
    await expect(result(page)).to_have_attribute("data-status", "ok")
    await expect(result(page)).to_have_attribute("data-offline", "true")
    await expect(result(page)).to_contain_text("Person 0")
    await expect(result(page)).to_contain_text("Decided offline")
    await expect(page.locator("#scan-online")).to_have_text("Offline")
    await expect(page.locator("#scan-queue")).to_have_text("1 scan waiting to upload")

    # The same ticket again: the phone knows it let the person in.
    await type_code(page, first)
    await expect(result(page)).to_have_attribute("data-reason", "already_checked_in")
    await expect(result(page)).to_contain_text("door A")
    await type_code(page, "NOT-A-TICKET")
    await expect(result(page)).to_have_attribute("data-reason", "invalid")
    # Meanwhile another door, online, admits the third person, whom this door admits as well.
    async with httpx.AsyncClient(base_url=live_server, headers=other_door.headers) as api:
        other = await api.post(
            "/api/v1/checkin", json={"conference": SLUG, "secret": third, "gate": "B"}
        )
    assert other.json()["status"] == "ok"
    await type_code(page, third)
    await expect(result(page)).to_have_attribute("data-status", "ok")
    await expect(page.locator("#scan-queue")).to_have_text("2 scans waiting to upload")

    await context.set_offline(False)
    await expect(page.locator("#scan-queue")).to_have_attribute("data-count", "0", timeout=60_000)
    await expect(page.locator("#scan-online")).to_have_text("Online")
    await expect(page.locator("#scan-conflicts")).to_contain_text("Conflict: Person 2")
    await expect(page.locator("#scan-conflicts")).to_contain_text("door B")
    async with pool.acquire() as db:
        rows = await db.fetch(
            "SELECT r.name, s.offline, s.status, s.reason, s.gate FROM scans s "
            "JOIN registrations r ON r.id = s.registration_id ORDER BY s.id"
        )
    assert [tuple(r) for r in rows] == [
        ("Person 2", False, "ok", None, "B"),
        ("Person 0", True, "ok", None, "A"),
        ("Person 2", True, "error", "already_checked_in", "A"),
    ]
    # Online again, the next scan goes to the server.
    await type_code(page, second)
    await expect(result(page)).to_have_attribute("data-offline", "false")
    await expect(result(page)).to_have_attribute("data-status", "ok")
    assert errors == []


@contextmanager
def door_server(database_url: str, data_dir: Path, port: int) -> Iterator[str]:
    """`tagung serve` on a fixed port (the phone's storage and service worker belong to the
    origin, so the server must come back at the same address)."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TAGUNG_DATA_DIR": str(data_dir),
        "SMTP_URL": "smtp://127.0.0.1:1",
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    environment.pop("TAGUNG_DEBUG", None)
    command = [*_tagung_command(), "serve", "--port", str(port), "--workers", "1", "--no-worker"]
    with (data_dir / f"server-{time.monotonic_ns()}.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, "tagung serve exited"
            try:
                if httpx.get(f"{url}/health", timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tagung serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)


async def test_the_page_opens_and_admits_while_the_server_is_away(
    browser: Browser, database_url: str, tmp_path: Path, organiser, pool, make_staff
):
    """No emulation: the server itself goes away (as when the Wi-Fi drops) and comes back."""
    port = _free_port()
    context = await browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = await context.new_page()
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    try:
        with door_server(database_url, tmp_path, port) as url:
            [secret] = await tickets(url, organiser, pool, 1)
            scanner = await make_staff("scanner")
            await log_in(page, scanner, f"{url}/staff/login?lang=en&next=/scan")
            await page.get_by_label("Door", exact=True).fill("A")
            await page.get_by_role("button", name="Start scanning").click()
            await expect(page.locator("#scan-age")).to_have_text("Ticket data up to date")
            await page.wait_for_function("() => !!navigator.serviceWorker.controller")
            # The service worker keeps the page and the decoder in its cache.
            kept = await page.evaluate(
                "caches.keys().then(async (names) => { const c = await caches.open(names[0]);"
                " return (await c.keys()).map((r) => new URL(r.url).pathname); })"
            )
            assert {"/scan", "/static/js/scanner.js", "/static/css/site.css"} <= set(kept)
            assert "/static/vendor/barcode-detector/zxing_reader.wasm" in kept

        # The server is gone: the page opens from the phone and the door decides alone.
        reloaded = await page.reload()
        assert reloaded is not None and reloaded.from_service_worker
        await expect(page.locator("#scanner")).to_have_attribute("data-ready", "true")
        await expect(page.locator("#scan-where")).to_contain_text("door A")
        await type_code(page, secret)
        await expect(result(page)).to_have_attribute("data-status", "ok")
        await expect(result(page)).to_have_attribute("data-offline", "true")
        await expect(result(page)).to_contain_text("Person 0")
        await expect(page.locator("#scan-online")).to_have_text("Offline")
        await expect(page.locator("#scan-queue")).to_have_text("1 scan waiting to upload")

        with door_server(database_url, tmp_path, port):
            await expect(page.locator("#scan-queue")).to_have_attribute(
                "data-count", "0", timeout=60_000
            )
            await expect(page.locator("#scan-online")).to_have_text("Online")
        async with pool.acquire() as db:
            rows = await db.fetch("SELECT offline, status, gate FROM scans")
        assert [tuple(r) for r in rows] == [(True, "ok", "A")]
        assert found == []
    finally:
        await context.close()


async def test_forum_door(page: Page, live_server: str, organiser, pool, make_staff, errors):
    (signed_up, token), (stranger, _token) = await attendees(live_server, organiser, pool, 2)
    async with httpx.AsyncClient(base_url=live_server) as api:
        created = await api.post(
            f"/api/v1/conferences/{SLUG}/forums", json=forum_payload(), headers=organiser.headers
        )
        forum = created.json()
        joined = await api.put(f"/api/v1/registrations/{token}/forums/{forum['id']}")
    assert joined.json()["status"] == "confirmed", joined.text
    scanner = await make_staff("scanner")
    await open_scanner(page, scanner, gate="Raum 11", forum="Spracherwerb")
    await expect(page.locator("#scan-where")).to_contain_text("Forum: Spracherwerb im Ehrenamt")
    await expect(page.locator("#scan-direction")).to_be_hidden()
    await type_code(page, signed_up)
    await expect(result(page)).to_have_attribute("data-status", "signed_up")
    await expect(result(page)).to_contain_text("Signed up – welcome!")
    await expect(result(page)).to_contain_text("Person 0")
    await type_code(page, stranger)
    await expect(result(page)).to_have_attribute("data-status", "not_signed_up")
    await expect(result(page)).to_have_class(re.compile(r"\bdoor-warn\b"))
    await type_code(page, "GARBAGE")
    await expect(result(page)).to_have_attribute("data-status", "invalid")
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM forum_attendance") == 1
        # A forum check is no entrance scan.
        assert await db.fetchval("SELECT count(*) FROM scans") == 0
    assert errors == []


async def test_camera_absent_is_reported(
    page: Page, live_server: str, organiser, pool, make_staff, errors
):
    await tickets(live_server, organiser, pool, 1)
    scanner = await make_staff("scanner")
    await page.context.grant_permissions(["camera"])
    await open_scanner(page, scanner)
    # 127.0.0.1 is a secure context, so the browser offers getUserMedia; there is no camera.
    button = page.get_by_role("button", name="Scan with the camera")
    await button.click()
    await expect(page.locator("#scan-camera-message")).to_have_text(
        "No camera available on this device. Type the code or use a handheld scanner."
    )
    await expect(page.locator("#scan-camera-box")).to_be_hidden()
    await expect(page.locator("#scanner")).not_to_have_attribute("data-camera", "running")
    # The typed way keeps working.
    await expect(page.get_by_label("Ticket code (scan or type)")).to_be_editable()
    assert errors == []


def write_y4m(path: Path, text: str, width: int = 640, height: int = 480) -> None:
    """A still video of a QR code for Chromium's fake camera (YUV 4:2:0, grey)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    scale = min(width, height) * 8 // 10 // len(matrix)
    left = (width - scale * len(matrix)) // 2
    top = (height - scale * len(matrix)) // 2
    luma = bytearray(b"\xeb" * (width * height))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start : start + scale] = b"\x10" * scale
    chroma = b"\x80" * (width // 2 * height // 2)
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * 10)


@pytest.fixture
async def camera_browser(chromium_path: Path, tmp_path: Path) -> AsyncIterator[Browser]:
    """Chromium whose camera shows a file (set per test via its path)."""
    video = tmp_path / "ticket.y4m"
    video.write_bytes(b"")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path),
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        browser.video_file = video  # type: ignore[attr-defined]
        yield browser
        await browser.close()


async def test_camera_reads_a_ticket_with_the_vendored_decoder(
    camera_browser: Browser, live_server: str, organiser, pool, make_staff
):
    [secret] = await tickets(live_server, organiser, pool, 1)
    write_y4m(camera_browser.video_file, secret)  # type: ignore[attr-defined]
    scanner = await make_staff("scanner")
    context = await camera_browser.new_context(
        base_url=live_server, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = await context.new_page()
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    try:
        await open_scanner(page, scanner)
        # Chromium on Linux has no BarcodeDetector: the vendored zxing-wasm polyfill reads.
        assert not await page.evaluate("'BarcodeDetector' in window")
        await page.get_by_role("button", name="Scan with the camera").click()
        await expect(page.locator("#scanner")).to_have_attribute("data-camera", "running")
        await expect(result(page)).to_have_attribute("data-status", "ok", timeout=60_000)
        await expect(result(page)).to_contain_text("Person 0")
        # The code stays in front of the camera: no second scan of it.
        await page.wait_for_timeout(1500)
        await expect(result(page)).to_have_attribute("data-status", "ok")
        async with pool.acquire() as db:
            assert await db.fetchval("SELECT count(*) FROM scans") == 1
        await page.get_by_role("button", name="Stop camera").click()
        await expect(page.locator("#scanner")).to_have_attribute("data-camera", "off")
        wasm = "/static/vendor/barcode-detector/zxing_reader.wasm"
        assert any(u.endswith(wasm) for u in requests)
        assert all(u.startswith(live_server) for u in requests), "nothing from elsewhere"
        assert found == []
    finally:
        await context.close()
