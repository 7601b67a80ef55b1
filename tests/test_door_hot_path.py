"""The door's hot path (issue 13, point 9): a scan sent with a Bearer token and no cookie skips
the session, language-cookie and compression middleware (service/hot_path.py); the same route
called with a cookie, as the scanner page calls it, passes every layer as before.

The scans are sent straight into an app as ASGI calls, so that the request's scope can be
read afterwards: the session middleware leaves the session in it (`scope["session"]`)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.app import create_app
from service.i18n import translations
from tests.conftest import login
from tests.registration_support import SLUG, confirm, make_conference, register

# 200 characters each (the longest name and organisation), three bytes each in UTF-8: the
# decision is well over the 1,000 bytes from which the app compresses an answer.
LONG_NAME = "松" * 200
LONG_ORGANISATION = "林" * 200
GZIP = (b"accept-encoding", b"gzip, deflate")


class Answer:
    def __init__(self, scope: dict[str, Any], status: int, headers: list, body: bytes) -> None:
        self.scope, self.status, self.body = scope, status, body
        self.headers = [(k.decode().lower(), v.decode()) for k, v in headers]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def cookies(self) -> list[str]:
        return [v for k, v in self.headers if k == "set-cookie"]

    def json(self) -> Any:
        raw = gzip.decompress(self.body) if self.header("content-encoding") else self.body
        return json.loads(raw)


@pytest.fixture
async def app(settings) -> AsyncIterator[Any]:
    """The app as served, its lifespan (the pool) running in this test's event loop."""
    app = create_app(settings)
    events: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()
    await events.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    running = asyncio.create_task(app({"type": "lifespan", "state": {}}, events.get, send))
    await started.wait()
    yield app
    await events.put({"type": "lifespan.shutdown"})
    await running


