"""Two-factor login (issue 14, item 5): enrolment with a confirming code, the login's code
step, a code taken once, recovery codes once (also when sent twice at once), wrong codes
counted toward the account's login limit, an admin's requirement that sends admins and
organisers to set it up first, API tokens unaffected, and the audit entries."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import Counter
from dataclasses import replace
from html import unescape

import asyncpg
import httpx
import pyotp
from litestar.testing import AsyncTestClient

from service import login_limit, tokens, two_factor
from service.app import create_app
from tests.conftest import CSRF_FIELD, StaffAccount, csrf_token, login
from tests.test_cli import tagung

SETUP = "/staff/account/two-factor"
SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
RECOVERY = re.compile(r"<li><code class=\"ticket-code\">([A-Z0-9-]+)</code></li>")


async def last_step(pool: asyncpg.Pool, email: str) -> int | None:
    return await pool.fetchval("SELECT totp_last_step FROM staff WHERE email = $1", email)


async def usable_code(pool: asyncpg.Pool, account: StaffAccount, secret: str) -> str:
    """A code the server takes now: this time step's, or the next one's if this one was used
    (one step ahead is within the window); once both are used, it waits for the clock."""
    totp = pyotp.TOTP(secret)
    used = await last_step(pool, account.email)
    while True:
        current = totp.timecode(time.time())
        step = current if used is None else max(current, used + 1)
        if step <= current + 1:
            return totp.generate_otp(step)
        await asyncio.sleep(0.5)  # waits for the next time step (a state of the clock)


async def enrol(client: AsyncTestClient, pool: asyncpg.Pool, account: StaffAccount):
    """Logs in, turns two-factor login on from the page; (secret, recovery codes)."""
    await login(client, account)
    page = await client.get(SETUP)
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and 'aria-label="' in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    form = {"code": await usable_code(pool, account, secret), "_csrf_token": _csrf(page.text)}
    done = await client.post(SETUP, data=form)
    assert done.status_code == 200, done.text
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert done.headers["cache-control"] == "private, no-store"
    return secret, codes


def _csrf(html: str) -> str:
    return CSRF_FIELD.search(html).group(1)


async def password_step(client: AsyncTestClient, account: StaffAccount) -> httpx.Response:
    client.cookies.clear()
    token = await csrf_token(client, "/staff/login")
    form = {"email": account.email, "password": account.password, "_csrf_token": token}
    return await client.post("/staff/login", data=form, follow_redirects=False)


async def code_step(client: AsyncTestClient, code: str, field: str = "code") -> httpx.Response:
    token = await csrf_token(client, "/staff/login/code")
    return await client.post(
        "/staff/login/code", data={field: code, "_csrf_token": token}, follow_redirects=False
    )


async def audit_entries(pool: asyncpg.Pool, action: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT a.*, l.actor AS actor_label, l.subject AS subject_label FROM audit_log a "
        "LEFT JOIN audit_labels l ON l.entry_id = a.id WHERE a.action = $1 ORDER BY a.id",
        action,
    )


async def test_enrol_then_log_in_with_a_code(client, pool, organiser):
    secret, codes = await enrol(client, pool, organiser)
    row = await pool.fetchrow(
        "SELECT id, totp_secret, totp_enabled_at FROM staff WHERE email = $1", organiser.email
    )
    assert row["totp_secret"] == secret and row["totp_enabled_at"] is not None
    # Recovery codes are kept as SHA-256 of the code without its hyphens, never as they are.
    stored = {
        r["code_hash"] for r in await pool.fetch("SELECT code_hash FROM staff_recovery_codes")
    }
    assert stored == {hashlib.sha256(tokens.normalise(c).encode()).digest() for c in codes}
    [enabled] = await audit_entries(pool, "staff.two_factor_enabled")
    assert enabled["actor_staff_id"] == row["id"] and enabled["subject_id"] == str(row["id"])
    # The page now says it is on, and shows no secret any more.
    page = await client.get(SETUP)
    assert "totp-secret" not in page.text and secret not in page.text

    answer = await password_step(client, organiser)
    assert answer.headers["location"] == "/staff/login/code"
    # Half logged in: the cookie opens nothing, on pages or the API.
    staff_page = await client.get("/staff", follow_redirects=False)
    assert staff_page.headers["location"].startswith("/staff/login")
    assert (await client.get("/api/v1/settings")).status_code == 401
    form = await client.get("/staff/login/code")
    assert 'autocomplete="one-time-code"' in form.text

    done = await code_step(client, await usable_code(pool, organiser, secret))
    assert done.status_code in (302, 303) and done.headers["location"] == "/staff"
    assert (await client.get("/staff")).status_code == 200
    logins = await audit_entries(pool, "staff.login")
    assert [e["details"] for e in logins][-1] == {"method": "totp"}
    assert logins[-1]["actor_staff_id"] == row["id"]
    assert logins[-1]["actor_label"] == organiser.email


async def test_a_code_logs_in_once(client, pool, organiser):
    secret, _codes = await enrol(client, pool, organiser)
    await password_step(client, organiser)
    code = await usable_code(pool, organiser, secret)
    assert (await code_step(client, code)).status_code in (302, 303)

    await password_step(client, organiser)
    replay = await code_step(client, code)
    assert replay.status_code == 400
    assert "bereits verwendet" in replay.text  # "has been used already"
    assert (await client.get("/staff", follow_redirects=False)).status_code in (302, 303)
    [failed] = await audit_entries(pool, "staff.login_failed")
    assert failed["details"] == {"step": "code"} and failed["actor_staff_id"] is None


async def test_wrong_codes_count_toward_the_account_limit(settings, pool, organiser):
    # Only the per-account limit here (the per-client one allows ten logins a minute).
    unlimited = replace(settings, rate_limits=False)
    async with AsyncTestClient(app=create_app(unlimited), base_url="http://testserver.local") as c:
        await wrong_codes_pause_the_account(c, pool, organiser)


async def wrong_codes_pause_the_account(client, pool, organiser):
    secret, _codes = await enrol(client, pool, organiser)
    await password_step(client, organiser)  # the password's attempt counts: one
    statuses = [(await code_step(client, "000000")).status_code for _ in range(9)]
    assert statuses == [400] * 9
    # The eleventh attempt of the quarter of an hour: even the right code waits.
    paused = await code_step(client, await usable_code(pool, organiser, secret))
    assert paused.status_code == 429
    assert 0 < int(paused.headers["retry-after"]) <= login_limit.WINDOW_SECONDS
    text = unescape(paused.text)
    assert (
        "Nach 10 Fehlversuchen ist die Anmeldung bei diesem Konto für 15 Minuten gesperrt" in text
    )
    assert "Bitte versuchen Sie es in 15 Minuten erneut." in text
    # The password step says the same, in English too.
    again = await password_step(client, organiser)
    assert again.status_code == 429
    english = await client.post(
        "/staff/login?lang=en",
        data={
            "email": organiser.email,
            "password": organiser.password,
            "_csrf_token": await csrf_token(client, "/staff/login"),
        },
    )
    assert "logging in to this account is paused for 15 minutes" in unescape(english.text)
    failed = await audit_entries(pool, "staff.login_failed")
    assert len(failed) == 9 and {e["actor_label"] for e in failed} == {organiser.email}


async def test_a_recovery_code_logs_in_once(client, pool, organiser):
    _secret, codes = await enrol(client, pool, organiser)
    await password_step(client, organiser)
    # Typed in lower case without hyphens: still the code.
    typed = codes[3].replace("-", "").lower()
    done = await code_step(client, typed, field="recovery_code")
    assert done.headers["location"] == f"{SETUP}?recovery_code_used=1"
    page = await client.get(done.headers["location"])
    assert "Es sind noch 9 Wiederherstellungscodes übrig" in page.text
    assert (
        await pool.fetchval("SELECT count(*) FROM staff_recovery_codes WHERE used_at IS NOT NULL")
        == 1
    )
    assert [e["details"] for e in await audit_entries(pool, "staff.login")][-1] == {
        "method": "recovery_code"
    }

    await password_step(client, organiser)
    again = await code_step(client, codes[3], field="recovery_code")
    assert again.status_code == 400


async def test_the_same_code_sent_at_once_logs_in_once(
    two_process_server, settings, pool, make_staff
):
    """Three browsers past the password, on two web processes, send one recovery code at the
    same moment, then one TOTP code: each logs in exactly once."""
    account = await make_staff("organiser")
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        secret, codes = await enrol(c, pool, account)

    async def pending_browsers(count: int) -> list[tuple[httpx.AsyncClient, str]]:
        browsers = []
        for _ in range(count):
            http = httpx.AsyncClient(base_url=two_process_server, timeout=60)
            token = _csrf((await http.get("/staff/login")).text)
            answer = await http.post(
                "/staff/login",
                data={"email": account.email, "password": account.password, "_csrf_token": token},
            )
            assert answer.status_code == 302 and answer.headers["location"] == "/staff/login/code"
            browsers.append((http, token))
        return browsers

    async def race(field: str, code: str) -> Counter:
        browsers = await pending_browsers(3)
        try:
            answers = await asyncio.gather(
                *(
                    http.post("/staff/login/code", data={field: code, "_csrf_token": token})
                    for http, token in browsers
                )
            )
        finally:
            for http, _token in browsers:
                await http.aclose()
        return Counter(a.status_code for a in answers)

    assert await race("recovery_code", codes[0]) == {302: 1, 400: 2}
    assert (
        await pool.fetchval("SELECT count(*) FROM staff_recovery_codes WHERE used_at IS NOT NULL")
        == 1
    )
    await pool.execute("DELETE FROM login_attempts")  # six attempts so far: a fresh count
    assert await race("code", await usable_code(pool, account, secret)) == {302: 1, 400: 2}
    assert len(await audit_entries(pool, "staff.login")) == 2 + 1  # and the enrolment's


async def test_a_wrong_confirmation_code_turns_nothing_on(client, pool, organiser):
    await login(client, organiser)
    page = await client.get(SETUP)
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    # The same secret on a second visit (the app may already have it).
    assert secret in (await client.get(SETUP)).text.replace(" ", "")
    wrong = await client.post(SETUP, data={"code": "12345", "_csrf_token": _csrf(page.text)})
    assert wrong.status_code == 400
    assert 'aria-invalid="true"' in wrong.text and "f-code-error" in wrong.text
    assert await pool.fetchval("SELECT totp_enabled_at FROM staff") is None
    assert await pool.fetchval("SELECT count(*) FROM staff_recovery_codes") == 0
    # Without two-factor login the password alone logs in, as before.
    assert (await password_step(client, organiser)).headers["location"] == "/staff"


async def test_turning_off_needs_the_password_and_a_code(client, pool, organiser):
    secret, _codes = await enrol(client, pool, organiser)
    page = await client.get(SETUP)
    token = _csrf(page.text)
    code = await usable_code(pool, organiser, secret)
    refused = await client.post(
        f"{SETUP}/disable", data={"password": "falsch", "code": code, "_csrf_token": token}
    )
    assert refused.status_code == 400 and "Das Passwort ist nicht richtig." in refused.text
    assert await pool.fetchval("SELECT totp_enabled_at IS NOT NULL FROM staff")
    off = await client.post(
        f"{SETUP}/disable",
        data={"password": organiser.password, "code": code, "_csrf_token": token},
        follow_redirects=False,
    )
    assert off.status_code in (302, 303), off.text
    row = await pool.fetchrow("SELECT totp_secret, totp_enabled_at FROM staff")
    assert row["totp_secret"] is None and row["totp_enabled_at"] is None
    assert await pool.fetchval("SELECT count(*) FROM staff_recovery_codes") == 0
    assert len(await audit_entries(pool, "staff.two_factor_disabled")) == 1
    assert (await password_step(client, organiser)).headers["location"] == "/staff"


async def test_new_recovery_codes_replace_the_old(client, pool, organiser):
    secret, old = await enrol(client, pool, organiser)
    page = await client.get(SETUP)
    renewed = await client.post(
        f"{SETUP}/recovery-codes",
        data={"code": await usable_code(pool, organiser, secret), "_csrf_token": _csrf(page.text)},
    )
    new = RECOVERY.findall(renewed.text)
    assert len(new) == 10 and not set(new) & set(old)
    await password_step(client, organiser)
    assert (await code_step(client, old[0], field="recovery_code")).status_code == 400
    assert (await code_step(client, new[0], field="recovery_code")).status_code == 302


async def test_the_requirement_sends_admins_and_organisers_to_set_up_first(
    client, pool, make_staff
):
    admin, organiser, scanner = [await make_staff(r) for r in ("admin", "organiser", "scanner")]
    assert (await client.get("/api/v1/settings", headers=admin.headers)).json() == {
        "require_two_factor": False
    }
    changed = await client.patch(
        "/api/v1/settings", json={"require_two_factor": True}, headers=admin.headers
    )
    assert changed.status_code == 200 and changed.json() == {"require_two_factor": True}
    [entry] = await audit_entries(pool, "settings.updated")
    assert entry["details"] == {"fields": ["require_two_factor"]}
    # The same value again changes nothing and records nothing.
    await client.patch("/api/v1/settings", json={"require_two_factor": True}, headers=admin.headers)
    assert len(await audit_entries(pool, "settings.updated")) == 1

    answer = await password_step(client, organiser)
    assert answer.headers["location"] == SETUP
    for path in ("/staff", "/staff/tokens", "/staff/conferences/new", "/scan"):
        page = await client.get(path, follow_redirects=False)
        assert page.status_code in (302, 303) and page.headers["location"] == SETUP, path
    token = await csrf_token(client, SETUP)
    form = await client.post("/staff/tokens", data={"label": "x", "_csrf_token": token})
    assert form.status_code == 403
    cookie_api = await client.get("/api/v1/conferences/nichts/registrations")
    assert cookie_api.status_code == 403
    # API tokens stay as they are: let in, only the body is refused.
    client.cookies.clear()
    by_token = await client.post("/api/v1/conferences", json={}, headers=organiser.headers)
    assert by_token.status_code == 400, by_token.text

    # Entrance staff are not asked.
    assert (await password_step(client, scanner)).headers["location"] == "/staff"

    # Once set up, the organiser goes on.
    client.cookies.clear()
    await password_step(client, organiser)
    page = await client.get(SETUP)
    assert "ist die Zwei-Faktor-Anmeldung vorgeschrieben" in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    code = await usable_code(pool, organiser, secret)
    await client.post(SETUP, data={"code": code, "_csrf_token": _csrf(page.text)})
    assert (await client.get("/staff")).status_code == 200


async def test_the_settings_page_and_bad_input(client, pool, make_staff):
    admin = await make_staff("admin")
    await login(client, admin)
    page = await client.get("/staff/settings")
    assert page.status_code == 200 and 'name="require_two_factor"' in page.text
    saved = await client.post(
        "/staff/settings",
        data={"require_two_factor": "yes", "_csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/staff/settings?saved=1"
    assert await pool.fetchval("SELECT require_two_factor FROM installation_settings")
    assert "checked" in (await client.get("/staff/settings")).text
    [entry] = await audit_entries(pool, "settings.updated")
    assert entry["actor_label"] == admin.email

    client.cookies.clear()
    for body, field in (({"require_two_factor": "ja"}, "require_two_factor"), ({"x": 1}, "x")):
        bad = await client.patch("/api/v1/settings", json=body, headers=admin.headers)
        assert bad.status_code == 400, bad.text
        assert field in bad.text


async def test_no_settings_row_means_not_required(client, pool, make_staff):
    await pool.execute("DELETE FROM installation_settings")
    admin = await make_staff("admin")
    settings = await client.get("/api/v1/settings", headers=admin.headers)
    assert settings.json() == {"require_two_factor": False}
    assert (await password_step(client, admin)).headers["location"] == "/staff"
    client.cookies.clear()
    await client.patch("/api/v1/settings", json={"require_two_factor": True}, headers=admin.headers)
    assert await pool.fetchval("SELECT require_two_factor FROM installation_settings")


async def test_a_failed_password_is_recorded_with_the_address_typed(client, pool):
    token = await csrf_token(client, "/staff/login")
    await client.post(
        "/staff/login",
        data={"email": " Niemand@Example.org", "password": "x", "_csrf_token": token},
    )
    [entry] = await audit_entries(pool, "staff.login_failed")
    assert entry["actor_staff_id"] is None and entry["subject_type"] == ""
    assert entry["actor_label"] == "Niemand@Example.org"
    assert entry["details"] == {"step": "password"}


def test_a_pending_login_lasts_five_minutes():
    session = two_factor.pending_session(7, 3, "/staff")
    assert two_factor.pending_of(session) == two_factor.Pending(7, 3, "/staff")
    session[two_factor.PENDING_KEY]["at"] -= two_factor.PENDING_LIFETIME + 1
    assert two_factor.pending_of(session) is None
    assert two_factor.pending_of({}) is None and two_factor.pending_of(None) is None


async def test_the_command_line_turns_it_off_for_a_lost_phone(
    client, pool, organiser, database_url
):
    await enrol(client, pool, organiser)
    result = tagung("staff", "two-factor-off", organiser.email.upper(), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "Two-factor login is off" in result.stdout
    assert await pool.fetchval("SELECT totp_enabled_at FROM staff") is None
    [entry] = await audit_entries(pool, "staff.two_factor_disabled")
    assert entry["actor_staff_id"] is None and entry["subject_label"] == organiser.email
    assert (await password_step(client, organiser)).headers["location"] == "/staff"
    again = tagung("staff", "two-factor-off", organiser.email, database_url=database_url)
    assert again.returncode == 0 and "was not on" in again.stdout
    nobody = tagung("staff", "two-factor-off", "niemand@example.org", database_url=database_url)
    assert nobody.returncode == 1


async def test_turned_off_where_it_is_required_it_is_set_up_again_first(client, pool, organiser):
    """A new phone under the requirement: turning it off leads straight to setting it up."""
    secret, _codes = await enrol(client, pool, organiser)
    await pool.execute("UPDATE installation_settings SET require_two_factor = true")
    page = await client.get(SETUP)
    off = await client.post(
        f"{SETUP}/disable",
        data={
            "password": organiser.password,
            "code": await usable_code(pool, organiser, secret),
            "_csrf_token": _csrf(page.text),
        },
        follow_redirects=False,
    )
    assert off.headers["location"] == f"{SETUP}?turned_off=1"
    staff_page = await client.get("/staff", follow_redirects=False)
    assert staff_page.headers["location"] == SETUP
    again = await client.get(SETUP)
    assert "ist die Zwei-Faktor-Anmeldung vorgeschrieben" in again.text
    assert SECRET.search(again.text)  # a new secret to scan
