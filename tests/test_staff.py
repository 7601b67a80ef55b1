"""Staff login, sessions, CSRF, roles, API tokens and the login rate limit."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import conference_payload, csrf_token, login


async def test_login_logout_round_trip(client, make_staff):
    account = await make_staff("organiser")
    response = await client.get("/staff", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/staff/login?next=")

    await login(client, account)
    dashboard = await client.get("/staff")
    assert dashboard.status_code == 200
    assert account.email in dashboard.text

    token = await csrf_token(client, "/staff")
    out = await client.post("/staff/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code in (302, 303)
    after = await client.get("/staff", follow_redirects=False)
    assert after.status_code in (302, 303)


async def test_wrong_password_shows_the_form_again(client, make_staff):
    account = await make_staff("organiser")
    token = await csrf_token(client, "/staff/login")
    response = await client.post(
        "/staff/login",
        data={"email": account.email, "password": "falsch-falsch", "_csrf_token": token},
    )
    assert response.status_code == 400
    assert 'id="login-error"' in response.text
    assert account.email in response.text  # the address stays filled in
    assert (await client.get("/staff", follow_redirects=False)).status_code in (302, 303)


async def test_login_without_csrf_token_is_refused(client, make_staff):
    account = await make_staff("organiser")
    await client.get("/staff/login")
    response = await client.post(
        "/staff/login", data={"email": account.email, "password": account.password}
    )
    assert response.status_code == 403


async def test_login_never_redirects_to_another_site(client, make_staff):
    account = await make_staff("organiser")
    token = await csrf_token(client, "/staff/login")
    response = await client.post(
        "/staff/login",
        data={
            "email": account.email,
            "password": account.password,
            "_csrf_token": token,
            "next": "//evil.example/phish",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/staff"


async def test_login_is_rate_limited(client, make_staff):
    account = await make_staff("organiser")
    token = await csrf_token(client, "/staff/login")
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/staff/login",
            data={"email": account.email, "password": "wrong-password", "_csrf_token": token},
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]


async def test_session_and_csrf_for_api_writes(client, make_staff):
    account = await make_staff("organiser")
    await login(client, account)
    # A logged-in browser may read and, with the CSRF header, write through the API.
    without_header = await client.post("/api/v1/conferences", json=conference_payload())
    assert without_header.status_code == 403
    with_header = await client.post(
        "/api/v1/conferences",
        json=conference_payload(),
        headers={"x-csrftoken": client.cookies.get("csrftoken")},
    )
    assert with_header.status_code == 201, with_header.text


async def test_scanner_may_not_open_organiser_pages(client, make_staff):
    scanner = await make_staff("scanner")
    await login(client, scanner)
    assert (await client.get("/staff")).status_code == 200
    assert (await client.get("/staff/conferences/new")).status_code == 403


async def test_disabled_account_and_revoked_token_lose_access(client, make_staff, pool):
    account = await make_staff("organiser")
    assert (
        await client.post("/api/v1/conferences", json=conference_payload(), headers=account.headers)
    ).status_code == 201
    async with pool.acquire() as db:
        await db.execute("UPDATE api_tokens SET revoked_at = now()")
    again = await client.post(
        "/api/v1/conferences", json=conference_payload(slug="zwei"), headers=account.headers
    )
    assert again.status_code == 401

    other = await make_staff("organiser")
    async with pool.acquire() as db:
        await db.execute("UPDATE staff SET disabled = true WHERE email = $1", other.email)
    assert (
        await client.post(
            "/api/v1/conferences", json=conference_payload(slug="drei"), headers=other.headers
        )
    ).status_code == 401


async def test_tokens_page_creates_shows_once_and_revokes(client, make_staff, pool):
    account = await make_staff("scanner")
    await login(client, account)
    token = await csrf_token(client, "/staff/tokens")
    page = await client.post("/staff/tokens", data={"label": "Tür B", "_csrf_token": token})
    assert page.status_code == 200
    new_token = page.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert new_token.startswith("tg_")
    headers = {"Authorization": f"Bearer {new_token}"}
    # A scanner token authenticates, but may not create conferences.
    assert (
        await client.post("/api/v1/conferences", json=conference_payload(), headers=headers)
    ).status_code == 403

    async with pool.acquire() as db:
        row = await db.fetchrow("SELECT id, token_hash FROM api_tokens WHERE label = 'Tür B'")
    assert new_token.encode() not in bytes(row["token_hash"])  # only a digest is stored
    listing = await client.get("/staff/tokens")
    assert "Tür B" in listing.text and new_token not in listing.text

    revoke = await client.post(
        f"/staff/tokens/{row['id']}/revoke", data={"_csrf_token": token}, follow_redirects=False
    )
    assert revoke.status_code in (302, 303)
    async with pool.acquire() as db:
        assert await db.fetchval(
            "SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = $1", row["id"]
        )


async def test_passwords_are_stored_as_argon2(pool, make_staff):
    account = await make_staff("admin")
    async with pool.acquire() as db:
        stored = await db.fetchval(
            "SELECT password_hash FROM staff WHERE email = $1", account.email
        )
    assert stored.startswith("$argon2id$") and account.password not in stored


async def test_staff_emails_are_unique_ignoring_case(pool, make_staff):
    await make_staff("admin", email="chefin@example.org")
    async with pool.acquire() as db:
        try:
            await db.execute(
                "INSERT INTO staff (email, role, password_hash) "
                "VALUES ('chefin@example.org', 'admin', 'x')"
            )
        except asyncpg.UniqueViolationError:
            pass
        else:
            raise AssertionError("duplicate staff e-mail accepted")


async def test_limits_count_the_address_the_proxy_saw(settings, make_staff):
    account = await make_staff("organiser")
    proxied = replace(settings, trust_proxy=True)
    async with AsyncTestClient(app=create_app(proxied), base_url="http://testserver.local") as c:
        token = await csrf_token(c, "/staff/login")

        async def attempt(address: str, email: str = account.email) -> int:
            response = await c.post(
                "/staff/login",
                data={"email": email, "password": "wrong", "_csrf_token": token},
                headers={"X-Forwarded-For": f"6.6.6.6, {address}"},
            )
            return response.status_code

        first = [await attempt("192.0.2.1") for _ in range(11)]
        # Another account: this one has had its ten attempts (service.login_limit).
        other = await attempt("192.0.2.2", "someone-else@example.org")
    assert first[:10] == [400] * 10 and first[10] == 429
    assert other == 400  # another client behind the same proxy is not blocked