async def asgi_post(app, body: dict, headers: list[tuple[bytes, bytes]], query: bytes = b""):
    """POST /api/v1/checkin straight into the app, as an ASGI server sends it."""
    data = json.dumps(body).encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/checkin",
        "raw_path": b"/api/v1/checkin",
        "root_path": "",
        "query_string": query,
        "headers": [
            (b"host", b"testserver.local"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    received = False
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # no disconnect: the client waits for its answer
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(scope, start["status"], start.get("headers", []), b"".join(chunks))


async def long_ticket(client, pool, settings, email: str) -> str:
    """A confirmed registration whose scan decision is over 1,000 bytes; its ticket secret."""
    response = await register(client, email=email, name=LONG_NAME, organisation=LONG_ORGANISATION)
    assert response.status_code in (201, 202), response.text
    manage = (await confirm(client, pool, settings, email)).json()["manage_token"]
    return (await client.get(f"/api/v1/registrations/{manage}")).json()["ticket"]["secret"]


def scan(secret: str, gate: str = "Nord") -> dict[str, str]:
    return {"conference": SLUG, "secret": secret, "gate": gate}


def bearer(account) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {account.token}".encode())


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "tagung.requests"]
    return [line.rsplit(" ", 1)[0] for line in lines]  # without the duration


async def test_a_device_scan_skips_the_browser_layers(
    app, client, organiser, make_staff, pool, settings, caplog
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    secret = await long_ticket(client, pool, settings, "lang@example.org")
    caplog.set_level(logging.INFO, logger="tagung.requests")
    caplog.clear()

    english = (b"accept-language", b"en-GB,en;q=0.9")
    answer = await asgi_post(app, scan(secret), [bearer(scanner), GZIP, english])
    assert answer.status == 200
    decision = answer.json()
    assert decision["status"] == "ok" and decision["attendee"]["name"] == LONG_NAME
    # The language still follows Accept-Language.
    assert decision["attendee"]["category_label"] == "Volunteer"
    # Compression skipped: an answer over its minimum, for a client that takes gzip, as it is.
    assert len(answer.body) > 1000
    assert answer.header("content-encoding") is None
    # The session middleware did not run: it puts the session into every scope it sees.
    assert "session" not in answer.scope
    assert answer.cookies() == []
    # What every answer carries is still there: security headers and the request log line.
    assert answer.header("x-content-type-options") == "nosniff"
    assert answer.header("content-security-policy")
    assert logged(caplog) == ["POST /api/v1/checkin 200"]

    # German by default, as before; problem details in the caller's language too.
    again = await asgi_post(app, scan(secret, gate="Süd"), [bearer(scanner)])
    assert again.json()["reason"] == "already_checked_in"
    assert again.json()["attendee"]["category_label"] == translations("de").gettext("Volunteer")
    assert "session" not in again.scope
    unknown = (b"authorization", b"Bearer tg_unknown")
    refused = await asgi_post(app, scan(secret), [unknown, english])
    assert refused.status == 401 and "session" not in refused.scope
    assert refused.json()["detail"] == "This API token is unknown or revoked."
    assert refused.header("www-authenticate") == "Bearer"
    german = await asgi_post(app, scan(secret), [unknown])
    assert german.json()["detail"] == translations("de").gettext(
        "This API token is unknown or revoked."
    )


async def test_a_scan_with_a_cookie_passes_every_layer(
    app, client, organiser, make_staff, pool, settings
):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    first = await long_ticket(client, pool, settings, "first@example.org")
    second = await long_ticket(client, pool, settings, "second@example.org")

    # A token with a cookie beside it, or with ?lang=: the whole stack, as before.
    with_cookie = await asgi_post(
        app, scan(first), [bearer(scanner), GZIP, (b"cookie", b"lang=en")]
    )
    assert with_cookie.status == 200 and "session" in with_cookie.scope
    assert with_cookie.header("content-encoding") == "gzip"
    assert with_cookie.json()["attendee"]["category_label"] == "Volunteer"
    with_query = await asgi_post(app, scan(first), [bearer(scanner)], query=b"lang=en")
    assert with_query.json()["reason"] == "already_checked_in"
    assert "session" in with_query.scope
    assert any(c.startswith("lang=en;") for c in with_query.cookies())

    # The scanner page: its session, and for a change the CSRF header.
    await login(client, scanner)
    refused = await client.post("/api/v1/checkin", json=scan(second))
    assert refused.status_code == 403
    assert refused.json()["detail"] == translations("de").gettext("Missing CSRF token.")
    headers = {"x-csrftoken": client.cookies.get("csrftoken"), "accept-encoding": "gzip"}
    admitted = await client.post("/api/v1/checkin", json=scan(second), headers=headers)
    assert admitted.status_code == 200 and admitted.json()["status"] == "ok"
    assert admitted.headers["content-encoding"] == "gzip"
    # The session middleware renewed the session cookie with the answer.
    assert "tagung_session=" in admitted.headers.get("set-cookie", "")


async def test_a_paired_door_device_takes_the_short_way_too(
    app, client, organiser, pool, settings, caplog
):
    """A door device's token (registration/entrance/devices.py) is checked by the same one
    statement: the scan skips the browser layers, is recorded under the door's name, and a
    removed device is refused there with 401."""
    await make_conference(client, organiser)
    secret = await long_ticket(client, pool, settings, "tuer@example.org")
    door = await client.post(
        f"/api/v1/conferences/{SLUG}/devices",
        json={"name": "Eingang Nord"},
        headers=organiser.headers,
    )
    code = door.json()["pairing_url"].rsplit("/", 1)[1]
    token = (await client.post("/api/v1/devices/pair", json={"code": code})).json()["token"]
    device = (b"authorization", f"Bearer {token}".encode())
    caplog.set_level(logging.INFO, logger="tagung.requests")

    answer = await asgi_post(app, scan(secret, gate="Süd"), [device, GZIP])
    assert answer.status == 200 and "session" not in answer.scope
    assert answer.header("content-encoding") is None
    assert answer.json()["status"] == "ok" and answer.json()["gate"] == "Eingang Nord"

    removed = await client.delete(
        f"/api/v1/conferences/{SLUG}/devices/{door.json()['id']}", headers=organiser.headers
    )
    assert removed.status_code == 204
    refused = await asgi_post(app, scan(secret), [device, (b"accept-language", b"en")])
    assert refused.status == 401 and "session" not in refused.scope
    assert refused.json()["detail"].startswith("This device has been removed by the organisers.")
    async with pool.acquire() as db:
        assert await db.fetchval("SELECT count(*) FROM scans") == 1
