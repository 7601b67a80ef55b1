"""One's own account: changing the password ends every other session and keeps the one that
changed it; a password reset by e-mail (through the real outbox worker and SMTP server) ends
every session; the reset form is limited per client; the API tokens are listed and revoked
on the account page."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import PASSWORD, csrf_token, login
from tests.smtp_server import smtp_server
from tests.test_registration_mail import deliver, text_of
from tests.test_team_api import NEW_PASSWORD
from tests.test_team_pages import field_error, post_form, soup

__all__ = ["smtp_server"]  # a fixture, imported for pytest

RESET_LINK = r"http://testserver\.local/staff/reset/([A-Z0-9]{26})"


async def logged_in(client: AsyncTestClient) -> bool:
    """Whether the client's session is alive (the staff area answers instead of the login)."""
    answer = await client.get("/staff", follow_redirects=False)
    return answer.status_code == 200


async def test_changing_the_password_ends_the_other_sessions(client, make_staff, settings, pool):
    account = await make_staff("organiser")
    await login(client, account)
    async with AsyncTestClient(
        app=create_app(settings), base_url="http://testserver.local"
    ) as other:
        await login(other, account)
        assert await logged_in(other)

        wrong = await post_form(
            client,
            "/staff/account/password",
            {
                "old_password": "falsch",
                "new_password": NEW_PASSWORD,
                "new_password_repeat": NEW_PASSWORD,
            },
            form_page="/staff/account",
        )
        assert wrong.status_code == 400
        assert field_error(soup(wrong), "old_password") == "Das ist nicht Ihr aktuelles Passwort."
        weak = await post_form(
            client,
            "/staff/account/password",
            {
                "old_password": PASSWORD,
                "new_password": "passwort1234",
                "new_password_repeat": "passwort1234",
            },
            form_page="/staff/account",
        )
        assert weak.status_code == 400
        assert "am häufigsten verwendeten" in field_error(soup(weak), "new_password")
        assert await logged_in(other)  # nothing changed by refused tries

        changed = await post_form(
            client,
            "/staff/account/password",
            {
                "old_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_repeat": NEW_PASSWORD,
            },
            form_page="/staff/account",
        )
        assert changed.status_code in (302, 303), changed.text
        page = await client.get(changed.headers["location"])
        assert "Ihr Passwort ist geändert." in page.text
        assert await logged_in(client)  # the session that changed it goes on
        assert not await logged_in(other)  # every other one has ended
    # The API token is no session: it keeps working.
    assert (await client.get("/api/v1/staff", headers=account.headers)).status_code == 403
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'staff.password_changed'"
        )
        == 1
    )

    account.password = NEW_PASSWORD
    client.cookies.clear()
    await login(client, account)


async def test_reset_by_mail_ends_every_session(client, make_staff, pool, settings, smtp_server):
    account = await make_staff("scanner")
    await login(client, account)
    async with AsyncTestClient(
        app=create_app(settings), base_url="http://testserver.local"
    ) as anon:
        asked = await post_form(anon, "/staff/reset", {"email": account.email.upper()})
        assert asked.status_code == 200
        [received] = await deliver(pool, smtp_server)
        assert received.rcpt_tos == [account.email]
        text = text_of(received.message)
        [token] = re.findall(RESET_LINK, text)
        assert "Neues Passwort festlegen" in text or "neues Passwort" in text

        form = await anon.get(f"/staff/reset/{token}")
        assert form.status_code == 200 and account.email in form.text
        done = await post_form(
            anon,
            f"/staff/reset/{token}",
            {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
        )
        assert done.status_code == 200 and "Passwort gespeichert" in done.text
        again = await anon.get(f"/staff/reset/{token}")
        assert again.status_code == 409
    assert not await logged_in(client)
    assert (
        await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'staff.password_reset'")
        == 1
    )
    account.password = NEW_PASSWORD
    client.cookies.clear()
    await login(client, account)
    assert await logged_in(client)


async def test_a_newer_reset_link_replaces_the_older(client, make_staff, pool, smtp_server):
    account = await make_staff("scanner")
    for _ in range(2):
        await client.post("/api/v1/staff/password-reset", json={"email": account.email})
    received = await deliver(pool, smtp_server)
    # The first mail's link was replaced before it went: only the newer one is sent.
    links = [re.findall(RESET_LINK, text_of(r.message)) for r in received]
    assert len(received) == 1 and len(links[0]) == 1
    skipped = await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'skipped'")
    assert skipped == 1


async def test_the_reset_form_is_limited_per_client(client, make_staff, pool):
    answers = [
        (
            await client.post("/api/v1/staff/password-reset", json={"email": f"x{n}@example.org"})
        ).status_code
        for n in range(6)
    ]
    assert answers == [202] * 5 + [429]


async def test_tokens_on_the_account_page(client, make_staff, pool):
    account = await make_staff("scanner")
    await login(client, account)
    page = await client.get("/staff/account")
    assert page.status_code == 200
    html = soup(page)
    assert html.by_id("tokens").text == "API-Tokens"
    token = await csrf_token(client, "/staff/account")
    made = await client.post("/staff/tokens", data={"label": "Tür Nord", "_csrf_token": token})
    new_token = soup(made).by_id("new-token").text
    assert new_token.startswith("tg_")
    token_id = await pool.fetchval("SELECT id FROM api_tokens WHERE label = 'Tür Nord'")
    revoked = await client.post(
        f"/staff/tokens/{token_id}/revoke",
        data={"_csrf_token": token, "back": "account"},
        follow_redirects=False,
    )
    assert revoked.headers["location"] == "/staff/account#tokens"
    assert (
        await client.get("/api/v1/staff", headers={"Authorization": f"Bearer {new_token}"})
    ).status_code == 401
