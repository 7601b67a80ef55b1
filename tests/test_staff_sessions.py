"""Staff sessions end (issue 12, point 2): logout, a new password (`tagung staff password`) and
deactivation (`tagung staff deactivate`) end every session of the account, also a copy of
its cookie taken before; a session ends a fixed time after its login however busy it is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service import auth
from service.app import create_app
from tests.conftest import conference_payload, csrf_token, login
from tests.test_cli import tagung

SESSION_COOKIE = "tagung_session"
CSV = "/api/v1/conferences/fachtag-2027/registrations.csv"


@pytest.fixture
async def thief(settings) -> AsyncIterator[AsyncTestClient]:
    """Another browser (and another app process of the same site), holding nothing but what
    it copied."""
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        yield c


async def with_cookie(
    thief: AsyncTestClient, path: str, cookie: str, method: str = "GET", **kw
) -> Any:
    """A request with a copied session cookie."""
    thief.cookies.clear()
    headers = {"cookie": cookie, **kw.pop("headers", {})}
    return await thief.request(method, path, headers=headers, follow_redirects=False, **kw)


async def logged_in_with_a_copy(client: AsyncTestClient, thief: AsyncTestClient, account) -> str:
    """Logs in, makes a conference to export, and returns a copy of the session cookie
    that opens the staff area and the CSV export."""
    created = await client.post(
        "/api/v1/conferences", json=conference_payload(), headers=account.headers
    )
    assert created.status_code == 201, created.text
    await login(client, account)
    copy = f"{SESSION_COOKIE}={client.cookies.get(SESSION_COOKIE)}"
    assert (await with_cookie(thief, "/staff", copy)).status_code == 200
    assert (await with_cookie(thief, CSV, copy)).status_code == 200
    return copy


async def assert_ended(thief: AsyncTestClient, copy: str) -> None:
    page = await with_cookie(thief, "/staff", copy)
    assert page.status_code in (302, 303)
    assert page.headers["location"].startswith("/staff/login")
    assert (await with_cookie(thief, CSV, copy)).status_code == 401
    # Not renewed: the answer deletes the cookie.
    assert f'{SESSION_COOKIE}="null"' in page.headers.get("set-cookie", "") or (
        f"{SESSION_COOKIE}=null" in page.headers.get("set-cookie", "")
    )


async def test_logout_ends_a_copied_session(client, thief, organiser):
    copy = await logged_in_with_a_copy(client, thief, organiser)
    token = await csrf_token(client, "/staff")
    out = await client.post("/staff/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code in (302, 303)
    await assert_ended(thief, copy)
    # Logging in again works, with a new session.
    await login(client, organiser)
    assert (await client.get("/staff")).status_code == 200


async def test_logout_ends_the_sessions_on_other_devices(client, thief, settings, organiser):
    copy = await logged_in_with_a_copy(client, thief, organiser)
    async with AsyncTestClient(
        app=create_app(settings), base_url="http://testserver.local"
    ) as phone:
        await login(phone, organiser)
        assert (await phone.get("/staff")).status_code == 200
        token = await csrf_token(phone, "/staff")
        await phone.post("/staff/logout", data={"_csrf_token": token})
    await assert_ended(thief, copy)
    assert (await client.get("/staff", follow_redirects=False)).status_code in (302, 303)


async def test_an_ended_session_cannot_log_the_account_out(client, thief, organiser):
    """A copy of a session that has ended is nothing: posting logout with it ends no other."""
    old_copy = await logged_in_with_a_copy(client, thief, organiser)
    token = await csrf_token(client, "/staff")
    await client.post("/staff/logout", data={"_csrf_token": token})
    await login(client, organiser)
    csrf = client.cookies.get("csrftoken")
    await with_cookie(
        thief,
        "/staff/logout",
        f"{old_copy}; csrftoken={csrf}",
        method="POST",
        data={"_csrf_token": csrf},
    )
    assert (await client.get("/staff", follow_redirects=False)).status_code == 200


async def test_a_new_password_ends_every_session(client, thief, organiser, database_url):
    copy = await logged_in_with_a_copy(client, thief, organiser)
    result = tagung(
        "staff",
        "password",
        organiser.email,
        "--password",
        "ein-ganz-neues-passwort",
        database_url=database_url,
    )
    assert result.returncode == 0, result.stderr
    await assert_ended(thief, copy)
    assert (await client.get("/staff", follow_redirects=False)).status_code in (302, 303)
    organiser.password = "ein-ganz-neues-passwort"
    await login(client, organiser)
    assert (await client.get("/staff")).status_code == 200


async def test_deactivation_ends_sessions_logins_and_tokens(client, thief, organiser, database_url):
    copy = await logged_in_with_a_copy(client, thief, organiser)
    result = tagung("staff", "deactivate", organiser.email.upper(), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "Deactivated" in result.stdout
    await assert_ended(thief, copy)
    # No new login (the same answer as a wrong password), and the API token is refused.
    token = await csrf_token(client, "/staff/login")
    again = await client.post(
        "/staff/login",
        data={"email": organiser.email, "password": organiser.password, "_csrf_token": token},
    )
    assert again.status_code == 400 and 'id="login-error"' in again.text
    assert (await client.get(CSV, headers=organiser.headers)).status_code == 401
    scan = await client.post(
        "/api/v1/checkin",
        json={"conference": "fachtag-2027", "secret": "ABCDEFGHJKMNPQRSTUVWXYZ234"},
        headers=organiser.headers,
    )
    assert scan.status_code == 401

    unknown = tagung("staff", "deactivate", "niemand@example.org", database_url=database_url)
    assert unknown.returncode == 1 and "no account" in unknown.stderr


async def test_a_session_ends_its_lifetime_after_login(client, thief, organiser, monkeypatch):
    copy = await logged_in_with_a_copy(client, thief, organiser)
    # Used all the time (each answer renews the cookie), the session still ends: here the
    # lifetime is shortened below the session's age instead of waiting twelve hours.
    monkeypatch.setattr(auth, "SESSION_LIFETIME", timedelta(0))
    await assert_ended(thief, copy)
    assert (await client.get("/staff", follow_redirects=False)).status_code in (302, 303)
    monkeypatch.setattr(auth, "SESSION_LIFETIME", timedelta(hours=12))
    await login(client, organiser)
    assert (await client.get("/staff")).status_code == 200


async def test_logout_clears_the_site_data(client, organiser):
    """The scanner's offline ticket data (all attendees' names) and cached pages go with the
    logout (Clear-Site-Data); the browser test checks that Chromium does it."""
    await login(client, organiser)
    token = await csrf_token(client, "/staff")
    out = await client.post("/staff/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.headers["clear-site-data"] == '"cache", "storage"'
