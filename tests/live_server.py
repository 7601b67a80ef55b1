"""Fixtures for browser tests: the real server in a subprocess, started the way production
starts it (`tagung serve`), and headless Chromium driven by Playwright.

tests/conftest.py loads this module as a pytest plugin, so every test module can ask for
`live_server`, `two_process_server`, `browser` and `page` by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from service.settings import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("TAGUNG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET_KEY = "browser-test-secret-key-not-for-production"
# Deadlines only: a test waits for a state (a page element, /health answering), and these
# bound how long before it fails. Generous, since the suite must pass on a busy machine.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
BROWSER_TIMEOUT_MS = 30_000  # Playwright's actions and `expect` (its default is 5 s)
expect.set_options(timeout=BROWSER_TIMEOUT_MS)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tagung_command() -> list[str]:
    script = Path(sys.executable).parent / "tagung"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        # Our own process group (start_new_session), so its web workers go as well.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def running_server(
    database_url: str, data_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`tagung serve --workers N --no-worker` on a free port against the test database,
    as production runs it (separate processes); yields its URL, stops it with SIGTERM."""
    log_path = data_dir / "server.log"
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TAGUNG_DATA_DIR": str(data_dir),
        "SMTP_URL": "smtp://127.0.0.1:1",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    environment.pop("TAGUNG_DEBUG", None)
    command = [
        *_tagung_command(),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-worker",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"

    def output() -> str:
        return log_path.read_text(errors="replace")[-5000:]

    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer yet"
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"`tagung serve` exited with code {process.returncode} before answering "
                f"/health. Its output:\n{output()}",
                pytrace=False,
            )
        try:
            response = httpx.get(f"{base_url}/health", timeout=10)
            # Every web process up, not just the first to answer (a test of two processes
            # would otherwise meet one; a SIGTERM that meets one starting waits for the kill).
            printed = log_path.read_text(errors="replace")
            started = all(f"Started worker-{n}" in printed for n in range(1, workers + 1))
            if response.status_code == 200 and started:
                break
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 200:
                last_error = f"not all {workers} web processes started"
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(
                f"`tagung serve` did not answer GET /health with 200 within {START_TIMEOUT:.0f} s "
                f"({last_error}). Its output:\n{output()}",
                pytrace=False,
            )
        time.sleep(0.1)
    try:
        yield base_url
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One web process, as for a browser."""
    with running_server(database_url, tmp_path_factory.mktemp("live-server")) as url:
        yield url


@pytest.fixture(scope="session")
def two_process_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Two web processes sharing nothing but PostgreSQL; per-client limits off, since a test
    fires hundreds of requests from one address."""
    with running_server(
        database_url,
        tmp_path_factory.mktemp("two-processes"),
        workers=2,
        env={"TAGUNG_RATE_LIMITS": "off"},
    ) as url:
        yield url


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """The system Chromium; the tests fail (never skip) without it, so CI cannot miss them."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Chromium at {CHROMIUM}, which is missing. Install it with "
            "`apt-get install chromium` (or point TAGUNG_CHROMIUM at a Chromium binary).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    """Headless Chromium from the system (Debian's /usr/bin/chromium), never a download."""
    async with async_playwright() as playwright:
        try:
            chromium = await playwright.chromium.launch(
                executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            pytest.fail(
                f"Chromium at {chromium_path} did not start ({exc}). Install it with "
                "`apt-get install chromium`.",
                pytrace=False,
            )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, live_server: str) -> AsyncIterator[Page]:
    """A fresh browser context per test (no cookies), German, sized like a phone."""
    context = await browser.new_context(
        base_url=live_server, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    tab = await context.new_page()
    yield tab
    await context.close()
